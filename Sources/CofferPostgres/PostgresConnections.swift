import CofferCrypto
import Foundation
import Logging
import PostgresNIO

/// A bounded pool of connections to one database, leased as futures, so the same pool serves
/// async callers (`get()`) and the synchronous stores on Coffer's blocking threads (`wait()`).
///
/// A lease takes an idle connection, opens a new one while fewer than `maximum` are open, or
/// waits in line for one handed back. A connection handed back broken (closed, or left in a
/// failed transaction) is closed and forgotten, and the next lease opens a new one: after a
/// server restart, calls fail until it is up again, then go on without a reopen.
final class PostgresConnections: @unchecked Sendable {
    // @unchecked: the mutable state below is touched only with `lock` held.
    private let lock = NSLock()
    private var idle: [PostgresConnection] = []
    private var waiting: [EventLoopPromise<PostgresConnection>] = []
    private var open = 0
    private var shutDown = false
    private var nextID = 1

    let configuration: PostgresConnection.Configuration
    let maximum: Int
    private let group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    private let logger: Logger

    init(configuration: PostgresConnection.Configuration, maximum: Int, logger: Logger) {
        self.configuration = configuration
        self.maximum = max(1, maximum)
        self.logger = logger
    }

    /// A connection for the caller's sole use until `release(_:reusable:)`.
    func lease() -> EventLoopFuture<PostgresConnection> {
        enum Step { case ready(PostgresConnection), connect(Int), wait(EventLoopFuture<PostgresConnection>), refuse }
        let step: Step = lock.withLock {
            if shutDown { return .refuse }
            while let connection = idle.popLast() {
                if !connection.isClosed { return .ready(connection) }
                open -= 1
            }
            if open < maximum {
                open += 1
                nextID += 1
                return .connect(nextID)
            }
            let promise = group.next().makePromise(of: PostgresConnection.self)
            waiting.append(promise)
            return .wait(promise.futureResult)
        }
        switch step {
        case .ready(let connection): return connection.eventLoop.makeSucceededFuture(connection)
        case .wait(let future): return future
        case .refuse: return group.next().makeFailedFuture(CofferError(.storage, "the PostgreSQL connection pool is closed"))
        case .connect(let id):
            return PostgresConnection.connect(on: group.next(), configuration: configuration, id: id, logger: logger)
                .flatMapErrorThrowing { error in
                    self.forget()
                    throw error
                }
        }
    }

    /// Hands a leased connection back; `reusable: false` (or a closed connection) closes it.
    func release(_ connection: PostgresConnection, reusable: Bool) {
        let keep = reusable && !connection.isClosed
        let handOff: EventLoopPromise<PostgresConnection>? = lock.withLock {
            if keep && !shutDown, !waiting.isEmpty { return waiting.removeFirst() }
            if keep && !shutDown { idle.append(connection) }
            return nil
        }
        if let handOff {
            handOff.succeed(connection)
            return
        }
        guard !keep || shutDown else { return }
        Self.close(connection)
        forget()
    }

    /// One connection fewer is open; a caller waiting in line gets a new one.
    private func forget() {
        let next: (EventLoopPromise<PostgresConnection>, Int)? = lock.withLock {
            open -= 1
            guard !shutDown, !waiting.isEmpty else { return nil }
            open += 1
            nextID += 1
            return (waiting.removeFirst(), nextID)
        }
        guard let (promise, id) = next else { return }
        PostgresConnection.connect(on: group.next(), configuration: configuration, id: id, logger: logger)
            .whenComplete { result in
                if case .failure = result { self.forget() }
                promise.completeWith(result)
            }
    }

    /// Closes `connection`, keeping it alive until it has closed (postgres-nio asserts that a
    /// connection is closed before it goes away).
    private static func close(_ connection: PostgresConnection) {
        let closing: EventLoopFuture<Void> = connection.close()
        closing.whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    /// Closes every idle connection and refuses new leases; leased ones close when handed back.
    func close() {
        let (connections, waiters): ([PostgresConnection], [EventLoopPromise<PostgresConnection>]) = lock.withLock {
            shutDown = true
            defer { idle = []; waiting = [] }
            return (idle, waiting)
        }
        for connection in connections { Self.close(connection) }
        for waiter in waiters { waiter.fail(CofferError(.storage, "the PostgreSQL connection pool is closed")) }
    }
}
