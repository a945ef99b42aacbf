import Coffer
import CofferCrypto
import CofferObjectStore
import CofferPostgres
import CofferS3
@testable import CofferScaleOut
import Foundation
import Logging
import PostgresNIO
import CofferScaleOutTestSupport
import Testing

private let admin = try! AccessContext(actor: "ops", purpose: .administration)
private let service = try! AccessContext(actor: "ops", purpose: .serviceOperation)
private let signup = try! AccessContext(actor: "ops", purpose: .serviceOperation, justification: "scale-out test: sign-up")
private let officer = try! AccessContext(actor: "officer", purpose: .subjectRequest, justification: "scale-out test: subject access request")
private let auditor = try! AccessContext(actor: "ops", purpose: .audit)

/// A new scale-out vault on fresh schemas and a new bucket, created by `ops`.
private func withScaleOutVault(_ body: (Vault, ScaleOutConfiguration, S3ObjectStore, PostgresAddress, PostgresAddress) async throws -> Void) async throws {
    try await ScaleOutTestServers.withFreshSchemas { main, pii in
        let bucket = try await ScaleOutTestServers.newBucket()
        let witness = FileManager.default.temporaryDirectory.appendingPathComponent("witness-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: witness) }
        let configuration = ScaleOutConfiguration(database: main, piiDatabase: pii, locations: ["default": bucket.location],
                                                  credentials: try ScaleOutTestServers.credentials(), witness: witness, connectionsPerDatabase: 3)
        let vault = try await Vault.open(configuration, keyring: try Keyring.generate(), creator: "ops")
        defer { try? vault.close() }
        try await body(vault, configuration, bucket, main, pii)
    }
}

/// Every text and bytea value of every table in `address`'s schema, as raw bytes, by table.
private func tableContents(_ address: PostgresAddress) async throws -> [(table: String, bytes: [UInt8])] {
    let pool = try await PostgresPool.open(address)
    defer { pool.close() }
    return try await pool.withConnection { c in
        var columns: [(String, String)] = []
        let listing = try await c.query("""
            SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
            WHERE table_schema = current_schema() AND data_type IN ('text', 'bytea')
            """, logger: .init(label: "t"))
        for try await (table, column, _) in listing.decode((String, String, String).self) { columns.append((table, column)) }
        var found: [(String, [UInt8])] = []
        for (table, column) in columns {
            let rows = try await c.query(PostgresQuery(unsafeSQL: "SELECT \"\(column)\"::bytea FROM \"\(table)\" WHERE \"\(column)\" IS NOT NULL"),
                                         logger: .init(label: "t"))
            for try await buffer in rows.decode(ByteBuffer.self) { found.append((table, Array(buffer.readableBytesView))) }
        }
        // Tables with no text or bytea column still count as tables of the database.
        let tables = try await c.query("SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()", logger: .init(label: "t"))
        for try await table in tables.decode(String.self) { found.append((table, [])) }
        return found
    }
}

@Suite("A vault on PostgreSQL and S3-compatible storage", .enabled(if: ScaleOutTestServers.available), .serialized)
struct ScaleOutVaultTests {
    @Test("a segment object changed, swapped for another's or deleted in the bucket fails the read with a clear error, releasing nothing unchecked")
    func tamperedObjects() async throws {
        try await withScaleOutVault { vault, _, bucket, _, _ in
            try await vault.createTenant("acme", context: admin)
            func keys() async throws -> Set<String> { Set(try await bucket.list(prefix: "segments/").objects.map(\.key)) }
            let first = try SecureRandom.bytes(300_000), second = try SecureRandom.bytes(300_000)
            let (a, _) = try await vault.put(tenant: "acme", kind: .testResult, name: "a", bytes: first, context: service)
            let keyA = try #require(try await keys().first)
            let (b, _) = try await vault.put(tenant: "acme", kind: .testResult, name: "b", bytes: second, context: service)
            let keyB = try #require(try await keys().subtracting([keyA]).first)
            let original = try await bucket.get(keyA)

            func expectRefused(_ what: String, _ codes: Set<CofferError.Code>) async {
                do {
                    _ = try await vault.readAll(tenant: "acme", objectID: a, context: service)
                    Issue.record("\(what): the read succeeded")
                } catch let error as CofferError {
                    #expect(codes.contains(error.code), "\(what): \(error)")
                } catch {
                    Issue.record("\(what): \(error)")
                }
            }
            var flipped = original
            flipped[flipped.count / 2] ^= 0x01
            try await bucket.put(keyA, bytes: flipped)
            await expectRefused("a flipped byte", [.tamperDetected])
            try await bucket.put(keyA, bytes: try await bucket.get(keyB))
            await expectRefused("another object's segments", [.tamperDetected])
            try await bucket.delete(keyA)
            await expectRefused("the object deleted", [.notFound, .tamperDetected])
            try await bucket.put(keyA, bytes: original)
            #expect(try await vault.readAll(tenant: "acme", objectID: a, context: service) == first)
            #expect(try await vault.readAll(tenant: "acme", objectID: b, context: service) == second)
        }
    }

    @Test("objects and PII through the public API, the log verifies; no plaintext marker in any table or object")
    func endToEnd() async throws {
        try await withScaleOutVault { vault, _, bucket, main, pii in
            try await vault.createTenant("acme", context: admin)
            try await vault.addPrincipal("officer", roles: [.privacyOfficer], context: admin)
            let marker = "MARKER-content-\(UUID().uuidString)"
            let small = Array((marker + " a test script").utf8)
            let large = (try SecureRandom.bytes(3 << 20)) + Array(marker.utf8) + (try SecureRandom.bytes(1 << 20))
            let (smallID, _) = try await vault.put(tenant: "acme", kind: .testScript, name: "checkout.js", bytes: small, context: service)
            let (largeID, info) = try await vault.put(tenant: "acme", kind: .testResult, name: "run-1", bytes: large, context: service)
            #expect(info.size == Int64(large.count))
            #expect(try await vault.readAll(tenant: "acme", objectID: smallID, context: service) == small)
            #expect(try await vault.readAll(tenant: "acme", objectID: largeID, context: service) == large)
            let range: ClosedRange<Int64> = 2_000_000...2_100_000
            var ranged: [UInt8] = []
            try await vault.read(tenant: "acme", objectID: largeID, range: range, context: service) { ranged.append(contentsOf: $0) }
            #expect(ranged == Array(large[2_000_000...2_100_000]))
            let email = "marker.\(UUID().uuidString.prefix(8).lowercased())@example.com"
            let subject = try await vault.addSubject(tenant: "acme", name: "Ada MARKERNAME Lovelace", email: email, company: "MARKERCO",
                                                     context: signup)
            let record = try await vault.subject(subject, context: officer)
            #expect(record.email == email)
            _ = try await vault.delete(tenant: "acme", objectID: smallID, context: service)
            await #expect(throws: CofferError.self) { _ = try await vault.readAll(tenant: "acme", objectID: smallID, context: service) }
            let verdict = try await vault.verifyAuditLog(context: auditor)
            #expect(verdict.ok, "\(verdict.problem ?? "")")
            #expect(verdict.treeSize >= 10)

            // No plaintext: neither the content marker nor the PII in any table of either database
            // or any object of the bucket.
            let needles = [marker, "MARKERNAME", "MARKERCO", email].map { Array($0.utf8) }
            for address in [main, pii] {
                let contents = try await tableContents(address)
                #expect(contents.map(\.bytes.count).reduce(0, +) > 200, "the scan reads the stored values")
                for (table, bytes) in contents {
                    for needle in needles { #expect(bytes.firstRange(of: needle) == nil, "\(table) holds plaintext") }
                }
            }
            var keys: [String] = []
            var token: String?
            repeat {
                let page = try await bucket.list(prefix: "", continuationToken: token)
                keys += page.objects.map(\.key)
                token = page.continuationToken
            } while token != nil
            #expect(!keys.isEmpty)
            for key in keys {
                let object = try await bucket.get(key)
                for needle in needles { #expect(object.firstRange(of: needle) == nil, "object \(key) holds plaintext") }
            }
            // P2: the PII database holds no content table, the main database no PII table.
            let piiTables = Set(try await tableContents(pii).map(\.table))
            #expect(piiTables.contains("subject") && piiTables.contains("field"), "the scan sees the PII tables")
            #expect(piiTables.isDisjoint(with: ["object", "version", "segment_group", "record"]))
            let mainTables = Set(try await tableContents(main).map(\.table))
            #expect(mainTables.contains("segment_group") && mainTables.contains("record"), "the scan sees the main tables")
            #expect(mainTables.isDisjoint(with: ["subject", "field", "identifier", "lookup", "consent"]))
        }
    }
}

@Suite("Data residency: tenants pinned to object-store locations", .enabled(if: ScaleOutTestServers.available), .serialized)
struct ResidencyTests {
    /// Every key in `bucket`.
    private func keys(_ bucket: S3ObjectStore) async throws -> Set<String> {
        var keys: Set<String> = []
        var token: String?
        repeat {
            let page = try await bucket.list(prefix: "", continuationToken: token)
            keys.formUnion(page.objects.map(\.key))
            token = page.continuationToken
        } while token != nil
        return keys
    }

    @Test("a pinned tenant's segments are all in its location's bucket and none elsewhere; an unreachable location fails the put, writing nothing elsewhere")
    func pinned() async throws {
        try await ScaleOutTestServers.withFreshSchemas { main, pii in
            let home = try await ScaleOutTestServers.newBucket(), eu = try await ScaleOutTestServers.newBucket()
            let closed = try S3Location(parsing: "s3://coffer-unreachable/vault", endpoint: "http://127.0.0.1:1", region: "us-east-1")
            let witness = FileManager.default.temporaryDirectory.appendingPathComponent("witness-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: witness) }
            var configuration = ScaleOutConfiguration(database: main, piiDatabase: pii, locations: ["default": home.location, "eu": eu.location],
                                                      credentials: try ScaleOutTestServers.credentials(), witness: witness, connectionsPerDatabase: 3)
            let keyring = try Keyring.generate()
            let vault = try await Vault.open(configuration, keyring: keyring, creator: "ops")
            try await vault.createTenant("acme", context: admin)
            try await vault.createTenant("euco", location: "eu", context: admin)
            await #expect(throws: CofferError.self) { try await vault.createTenant("nowhere", location: "mars", context: admin) }
            for n in 0..<3 {
                _ = try await vault.put(tenant: "euco", kind: .testResult, name: "r\(n)", bytes: try SecureRandom.bytes(100_000 * (n + 1)), context: service)
                _ = try await vault.put(tenant: "acme", kind: .testResult, name: "r\(n)", bytes: try SecureRandom.bytes(50_000), context: service)
            }
            let euKeys = try await keys(eu), homeKeys = try await keys(home)
            #expect(euKeys.count == 3 && euKeys.allSatisfy { $0.hasPrefix("segments/euco/") }, "\(euKeys)")
            #expect(homeKeys.count == 3 && homeKeys.allSatisfy { $0.hasPrefix("segments/acme/") }, "\(homeKeys)")
            try vault.close()

            // The same vault with "eu" pointing at a server that does not answer: euco's puts fail,
            // and nothing of it lands in the default location.
            configuration.locations["eu"] = closed
            configuration.retry = RetryPolicy(attempts: 2, baseDelay: .milliseconds(20), maximumDelay: .milliseconds(50), timeout: .seconds(2))
            let cut = try await Vault.open(configuration, keyring: keyring)
            defer { try? cut.close() }
            await #expect(throws: CofferError.self) {
                _ = try await cut.put(tenant: "euco", kind: .testResult, name: "late", bytes: try SecureRandom.bytes(10_000), context: service)
            }
            #expect(try await keys(home) == homeKeys, "nothing written elsewhere")
            await #expect(throws: CofferError.self) { _ = try await cut.readAll(tenant: "euco", objectID: ObjectID("obj_00000000000000000000000000000000"), context: service) }
        }
    }

    @Test("the embedded engine has no locations: pinning a tenant is refused, nothing registered")
    func embeddedRefuses() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vault-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let vault = try Vault.create(at: directory, keyring: try Keyring.generate(), operator: "ops")
        defer { try? vault.close() }
        await #expect(throws: CofferError.self) { try await vault.createTenant("euco", location: "eu", context: admin) }
        #expect(try await vault.tenants(context: admin).isEmpty)
    }
}
