import CofferCrypto
import Foundation
import Logging
import ServiceLifecycle

/// The vault's background work, as a swift-service-lifecycle `Service`: the backend adds it to
/// its `ServiceGroup` beside its other services, and it stops on graceful shutdown.
///
/// Each pass, every ``interval``:
/// - empties the WALs a delete, correction or rotation could not empty at once because a reader
///   was in the way (the WAL janitor), so old ciphertext does not linger in them;
/// - removes what writers that died (in any process) left pending;
/// - signs an access-log checkpoint when records were appended since the newest one.
///
/// ```swift
/// let group = ServiceGroup(services: [vault.makeMaintenance(), httpServer], logger: logger)
/// try await group.run()
/// ```
public final class VaultMaintenance: Service, Sendable {
    /// Time between passes.
    public let interval: Duration
    private let janitor: WALJanitor
    private let removeAbandonedWrites: @Sendable () throws -> Int
    private let signCheckpoint: @Sendable () throws -> AuditCheckpoint?
    private let logger: Logger

    init(interval: Duration, janitor: WALJanitor, removeAbandonedWrites: @escaping @Sendable () throws -> Int,
         signCheckpoint: @escaping @Sendable () throws -> AuditCheckpoint?, logger: Logger) {
        self.interval = interval
        self.janitor = janitor
        self.removeAbandonedWrites = removeAbandonedWrites
        self.signCheckpoint = signCheckpoint
        self.logger = logger
    }

    /// Runs a pass every ``interval`` until the task is cancelled or the service group shuts
    /// down gracefully; then a last pass empties what it can.
    /// - Throws: Nothing: passes log their failures and go on (`throws` is `Service`'s signature).
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.runOnce()
                do { try await Task.sleep(for: self.interval) } catch { break }
            }
        }
        await janitor.retryPending()
    }

    /// One pass of the background work, now.
    /// - Returns: What it did.
    @discardableResult
    public func runOnce() async -> MaintenancePass {
        let cleared = await janitor.retryPending()
        let (removeAbandonedWrites, signCheckpoint) = (self.removeAbandonedWrites, self.signCheckpoint)
        var removed = 0
        do { removed = try await BlockingPool.shared.run { try removeAbandonedWrites() } } catch {
            logger.debug("abandoned-write cleanup postponed", metadata: ["error": "\((error as? CofferError)?.code.description ?? "internal")"])
        }
        var signed: Int64?
        do { signed = try await BlockingPool.shared.run { try signCheckpoint() }?.treeSize } catch {
            logger.debug("checkpoint signing postponed", metadata: ["error": "\((error as? CofferError)?.code.description ?? "internal")"])
        }
        return MaintenancePass(walsCleared: cleared, pendingWALs: janitor.pendingFiles.map(\.rawValue).sorted(),
                               abandonedWritesRemoved: removed, checkpointSigned: signed)
    }
}

/// What one maintenance pass did.
public struct MaintenancePass: Sendable, Hashable, Codable {
    /// True when no file's WAL is waiting to be emptied any more.
    public let walsCleared: Bool
    /// The files (`control`, `content`, `pii`) whose WAL is still waiting for a reader to finish.
    public let pendingWALs: [String]
    /// Pending versions of dead writers removed.
    public let abandonedWritesRemoved: Int
    /// The tree size of the checkpoint signed, if one was.
    public let checkpointSigned: Int64?
}
