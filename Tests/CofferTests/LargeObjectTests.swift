import Foundation
import Testing
@testable import Coffer
import CofferCrypto

@Suite("Large objects")
struct LargeObjectTests {
    @Test("a 256 MiB put then get is byte-identical, streamed both ways")
    func quarterGibibyteRoundTrip() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-large-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let vault = try Vault.create(at: dir, keyring: Keyring.generate(), operator: "test")
        let context = try AccessContext(actor: "test", purpose: .serviceOperation)
        try await vault.createTenant("acme", context: context)

        let size = 256 * 1024 * 1024
        let piece = 3 * 1024 * 1024 + 17  // deliberately not a multiple of the segment size
        var chunk = [UInt8](repeating: 0, count: piece)
        let writer = try await vault.makeWriter(tenant: "acme", kind: .runTelemetry, name: "telemetry.bin", context: context)
        let sent = try SHA256.Hasher()
        var offset = 0
        while offset < size {
            let n = min(piece, size - offset)
            for i in 0..<n { chunk[i] = UInt8(truncatingIfNeeded: (offset + i) &* 2654435761 >> 13) }
            let slice = chunk[0..<n]
            sent.update(Array(slice))
            try await writer.write(Array(slice))
            offset += n
        }
        let version = try await writer.commit()
        #expect(version.size == Int64(size))

        let received = try SHA256.Hasher()
        var count = 0
        try await vault.read(tenant: "acme", objectID: writer.objectID, context: context) { bytes in
            received.update(bytes)
            count += bytes.count
        }
        #expect(count == size)
        #expect(try received.finalize() == sent.finalize())
        try vault.close()
    }
}
