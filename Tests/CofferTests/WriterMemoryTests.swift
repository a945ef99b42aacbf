import CofferCrypto
import Foundation
import Testing
@testable import Coffer

/// Polls `condition` (every millisecond, up to 5 s) so a test can wait for a task to reach a
/// suspension point without sleeping a fixed time.
private func eventually(_ condition: () -> Bool) async throws {
    for _ in 0..<5000 where !condition() { try await Task.sleep(for: .milliseconds(1)) }
    #expect(condition())
}

@Suite("Memory budget")
struct MemoryBudgetTests {
    @Test("grants what it prefers, less when short, waits in order when below the minimum")
    func grantsAndWaits() async throws {
        let budget = MemoryBudget(capacity: 100)
        let a = try await budget.reserve(minimum: 10, preferred: 60)
        #expect(a.bytes == 60 && budget.available == 40)
        let b = try await budget.reserve(minimum: 30, preferred: 60)
        #expect(b.bytes == 40 && budget.available == 0)
        let c = Task { try await budget.reserve(minimum: 20, preferred: 20) }
        try await eventually { budget.waiting == 1 }
        let d = Task { try await budget.reserve(minimum: 5, preferred: 5) }
        try await eventually { budget.waiting == 2 }
        a.release()
        let (cr, dr) = (try await c.value, try await d.value)
        #expect(cr.bytes == 20 && dr.bytes == 5 && budget.available == 35)
        b.release(); b.release()  // a second release gives nothing back twice
        cr.release(); dr.release()
        #expect(budget.available == 100)
    }

    @Test("a cancelled wait throws and gives nothing away; a dropped reservation is given back")
    func cancellationAndDrop() async throws {
        let budget = MemoryBudget(capacity: 10)
        var held: MemoryReservation? = try await budget.reserve(minimum: 10, preferred: 10)
        let waiter = Task { try await budget.reserve(minimum: 5, preferred: 5) }
        try await eventually { budget.waiting == 1 }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { _ = try await waiter.value }
        #expect(budget.waiting == 0)
        #expect(held?.bytes == 10)
        held = nil
        #expect(budget.available == 10)
    }

    @Test("a smaller capacity makes new reservations wait for old ones; a larger one admits them")
    func capacityChanges() async throws {
        let budget = MemoryBudget(capacity: 10)
        let a = try await budget.reserve(minimum: 10, preferred: 10)
        budget.setCapacity(4)
        let b = Task { try await budget.reserve(minimum: 8, preferred: 8) }  // cut to the capacity, 4
        try await eventually { budget.waiting == 1 }
        a.release()
        let held = try await b.value
        #expect(held.bytes == 4)
        budget.setCapacity(20)
        #expect(budget.available == 16)
        held.release()
        #expect(budget.available == 20)
    }
}

@Suite("Writer memory", .serialized)
struct WriterMemoryTests {
    @Test("writers share the vault's budget: a third waits, unrecorded, until one finishes, then writes")
    func writersWait() async throws {
        try await withTestVault { t in
            try t.vault.configureWriterMemory(4 * testSegmentSize)
            let first = try await t.vault.makeWriter(tenant: "acme", kind: .runTelemetry, name: "one", context: .test)
            let second = try await t.vault.makeWriter(tenant: "acme", kind: .runTelemetry, name: "two", context: .test)
            #expect(t.vault.writerBudget.available == 0)
            let logged = try t.auditLogSize()
            let vault = t.vault
            let third = Task { try await vault.makeWriter(tenant: "acme", kind: .runTelemetry, name: "three", context: .test) }
            try await eventually { vault.writerBudget.waiting == 1 }
            #expect(try t.auditLogSize() == logged, "a waiting writer has recorded nothing yet")
            try await first.write(testBytes(3 * testSegmentSize))
            _ = try await first.commit()
            let writer = try await third.value
            try await writer.write(testBytes(5 * testSegmentSize, seed: 3))
            let version = try await writer.commit()
            expectSameBytes(try await t.vault.readAll(tenant: "acme", objectID: writer.objectID, context: .test),
                            testBytes(5 * testSegmentSize, seed: 3))
            #expect(version.size == Int64(5 * testSegmentSize))
            try await second.abandon()
            #expect(t.vault.writerBudget.available == 4 * testSegmentSize, "every writer gave its memory back")
        }
    }

    @Test("a small put takes only its own size; refused and dropped writers give their memory back")
    func smallPutsAndRefusals() async throws {
        try await withTestVault(segmentSize: 1 << 20) { t in
            let budget = t.vault.writerBudget
            #expect(budget.capacity == Vault.defaultWriterMemory)
            let reservation = try await t.vault.writerMemory(expectedBytes: 4096)
            #expect(reservation.bytes == 4096 + SegmentLayout.headerSize + SegmentLayout.tagSize)
            reservation.release()
            let stream = try await t.vault.writerMemory(expectedBytes: nil)
            #expect(stream.bytes == 8 << 20, "a whole batch when a quarter of the budget allows it")
            stream.release()
            _ = try await t.vault.put(tenant: "acme", kind: .config, name: "small", bytes: testBytes(4096), context: .test)
            await expectCofferError(.accessDenied) {
                _ = try await t.vault.makeWriter(tenant: "acme", kind: .config, name: "x", context: accessContext("stranger", .serviceOperation))
            }
            var dropped: ObjectWriter? = try await t.vault.makeWriter(tenant: "acme", kind: .config, name: "dropped", context: .test)
            #expect(budget.available < budget.capacity)
            _ = dropped
            dropped = nil
            try await eventually { budget.available == budget.capacity }
        }
    }

    @Test("the writer memory setting is bounded")
    func bounds() async throws {
        try await withTestVault { t in
            await expectCofferError(.invalidArgument) { try t.vault.configureWriterMemory(testSegmentSize) }
            await expectCofferError(.invalidArgument) { try t.vault.configureWriterMemory(17 << 30) }
            try t.vault.configureWriterMemory(2 * testSegmentSize)
            #expect(t.vault.writerMemory == 2 * testSegmentSize)
        }
    }
}
