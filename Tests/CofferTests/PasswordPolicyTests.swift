import Foundation
import GRDB
import Testing
@testable import Coffer
import CofferCrypto

/// The message `policy` refuses `password` with, or nil when it accepts it.
private func refusal(_ password: String, _ policy: PasswordPolicy = PasswordPolicy()) -> String? {
    do {
        try policy.check(password)
        return nil
    } catch let error as CofferError {
        #expect(error.code == .passwordPolicy, "\(error)")
        return error.message
    } catch {
        Issue.record("unexpected error \(error)")
        return "\(error)"
    }
}

private let samplePolicy: PasswordPolicy = {
    PasswordPolicy(breached: try! BreachedPasswordList(contentsOf: piiSampleBreachedListPath))
}()

@Suite("Password policy (P13)")
struct PasswordPolicyTests {
    @Test("8 or more characters with a digit, a lower-case and an upper-case letter are accepted",
          arguments: ["Tr1ckySecret", "Tr1cky!x", "Abcdefg1", "Zz9yyyyy", "Plumgarden1234"])
    func shortFormAccepted(password: String) {
        // The 8-character form has no run rule: "Abcdefg1", "Zz9yyyyy" and "Plumgarden1234" pass by it.
        #expect(refusal(password) == nil)
        #expect(refusal(password, samplePolicy) == nil)
    }

    @Test("a missing digit, lower-case or upper-case letter is refused, naming exactly what is missing",
          arguments: [
              ("Trickysec", ["a digit"]),
              ("TR1CKYSEC", ["a lower-case letter"]),
              ("tr1ckysec", ["an upper-case letter"]),
              ("trickysec", ["a digit", "an upper-case letter"]),
              ("12345678Z", ["a lower-case letter"]),
              ("quietlakesh", ["a digit", "an upper-case letter"]),
          ])
    func missingClass(password: String, missing: [String]) throws {
        let message = try #require(refusal(password))
        #expect(message.contains("with fewer than 12 characters it needs \(missing.joined(separator: ", "))"), "\(message)")
        for other in ["a digit", "a lower-case letter", "an upper-case letter"] where !missing.contains(other) {
            #expect(!message.contains(other), "\(message) names \(other)")
        }
        #expect(!message.contains(password), "the message repeats the password")
        #expect(!message.contains("breached"))
    }

    @Test("fewer than 8 characters is refused with the length in the message",
          arguments: [("Tr1ck", 5), ("Tr1ckyX", 7), ("", 0), ("A1b", 3)])
    func tooShort(password: String, length: Int) throws {
        let message = try #require(refusal(password))
        #expect(message.contains("it has \(length) characters; at least 8"), "\(message)")
    }

    @Test("12 or more characters without runs are accepted without any character classes",
          arguments: ["correct horse battery", "quietlakeshore", "quietlakesho", "plum123garden", "plumaaagarden", "ZEBRA MANGO KIWI"])
    func longFormAccepted(password: String) {
        #expect(refusal(password) == nil)
        #expect(refusal(password, samplePolicy) == nil)
    }

    @Test("12 or more characters with a sequential run of four are refused",
          arguments: ["plumgarden1234", "plumabcdgarden", "plum4321garden", "plumdcbagarden", "wxyz plum garden", "plumgarden6789"])
    func sequentialRun(password: String) throws {
        let message = try #require(refusal(password))
        #expect(message.contains("sequential run"), "\(message)")
        #expect(!message.contains("repeated run"), "\(message)")
    }

    @Test("12 or more characters with a repeated run of four are refused",
          arguments: ["plumaaaagarden", "plum1111garden", "plumgarden!!!!", "    plumgarden"])
    func repeatedRun(password: String) throws {
        let message = try #require(refusal(password))
        #expect(message.contains("repeated run"), "\(message)")
        #expect(!message.contains("sequential run"), "\(message)")
    }

    @Test("a breached password is refused: plain entries and SHA-1 entries of the sample list",
          arguments: ["Password123", "Summer2024!", "Admin123", "P@ssw0rd", "Qwerty123", "Tr0ub4dor&3", "correcthorsebatterystaple",
                      "ilovemydog2024"])
    func breached(password: String) throws {
        // Each passes one form of the policy by its shape alone.
        #expect(refusal(password) == nil, "without a breached list \(password) is accepted")
        let message = try #require(refusal(password, samplePolicy))
        #expect(message.contains("it appears in a list of breached passwords"), "\(message)")
    }

    @Test("breached lower-case password: every broken rule is named")
    func breachedAndWeak() throws {
        let message = try #require(refusal("password", samplePolicy))
        #expect(message.contains("breached"))
        #expect(message.contains("needs a digit, an upper-case letter"), "\(message)")
    }

    @Test("breachCheckForBothForms false lets a breached 8-character-form password through, never a 12-character-form one")
    func breachCheckOnlyLongForm() {
        var lenient = samplePolicy
        lenient.breachCheckForBothForms = false
        #expect(samplePolicy.breachCheckForBothForms, "the stricter reading is the default")
        for password in ["Password123", "P@ssw0rd", "Qwerty123", "Tr0ub4dor&3"] {
            #expect(refusal(password, lenient) == nil, "\(password)")
            #expect(refusal(password, samplePolicy) != nil, "\(password)")
        }
        for password in ["correcthorsebatterystaple", "sunshinesunshine", "ilovemydog2024"] {
            #expect(refusal(password, lenient)?.contains("breached") == true, "\(password)")
        }
    }

    @Test("run lengths")
    func runs() {
        func run(_ s: String) -> [Int] { let r = PasswordPolicy.longestRun(Array(s)); return [r.sequential, r.repeated] }
        #expect(run("") == [0, 0])
        #expect(run("a") == [1, 1])
        #expect(run("abcd") == [4, 1])
        #expect(run("dcba") == [4, 1])
        #expect(run("aaaa") == [1, 4])
        #expect(run("ab12345x") == [5, 1])
        #expect(run("zz9876") == [4, 2])
        #expect(run("a1b2c3d4") == [1, 1])
    }

    @Test("the vault applies the policy at registration and on a new password; a refused password changes nothing")
    func vaultAppliesPolicy() async throws {
        try await withPIIVault(breached: try BreachedPasswordList(contentsOf: piiSampleBreachedListPath)) { t in
            let v = t.vault
            for bad in ["short1A", "P@ssw0rd", "plumgarden1234"] {
                await expectCofferError(.passwordPolicy, Comment(rawValue: bad)) {
                    _ = try await v.addSubject(tenant: "acme", name: "Ann", email: "ann@example.com", company: nil, password: bad,
                                               context: .piiService)
                }
            }
            #expect(try await v.piiCount("SELECT count(*) FROM subject") == 0)
            let id = try await v.addSubject(tenant: "acme", name: "Ann", email: "ann@example.com", company: nil, password: "Tr1ckySecret",
                                            context: .piiService)
            await expectCofferError(.passwordPolicy) { try await v.setPassword(id, password: "Password123", context: .piiService) }
            #expect(try await v.verifyPassword(id, password: "Tr1ckySecret", context: .piiService))
            #expect(try await !v.verifyPassword(id, password: "Password123", context: .piiService))
            try await v.setPassword(id, password: "correct horse battery", context: .piiService)
            #expect(try await v.verifyPassword(id, password: "correct horse battery", context: .piiService))
            #expect(try await !v.verifyPassword(id, password: "Tr1ckySecret", context: .piiService))
        }
    }
}

@Suite("Breached-password list")
struct BreachedPasswordListTests {
    @Test("comments, blank lines, plain entries and SHA-1 entries with and without :count")
    func parsing() async throws {
        try await withTemporaryPath { url in
            let text = """
                # A comment line
                #hunter3

                hunter2
                   spaced entry\u{20}\u{20}
                5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:3861493
                cbfdac6008f9cab4083784cbd1874f76618d2a97\r
                pass:word
                \r
                   # indented comment
                """
            try Data(text.utf8).write(to: url)
            let list = try BreachedPasswordList(contentsOf: url.path)
            #expect(list.count == 5)
            for present in ["hunter2", "spaced entry", "password", "password123", "pass:word"] {
                #expect(list.contains(present), "\(present)")
            }
            for absent in ["hunter3", "# A comment line", "#hunter3", "", "  spaced entry  ", "Password", "pass", "word", "3861493",
                           "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8", "# indented comment"] {
                #expect(!list.contains(absent), "\(absent.debugDescription)")
            }
        }
    }

    @Test("the sample list loads: 108 entries, 36 of them SHA-1")
    func sample() throws {
        let list = try BreachedPasswordList(contentsOf: piiSampleBreachedListPath)
        #expect(list.count == 108)
        for present in ["123456", "qwerty", "P@ssw0rd", "Tr0ub4dor&3", "password", "Password123", "correcthorsebatterystaple"] {
            #expect(list.contains(present), "\(present)")
        }
        for absent in ["Tr1ckySecret", "correct horse battery", "PASSWORD", "password "] {
            #expect(!list.contains(absent), "\(absent)")
        }
    }

    @Test("an empty list contains nothing; a missing file is an io error")
    func emptyAndMissing() async {
        #expect(!BreachedPasswordList().contains("password"))
        #expect(BreachedPasswordList().count == 0)
        await expectCofferError(.io) { _ = try BreachedPasswordList(contentsOf: "/nonexistent/coffer-\(UUID().uuidString).txt") }
    }
}

@Suite("Password hashing (P13)")
struct PasswordHashTests {
    /// The hash text: `$scrypt$ln=N,r=R,p=P$` then 16 salt bytes and 32 hash bytes in unpadded base64.
    private func expectFormat(_ stored: String, logN: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        let prefix = "$scrypt$ln=\(logN),r=8,p=1$"
        #expect(stored.hasPrefix(prefix), "\(stored)", sourceLocation: sourceLocation)
        let parts = stored.dropFirst(prefix.count).split(separator: "$", omittingEmptySubsequences: false)
        #expect(parts.count == 2, "\(stored)", sourceLocation: sourceLocation)
        guard parts.count == 2 else { return }
        #expect(stored.wholeMatch(of: #/\$scrypt\$ln=[0-9]+,r=[0-9]+,p=[0-9]+\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}/#) != nil,
                "\(stored)", sourceLocation: sourceLocation)
        let pad = { (s: Substring) in String(s) + String(repeating: "=", count: (4 - s.count % 4) % 4) }
        #expect(Data(base64Encoded: pad(parts[0]))?.count == 16, sourceLocation: sourceLocation)
        #expect(Data(base64Encoded: pad(parts[1]))?.count == 32, sourceLocation: sourceLocation)
    }

    @Test("hash text format, salting and verification")
    func format() throws {
        let a = try PasswordHash.make("Tr1ckySecret", parameters: .piiTestFast)
        let b = try PasswordHash.make("Tr1ckySecret", parameters: .piiTestFast)
        expectFormat(a, logN: 10)
        expectFormat(b, logN: 10)
        #expect(a != b, "each hash has its own salt")
        #expect(!a.contains("Tr1ckySecret"))
        let good = try PasswordHash.verify("Tr1ckySecret", against: a)
        #expect(good.matches)
        #expect(good.parameters == .piiTestFast)
        #expect(try !PasswordHash.verify("Tr1ckySecreT", against: a).matches)
        #expect(try !PasswordHash.verify("", against: a).matches)
    }

    @Test("a malformed stored hash is an invalid-format error",
          arguments: ["", "plain", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", "$scrypt$ln=10,r=8$AAAA$AAAA",
                      "$scrypt$ln=x,r=8,p=1$AAAA$AAAA", "$scrypt$ln=10,r=8,p=1$AAAA"])
    func malformed(stored: String) async {
        await expectCofferError(.invalidFormat, Comment(rawValue: stored)) { _ = try PasswordHash.verify("pw", against: stored) }
    }

    @Test("parameters compare by their work")
    func parameterOrder() {
        #expect(PasswordHashParameters(logN: 10, r: 8, p: 1) < PasswordHashParameters(logN: 11, r: 8, p: 1))
        #expect(PasswordHashParameters(logN: 11, r: 8, p: 1) < .recommended)
        #expect(!(PasswordHashParameters.recommended < PasswordHashParameters(logN: 17, r: 8, p: 1)))
    }

    @Test("verify: right password true, wrong false, no password false")
    func verify() async throws {
        try await withPIIVault { t in
            let v = t.vault
            let id = try await v.addSubject(tenant: "acme", name: "Ann", email: "ann@example.com", company: nil, password: "Tr1ckySecret",
                                            context: .piiService)
            expectFormat(try #require(try await v.piiStoredField(id, tenant: "acme", .passwordHash)), logN: 10)
            #expect(try await v.subject(id, context: .piiOfficer).hasPassword)
            #expect(try await v.verifyPassword(id, password: "Tr1ckySecret", context: .piiService))
            #expect(try await !v.verifyPassword(id, password: "tr1ckySecret", context: .piiService))
            #expect(try await !v.verifyPassword(id, password: "", context: .piiService))
            let none = try await v.addSubject(tenant: "acme", name: "Bo", email: "bo@example.com", company: nil, context: .piiService)
            #expect(try await !v.subject(none, context: .piiOfficer).hasPassword)
            #expect(try await !v.verifyPassword(none, password: "Tr1ckySecret", context: .piiService))
            await expectCofferError(.notFound) {
                _ = try await v.verifyPassword("subj_00000000000000000000000000000000", password: "x", context: .piiService)
            }
        }
    }

    @Test("raised parameters: a successful verify rewrites the hash, a failed one does not, a lower setting never lowers it")
    func rehash() async throws {
        try await withPIIVault { t in
            let v = t.vault
            let id = try await v.addSubject(tenant: "acme", name: "Ann", email: "ann@example.com", company: nil, password: "Tr1ckySecret",
                                            context: .piiService)
            let original = try #require(try await v.piiStoredField(id, tenant: "acme", .passwordHash))
            expectFormat(original, logN: 10)

            var settings = v.piiSettings
            settings.passwordHashing = PasswordHashParameters(logN: 11, r: 8, p: 1)
            v.configurePII(settings)
            #expect(try await !v.verifyPassword(id, password: "Wr0ngSecret", context: .piiService))
            #expect(try await v.piiStoredField(id, tenant: "acme", .passwordHash) == original, "a failed verify rewrote the hash")

            #expect(try await v.verifyPassword(id, password: "Tr1ckySecret", context: .piiService))
            let raised = try #require(try await v.piiStoredField(id, tenant: "acme", .passwordHash))
            expectFormat(raised, logN: 11)
            #expect(raised != original)
            #expect(try await v.piiCount("SELECT count(*) FROM field WHERE subject_id = ? AND name = 'password-hash'", [id]) == 1)
            // The raised hash verifies, and verifying again does not rewrite it.
            #expect(try await v.verifyPassword(id, password: "Tr1ckySecret", context: .piiService))
            #expect(try await v.piiStoredField(id, tenant: "acme", .passwordHash) == raised)
            #expect(try await !v.verifyPassword(id, password: "Wr0ngSecret", context: .piiService))

            settings.passwordHashing = .piiTestFast
            v.configurePII(settings)
            #expect(try await v.verifyPassword(id, password: "Tr1ckySecret", context: .piiService))
            #expect(try await v.piiStoredField(id, tenant: "acme", .passwordHash) == raised, "a weaker setting lowered the hash")
        }
    }

    @Test("the default parameters are scrypt N=2^17, r=8, p=1, and a vault uses them unless configured")
    func defaults() async throws {
        #expect(PasswordHashParameters.recommended == PasswordHashParameters(logN: 17, r: 8, p: 1))
        #expect(PIISettings().passwordHashing == PasswordHashParameters(logN: 17, r: 8, p: 1))
        #expect(PIISettings().passwordPolicy.breachCheckForBothForms)
        try await withTestVault { t in
            let v = t.vault
            #expect(v.piiSettings.passwordHashing == .recommended)
            try await v.addPrincipal(PIIPrincipal.officer, roles: [.privacyOfficer], context: .admin)
            let id = try await v.addSubject(tenant: "acme", name: "Ann", email: "ann@example.com", company: nil, password: "Tr1ckySecret",
                                            context: .piiService)
            let stored = try #require(try await v.piiStoredField(id, tenant: "acme", .passwordHash))
            expectFormat(stored, logN: 17)
            #expect(try await v.verifyPassword(id, password: "Tr1ckySecret", context: .piiService))
            #expect(try await v.piiStoredField(id, tenant: "acme", .passwordHash) == stored)
        }
    }
}
