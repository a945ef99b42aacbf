import Coffer
import CofferCrypto
import CofferObjectStore
@testable import CofferScaleOut
import CofferScaleOutTestSupport
import Foundation
import Testing

/// The soak's checks themselves (`coffer bench soak`, run for 60 s by `.ci/run`): each must fail
/// when what it checks is not so.
@Suite("The multi-process soak's checks", .enabled(if: ScaleOutTestServers.available), .serialized)
struct ScaleOutSoakTests {
    @Test("verify passes a worker's honest report and names a wrong record count, bytes that differ and a put that left nothing to collect")
    func verifyCatchesEachFailure() async throws {
        try await ScaleOutTestServers.withFreshConfiguration { configuration in
            var configuration = configuration
            configuration.abandonedAfter = .zero
            configuration.collectionGrace = .zero
            let keyring = try Keyring.generate()
            let vault = try await Vault.open(configuration, keyring: keyring, creator: "ops")
            defer { try? vault.close() }
            try await ScaleOutSoak.prepare(vault, workers: 1, context: try AccessContext(actor: "ops", purpose: .administration))
            let report = try await ScaleOutSoak.runWorker(vault, worker: 0, duration: .seconds(2), seed: 9)
            #expect(report.records == report.operations.values.reduce(0, +) && report.records > 0)
            let store = try S3ObjectStore(location: try #require(configuration.locations["default"]), credentials: configuration.credentials)

            // No put was killed here: only the check for its leftovers fails.
            let honest = try await ScaleOutSoak.verify(vault, reports: [report], objectStore: store)
            #expect(honest.problems == ["the killed put left no pending version with uploads to collect"], "\(honest.problems)")
            #expect(honest.recordsFound == report.records && honest.logVerified && !honest.victimVisible)
            #expect(honest.objectsChecked == report.objects.count)

            var claimsMore = report
            claimsMore.records += 1
            let counted = try await ScaleOutSoak.verify(vault, reports: [claimsMore], objectStore: store)
            #expect(counted.problems.contains { $0.contains("\(claimsMore.records) operations but \(report.records) log records") }, "\(counted.problems)")

            var otherBytes = report
            let object = try #require(otherBytes.objects.first)
            otherBytes.objects[0].seed = object.seed &+ 1
            let compared = try await ScaleOutSoak.verify(vault, reports: [otherBytes], objectStore: store)
            #expect(compared.problems.contains { $0.contains("object \(object.id) does not read back as put") }, "\(compared.problems)")
        }
    }
}
