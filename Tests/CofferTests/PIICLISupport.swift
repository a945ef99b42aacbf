import Foundation
import Testing
@testable import Coffer
import CofferCrypto

/// A CLI vault (operator `cli-test`, tenant `acme`, privacy officer `po`) in a fresh temporary
/// directory (``withAuditCLI(_:)`` with the officer added).
func withPIICLI(_ body: (CofferCLI) async throws -> Void) async throws {
    try await withAuditCLI { cli in
        let officer = try cli.spawn(["principal", "add", "po", "--role", "privacy-officer"])
        try #require(officer.status == 0, "\(officer.error)")
        try await body(cli)
    }
}

/// Runs `coffer pii` with `arguments`, COFFER_JUSTIFICATION and COFFER_BREACHED_PASSWORDS set
/// unless `environment` overrides them (nil removes a variable), and `input` on standard input.
func pii(_ cli: CofferCLI, _ arguments: [String], input: String? = nil,
         environment: [String: String?] = [:]) throws -> (status: Int32, output: String, error: String) {
    var overrides: [String: String?] = ["COFFER_JUSTIFICATION": "cli pii test", "COFFER_BREACHED_PASSWORDS": piiSampleBreachedListPath]
    for (name, value) in environment { overrides[name] = value }
    return try cli.spawn(["pii"] + arguments, input: input.map { Data($0.utf8) }, environment: overrides)
}

/// The access options of the privacy officer answering a subject request.
let asOfficer = ["--actor", "po", "--purpose", "subject-request", "--justification", "DSAR 2024-17"]

/// `values` as the JSON object `coffer pii --from` reads.
func piiJSON(_ values: [String: String]) throws -> String {
    String(decoding: try JSONSerialization.data(withJSONObject: values, options: [.sortedKeys]), as: UTF8.self)
}

/// The subject id `pii add` printed, after checking it succeeded.
func addedSubject(_ add: (status: Int32, output: String, error: String),
                  sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
    try #require(add.status == 0, "\(add.error)", sourceLocation: sourceLocation)
    let id = add.output.trimmingCharacters(in: .whitespacesAndNewlines)
    try #require(id.wholeMatch(of: #/subj_[0-9a-f]{32}/#) != nil, "\(add.output)", sourceLocation: sourceLocation)
    return id
}
