import Foundation
import Testing
import CofferTestSupport
@testable import Coffer

/// The contents of a file in this test bundle's `Resources` folder.
func testResource(_ name: String) throws -> Data { try resource(name, in: .module) }

/// Bytes from hex; nil-safe wrapper for test data (records an issue on bad hex).
func bytes(hex text: String, sourceLocation: SourceLocation = #_sourceLocation) -> [UInt8] {
    guard let value = [UInt8](hex: text) else {
        Issue.record("bad hex in test data: \(text.prefix(40))", sourceLocation: sourceLocation)
        return []
    }
    return value
}

/// The repository's root (three levels above this file).
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
