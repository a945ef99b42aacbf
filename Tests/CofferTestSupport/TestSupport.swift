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

/// Runs `body`, test code that blocks (a synchronous store call waiting on async work, a
/// semaphore), on a thread of its own rather than on Swift's cooperative pool: on two cores
/// that pool has two threads, and two tests blocking both at once, each waiting for a task
/// that needs one of them, hang the whole run.
package func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
