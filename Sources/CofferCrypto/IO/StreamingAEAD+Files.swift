#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The regular-file fast path: every worker seals or opens its own segments straight from the
/// input (an ``InputFile``: a mapping guarded against truncation, or `pread` into the batch
/// buffer) into its slot of the batch buffer. Output is written in order, a batch at a time,
/// and only after the batch was checked to come from an intact file: a file that another process
/// truncates or extends meanwhile ends the operation with ``CofferError`` `io`, not SIGBUS.
extension StreamingAEAD {
    /// The size of `fd` when it is a regular file, else nil.
    static func regularFileSize(_ fd: Int32) -> Int64? {
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(info.st_size)
    }

    /// `mapping: false` reads with `pread` only (tests of that path).
    func sealFile(_ input: Int32, size: Int64, writingTo output: Int32, aad: some ContiguousBytes,
                  workers: Int, mapping: Bool = true) throws -> (plaintext: Int64, ciphertext: Int64) {
        let count = layout.segmentCount(plaintextSize: size)
        guard Int64(count) <= SegmentLayout.maximumSegmentCount else {
            throw CofferError(.invalidArgument, "input needs more than 2^32 segments; use a larger segment size")
        }
        let session = try newSession(aad: aad)
        let parallel = try ParallelSegments(session: session, encrypting: true, workers: workers)
        let slots = SegmentBatch.segments(segmentSize: layout.segmentSize, workers: workers)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: slots * layout.segmentSize, alignment: 64)
        defer { SecureBytes.wipe(buffer); buffer.deallocate() }
        buffer.copyBytes(from: session.header)
        let file = InputFile(fd: input, size: size, mapping: mapping)
        let layout = self.layout, base = buffer.baseAddress!
        func length(_ index: Int) -> Int {
            Int(min(Int64(layout.plaintextCapacity(ofSegment: index)), size - layout.plaintextOffset(ofSegment: index)))
        }
        var first = 0, written: Int64 = 0
        while first < count {
            let k = min(slots, count - first)
            let batchStart = first
            let failure = parallel.run(count: k, minimumBytesPerWorker: 256 * 1024, bytesPerSegment: layout.segmentSize) {
                cipher, j in
                let index = batchStart + j
                let body = base + j * layout.segmentSize + (index == 0 ? SegmentLayout.headerSize : 0)
                let n = length(index)
                // Mapped: sealed from the mapping into the slot; read: sealed in place.
                let plaintext = try file.bytes(at: layout.plaintextOffset(ofSegment: index), count: n, scratch: body)
                try cipher.seal(segment: index, isLast: index == count - 1, plaintext: plaintext, count: n, output: body)
            }
            if let failure { throw failure.error }
            try first + k == count ? file.checkUnchanged() : file.checkIntact()
            let last = first + k - 1
            let end = (k - 1) * layout.segmentSize + (last == 0 ? SegmentLayout.headerSize : 0)
                + length(last) + SegmentLayout.tagSize
            try FileDescriptorIO.writeAll(output, UnsafeRawBufferPointer(rebasing: buffer[0..<end]))
            written += Int64(end)
            first += k
            file.release(below: first < count ? layout.plaintextOffset(ofSegment: first) : size)
        }
        return (size, written)
    }

    /// `mapping: false` reads with `pread` only (tests of that path).
    func openFile(_ input: Int32, size: Int64, writingTo output: Int32, aad: some ContiguousBytes,
                  workers: Int, mapping: Bool = true) throws -> Int64 {
        _ = try layout.plaintextSize(ciphertextSize: size)
        let count = layout.segmentCount(ciphertextSize: size)
        let file = InputFile(fd: input, size: size, mapping: mapping)
        var header = [UInt8](repeating: 0, count: SegmentLayout.headerSize)
        try header.withUnsafeMutableBytes { h in
            let bytes = try file.bytes(at: 0, count: h.count, scratch: h.baseAddress!)
            if bytes != UnsafeRawPointer(h.baseAddress!) { h.copyMemory(from: UnsafeRawBufferPointer(start: bytes, count: h.count)) }
        }
        try file.checkIntact()
        let session = try self.session(header: header, aad: aad)
        let parallel = try ParallelSegments(session: session, encrypting: false, workers: workers)
        let slots = SegmentBatch.segments(segmentSize: layout.segmentSize, workers: workers)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: slots * layout.segmentSize, alignment: 64)
        defer { SecureBytes.wipe(buffer); buffer.deallocate() }
        let layout = self.layout, base = buffer.baseAddress!
        func cipherLength(_ index: Int) -> Int {
            let start = layout.ciphertextOffset(ofSegment: index)
            let end = index == count - 1 ? size : Int64(index + 1) * Int64(layout.segmentSize)
            return Int(end - start)
        }
        let writer = SegmentWriter(fd: output)
        var first = 0, plaintext: Int64 = 0
        while first < count {
            let k = min(slots, count - first)
            let batchStart = first
            let failure = parallel.run(count: k, minimumBytesPerWorker: 256 * 1024, bytesPerSegment: layout.segmentSize) {
                cipher, j in
                let index = batchStart + j
                let body = base + j * layout.segmentSize + (index == 0 ? SegmentLayout.headerSize : 0)
                let n = cipherLength(index)
                let ciphertext = try file.bytes(at: layout.ciphertextOffset(ofSegment: index), count: n, scratch: body)
                try cipher.open(segment: index, isLast: index == count - 1, ciphertext: ciphertext, count: n, output: body)
            }
            // A truncation shows as zeros, which fail authentication: report what happened.
            try file.checkIntact()
            let good = failure?.index ?? k
            if good > 0 {
                let segments = PlaintextSegments(firstSegment: first, count: good, base: UnsafeRawPointer(base),
                                                 layout: layout,
                                                 lastPlaintextCount: cipherLength(first + good - 1) - SegmentLayout.tagSize)
                try writer.write(segments)
                plaintext += Int64(segments.byteCount)
            }
            if let failure { throw failure.error }
            first += k
            file.release(below: first < count ? layout.ciphertextOffset(ofSegment: first) : size)
        }
        try file.checkUnchanged()
        return plaintext
    }
}
