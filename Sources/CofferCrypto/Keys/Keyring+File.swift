import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Keyring {
    /// The largest keyring file Coffer reads.
    static let maximumFileSize = 1 << 20

    /// Loads a keyring file.
    /// - Parameter path: The file (see `docs/keyring.md` for its format).
    /// - Returns: The keyring.
    /// - Throws: ``CofferError`` `keyringUnreadable` when the file cannot be read,
    ///   `keyringInsecure` when group or others can read it (and it is not the development
    ///   keyring), `keyringMalformed` when it is not a valid keyring. Messages name the fix.
    public static func load(from path: String) throws -> Keyring {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw CofferError(.keyringUnreadable,
                              "cannot open keyring \(path): \(String(cString: strerror(errno))); pass --keyring FILE or set COFFER_KEYRING, or make one with `coffer keys generate --out FILE`")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw CofferError(.keyringUnreadable, "keyring \(path) is not a regular file")
        }
        let size = Int(info.st_size)
        guard size > 0, size <= maximumFileSize else {
            throw CofferError(.keyringMalformed, "keyring \(path) is \(size) bytes; a keyring is a JSON file of at most 1 MiB")
        }
        let contents = try SecureBytes(count: size) { (buffer) throws in
            var done = 0
            while done < size {
                let n = read(fd, buffer.baseAddress! + done, size - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    throw CofferError(.keyringUnreadable, "cannot read keyring \(path): \(n < 0 ? String(cString: strerror(errno)) : "file shrank while reading")")
                }
                done += n
            }
        }
        let keyring = try contents.withUnsafeBytes { (bytes) throws in
            try KeyringFileParser(path: path, bytes: bytes).keyring()
        }
        let mode = info.st_mode & 0o777
        if mode & 0o077 != 0 && !keyring.isDevelopment {
            throw CofferError(.keyringInsecure,
                              "keyring \(path) is open to group or others (mode \(String(mode, radix: 8))); run chmod 600 \(path)")
        }
        return keyring
    }

    /// Writes the keyring to `path` with mode 0600, atomically (a temporary file, fsync, then
    /// link or rename into place).
    /// - Parameters:
    ///   - path: Where to write.
    ///   - replacing: Whether an existing file may be replaced. Without it an existing file is an
    ///     error, so a keyring (and the data only it can open) is never overwritten by accident.
    /// - Throws: ``CofferError`` `alreadyExists` or `io`.
    public func write(to path: String, replacing: Bool = false) throws {
        var text = serialized()
        defer { text.withUnsafeMutableBytes { SecureBytes.wipe($0) } }
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = (directory.isEmpty ? "." : directory) + "/.coffer-keyring-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw CofferError(.io, "cannot create a file beside \(path): \(String(cString: strerror(errno)))")
        }
        var failure: String?
        do {
            try text.withUnsafeBytes { try FileDescriptorIO.writeAll(fd, $0) }
            if fchmod(fd, 0o600) != 0 || fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        } catch {
            failure = (error as? CofferError)?.message ?? "write failed"
        }
        close(fd)
        if let failure {
            unlink(temporary)
            throw CofferError(.io, "cannot write keyring \(path): \(failure)")
        }
        if replacing {
            guard rename(temporary, path) == 0 else {
                let reason = String(cString: strerror(errno))
                unlink(temporary)
                throw CofferError(.io, "cannot replace keyring \(path): \(reason)")
            }
        } else {
            let linked = link(temporary, path) == 0
            let reason = errno
            unlink(temporary)
            guard linked else {
                if reason == EEXIST {
                    throw CofferError(.alreadyExists, "\(path) already exists; refusing to overwrite a keyring (choose another --out)")
                }
                throw CofferError(.io, "cannot create keyring \(path): \(String(cString: strerror(reason)))")
            }
        }
        // Make the new name durable: the keyring must survive a crash before anything wrapped
        // under its new key does.
        let directoryFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// The JSON text of the keyring, built in one pre-sized buffer the caller wipes.
    func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512 + entries.count * 512)
        func add(_ s: String) { out.append(contentsOf: s.utf8) }
        func quoted(_ s: String) -> String {
            var r = "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": r += "\\\""
                case "\\": r += "\\\\"
                case _ where scalar.value < 0x20: r += String(format: "\\u%04x", scalar.value)
                default: r.unicodeScalars.append(scalar)
                }
            }
            return r + "\""
        }
        add("{\n  \"format\": \(quoted(Keyring.formatTag)),\n")
        if isDevelopment {
            add("  \"development\": true,\n")
            add("  \"comment\": \"DEVELOPMENT KEYRING: its keys are public. Never protect real data with it.\",\n")
        }
        if generation > 0 { add("  \"generation\": \(generation),\n") }
        add("  \"active\": \(quoted(activeKeyID)),\n  \"keys\": [\n")
        for (n, entry) in entries.enumerated() {
            add("    {\"id\": \(quoted(entry.id)), \"purpose\": \(quoted(entry.purpose.rawValue)), ")
            if let created = entry.created { add("\"created\": \(quoted(created)), ") }
            add("\"material\": \"")
            entry.material.withUnsafeBytes { bytes in
                for b in bytes {
                    out.append(Hex.digits[Int(b >> 4)])
                    out.append(Hex.digits[Int(b & 0x0F)])
                }
            }
            add(n == entries.count - 1 ? "\"}\n" : "\"},\n")
        }
        add("  ]\n}\n")
        return out
    }
}
