import Coffer
import CofferCrypto
import CofferObjectStore
import Foundation

/// A soak of one shared vault by several processes (`coffer bench soak`): each worker process
/// puts, gets, deletes and reads PII for a while under actors of its own and reports what it
/// did; a victim process is killed with SIGKILL in the middle of a large put; then
/// ``verify(_:reports:collector:)`` checks that every object still listed by a worker reads back
/// byte for byte, that the log verifies and holds exactly one record per operation of each
/// worker, that the victim's version is not visible, and that the collector removes its uploads.
///
/// The process handling (spawning, killing) is the caller's; this type is what runs inside each
/// process, so the same code serves the CLI and the tests.
public enum ScaleOutSoak {
    /// The tenant the soak writes under.
    public static let tenant: TenantID = "soak"
    /// The name of the object the victim is killed writing.
    public static let victimObject = "victim-large-put"
    /// What the victim prints once its put is under way, before it is killed.
    public static let victimStarted = "victim: put under way"

    /// One worker's operations and the objects it leaves behind.
    public struct WorkerReport: Codable, Sendable, Hashable {
        /// The worker's number.
        public var worker: Int
        /// Operations performed, by kind (`put`, `get`, `delete`, `add-subject`, `read-subject`).
        public var operations: [String: Int] = [:]
        /// Access-log records the operations must have written: one each.
        public var records: Int = 0
        /// Bytes put and got.
        public var bytesPut: Int64 = 0
        public var bytesGot: Int64 = 0
        /// The objects it put and did not delete, with what regenerates their content.
        public var objects: [StoredObject] = []
    }

    /// An object a worker left: its id and the seed and size its content is made from.
    public struct StoredObject: Codable, Sendable, Hashable {
        public var id: String
        public var seed: UInt64
        public var size: Int
    }

    /// What ``verify(_:reports:collector:)`` found; `ok` only when every check held.
    public struct Verdict: Codable, Sendable {
        public var objectsChecked = 0
        public var bytesChecked: Int64 = 0
        public var recordsExpected = 0
        public var recordsFound = 0
        public var logVerified = false
        public var logSize: Int64 = 0
        public var victimVisible = true
        public var pendingBeforeCollection = 0
        /// Segment groups the killed put had uploaded (or begun to) when it was killed.
        public var orphanedGroups = 0
        public var pendingAfterCollection = 0
        public var bucketObjectsBeforeCollection = 0
        public var bucketObjectsAfterCollection = 0
        public var referencedObjects = 0
        public var problems: [String] = []
        public var ok: Bool { problems.isEmpty }
    }

    /// The actor a worker writes content and registers subjects as.
    public static func serviceActor(_ worker: Int) -> PrincipalID { PrincipalID("soak-service-\(worker)") }
    /// The actor a worker reads subjects as (a privacy officer answering a subject request).
    public static func officerActor(_ worker: Int) -> PrincipalID { PrincipalID("soak-officer-\(worker)") }
    static let verifier: PrincipalID = "soak-verifier"
    static let auditor: PrincipalID = "soak-auditor"

    /// Registers the soak's tenant and principals (those already there are kept).
    /// - Parameters:
    ///   - vault: The vault, opened by an admin.
    ///   - workers: How many workers will run.
    ///   - context: An admin's context.
    public static func prepare(_ vault: Vault, workers: Int, context: AccessContext) async throws {
        try await keepingExisting { try await vault.createTenant(tenant, context: context) }
        var principals: [(PrincipalID, Role)] = [(verifier, .service), (auditor, .auditor)]
        for worker in 0..<workers { principals += [(serviceActor(worker), .service), (officerActor(worker), .privacyOfficer)] }
        for (id, role) in principals {
            try await keepingExisting { try await vault.addPrincipal(id, roles: [role], context: context) }
        }
    }

    /// Runs one worker's mix of operations until `duration` has passed, checking every get
    /// against what was put.
    /// - Returns: What it did.
    /// - Throws: The first error of any operation, or `tamperDetected` when a get returns other bytes.
    public static func runWorker(_ vault: Vault, worker: Int, duration: Duration, seed: UInt64) async throws -> WorkerReport {
        var report = WorkerReport(worker: worker)
        var random = SoakRandom(seed: seed ^ UInt64(worker) &* 0x9E37_79B9_7F4A_7C15)
        let service = try AccessContext(actor: serviceActor(worker), purpose: .serviceOperation, justification: "soak: sign-up")
        let officer = try AccessContext(actor: officerActor(worker), purpose: .subjectRequest, justification: "soak: subject request")
        var objects: [StoredObject] = []
        var subjects: [(SubjectID, String)] = []
        let deadline = ContinuousClock.now + duration
        var n = 0
        while ContinuousClock.now < deadline {
            n += 1
            let roll = random.next() % 100
            if roll < 40 || objects.isEmpty {
                // Mostly kilobytes, sometimes a few megabytes, now and then more than one group.
                let size = roll % 20 == 0 ? 9 << 20 : roll % 5 == 0 ? Int(random.next() % (2 << 20)) + 1 : Int(random.next() % 65_536) + 1
                let contentSeed = random.next()
                let (id, _) = try await vault.put(tenant: tenant, kind: .testResult, name: "w\(worker)-\(n)",
                                                  bytes: soakBytes(size, seed: contentSeed), context: service)
                objects.append(StoredObject(id: id.rawValue, seed: contentSeed, size: size))
                report.bytesPut += Int64(size)
                report.operations["put", default: 0] += 1
            } else if roll < 70 {
                let object = objects[Int(random.next() % UInt64(objects.count))]
                let bytes = try await vault.readAll(tenant: tenant, objectID: ObjectID(object.id), context: service)
                guard bytes == soakBytes(object.size, seed: object.seed) else {
                    throw CofferError(.tamperDetected, "worker \(worker): object \(object.id) read back other bytes than were put")
                }
                report.bytesGot += Int64(bytes.count)
                report.operations["get", default: 0] += 1
            } else if roll < 80 {
                let object = objects.remove(at: Int(random.next() % UInt64(objects.count)))
                _ = try await vault.delete(tenant: tenant, objectID: ObjectID(object.id), context: service)
                report.operations["delete", default: 0] += 1
            } else if roll < 90 || subjects.isEmpty {
                let name = "Soak Subject \(worker)-\(n)"
                let id = try await vault.addSubject(tenant: tenant, name: name, email: "soak-\(worker)-\(n)@example.com", company: nil,
                                                    context: service)
                subjects.append((id, name))
                report.operations["add-subject", default: 0] += 1
            } else {
                let (id, name) = subjects[Int(random.next() % UInt64(subjects.count))]
                let record = try await vault.subject(id, context: officer)
                guard record.name == name else { throw CofferError(.tamperDetected, "worker \(worker): subject \(id) read back another name") }
                report.operations["read-subject", default: 0] += 1
            }
            report.records += 1
        }
        report.objects = objects
        return report
    }

    /// Starts a large put and keeps writing slowly, for the caller to be killed in the middle of
    /// it: `started` is called once segments are on their way to the object store. Returns only
    /// if nobody kills it (after about a minute), abandoning the put.
    public static func runVictim(_ vault: Vault, started: @Sendable () -> Void) async throws {
        let context = try AccessContext(actor: verifier, purpose: .serviceOperation)
        let writer = try await vault.makeWriter(tenant: tenant, kind: .testResult, name: victimObject, context: context)
        let piece = soakBytes(8 << 20, seed: 7)
        for n in 0..<600 {
            try await writer.write(piece)
            if n == 3 { started() }
            if n >= 3 { try await Task.sleep(for: .milliseconds(100)) }
        }
        try await writer.abandon()
    }

    /// Checks what the workers left, after every worker and the victim have stopped.
    /// - Parameters:
    ///   - vault: The vault, opened with `abandonedAfter` and `collectionGrace` of zero (nothing else may
    ///     be writing), by anyone: the checks run as the soak's own principals.
    ///   - reports: Every worker's report.
    ///   - objectStore: The default location's store, to count what is in the bucket.
    public static func verify(_ vault: Vault, reports: [WorkerReport], objectStore: S3ObjectStore) async throws -> Verdict {
        var verdict = Verdict()
        let service = try AccessContext(actor: verifier, purpose: .serviceOperation)
        let audit = try AccessContext(actor: auditor, purpose: .audit)
        for report in reports {
            for object in report.objects {
                let bytes = try await vault.readAll(tenant: tenant, objectID: ObjectID(object.id), context: service)
                if bytes != soakBytes(object.size, seed: object.seed) {
                    verdict.problems.append("worker \(report.worker): object \(object.id) does not read back as put")
                }
                verdict.objectsChecked += 1
                verdict.bytesChecked += Int64(bytes.count)
            }
            let found = try await recordCount(vault, actors: [serviceActor(report.worker), officerActor(report.worker)], context: audit)
            verdict.recordsExpected += report.records
            verdict.recordsFound += found
            if found != report.records {
                verdict.problems.append("worker \(report.worker): \(report.records) operations but \(found) log records")
            }
        }
        verdict.victimVisible = try await listedNames(vault, context: service).contains(victimObject)
        if verdict.victimVisible { verdict.problems.append("the killed put's object is visible") }

        let content = vault.storage.content
        let pending = { try await content.read { db in try db.fetchOne(Int.self, sql: "SELECT count(*) FROM version WHERE state = 0") ?? 0 } }
        verdict.pendingBeforeCollection = try await pending()
        verdict.bucketObjectsBeforeCollection = try await bucketKeys(objectStore).count
        verdict.orphanedGroups = try await content.read { db in
            try db.fetchOne(Int.self, sql: "SELECT count(*) FROM segment_group WHERE version_id IN (SELECT id FROM version WHERE state = 0)") ?? 0
        }
        if verdict.pendingBeforeCollection == 0 || verdict.orphanedGroups == 0 {
            verdict.problems.append("the killed put left no pending version with uploads to collect")
        }
        _ = await vault.makeMaintenance().runOnce()
        verdict.pendingAfterCollection = try await pending()
        let inBucket = try await bucketKeys(objectStore)
        let referenced = Set(try await content.read { db in try db.fetchAll(String.self, sql: "SELECT object_key FROM segment_group") })
        verdict.bucketObjectsAfterCollection = inBucket.count
        verdict.referencedObjects = referenced.count
        if verdict.pendingAfterCollection != 0 { verdict.problems.append("\(verdict.pendingAfterCollection) pending versions left after collection") }
        if inBucket != referenced {
            verdict.problems.append("after collection the bucket holds \(inBucket.subtracting(referenced).count) unreferenced objects and lacks \(referenced.subtracting(inBucket).count) referenced ones")
        }

        let verification = try await vault.verifyAuditLog(context: audit)
        verdict.logVerified = verification.ok
        verdict.logSize = verification.treeSize
        if !verification.ok { verdict.problems.append("the log does not verify: \(verification.problem ?? "")") }
        return verdict
    }

    /// `count` bytes from `seed` (SplitMix64): the same every time, different for every seed.
    public static func soakBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var random = SoakRandom(seed: seed)
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                var word = random.next()
                let n = min(8, buffer.count - offset)
                withUnsafeBytes(of: &word) { buffer.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: n) }
                offset += n
            }
        }
        return out
    }

    private static func keepingExisting(_ body: () async throws -> Void) async throws {
        do { try await body() } catch let error as CofferError where error.code == .alreadyExists {}
    }

    private static func recordCount(_ vault: Vault, actors: [PrincipalID], context: AccessContext) async throws -> Int {
        var total = 0
        for actor in actors {
            var before: Int64?
            while true {
                let page = try await vault.auditRecords(AuditQuery(actor: actor, before: before, limit: 10_000), context: context)
                total += page.count
                guard page.count == 10_000, let last = page.last else { break }
                before = last.sequence
            }
        }
        return total
    }

    private static func listedNames(_ vault: Vault, context: AccessContext) async throws -> Set<String> {
        var names: Set<String> = []
        var cursor: String?
        repeat {
            let page = try await vault.list(tenant: tenant, filter: ObjectFilter(limit: 1000, cursor: cursor), context: context)
            names.formUnion(page.objects.map(\.name))
            cursor = page.nextCursor
        } while cursor != nil
        return names
    }

    private static func bucketKeys(_ store: S3ObjectStore) async throws -> Set<String> {
        var keys: Set<String> = []
        var token: String?
        repeat {
            let page = try await store.list(prefix: "segments/", continuationToken: token)
            keys.formUnion(page.objects.map(\.key))
            token = page.continuationToken
        } while token != nil
        return keys
    }
}

/// SplitMix64: fast, seeded, good enough to choose operations and fill objects.
struct SoakRandom {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
