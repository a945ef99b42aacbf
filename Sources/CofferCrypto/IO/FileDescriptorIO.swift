import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Blocking reads and writes on file descriptors, retried on `EINTR` and on short counts.
package enum FileDescriptorIO {
    /// Reads up to `buffer.count` bytes, returning fewer only at end of input.
    package static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = read(fd, buffer.baseAddress! + done, buffer.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw CofferError(.io, "read failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Writes every byte of `buffer`.
    package static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < buffer.count {
            let n = write(fd, buffer.baseAddress! + done, buffer.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw CofferError(.io, "write failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }
}

/// Gathers the plaintext segments of a batch into `writev` calls, with one iovec array
/// allocated up front and reused for every batch.
package final class SegmentWriter {
    private let fd: Int32
    private let vectors: UnsafeMutableBufferPointer<iovec>
    private static let maximumVectors = 1024

    package init(fd: Int32) {
        self.fd = fd
        vectors = .allocate(capacity: SegmentWriter.maximumVectors)
    }

    deinit { vectors.deallocate() }

    /// Writes the segments in order.
    package func write(_ segments: PlaintextSegments) throws {
        var next = 0
        while next < segments.count {
            let n = min(SegmentWriter.maximumVectors, segments.count - next)
            var total = 0
            for k in 0..<n {
                let s = segments[next + k]
                vectors[k] = iovec(iov_base: UnsafeMutableRawPointer(mutating: s.baseAddress), iov_len: s.count)
                total += s.count
            }
            try writeVectors(count: n, total: total)
            next += n
        }
    }

    private func writeVectors(count: Int, total: Int) throws {
        var first = 0, remaining = total
        while remaining > 0 {
            let n = writev(fd, vectors.baseAddress! + first, Int32(count - first))
            if n < 0 {
                if errno == EINTR { continue }
                throw CofferError(.io, "write failed: \(String(cString: strerror(errno)))")
            }
            remaining -= n
            // Skip the vectors written completely and trim the one written in part.
            var written = n
            while first < count && written >= vectors[first].iov_len {
                written -= vectors[first].iov_len
                first += 1
            }
            if written > 0 {
                vectors[first].iov_base = vectors[first].iov_base! + written
                vectors[first].iov_len -= written
            }
        }
    }
}

extension StreamingAEAD {
    /// Seals everything readable from `input` and writes the ciphertext to `output`, with memory
    /// bounded by one batch, reading straight into the batch buffer and sealing on all workers.
    /// A regular file is read from its current size by every worker in parallel; a pipe is read
    /// in order.
    /// - Parameters:
    ///   - input: A readable file descriptor (file or pipe), read to its end.
    ///   - output: A writable file descriptor.
    ///   - aad: Associated data.
    ///   - workers: Threads to use.
    /// - Returns: Plaintext bytes read and ciphertext bytes written.
    /// - Throws: ``CofferError`` `io` for read and write failures.
    @discardableResult
    public func seal(readingFrom input: Int32, writingTo output: Int32, aad: some ContiguousBytes,
                     workers: Int = StreamingAEAD.defaultWorkers) throws -> (plaintext: Int64, ciphertext: Int64) {
        if let size = Self.regularFileSize(input) {
            return try sealFile(input, size: size, writingTo: output, aad: aad, workers: workers)
        }
        let encryptor = try StreamEncryptor(aead: self, aad: aad, workers: workers)
        var plaintext: Int64 = 0, ciphertext: Int64 = 0
        let sink: (CiphertextSegments) throws -> Void = { segments in
            try FileDescriptorIO.writeAll(output, segments.bytes)
            ciphertext += Int64(segments.bytes.count)
        }
        while true {
            let n = try encryptor.fill(to: sink) { space in try FileDescriptorIO.readFully(input, into: space) }
            if n == 0 { break }
            plaintext += Int64(n)
        }
        try encryptor.finish(to: sink)
        return (plaintext, ciphertext)
    }

    /// Opens a stream readable from `input` and writes its plaintext to `output`. Only segments
    /// that passed authentication are written; the first failure stops everything.
    /// - Parameters:
    ///   - input: A file descriptor to read the stream from.
    ///   - output: A file descriptor to write the plaintext to.
    ///   - aad: The associated data it was sealed with.
    ///   - workers: Threads to use.
    /// - Returns: Plaintext bytes written.
    /// - Throws: ``CofferError`` `authenticationFailed`, `truncated`, `invalidFormat` or `io`.
    @discardableResult
    public func open(readingFrom input: Int32, writingTo output: Int32, aad: some ContiguousBytes,
                     workers: Int = StreamingAEAD.defaultWorkers) throws -> Int64 {
        if let size = Self.regularFileSize(input) {
            return try openFile(input, size: size, writingTo: output, aad: aad, workers: workers)
        }
        let decryptor = StreamDecryptor(aead: self, aad: aad, workers: workers)
        let writer = SegmentWriter(fd: output)
        var plaintext: Int64 = 0
        let sink: (PlaintextSegments) throws -> Void = { segments in
            try writer.write(segments)
            plaintext += Int64(segments.byteCount)
        }
        while try decryptor.fill(to: sink, { space in try FileDescriptorIO.readFully(input, into: space) }) > 0 {}
        try decryptor.finish(to: sink)
        return plaintext
    }
}
