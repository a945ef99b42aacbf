import CofferCrypto
import Foundation
import Testing

// What several test targets share (a test target cannot import another one): catching the
// error a refusal throws, and reading the target's copied `Resources` folder.

/// The ``CofferError`` `body` throws, or nil when it throws nothing; records an issue (at the
/// caller) when it throws something else.
package func errorOf(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> CofferError? {
    do {
        try body()
        return nil
    } catch let error as CofferError {
        return error
    } catch {
        Issue.record("expected a CofferError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The contents of a file in the `Resources` folder a test target copies whole into `bundle`
/// (pass the target's `Bundle.module`). The folder sits inside the bundle's resource directory
/// on macOS; Foundation on Linux takes the flat bundle's `Resources` folder as the resource
/// directory itself. Both are tried.
package func resource(_ name: String, in bundle: Bundle) throws -> Data {
    let url = bundle.url(forResource: name, withExtension: nil, subdirectory: "Resources")
        ?? bundle.url(forResource: name, withExtension: nil)
    return try Data(contentsOf: try #require(url, "test resource \(name) not found"))
}
