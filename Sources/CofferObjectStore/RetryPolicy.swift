import Foundation

/// How the object store retries: server errors (5xx, including 503 Slow Down), throttling (429)
/// and transport failures (refused or dropped connections, timeouts) are tried again, with
/// exponential backoff and full jitter; other answers (4xx) are final at once.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in all, the first included.
    public var attempts: Int
    /// The first backoff; each next one doubles, up to ``maximumDelay``.
    public var baseDelay: Duration
    /// The longest backoff.
    public var maximumDelay: Duration
    /// How long one request may take.
    public var timeout: Duration

    /// 4 attempts, backoff from 100 ms up to 2 s, 30 s per request.
    public init(attempts: Int = 4, baseDelay: Duration = .milliseconds(100), maximumDelay: Duration = .seconds(2), timeout: Duration = .seconds(30)) {
        self.attempts = max(1, attempts)
        self.baseDelay = baseDelay
        self.maximumDelay = maximumDelay
        self.timeout = timeout
    }

    /// The backoff before attempt `attempt` (2, 3, ...): a random time up to the doubled delay.
    func delay(before attempt: Int) -> Duration {
        let ceiling = min(maximumDelay, baseDelay * (1 << min(attempt - 2, 20)))
        let nanoseconds = ceiling.components.seconds * 1_000_000_000 + ceiling.components.attoseconds / 1_000_000_000
        return .nanoseconds(Int64.random(in: 0...max(0, nanoseconds)))
    }
}
