/// PostgreSQL's advisory locks are database-wide, while a Coffer store lives in one schema: two
/// vaults sharing a database in two schemas must neither wait for each other's writers nor skip
/// each other's collection. Every Coffer lock key is therefore hashed with the connection's
/// schema (`hashtextextended(schema, key)`, a 64-bit hash seeded with the key) before it is
/// taken. A collision between two schemas only serializes their work; it never lets two holders
/// of the same schema's lock in at once.
enum AdvisoryLockKey {
    /// The SQL expression of the schema-scoped lock of the key bound at `placeholder`.
    static func scoped(_ placeholder: String) -> String {
        "hashtextextended(coalesce(current_schema(), ''), \(placeholder))"
    }

    /// ``scoped(_:)`` of the key bound at `?` (the stores' placeholders), made once.
    static let atQuestionMark = scoped("?")
}
