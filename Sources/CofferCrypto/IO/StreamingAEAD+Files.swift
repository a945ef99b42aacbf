#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The regular-file fast path: the input is mapped read-only and every worker seals or opens its
/// own segments straight from the mapping into the batch buffer, so no read copies the input.
/// Output is written in order. (A file truncated by another process while it is mapped raises
/// SIGBUS; Coffer's own files are never truncated in place.)
extension StreamingAEAD {
    /// The size of `fd` when it is a regular file, else nil.
    static func regularFileSize(_ fd: Int32) -> Int64? {
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(info.st_size)
    }

    /// Maps `size` bytes of `fd` read-only for sequential access.
    static func mapInput(_ fd: Int32, size: Int64) throws -> UnsafeRawBufferPointer {
        guard size > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let address = mmap(nil, Int(size), PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address, address != MAP_FAILED else {
            throw CofferError(.io, "cannot map input file: \(String(cString: strerror(errno)))")
        }
        _ = madvise(address, Int(size), MADV_SEQUENTIAL)
        return UnsafeRawBufferPointer(start: address, count: Int(size))
    }

    /// Drops the pages of `mapping` below `offset` from this process (they stay in the page
    /// cache), so resident memory stays bounded by a batch however large the file.
    static func release(_ mapping: UnsafeRawBufferPointer, below offset: Int64) {
        guard let base = mapping.baseAddress else { return }
        let page = Int64(sysconf(Int32(_SC_PAGESIZE)))
        let end = offset / page * page
        if end > 0 { _ = madvise(UnsafeMutableRawPointer(mutating: base), Int(end), MADV_DONTNEED) }
    }

    static func unmap(_ mapping: UnsafeRawBufferPointer) {
        if let base = mapping.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), mapping.count) }
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
        let mapping = try Self.mapInput(input, size: size)
        defer { Self.unmap(mapping) }
        let layout = self.layout, base = buffer.baseAddress!, source = mapping.baseAddress
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
                try cipher.seal(segment: index, isLast: index == count - 1,
                                plaintext: source.map { $0 + Int(layout.plaintextOffset(ofSegment: index)) },
                                count: n, output: body)
            }
            if let failure { throw failure.error }
            let last = first + k - 1
            let end = (k - 1) * layout.segmentSize + (last == 0 ? SegmentLayout.headerSize : 0)
                + length(last) + SegmentLayout.tagSize
            try FileDescriptorIO.writeAll(output, UnsafeRawBufferPointer(rebasing: buffer[0..<end]))
            written += Int64(end)
            first += k
            Self.release(mapping, below: first < count ? layout.plaintextOffset(ofSegment: first) : size)
        }
        return (size, written)
    }

    func openFile(_ input: Int32, size: Int64, writingTo output: Int32, aad: some ContiguousBytes,
                  workers: Int) throws -> Int64 {
        _ = try layout.plaintextSize(ciphertextSize: size)
        let count = layout.segmentCount(ciphertextSize: size)
        let mapping = try Self.mapInput(input, size: size)
        defer { Self.unmap(mapping) }
        let header = Array(mapping[0..<SegmentLayout.headerSize])
        let session = try self.session(header: header, aad: aad)
        let parallel = try ParallelSegments(session: session, encrypting: false, workers: workers)
        let slots = SegmentBatch.segments(segmentSize: layout.segmentSize, workers: workers)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: slots * layout.segmentSize, alignment: 64)
        defer { SecureBytes.wipe(buffer); buffer.deallocate() }
        let layout = self.layout, base = buffer.baseAddress!, source = mapping.baseAddress!
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
                try cipher.open(segment: index, isLast: index == count - 1,
                                ciphertext: source + Int(layout.ciphertextOffset(ofSegment: index)),
                                count: cipherLength(index), output: body)
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
            Self.release(mapping, below: first < count ? layout.ciphertextOffset(ofSegment: first) : size)
        }
        return plaintext
    }
}
