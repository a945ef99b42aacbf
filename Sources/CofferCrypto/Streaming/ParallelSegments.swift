import Dispatch

/// Runs a per-segment operation over a batch of segments on several threads, each thread with
/// its own ``SegmentCipher`` (one context per thread per stream, reused batch after batch).
package final class ParallelSegments {
    private let ciphers: [SegmentCipher]
    /// Per-worker outcome of the last run: the first failing segment in its share, or `Int.max`.
    private let firstFailure: UnsafeMutableBufferPointer<Int>
    private let errors: UnsafeMutableBufferPointer<CofferError?>

    /// Number of worker threads.
    package var workers: Int { ciphers.count }

    package init(session: StreamSession, encrypting: Bool, workers: Int) throws {
        guard workers <= StreamingAEAD.maximumWorkers else {
            throw CofferError(.invalidArgument, "at most \(StreamingAEAD.maximumWorkers) worker threads, not \(workers)")
        }
        var ciphers: [SegmentCipher] = []
        for _ in 0..<max(1, workers) { ciphers.append(try session.makeCipher(encrypting: encrypting)) }
        self.ciphers = ciphers
        firstFailure = .allocate(capacity: ciphers.count)
        firstFailure.initialize(repeating: .max)
        errors = .allocate(capacity: ciphers.count)
        errors.initialize(repeating: nil)
    }

    deinit {
        firstFailure.deallocate()
        _ = errors.deinitialize()
        errors.deallocate()
    }

    /// Calls `body(cipher, j)` for every `j` in `0..<count`, spread over the workers in contiguous
    /// shares. Returns the lowest `j` whose call threw, with its error, or nil when all succeeded;
    /// every `j` below the returned one has succeeded.
    package func run(count: Int, minimumBytesPerWorker: Int = 0, bytesPerSegment: Int,
                     _ body: (SegmentCipher, Int) throws -> Void) -> (index: Int, error: CofferError)? {
        let useful = minimumBytesPerWorker > 0 ? max(1, (count * bytesPerSegment) / minimumBytesPerWorker) : count
        let threads = min(ciphers.count, count, useful)
        if threads <= 1 {
            let cipher = ciphers[0]
            for j in 0..<count {
                do { try body(cipher, j) } catch { return (j, error as? CofferError ?? CofferError(.cryptoFailure, "\(error)")) }
            }
            return nil
        }
        for w in 0..<threads { firstFailure[w] = .max; errors[w] = nil }
        // Each worker touches only its own cipher and its own result slots.
        nonisolated(unsafe) let ciphers = self.ciphers
        nonisolated(unsafe) let failures = self.firstFailure
        nonisolated(unsafe) let errors = self.errors
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: threads) { w in
                let start = count * w / threads, end = count * (w + 1) / threads
                let cipher = ciphers[w]
                for j in start..<end {
                    do { try body(cipher, j) } catch {
                        failures[w] = j
                        errors[w] = error as? CofferError ?? CofferError(.cryptoFailure, "\(error)")
                        return
                    }
                }
            }
        }
        for w in 0..<threads where failures[w] != .max {
            return (failures[w], errors[w]!)
        }
        return nil
    }
}
