import GRDB

/// Identifiers are stored as their text, so the stores bind and read them directly.
extension Identifier: DatabaseValueConvertible {}
