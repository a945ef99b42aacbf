/// The yardstick for the streaming core: plain AES-256-GCM over fixed-size blocks with one
/// context, as `openssl speed -evp aes-256-gcm` measures it (init IV, update, final, tag).
package enum BaselineGCM {
    /// Encrypts `input` block by block into `output` (same size plus nothing: tags go to a scratch
    /// slot), returning the bytes processed.
    package static func seal(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
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
