import CofferCrypto
import Foundation

/// The bytes of one archive entry, as ZIPFoundation pulls them on the export's writer thread:
/// plaintext chunks arrive through the channel, are hashed, sealed in Tink's streaming format
/// when the export is encrypted (one stream per file, empty associated data), and are served in
/// exactly the pieces the ZIP writer asks for. Lives on the writer thread only.
final class EntryFeed {
    /// The file's plaintext size.
    let size: Int64
    /// What the entry stores: the plaintext size, or the size of its sealed stream.
    let storedSize: Int64

    private let channel: ThreadChannel<ExportArchive.Message>
    private let hasher: SHA256.Hasher
    private let encryptor: StreamEncryptor?
    private var received: Int64 = 0
    private var sealed = false
    /// Bytes ready for the ZIP writer, from `start` on.
    private var pending: [UInt8] = []
    private var start = 0
    private var served: Int64 = 0

    init(size: Int64, sealing: StreamingAEAD?, channel: ThreadChannel<ExportArchive.Message>) throws {
        self.size = size
        self.channel = channel
        hasher = try SHA256.Hasher()
        if let sealing {
            encryptor = try StreamEncryptor(aead: sealing, aad: [UInt8]())
            storedSize = sealing.layout.ciphertextSize(plaintextSize: size)
        } else {
            encryptor = nil
            storedSize = size
        }
    }

    /// The next `count` bytes of the entry (ZIPFoundation's provider).
    /// - Throws: The channel's failure; `CofferError` `io` when the file ends early or the
    ///   next message is not more of it.
    func next(_ count: Int) throws -> Data {
        while pending.count - start < count {
            if received == size {
                guard let encryptor, !sealed else { throw CofferError(.io, "an export file ended before its announced size") }
                sealed = true
                try encryptor.finish { pending.append(contentsOf: $0.bytes) }
                continue
            }
            guard case .bytes(let chunk)? = try channel.receive() else {
                throw CofferError(.io, "an export file ended before its announced size")
            }
            guard received + Int64(chunk.count) <= size else { throw CofferError(.io, "an export file grew past its announced size") }
            received += Int64(chunk.count)
            hasher.update(chunk)
            if let encryptor {
                try encryptor.append(chunk) { pending.append(contentsOf: $0.bytes) }
            } else {
                pending.append(contentsOf: chunk)
            }
        }
        let piece = Data(pending[start..<start + count])
        start += count
        served += Int64(count)
        if start == pending.count {
            pending.removeAll(keepingCapacity: true)
            start = 0
        } else if start >= ExportArchive.zipBufferSize && start * 2 >= pending.count {  // move the rest only when it is the smaller part
            pending.removeFirst(start)
            start = 0
        }
        return piece
    }

    /// The entry's result once the ZIP writer has taken all of it.
    /// - Throws: `CofferError` `io` if any of it was not taken.
    func finished(_ path: String) throws -> ExportedFile {
        guard received == size, served == storedSize, pending.count == start, encryptor == nil || sealed else {
            throw CofferError(.io, "export file \(path) was not written whole")
        }
        return ExportedFile(path: path, size: size, sha256: try hasher.finalize().hexString)
    }
}
