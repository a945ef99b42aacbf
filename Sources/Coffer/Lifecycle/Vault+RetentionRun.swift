import CofferCrypto
import Foundation

/// One thing a retention run removes.
public struct RetentionItem: Sendable, Codable, Hashable {
    /// What is removed.
    public enum Kind: String, Sendable, Codable {
        /// Versions of one object (the object too when none is left).
        case objectVersions = "object-versions"
        /// One technical identifier of a subject (P10).
        case identifier
        /// A subject's account data: the subject is erased (P9).
        case subject
        /// The billing records kept of an erased subject (P11), and their key.
        case retained
    }

    /// What is removed.
    public let kind: Kind
    /// The tenant.
    public let tenant: TenantID
    /// The retention class whose period ended.
    public let dataClass: RetentionClass
    /// The object, for object versions.
    public let objectID: ObjectID?
    /// The versions, for object versions.
    public let versions: [Int]?
    /// The subject, for identifiers, subjects and retained records.
    public let subject: SubjectID?
    /// The identifier's id, for an identifier.
    public let identifier: String?
    /// When its period ended (Unix milliseconds).
    public let dueAt: Int64
}

/// What a retention run at one date removes, or removed.
public struct RetentionReport: Sendable, Codable, Hashable {
    /// The date the run looked at (Unix milliseconds).
    public let asOf: Int64
    /// Whether nothing was removed (a dry run).
    public let dryRun: Bool
    /// What is due (a dry run) or was removed, by tenant, class and id.
    public let items: [RetentionItem]
    /// Tenants and subjects a legal hold kept out of the run.
    public let held: [String]
    /// Items that failed, with the error (they are retried by the next run).
    public let failed: [String]
    /// The period data keys a real run destroyed: every one whose period ended more than a day
    /// before (the earlier of `asOf` and now) and that nothing stored uses any more.
    public var destroyedKeys: [String] = []
}

extension Vault {
    /// Removes what is due at `asOf` under every tenant's retention (content versions, technical
    /// identifiers, account data after closure, billing records whose legal retention ended),
    /// except what a legal hold covers; each item in its own transaction and log record, so a run
    /// killed half-way leaves everything whole or gone and the next run finishes the work. With
    /// `dryRun`, removes nothing and lists exactly what a real run at the same date would remove.
    /// The access log is not pruned here: `coffer audit prune`, under dual control, does that.
    /// - Parameters:
    ///   - asOf: The date to apply the periods at (Unix milliseconds); now unless told. A later
    ///     date shows (or removes) what will be due then, never what is not.
    ///   - dryRun: List only.
    ///   - context: An admin, purpose administration, with a justification (it touches PII).
    /// - Returns: What was (or would be) removed.
    /// - Throws: `CofferError` `accessDenied`, `purposeMissing` for the run itself.
    public func runRetention(asOf: Int64? = nil, dryRun: Bool = false, context: AccessContext) async throws -> RetentionReport {
        let asOf = asOf ?? administration.clock.now()
        // The plan itself is an administrative read of every tenant's lifecycle.
        let (items, held) = try await guarded(context, AccessRequest(action: .list, dataClass: .administration, reason: "retention-plan")) { _ in
            try await retentionPlan(asOf: asOf, scope: try await callerScope(context))
        }
        guard !dryRun else { return RetentionReport(asOf: asOf, dryRun: true, items: items, held: held, failed: []) }
        var removed: [RetentionItem] = []
        var failed: [String] = []
        var heldNow = held
        for item in items {
            do {
                try await remove(item, context: context)
                removed.append(item)
                CrashPoint.hit("retention.after-item")
            } catch is HeldNow {
                heldNow.append(item.subject.map { "subject \($0) of \(item.tenant)" } ?? "tenant \(item.tenant)")
            } catch let error as CofferError {
                failed.append("\(item.kind.rawValue) \(item.objectID?.rawValue ?? item.identifier ?? item.subject?.rawValue ?? ""): \(error.code): \(error.message)")
            }
        }
        var destroyedKeys: [String] = []
        do {
            try await destroyUnusedPeriodKeys(asOf: asOf, context: context, into: &destroyedKeys)
        } catch let error as CofferError {
            failed.append("period keys: \(error.code): \(error.message)")
        }
        _ = await janitor.truncate(.content)
        _ = await janitor.truncate(.pii)
        _ = await janitor.truncate(.control)
        // Keys destroyed by this run or an earlier one that could not finish (period keys, erased
        // subjects' keys, retained billing's) leave the backups' key copies too, and the
        // witness's ledger records them: every real run brings both up to the ledger.
        do { _ = try await propagateErasures() } catch let error as CofferError {
            failed.append("backups and witness: \(error.code): \(error.message)")
        }
        var report = RetentionReport(asOf: asOf, dryRun: false, items: removed, held: Array(Set(heldNow)).sorted(), failed: failed)
        report.destroyedKeys = destroyedKeys
        return report
    }

    /// Destroys the period keys of the caller's tenants that nothing stored uses and whose whole
    /// period is past its class's retention at the earlier of `asOf` and now (less
    /// ``KeyPeriod/destroyGrace``, so never a period a put may still be using): a key is never
    /// destroyed only because rows are missing (a content file rolled back, say) while what its
    /// period held would still be kept. One log record per tenant; `destroyed` gets the ids as
    /// they go, so a run that fails part-way still reports (and propagates) what it destroyed.
    private func destroyUnusedPeriodKeys(asOf: Int64, context: AccessContext, into destroyed: inout [String]) async throws {
        let cutoff = min(asOf, administration.clock.now()) - KeyPeriod.destroyGrace
        let scope = try await callerScope(context)
        let ended = try await BlockingPool.shared.run { try self.keys.store.endedPeriodKeys(before: cutoff) }
        let day: Int64 = 86_400_000
        for (tenant, candidates) in Dictionary(grouping: ended, by: \.tenant).sorted(by: { $0.key < $1.key })
        where scope?.contains(TenantID(tenant)) ?? true {
            let (state, settings) = try await BlockingPool.shared.run { () throws -> (TenantLifecycle, [RetentionClass: Int]) in
                (try self.requireLifecycle(TenantID(tenant)), try self.lifecycle.retentionSettings(TenantID(tenant)))
            }
            let rules = RetentionPolicy.rules(plan: state.plan, overrides: settings, accessLogDays: 0)
            let due = candidates.filter { key in
                guard let rule = rules.first(where: { $0.dataClass.code == key.dataClass }), let days = rule.days else { return false }
                switch rule.clock {
                case .creation: return key.periodEnd + Int64(days) * day <= cutoff
                case .closure: return state.closedAt.map { $0 + Int64(days) * day <= cutoff } ?? false
                case .lastSeen: return false
                }
            }
            let used = try await contentStore.catalog.keysInUse(due.map(\.id))
            let unused = due.map(\.id).filter { !used.contains($0) }
            guard !unused.isEmpty else { continue }
            let request = AccessRequest(action: .purge, dataClass: .content, tenant: TenantID(tenant),
                                        reason: "retention=period-keys keys=\(unused.joined(separator: ","))")
            // No put takes these keys any more (their periods ended over a day ago), so what is
            // unused now stays unused.
            try await guarded(context, request) { _ in
                try await BlockingPool.shared.run { try self.keys.destroyDataKeys(unused, tenant: tenant, kind: .periodKeys) }
            }
            destroyed += unused
        }
    }

    /// Everything due at `asOf` in the tenants `scope` allows (all when nil), and the holds that
    /// kept something out.
    private func retentionPlan(asOf: Int64, scope: [TenantID]?) async throws -> (items: [RetentionItem], held: [String]) {
        let day: Int64 = 86_400_000
        var items: [RetentionItem] = []
        var held: [String] = []
        for tenant in try await administration.allTenants() where scope?.contains(tenant) ?? true {
            let (state, settings, holds) = try await BlockingPool.shared.run { () throws -> (TenantLifecycle, [RetentionClass: Int], [LegalHold]) in
                (try self.requireLifecycle(tenant), try self.lifecycle.retentionSettings(tenant), try self.lifecycle.holds(tenant: tenant, includeLifted: false))
            }
            if holds.contains(where: { $0.subject == nil }) {
                held.append("tenant \(tenant)")
                continue
            }
            let heldSubjects = Set(holds.compactMap(\.subject))
            held += heldSubjects.sorted { $0.rawValue < $1.rawValue }.map { "subject \($0) of \(tenant)" }
            let rules = RetentionPolicy.rules(plan: state.plan, overrides: settings, accessLogDays: 0)
            for rule in rules {
                guard let days = rule.days else { continue }
                let period = Int64(days) * day
                switch (rule.dataClass.objectKind, rule.dataClass) {
                case (let kind?, _):
                    items += try await dueVersions(tenant: tenant, kind: kind, rule: rule, period: period, closedAt: state.closedAt, asOf: asOf)
                case (nil, .technicalIdentifier):
                    for identifier in try await people.store.identifiers(tenant: tenant, lastSeenBefore: asOf - period)
                    where !heldSubjects.contains(identifier.subject) {
                        items.append(RetentionItem(kind: .identifier, tenant: tenant, dataClass: rule.dataClass, objectID: nil, versions: nil,
                                                   subject: identifier.subject, identifier: identifier.id, dueAt: identifier.lastSeen + period))
                    }
                case (nil, .accountPII):
                    guard let closedAt = state.closedAt, closedAt + period <= asOf else { continue }
                    for subject in try await people.store.subjects(tenant: tenant) where !heldSubjects.contains(subject) {
                        items.append(RetentionItem(kind: .subject, tenant: tenant, dataClass: rule.dataClass, objectID: nil, versions: nil,
                                                   subject: subject, identifier: nil, dueAt: closedAt + period))
                    }
                default:
                    continue  // billing is kept per record (below); the access log is pruned under dual control
                }
            }
            // An erasure a crash interrupted after the rows went and before the keys did: the
            // tombstone still has field keys. Due at once, whatever the clocks.
            let keyed = try await BlockingPool.shared.run { try self.keys.store.subjectsWithFieldKeys(tenant: tenant.rawValue) }
            for subject in try await people.store.erasedSubjects(tenant: tenant) where keyed.contains(subject.rawValue) && !heldSubjects.contains(subject) {
                items.append(RetentionItem(kind: .subject, tenant: tenant, dataClass: .accountPII, objectID: nil, versions: nil,
                                           subject: subject, identifier: nil, dueAt: asOf))
            }
            // Retained billing records: their keys and dates come from control.sqlite, which the
            // PII file cannot point elsewhere. Seven years from the erasure, or from the
            // account's closure if that came later.
            let sevenYears = Int64(RetentionPolicy.sevenYears) * day
            let retained = try await BlockingPool.shared.run { try self.keys.store.retainedKeysDue(tenant: tenant.rawValue, before: asOf) }
            for record in retained where !heldSubjects.contains(SubjectID(record.subject)) {
                let dueAt = max(record.until, state.closedAt.map { $0 + sevenYears } ?? record.until)
                guard dueAt <= asOf else { continue }
                items.append(RetentionItem(kind: .retained, tenant: tenant, dataClass: .billing, objectID: nil, versions: nil,
                                           subject: SubjectID(record.subject), identifier: record.keyID, dueAt: dueAt))
            }
        }
        return (items, held)
    }

    /// The versions of `tenant`'s `kind` due at `asOf`, one item per object.
    private func dueVersions(tenant: TenantID, kind: ObjectKind, rule: RetentionRule, period: Int64, closedAt: Int64?,
                             asOf: Int64) async throws -> [RetentionItem] {
        let versions: [VersionAge]
        switch rule.clock {
        case .creation:
            versions = try await contentStore.catalog.versions(tenant: tenant, kind: kind, createdBefore: asOf - period)
        case .closure:
            guard let closedAt, closedAt + period <= asOf else { return [] }
            versions = try await contentStore.catalog.versions(tenant: tenant, kind: kind, createdBefore: nil)
        case .lastSeen:
            return []
        }
        return Dictionary(grouping: versions, by: \.objectID).sorted { $0.key.rawValue < $1.key.rawValue }.map { objectID, versions in
            let due = rule.clock == .closure ? (closedAt ?? 0) + period : (versions.map(\.createdAt).max() ?? 0) + period
            return RetentionItem(kind: .objectVersions, tenant: tenant, dataClass: rule.dataClass, objectID: objectID,
                                 versions: versions.map(\.version), subject: nil, identifier: nil, dueAt: due)
        }
    }

    /// Removes one item through the gate: one log record for it.
    private func remove(_ item: RetentionItem, context: AccessContext) async throws {
        let reason = "retention=\(item.dataClass)"
        // A hold placed since the plan was made counts: checked just before each removal.
        let subject = item.kind == .objectVersions ? nil : item.subject
        if try await BlockingPool.shared.run({ try self.lifecycle.isHeld(tenant: item.tenant, subject: subject) }) { throw HeldNow() }
        switch item.kind {
        case .objectVersions:
            guard let objectID = item.objectID, let versions = item.versions else { return }
            let request = AccessRequest(action: .purge, dataClass: .content, tenant: item.tenant, objectID: objectID.rawValue,
                                        objectKind: item.dataClass.code, reason: "\(reason) versions=\(versions.map(String.init).joined(separator: ","))")
            try await guarded(context, request) { _ in
                _ = try await contentStore.catalog.deleteVersions(tenant: item.tenant, objectID: objectID, versions: versions)
            }
        case .identifier, .subject, .retained:
            guard let subject = item.subject else { return }
            try await guardedPII(context, .purge, subject: subject, check: { access in
                if access.isAllowed { access.request.reason = reason }
            }) { state in
                guard let state, state.tenant == item.tenant else { throw CofferError(.tamperDetected, "subject \(subject) changed tenant") }
                switch item.kind {
                case .identifier:
                    try await people.purgeIdentifier(item.identifier ?? "", subject: subject, tenant: item.tenant)
                case .subject:
                    let retainUntil = administration.clock.now() + Int64(RetentionPolicy.sevenYears) * 86_400_000
                    try await BlockingPool.shared.run { try self.people.erase(subject, tenant: item.tenant, retainUntil: retainUntil) }
                default:
                    try await people.purgeRetained(subject: subject, tenant: item.tenant, keyID: item.identifier ?? "")
                }
            }
        }
    }
}
