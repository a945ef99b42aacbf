import CofferCrypto
import Foundation

extension Vault {
    /// Rotates the vault's keys: under the keyring file's lock, adds a fresh active KEK and a
    /// fresh PII KEK to the file (keeping the old file as `KEYRING.previous`), reads the file
    /// back, and only then rewraps every data key under the new KEK and every subject key under
    /// the new PII KEK, in batches; content is not
    /// touched. If a rotation was interrupted (a crash), this finishes it instead of starting
    /// another. Other processes with the vault open reload the keyring and keep working.
    /// - Parameter context: Who asks (an admin) and why.
    /// - Returns: What was done, and which KEKs nothing depends on any more.
    /// - Throws: `CofferError` `accessDenied`, `invalidArgument` for a keyring held in memory
    ///   (use ``rotateKeys(to:context:)``), `io` when the keyring cannot be locked or saved,
    ///   `keyNotFound`, `storage`.
    public func rotateKeys(context: AccessContext) async throws -> KeyRotation {
        try await keyOperation(context) { keys in try keys.rotate() }
    }

    /// Rotates a vault whose keyring the caller holds in memory to `newKeyring`'s active KEK
    /// (data keys) and its newest `pii-kek` (subject keys; the same one as now leaves them be).
    /// The caller must have saved `newKeyring` durably first, and it must still hold every KEK
    /// the vault's keys are wrapped under now; retire those once ``keyStatus(context:)`` shows
    /// nothing depends on them.
    /// - Parameters:
    ///   - newKeyring: The keyring with the new active KEK.
    ///   - context: Who asks (an admin) and why.
    /// - Returns: What was done.
    /// - Throws: `CofferError` `accessDenied`, `invalidArgument` for a vault opened with a
    ///   keyring file (use ``rotateKeys(context:)``), `keyNotFound`, `storage`.
    public func rotateKeys(to newKeyring: Keyring, context: AccessContext) async throws -> KeyRotation {
        try await keyOperation(context) { keys in try keys.rotate(to: newKeyring) }
    }

    /// Removes the KEK `id` from the vault's keyring file, once no key of this vault depends on
    /// it. Another vault sharing the keyring file is not checked: give each vault its own keyring.
    /// - Parameters:
    ///   - id: The KEK to remove.
    ///   - context: Who asks (an admin) and why.
    /// - Returns: The keyring as saved.
    /// - Throws: `CofferError` `accessDenied`, `invalidArgument` while keys depend on it or for
    ///   the active key, `keyNotFound`, `io`.
    @discardableResult
    public func retireKey(_ id: String, context: AccessContext) async throws -> Keyring {
        try await keyOperation(context) { keys in try keys.retire(id) }
    }

    /// Every data key and subject key, and the KEK it depends on.
    /// - Parameter context: Who asks (an admin) and why.
    /// - Returns: The keys, by tenant and class.
    /// - Throws: `CofferError` `accessDenied`, `storage`.
    public func keyStatus(context: AccessContext) async throws -> [DataKeyStatus] {
        try await keyOperation(context) { keys in try keys.store.status() }
    }

    /// Decides and records a key operation, then runs it on the blocking pool (it may wait for
    /// the keyring lock), recording the error if it fails.
    private func keyOperation<T: Sendable>(_ context: AccessContext, _ body: @escaping @Sendable (KeyManager) throws -> T) async throws -> T {
        let request = AccessRequest(action: .keyOperation, dataClass: .administration)
        return try await guarded(context, request) { _ in
            let keys = self.keys
            let result = try await BlockingPool.shared.run { try body(keys) }
            // Old wrapped keys leave the WAL too (secure_delete zeroes the freed pages).
            await janitor.truncate(.control)
            return result
        }
    }
}
