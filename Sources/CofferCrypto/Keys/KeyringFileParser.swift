/// Turns the bytes of a keyring file into a ``Keyring``, with a message for every mistake that
/// names the file, the key and the fix. Key material is decoded from the input buffer straight
/// into ``SecureBytes``.
struct KeyringFileParser {
    let path: String
    let bytes: UnsafeRawBufferPointer

    private func malformed(_ problem: String) -> CofferError {
        CofferError(.keyringMalformed, "keyring \(path): \(problem)")
    }

    func keyring() throws -> Keyring {
        let root: SecretJSON.Value
        do { root = try SecretJSON.parse(bytes) } catch {
            throw malformed("not valid JSON at byte \(error.offset) (\(error.reason)); see keys-example/README.md for the format")
        }
        guard case .object(let members) = root else { throw malformed("the top level must be a JSON object") }
        func member(_ name: String) -> SecretJSON.Value? { members.first { $0.key == name }?.value }

        guard case .string(let formatRange)? = member("format"),
              SecretJSON.text(formatRange, in: bytes) == Keyring.formatTag else {
            throw malformed("\"format\" must be \"\(Keyring.formatTag)\"")
        }
        var development = false
        if let value = member("development") {
            guard case .bool(let flag) = value else { throw malformed("\"development\" must be true or false") }
            development = flag
        }
        guard case .array(let items)? = member("keys"), !items.isEmpty else {
            throw malformed("\"keys\" must be a non-empty array; make a keyring with `coffer keys generate --out FILE`")
        }
        var entries: [Keyring.Entry] = []
        for (position, item) in items.enumerated() {
            let entry = try self.entry(item, position: position)
            if entries.contains(where: { $0.id == entry.id }) {
                throw malformed("key id '\(entry.id)' appears twice; every key needs its own id")
            }
            if let twin = entries.first(where: { $0.material.constantTimeEquals(entry.material) }) {
                throw malformed("keys '\(twin.id)' and '\(entry.id)' have the same material; generate a fresh key for one of them")
            }
            entries.append(entry)
        }
        guard case .string(let activeRange)? = member("active") else {
            throw malformed("\"active\" must name the id of the key-encryption key that wraps new data keys")
        }
        let active = SecretJSON.text(activeRange, in: bytes)
        guard entries.contains(where: { $0.id == active && $0.purpose == .keyEncryption }) else {
            throw malformed("\"active\" names '\(active)', which is not a key-encryption key in \"keys\"")
        }
        var generation = 0
        if let value = member("generation") {
            guard case .number(let r) = value, let parsed = Int(SecretJSON.text(r, in: bytes)), parsed >= 0 else {
                throw malformed("\"generation\" must be a whole number of 0 or more")
            }
            generation = parsed
        }
        return Keyring(entries: entries, activeKeyID: active, isDevelopment: development, generation: generation)
    }

    private func entry(_ item: SecretJSON.Value, position: Int) throws -> Keyring.Entry {
        guard case .object(let fields) = item else { throw malformed("keys[\(position)] must be an object") }
        func field(_ name: String) -> SecretJSON.Value? { fields.first { $0.key == name }?.value }
        guard case .string(let idRange)? = field("id") else { throw malformed("keys[\(position)] has no \"id\"") }
        let id = SecretJSON.text(idRange, in: bytes)
        guard !id.isEmpty, id.count <= 64,
              id.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0) }) else {
            throw malformed("keys[\(position)] id must be 1-64 letters, digits, '-', '_' or '.'")
        }
        var purpose = Keyring.Purpose.keyEncryption
        if let value = field("purpose") {
            guard case .string(let r) = value,
                  let known = Keyring.Purpose.all.first(where: { $0.rawValue == SecretJSON.text(r, in: bytes) }) else {
                throw malformed("key '\(id)': \"purpose\" must be one of \(Keyring.Purpose.all.map(\.rawValue).joined(separator: ", "))")
            }
            purpose = known
        }
        var created: String?
        if case .string(let r)? = field("created") { created = SecretJSON.text(r, in: bytes) }
        guard case .string(let materialRange)? = field("material") else {
            throw malformed("key '\(id)' has no \"material\" (64 hex characters)")
        }
        guard materialRange.count == 64 else {
            throw malformed("key '\(id)': material is \(materialRange.count) characters; a key is 32 bytes written as 64 hex characters")
        }
        let material = try SecureBytes(count: 32) { (out) throws in
            for i in 0..<32 {
                guard let high = Self.nibble(bytes[materialRange.lowerBound + 2 * i]),
                      let low = Self.nibble(bytes[materialRange.lowerBound + 2 * i + 1]) else {
                    throw malformed("key '\(id)': material must be hex digits only")
                }
                out[i] = high << 4 | low
            }
        }
        let allSame = material.withUnsafeBytes { m in m.allSatisfy { $0 == m[0] } }
        if allSame { throw malformed("key '\(id)': material is one byte repeated; use random key material") }
        return Keyring.Entry(id: id, purpose: purpose, created: created, material: material)
    }

    @inline(__always)
    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
