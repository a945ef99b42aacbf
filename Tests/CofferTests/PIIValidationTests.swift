import Foundation
import Testing
@testable import Coffer

/// Full card numbers (test numbers of the card schemes) in the forms people type them.
private let cardNumbers = ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005"]

@Suite("PII validation")
struct PIIValidationTests {
    // MARK: - Email

    @Test("valid email addresses are accepted; the domain is lower-cased, the local part kept",
          arguments: [
              ("alice@example.com", "alice@example.com"),
              ("Alice.Smith+news@Mail.Example.CO.UK", "Alice.Smith+news@mail.example.co.uk"),
              ("  bob_o'neil@example.org \n", "bob_o'neil@example.org"),
              ("x@a-b.io", "x@a-b.io"),
              ("first.last-2@sub-domain.example.net", "first.last-2@sub-domain.example.net"),
              ("o#{}|~!$%&*=?^`/@example.com", "o#{}|~!$%&*=?^`/@example.com"),
          ])
    func validEmail(input: String, normalised: String) throws {
        #expect(try PIIValidation.email(input) == normalised)
        #expect(PIIValidation.emailKey(try PIIValidation.email(input)) == normalised.lowercased())
    }

    @Test("invalid email addresses are refused with invalid-pii, without echoing the value",
          arguments: [
              "", "   ", "alice", "alice@", "@example.com", "alice@example", "alice@@example.com", "ali@ce@example.com",
              ".alice@example.com", "alice.@example.com", "al..ice@example.com", "alice@.example.com", "alice@example..com",
              "alice@example.com.", "alice@-example.com", "alice@example-.com", "al ice@example.com", "alice@exa_mple.com",
              "alice@exämple.com", "ålice@example.com", "alice(comment)@example.com", "ali\u{7}ce@example.com",
              String(repeating: "a", count: 65) + "@example.com", "alice@" + String(repeating: "b", count: 64) + ".com",
          ])
    func invalidEmail(input: String) async {
        let error = await expectCofferError(.invalidPII, Comment(rawValue: input.debugDescription)) {
            _ = try PIIValidation.email(input)
        }
        let trimmed = input.trimmingCharacters(in: .whitespacesAndNewlines)
        if let error, !trimmed.isEmpty { #expect(!error.message.contains(trimmed)) }
    }

    @Test("a 64-character local part and a 63-character label are still accepted")
    func emailLimits() throws {
        let local = String(repeating: "a", count: 64), label = String(repeating: "b", count: 63)
        #expect(try PIIValidation.email("\(local)@\(label).com") == "\(local)@\(label).com")
    }

    // MARK: - IP addresses

    @Test("IPv4 and IPv6 addresses are accepted and stored in canonical form",
          arguments: [
              ("192.168.1.10", "192.168.1.10"),
              (" 10.0.0.1 ", "10.0.0.1"),
              ("0.0.0.0", "0.0.0.0"),
              ("255.255.255.255", "255.255.255.255"),
              ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
              ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
              ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
              ("0:0:0:0:0:0:0:1", "::1"),
              ("::", "::"),
              ("FE80::0202:B3FF:FE1E:8329", "fe80::202:b3ff:fe1e:8329"),
              ("::ffff:192.0.2.128", "::ffff:192.0.2.128"),
          ])
    func validIP(input: String, canonical: String) throws {
        #expect(try PIIValidation.ipAddress(input) == canonical)
        #expect(try PIIValidation.ipAddress(canonical) == canonical)
    }

    @Test("malformed IP addresses are refused",
          arguments: ["", "256.1.1.1", "1.2.3", "1.2.3.4.5", "192.168.1.1/24", "example.com", "1.2.3.-4", "2001:db8::1::2",
                      "12345::1", "::g", "fe80::1%eth0", "2001:db8:0:0:0:0:0:0:1"])
    func invalidIP(input: String) async {
        await expectCofferError(.invalidPII, Comment(rawValue: input.debugDescription)) { _ = try PIIValidation.ipAddress(input) }
    }

    // MARK: - Last 4

    @Test("last4 accepts exactly four ASCII digits", arguments: [("1234", "1234"), ("0000", "0000"), (" 0042 ", "0042")])
    func validLast4(input: String, stored: String) throws {
        #expect(try PIIValidation.last4(input) == stored)
    }

    @Test("last4 refuses anything but four ASCII digits",
          arguments: ["", "123", "12345", "12a4", "12 34", "-123", "١٢٣٤", "１２３４", "1234567890"])
    func invalidLast4(input: String) async {
        await expectCofferError(.invalidPII, Comment(rawValue: input.debugDescription)) { _ = try PIIValidation.last4(input) }
    }

    // MARK: - Card numbers

    @Test("full card numbers are recognised however they are written",
          arguments: cardNumbers + [
              "4111-1111-1111-1111", "4111111111111111", "5500 0000 0000 0004", "3782 822463 10005", "6011111111111117",
              "4222222222222", "4000123456789012343", "pay with 4111 1111 1111 1111 please", "card:4111111111111111;",
              "ref 99 4111111111111111", "0000 0000 0000 0",
          ])
    func cardRecognised(text: String) {
        #expect(PIIValidation.containsCardNumber(text))
    }

    @Test("digit runs that fail Luhn, or are shorter than 13 digits, are not card numbers",
          arguments: ["4000 1234 5678 9011", "1234567890123", "37828224631000", "123456789012", "0000 0000 0000", "4111 1111 1111",
                      "+1 555-123-4567", "Postfach 1234567890123, 10115 Berlin", "newsletter-1234567890123", "v2024.06.01", ""])
    func notACard(text: String) {
        #expect(!PIIValidation.containsCardNumber(text))
    }

    @Test("Luhn check")
    func luhn() {
        #expect(PIIValidation.luhn([4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1][...]))
        #expect(!PIIValidation.luhn([4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2][...]))
        #expect(PIIValidation.luhn([7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 3][...]))
        #expect(!PIIValidation.luhn([7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 4][...]))
    }

    @Test("a full card number is refused with card-number-refused in every field, and nothing is stored", arguments: cardNumbers)
    func cardRefusedEverywhere(card: String) async throws {
        try await withPIIVault { t in
            let v = t.vault
            let digits = card.filter(\.isNumber)
            let id = try await v.addSubject(tenant: "acme", name: "Baseline Person", email: "base@example.com", company: "Base Co",
                                            password: "Tr1ckySecret", context: .piiService)
            try await v.setBilling(id, last4: "1111", address: "1 Main Street", context: .piiService)
            try await v.recordConsent(id, kind: "marketing", granted: true, policyVersion: "2024-06", context: .piiService)
            let before = try await v.subject(id, context: .piiOfficer)

            func refused(_ what: String, _ body: () async throws -> Void) async {
                let error = await expectCofferError(.cardNumberRefused, Comment(rawValue: "\(what) with \(card)"), body)
                if let error {
                    #expect(!error.message.contains(card) && !error.message.contains(digits), "\(what): the message repeats the number")
                }
            }
            await refused("name") {
                _ = try await v.addSubject(tenant: "acme", name: "Jane \(card)", email: "jane@example.com", company: nil, context: .piiService)
            }
            await refused("email local part") {
                _ = try await v.addSubject(tenant: "acme", name: "Jane", email: "\(digits)@example.com", company: nil, context: .piiService)
            }
            await refused("email as typed") {
                _ = try await v.addSubject(tenant: "acme", name: "Jane", email: "\(card)@example.com", company: nil, context: .piiService)
            }
            await refused("company") {
                _ = try await v.addSubject(tenant: "acme", name: "Jane", email: "jane@example.com", company: "Card \(card) Ltd",
                                           context: .piiService)
            }
            await refused("password at registration") {
                _ = try await v.addSubject(tenant: "acme", name: "Jane", email: "jane@example.com", company: nil, password: "Aa\(card)",
                                           context: .piiService)
            }
            await refused("last4") { try await v.setBilling(id, last4: card, address: "2 Main Street", context: .piiService) }
            await refused("billing address") {
                try await v.setBilling(id, last4: "1234", address: "2 Main Street, card \(card)", context: .piiService)
            }
            await refused("consent kind") {
                try await v.recordConsent(id, kind: digits, granted: false, policyVersion: "2024-06", context: .piiService)
            }
            await refused("consent kind with a prefix") {
                try await v.recordConsent(id, kind: "m-\(card)", granted: false, policyVersion: "2024-06", context: .piiService)
            }
            await refused("policy version") {
                try await v.recordConsent(id, kind: "marketing", granted: false, policyVersion: "v \(card)", context: .piiService)
            }
            await refused("user agent") {
                _ = try await v.addIdentifier(id, ip: "192.0.2.1", userAgent: "Mozilla/5.0 (\(card))", device: nil, context: .piiService)
            }
            await refused("device") {
                _ = try await v.addIdentifier(id, ip: nil, userAgent: nil, device: "Phone \(card)", context: .piiService)
            }
            for field in SubjectField.correctable {
                let value = field == .email ? "\(digits)@example.com" : "Corrected \(card)"
                await refused("correction of \(field.rawValue)") {
                    try await v.correctSubject(id, field: field, value: value, context: .piiOfficer)
                }
            }
            await refused("new password") { try await v.setPassword(id, password: "Aa\(card)", context: .piiService) }

            #expect(try await v.piiCount("SELECT count(*) FROM subject") == 1, "a refused registration left a subject")
            #expect(try await v.piiCount("SELECT count(*) FROM identifier") == 0)
            #expect(try await v.piiCount("SELECT count(*) FROM consent") == 1)
            let after = try await v.subject(id, context: .piiOfficer)
            #expect(after == before)
            #expect(after.billingLast4 == "1111")
            #expect(try await v.verifyPassword(id, password: "Tr1ckySecret", context: .piiService))
            // Nothing of the number reached any file.
            for form in [card, digits] {
                #expect(try piiFiles(under: t.directory, containing: Array(form.utf8)).isEmpty, "\(form) is in a vault file")
            }
        }
    }

    @Test("digit runs that are not card numbers are accepted in every field")
    func nonCardDigitsAccepted() async throws {
        try await withPIIVault { t in
            let v = t.vault
            let id = try await v.addSubject(tenant: "acme", name: "Order 4000 1234 5678 9011", email: "order123456789012@example.com",
                                            company: "ACME 123456789012 GmbH", password: "Tr1cky 4000 1234 5678 9011", context: .piiService)
            try await v.setBilling(id, last4: "9011", address: "Postfach 1234567890123, 10115 Berlin, +1 555-123-4567", context: .piiService)
            try await v.recordConsent(id, kind: "newsletter-1234567890123", granted: true, policyVersion: "v1234567890123",
                                      context: .piiService)
            _ = try await v.addIdentifier(id, ip: "192.0.2.7", userAgent: "Build/1234567890123", device: "SN 4000-1234-5678-9011",
                                          context: .piiService)
            try await v.correctSubject(id, field: .company, value: "Renamed 37828224631000 AG", context: .piiService)
            let record = try await v.subject(id, context: .piiOfficer)
            #expect(record.name == "Order 4000 1234 5678 9011")
            #expect(record.email == "order123456789012@example.com")
            #expect(record.company == "Renamed 37828224631000 AG")
            #expect(record.billingLast4 == "9011")
            #expect(record.billingAddress == "Postfach 1234567890123, 10115 Berlin, +1 555-123-4567")
            #expect(record.consents.map(\.kind) == ["newsletter-1234567890123"])
            #expect(record.consents.map(\.policyVersion) == ["v1234567890123"])
            #expect(record.identifiers.map(\.userAgent) == ["Build/1234567890123"])
            #expect(record.identifiers.map(\.device) == ["SN 4000-1234-5678-9011"])
            #expect(try await v.verifyPassword(id, password: "Tr1cky 4000 1234 5678 9011", context: .piiService))
        }
    }

    @Test("last4 through the vault: four digits stored, anything else refused and nothing stored")
    func last4ThroughVault() async throws {
        try await withPIIVault { t in
            let v = t.vault
            let id = try await v.addSubject(tenant: "acme", name: "Ann", email: "ann@example.com", company: nil, context: .piiService)
            for bad in ["123", "12345", "12a4", "411111"] {
                await expectCofferError(.invalidPII, Comment(rawValue: bad)) {
                    try await v.setBilling(id, last4: bad, address: "1 Main Street", context: .piiService)
                }
            }
            #expect(try await v.subject(id, context: .piiOfficer).billingLast4 == nil)
            try await v.setBilling(id, last4: " 0042 ", address: "1 Main Street", context: .piiService)
            let record = try await v.subject(id, context: .piiOfficer)
            #expect(record.billingLast4 == "0042")
            #expect(record.billingAddress == "1 Main Street")
        }
    }

    @Test("text fields refuse empty values and control characters")
    func textFields() async throws {
        try await withPIIVault { t in
            let v = t.vault
            for name in ["", "   ", "Ann\u{0}Lee", "Ann\u{1B}[31m"] {
                await expectCofferError(.invalidPII, Comment(rawValue: name.debugDescription)) {
                    _ = try await v.addSubject(tenant: "acme", name: name, email: "ann@example.com", company: nil, context: .piiService)
                }
            }
            await expectCofferError(.invalidPII) {
                _ = try await v.addSubject(tenant: "acme", name: String(repeating: "n", count: 513), email: "ann@example.com",
                                           company: nil, context: .piiService)
            }
            let subjects = try await v.piiCount("SELECT count(*) FROM subject")
            #expect(subjects == 0)
        }
    }
}
