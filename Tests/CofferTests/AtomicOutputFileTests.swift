import Coffer
import Foundation
import Testing

@Suite("AtomicOutputFile")
struct AtomicOutputFileTests {
    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-atomic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test("a committed file appears with its bytes and mode 0600; nothing else is left")
    func commitPublishes() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("out.bin").path
        let file = try AtomicOutputFile(path: path)
        #expect(!FileManager.default.fileExists(atPath: path))
        _ = [UInt8]("sealed".utf8).withUnsafeBytes { write(file.fd, $0.baseAddress, $0.count) }
        try file.commit()
        #expect(FileManager.default.contents(atPath: path) == Data("sealed".utf8))
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["out.bin"])
    }

    @Test("a discarded file leaves the directory as it was")
    func discardLeavesNothing() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("out.bin").path
        do {
            let file = try AtomicOutputFile(path: path)
            _ = [UInt8]("partial".utf8).withUnsafeBytes { write(file.fd, $0.baseAddress, $0.count) }
            file.discard()
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }
}

@Suite("AtomicOutputFile on devices")
struct AtomicOutputDeviceTests {
    @Test("a device destination is written in place and never replaced")
    func deviceIsNotReplaced() throws {
        let file = try AtomicOutputFile(path: "/dev/null")
        _ = [UInt8]("x".utf8).withUnsafeBytes { write(file.fd, $0.baseAddress, $0.count) }
        try file.commit()
        var info = stat()
        #expect(stat("/dev/null", &info) == 0)
        #expect((info.st_mode & S_IFMT) == S_IFCHR)
    }
}
