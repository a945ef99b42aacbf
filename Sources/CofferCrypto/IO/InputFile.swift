#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
internal import CCofferShims

/// A regular file that the streaming file path reads segment by segment.
///
/// The file is memory-mapped read-only, so no read copies it, and the mapping is registered
/// with the SIGBUS guard of `CCofferShims` (`mapping_guard.c`): if another process truncates the
/// file meanwhile, an access past its new end reads zeros instead of killing the process, and
/// ``checkIntact()`` throws `io` before anything read after the truncation is used. When the file
/// cannot be mapped or guarded (or `mapping` is false), each segment is read with `pread` into
/// the caller's buffer instead; a file that shrinks is then reported by the read itself.
final class InputFile {
    let fd: Int32
    let size: Int64
    private let mapping: UnsafeRawBufferPointer?
    private let slot: Int32

    /// Opens `fd` (a regular file of `size` bytes) for segment reads.
    init(fd: Int32, size: Int64, mapping allowed: Bool = true) {
        self.fd = fd
        self.size = size
        var mapping: UnsafeRawBufferPointer?
        var slot: Int32 = -1
        if allowed, size > 0, let length = Int(exactly: size),
           let address = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED {
            slot = coffer_mapping_guard_register(address, length)
            if slot >= 0 {
                _ = madvise(address, length, MADV_SEQUENTIAL)
                mapping = UnsafeRawBufferPointer(start: address, count: length)
            } else {
                munmap(address, length)
            }
        }
        self.mapping = mapping
        self.slot = slot
    }

    deinit {
        guard let mapping, let base = mapping.baseAddress else { return }
        coffer_mapping_guard_unregister(slot)
        munmap(UnsafeMutableRawPointer(mutating: base), mapping.count)
    }

    /// Whether the file is read through the guarded mapping (false: with `pread`).
    var isMapped: Bool { mapping != nil }

    /// The `count` bytes at `offset`: a pointer into the mapping, or `scratch` after reading
    /// them into it.
    /// - Throws: ``CofferError`` `io` when the read fails or the file ends early.
    @inline(__always)
    func bytes(at offset: Int64, count: Int, scratch: UnsafeMutableRawPointer) throws -> UnsafeRawPointer {
        if let base = mapping?.baseAddress { return base + Int(offset) }
        try Self.readExactly(fd, at: offset, count: count, into: scratch)
        return UnsafeRawPointer(scratch)
    }

    /// Throws when the file was truncated while mapped: what was read since may be zeros.
    /// - Throws: ``CofferError`` `io`.
    func checkIntact() throws {
        if mapping != nil, coffer_mapping_guard_faulted(slot) != 0 {
            throw CofferError(.io, "the input file was truncated by another process while it was being read; nothing was completed")
        }
    }

    /// Drops the mapped pages below `offset` from this process (they stay in the page cache), so
    /// resident memory stays bounded by a batch however large the file.
    func release(below offset: Int64) {
        guard let base = mapping?.baseAddress else { return }
        let page = Int64(sysconf(Int32(_SC_PAGESIZE)))
        let end = offset / page * page
        if end > 0 { _ = madvise(UnsafeMutableRawPointer(mutating: base), Int(end), MADV_DONTNEED) }
    }

    /// Throws when the file's size is no longer the size it had when the operation started.
    /// - Throws: ``CofferError`` `io`.
    func checkUnchanged() throws {
        try checkIntact()
        var info = stat()
        guard fstat(fd, &info) == 0, Int64(info.st_size) == size else {
            throw CofferError(.io, "the input file changed size while it was being read (another process wrote to it); nothing was completed")
        }
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
}
