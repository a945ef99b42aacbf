#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The regular-file fast path: every worker reads its own segments with `pread` straight into
/// its slot of the batch buffer and seals or opens them there, in place, so the input is copied
/// once and the reads run in parallel. Output is written in order.
///
/// The input is not memory-mapped: a mapped file that another process truncates raises SIGBUS
/// on the next access to a page past the new end, which kills the process. With `pread`, a file
/// that shrinks or grows while it is read ends the operation with a ``CofferError`` `io` and no
/// output file (``AtomicOutputFile`` in the CLI).
extension StreamingAEAD {
    /// The size of `fd` when it is a regular file, else nil.
    static func regularFileSize(_ fd: Int32) -> Int64? {
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(info.st_size)
    }

    /// Reads exactly `count` bytes of `fd` at `offset` into `destination`.
    /// - Throws: ``CofferError`` `io` when the read fails or the file ends early (it was
    ///   truncated while being read).
    static func readExactly(_ fd: Int32, at offset: Int64, count: Int, into destination: UnsafeMutableRawPointer) throws {
        var done = 0
        while done < count {
            let n = pread(fd, destination + done, count - done, off_t(offset + Int64(done)))
            if n < 0 {
                if errno == EINTR { continue }
                throw CofferError(.io, "cannot read the input file: \(String(cString: strerror(errno)))")
            }
            if n == 0 {
                throw CofferError(.io, "the input file shrank while it was being read (another process truncated it); nothing was completed")
            }
            done += n
        }
    }

    /// Refuses an input whose size changed during the operation.
    static func checkUnchanged(_ fd: Int32, size: Int64) throws {
        guard regularFileSize(fd) == size else {
            throw CofferError(.io, "the input file changed size while it was being read (another process wrote to it); nothing was completed")
        }
    }

    func sealFile(_ input: Int32, size: Int64, writingTo output: Int32, aad: some ContiguousBytes,
                  workers: Int) throws -> (plaintext: Int64, ciphertext: Int64) {
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
                try Self.readExactly(input, at: layout.plaintextOffset(ofSegment: index), count: n, into: body)
                try cipher.seal(segment: index, isLast: index == count - 1, plaintext: UnsafeRawPointer(body), count: n,
                                output: body)
            }
            if let failure { throw failure.error }
            if first + k == count { try Self.checkUnchanged(input, size: size) }
            let last = first + k - 1
            let end = (k - 1) * layout.segmentSize + (last == 0 ? SegmentLayout.headerSize : 0)
                + length(last) + SegmentLayout.tagSize
            try FileDescriptorIO.writeAll(output, UnsafeRawBufferPointer(rebasing: buffer[0..<end]))
            written += Int64(end)
            first += k
        }
        return (size, written)
    }

    func openFile(_ input: Int32, size: Int64, writingTo output: Int32, aad: some ContiguousBytes,
                  workers: Int) throws -> Int64 {
        _ = try layout.plaintextSize(ciphertextSize: size)
        let count = layout.segmentCount(ciphertextSize: size)
        var header = [UInt8](repeating: 0, count: SegmentLayout.headerSize)
        try header.withUnsafeMutableBytes { try Self.readExactly(input, at: 0, count: $0.count, into: $0.baseAddress!) }
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
                try Self.readExactly(input, at: layout.ciphertextOffset(ofSegment: index), count: n, into: body)
                try cipher.open(segment: index, isLast: index == count - 1, ciphertext: UnsafeRawPointer(body), count: n,
                                output: body)
            }
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
        }
        try Self.checkUnchanged(input, size: size)
        return plaintext
    }
}
