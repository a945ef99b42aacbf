import CofferCrypto
import Dispatch
import Synchronization

/// The yardstick for the streaming core: plain AES-256-GCM over fixed-size blocks with one
/// context and a fixed nonce, as `openssl speed -evp aes-256-gcm` measures it (init IV, update,
/// final, tag). A fixed nonce is only safe because nothing it seals is kept: it lives here, in the
/// benchmark target, and is no part of the `Coffer` or `CofferCrypto` products.
enum BaselineGCM {
    /// Encrypts `input` block by block into `output` on `threads` threads, each with its own
    /// context and its own contiguous share of the blocks.
    /// - Throws: ``CofferError`` `invalidKey` or `cryptoFailure` when a context cannot be made or
    ///   a block fails.
    static func seal(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                     blockSize: Int, key: SecureBytes, threads: Int) throws {
        let blocks = (input.count + blockSize - 1) / blockSize
        if threads <= 1 {
            _ = try seal(input, into: output, blockSize: blockSize, key: key)
            return
        }
        nonisolated(unsafe) let input = input, output = output
        let failed = ManagedFlag()
        DispatchQueue.concurrentPerform(iterations: threads) { w in
            let start = min(input.count, blocks * w / threads * blockSize)
            let end = min(input.count, blocks * (w + 1) / threads * blockSize)
            do {
                _ = try seal(UnsafeRawBufferPointer(rebasing: input[start..<end]),
                             into: UnsafeMutableRawBufferPointer(rebasing: output[start..<end]),
                             blockSize: blockSize, key: key)
            } catch { failed.set() }
        }
        if failed.isSet { throw CofferError(.cryptoFailure, "baseline AES-GCM failed") }
    }

    /// Encrypts `input` block by block into `output` (tags go to a scratch slot).
    /// - Returns: The bytes processed.
    /// - Throws: ``CofferError`` `invalidKey` or `cryptoFailure`.
    static func seal(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                     blockSize: Int, key: SecureBytes) throws -> Int {
        let context = try key.withUnsafeBytes { try GCMContext(key: $0, encrypting: true) }
        var nonce = [UInt8](repeating: 7, count: GCMContext.nonceSize)
        var tag = [UInt8](repeating: 0, count: GCMContext.tagSize)
        var offset = 0
        try nonce.withUnsafeMutableBufferPointer { n in
            try tag.withUnsafeMutableBytes { t in
                while offset < input.count {
                    let count = min(blockSize, input.count - offset)
                    try context.seal(nonce: UnsafePointer(n.baseAddress!), aad: UnsafeRawBufferPointer(start: nil, count: 0),
                                     input: input.baseAddress! + offset, count: count,
                                     output: output.baseAddress! + offset, tag: t.baseAddress!)
                    offset += count
                }
            }
        }
        return offset
    }
}

/// A flag set from any thread.
final class ManagedFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}
