import Foundation

/// A named 256-bit key-encryption key (KEK) from the keyring. It only wraps and unwraps data keys.
public struct KeyEncryptionKey: Sendable {
    /// The key's id in the keyring, recorded beside everything it wraps.
    public let id: String
    let material: SecureBytes

    init(id: String, material: SecureBytes) {
        self.id = id
        self.material = material
    }

    /// Wraps `dataKey` (AES-256-GCM under this KEK), binding `context` so a wrapped key cannot be
    /// moved to another tenant or data class.
    /// - Parameters:
    ///   - dataKey: The key to protect.
    ///   - context: What the key is for, such as `tenant/acme/content`.
    /// - Returns: The wrapped key with this KEK's id.
    /// - Throws: ``CofferError`` `cryptoFailure` if libcrypto fails.
    public func wrap(_ dataKey: SecureBytes, context: String) throws -> WrappedKey {
        let sealed = try dataKey.withUnsafeBytes { (k) throws in
            try AESGCM.seal(k, key: material, aad: WrappedKey.aad(kekID: id, context: context))
        }
        return WrappedKey(kekID: id, sealed: sealed)
    }

    /// Unwraps a key made by ``wrap(_:context:)`` with the same context.
    /// - Parameters:
    ///   - wrapped: The wrapped key.
    ///   - context: The context it was wrapped with.
    /// - Returns: The data key.
    /// - Throws: ``CofferError`` `invalidArgument` when the wrapped key names another KEK,
    ///   `authenticationFailed` when it was changed or the context differs.
    public func unwrap(_ wrapped: WrappedKey, context: String) throws -> SecureBytes {
        guard wrapped.kekID == id else {
            throw CofferError(.invalidArgument, "data key is wrapped under KEK '\(wrapped.kekID)', not '\(id)'")
        }
        do {
            return try AESGCM.openSecret(wrapped.sealed, key: material, aad: WrappedKey.aad(kekID: id, context: context))
        } catch {
            throw CofferError(.authenticationFailed,
                              "wrapped data key for \(context) failed authentication under KEK '\(id)': wrong keyring or tampered key store")
        }
    }
}

/// A data key sealed under a KEK, with the KEK's id beside it (envelope encryption).
public struct WrappedKey: Sendable, Hashable {
    /// The id of the KEK that wraps it.
    public let kekID: String
    /// `nonce || ciphertext || tag` of the data key.
    public let sealed: [UInt8]

    /// Rebuilds a wrapped key read from storage.
    /// - Parameters:
    ///   - kekID: The id of the KEK that wraps it.
    ///   - sealed: `nonce || ciphertext || tag`, as stored.
    public init(kekID: String, sealed: [UInt8]) {
        self.kekID = kekID
        self.sealed = sealed
    }

    static func aad(kekID: String, context: String) -> [UInt8] {
        Array("coffer-wrap-v1\u{0}\(kekID)\u{0}\(context)".utf8)
    }
}
