import Foundation

/// Waits on the calling thread for async work (an S3 request): for the synchronous segment
/// stores, which run on Coffer's blocking threads, never on the cooperative pool. The work runs
/// in a task of its own (on the cooperative pool and async-http-client's event loops), so the
/// wait cannot starve it.
enum BlockingWait {
    static func result<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { box.set(.success(try await body())) } catch { box.set(.failure(error)) }
            done.signal()
        }
        done.wait()
        return try box.get()
    }

    /// The outcome of one task, handed from it to the waiting thread.
    private final class ResultBox<T: Sendable>: @unchecked Sendable {
        // @unchecked: `value` is written once before the semaphore signals and read after.
        private var value: Result<T, any Error>?

        func set(_ result: Result<T, any Error>) { value = result }

        func get() throws -> T {
            guard let value else { throw CancellationError() }
            return try value.get()
        }
    }
}
