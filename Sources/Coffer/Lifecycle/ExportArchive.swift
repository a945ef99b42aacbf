import CofferCrypto
import Foundation
import ZIPFoundation

/// One file of an export as written: what the manifest says of it.
struct ExportedFile: Sendable {
    /// Its name in the archive.
    let path: String
    /// Its plaintext size in bytes.
    let size: Int64
    /// SHA-256 of its plaintext, hex.
    let sha256: String
}

/// The ZIP file of an export, written by ZIPFoundation on a thread of its own.
///
/// ZIPFoundation pulls each entry's bytes through a synchronous closure, so it runs on a
/// dedicated thread, never on the cooperative pool or the shared blocking pool (whose threads
/// decrypt the very chunks it waits for). The export task feeds it plaintext chunk by chunk
/// through a bounded ``ThreadChannel``; the thread hashes each chunk, seals it when the export
/// is encrypted (``EntryFeed``) and hands it to the ZIP writer. Memory is a few chunks plus one
/// encryptor batch, whatever the size of a file. Entries are stored (no compression), mode 0600;
/// ZIPFoundation writes ZIP64 records for entries and offsets past 4 GiB.
final class ExportArchive: Sendable {
    enum Message: Sendable {
        case begin(path: String, size: Int64)
        case bytes([UInt8])
        case end(CheckedContinuation<ExportedFile, any Error>)
        case finish(CheckedContinuation<Void, any Error>)

        /// Answers a message that carries a continuation with `error`.
        func fail(_ error: any Error) {
            switch self {
            case .end(let reply): reply.resume(throwing: error)
            case .finish(let reply): reply.resume(throwing: error)
            case .begin, .bytes: break
            }
        }
    }

    /// How many chunks may wait for the writer thread.
    static let queuedChunks = 4
    /// The bytes ZIPFoundation asks for at a time.
    static let zipBufferSize = 1 << 20

    private let channel = ThreadChannel<Message>(capacity: ExportArchive.queuedChunks)
    /// The stream format of an encrypted export (nil: files are stored as they are).
    let sealing: StreamingAEAD?

    /// Starts the writer thread on `path`, an empty file that ``prepare(_:)`` made a ZIP.
    /// - Parameters:
    ///   - path: The file (the export's temporary file).
    ///   - sealing: The key and segment size every file is sealed with, or nil.
    ///   - date: The modification time of every entry.
    init(path: String, sealing: StreamingAEAD?, date: Date) {
        self.sealing = sealing
        let channel = self.channel
        let thread = Thread { ExportArchive.write(path: path, channel: channel, sealing: sealing, date: date) }
        thread.name = "coffer.export-zip"
        thread.start()
    }

    /// Makes an empty file a ZIP archive with no entries (its end-of-central-directory record),
    /// which ZIPFoundation then opens for update.
    static func prepare(_ file: AtomicOutputFile) throws {
        let empty: [UInt8] = [0x50, 0x4B, 0x05, 0x06] + [UInt8](repeating: 0, count: 18)
        try empty.withUnsafeBytes { try FileDescriptorIO.writeAll(file.fd, $0) }
    }

    /// Adds one file of `size` plaintext bytes; `produce` hands over exactly that many.
    /// - Returns: The file's path, size and hash.
    /// - Throws: What `produce` or the writer throws; `CofferError` `io` when `produce` gave
    ///   another number of bytes.
    func add(_ path: String, size: Int64, _ produce: (ExportFileSink) async throws -> Void) async throws -> ExportedFile {
        try await channel.send(.begin(path: path, size: size))
        let sink = ExportFileSink(channel: channel, path: path, size: size)
        try await produce(sink)
        guard sink.sent == size else {
            throw CofferError(.io, "export file \(path) got \(sink.sent) bytes where \(size) were announced; run the export again")
        }
        let channel = self.channel
        return try await withCheckedThrowingContinuation { reply in
            do { try channel.post(.end(reply)) } catch { reply.resume(throwing: error) }
        }
    }

    /// Adds one file held in memory.
    func add(_ path: String, bytes: [UInt8]) async throws -> ExportedFile {
        try await add(path, size: Int64(bytes.count)) { try await $0.send(bytes) }
    }

    /// Ends the archive; returns once the writer thread has closed the file.
    func finish() async throws {
        let channel = self.channel
        try await withCheckedThrowingContinuation { (reply: CheckedContinuation<Void, any Error>) in
            do { try channel.post(.finish(reply)) } catch { reply.resume(throwing: error) }
        }
    }

    /// Stops the writer thread after a failure elsewhere; the caller discards the file.
    func abandon(_ error: any Error) {
        for message in channel.fail(error) { message.fail(error) }
    }

    /// The writer thread: opens the archive, adds an entry per `begin ... end`, closes it on `finish`.
    private static func write(path: String, channel: ThreadChannel<Message>, sealing: StreamingAEAD?, date: Date) {
        var reply: Message?
        do {
            var archive: Archive? = try zipCall("open \(path)") { try Archive(url: URL(fileURLWithPath: path), accessMode: .update, pathEncoding: nil) }
            while let message = try channel.receive() {
                switch message {
                case .begin(let name, let size):
                    let feed = try EntryFeed(size: size, sealing: sealing, channel: channel)
                    try zipCall("write \(name)") {
                        try archive?.addEntry(with: name, type: .file, uncompressedSize: feed.storedSize, modificationDate: date,
                                              permissions: 0o600, compressionMethod: .none, bufferSize: zipBufferSize,
                                              provider: { _, count in try feed.next(count) })
                    }
                    reply = try channel.receive()
                    guard case .end(let done)? = reply else { throw CofferError(.io, "export file \(name) did not end where announced") }
                    let file = try feed.finished(name)
                    reply = nil
                    done.resume(returning: file)
                case .finish(let done):
                    archive = nil  // ZIPFoundation closes its file when the archive goes
                    channel.close()
                    return done.resume()
                case .bytes, .end:
                    throw CofferError(.io, "export archive: a message arrived out of order")
                }
            }
        } catch {
            reply?.fail(error)
            for message in channel.fail(error) { message.fail(error) }
        }
    }

    /// Runs a ZIPFoundation call, turning its errors into `io`.
    private static func zipCall<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as CofferError { throw error } catch {
            throw CofferError(.io, "cannot \(what) in the export archive: \(error)")
        }
    }

    /// Checks the finished file as a reader sees it: its central directory lists `files`, in
    /// order, with their stored sizes. A write that failed unseen (ZIPFoundation does not check
    /// its last flush) leaves a file that fails here.
    /// - Throws: `CofferError` `io`.
    static func verify(path: String, files: [(path: String, storedSize: Int64)]) throws {
        let entries = try zipCall("read back \(path)") {
            try Archive(url: URL(fileURLWithPath: path), accessMode: .read, pathEncoding: nil).map { ($0.path, $0.uncompressedSize) }
        }
        guard entries.count == files.count, zip(entries, files).allSatisfy({ $0.0 == $1.path && $0.1 == UInt64($1.storedSize) }) else {
            throw CofferError(.io, "the export archive does not read back as written (\(entries.count) entries of \(files.count)); is the disk full?")
        }
    }
}

/// Where the export task sends one file's bytes (``ExportArchive/add(_:size:_:)``).
final class ExportFileSink {
    private let channel: ThreadChannel<ExportArchive.Message>
    private let path: String
    private let size: Int64
    /// Bytes sent so far.
    private(set) var sent: Int64 = 0

    init(channel: ThreadChannel<ExportArchive.Message>, path: String, size: Int64) {
        self.channel = channel
        self.path = path
        self.size = size
    }

    /// Sends the next bytes of the file, waiting while the writer is behind.
    /// - Throws: The writer's failure; `CofferError` `io` past the announced size.
    func send(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        guard sent + Int64(bytes.count) <= size else {
            throw CofferError(.io, "export file \(path) grew past its announced \(size) bytes; run the export again")
        }
        sent += Int64(bytes.count)
        try await channel.send(.bytes(bytes))
    }
}
