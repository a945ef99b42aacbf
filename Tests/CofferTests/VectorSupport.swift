import Foundation
import Testing
@testable import Coffer

/// The contents of a file in this test bundle's `Resources` folder (copied whole: inside the
/// bundle's resource directory on macOS, the resource directory itself on Linux).
func testResource(_ name: String) throws -> Data {
    let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Resources")
        ?? Bundle.module.url(forResource: name, withExtension: nil)
    return try Data(contentsOf: try #require(url, "test resource \(name) not found"))
}

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
