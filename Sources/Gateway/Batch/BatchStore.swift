import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The Batch API's files and batches, persisted in one directory so a restart resumes where it stopped:
///
///     <dir>/files/<file-id>.json         the file object (with its owner)
///     <dir>/files/<file-id>.jsonl        the content
///     <dir>/batches/<batch-id>.json      the batch object (with its owner)
///     <dir>/batches/<batch-id>.results   one line per finished request, appended as each finishes
///
/// Objects are written whole to a temporary name and renamed (a crash leaves the old or the new version,
/// never half of one); the results log is append-only, and a line torn by a crash is cut off when the log is
/// read back (`results`), so that request simply runs again. Names on disk are only ever made from ids that
/// `BatchObjectID.parse` accepted. The directory is created (mode 0700) on first use.
///
/// One process owns a directory: the first write (or `claimIfPresent`) takes an exclusive `flock` on
/// `<dir>/.lock` for the life of the store, and a second process (or store) gets `BatchStoreError.locked`
/// instead of running the same batches twice.
public actor BatchStore {
    public let directory: URL
    private var batchCache: [String: BatchRecord]?
    /// The open `.lock` file while this store owns the directory (-1: not claimed yet).
    private var lockFD: Int32 = -1

    deinit { if lockFD >= 0 { close(lockFD) } }

    public init(directory: String) {
        self.directory = URL(fileURLWithPath: directory, isDirectory: true)
    }

    private var filesDir: URL { directory.appendingPathComponent("files", isDirectory: true) }
    private var batchesDir: URL { directory.appendingPathComponent("batches", isDirectory: true) }

    private func prepare() throws {
        for dir in [directory, filesDir, batchesDir] {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        }
        try claim()
    }

    /// Takes the directory's lock if the directory exists (true: this store owns it now; false: it does not
    /// exist, so there is nothing to resume). Throws `locked` when another process holds it.
    public func claimIfPresent() throws -> Bool {
        guard FileManager.default.fileExists(atPath: directory.path) else { return false }
        try claim()
        return true
    }

    private func claim() throws {
        guard lockFD < 0 else { return }
        let path = directory.appendingPathComponent(".lock").path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BatchStoreError.unusable(path, errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw BatchStoreError.locked(directory.path)
        }
        lockFD = fd
    }

    private func writeAtomically(_ data: Data, to url: URL) throws {
        try prepare()
        try data.write(to: url, options: [.atomic])
    }

    // MARK: Files

    /// Stores `data` as a new file.
    public func addFile(_ data: Data, filename: String, purpose: String, owner: String,
                        now: Int = Int(Date().timeIntervalSince1970)) throws -> BatchFileRecord {
        let record = BatchFileRecord(id: .make(.file), bytes: data.count, createdAt: now, filename: filename,
                                     purpose: purpose, owner: owner)
        try writeAtomically(data, to: contentURL(record.id))
        try writeAtomically(Data(record.stored().serialized().utf8), to: filesDir.appendingPathComponent("\(record.id).json"))
        return record
    }

    public func file(_ id: BatchObjectID) -> BatchFileRecord? {
        guard let data = try? Data(contentsOf: filesDir.appendingPathComponent("\(id).json")),
              let value = try? JSONValue.parse(data), let record = BatchFileRecord(stored: value), record.id == id else { return nil }
        return record
    }

    public func content(_ id: BatchObjectID) throws -> Data { try Data(contentsOf: contentURL(id)) }

    public func deleteFile(_ id: BatchObjectID) throws {
        try claim()
        try? FileManager.default.removeItem(at: contentURL(id))
        try FileManager.default.removeItem(at: filesDir.appendingPathComponent("\(id).json"))
    }

    /// Every stored file, newest first.
    public func files() -> [BatchFileRecord] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: filesDir.path)) ?? []
        return names.compactMap { name -> BatchFileRecord? in
            guard name.hasSuffix(".json"), let id = BatchObjectID.parse(String(name.dropLast(5)), as: .file) else { return nil }
            return file(id)
        }.sorted { ($0.createdAt, $0.id.description) > ($1.createdAt, $1.id.description) }
    }

    private func contentURL(_ id: BatchObjectID) -> URL { filesDir.appendingPathComponent("\(id).jsonl") }

    // MARK: Batches

    /// Writes `batch` (new or updated).
    public func save(_ batch: BatchRecord) throws {
        try writeAtomically(Data(batch.stored().serialized().utf8), to: batchesDir.appendingPathComponent("\(batch.id).json"))
        loadBatches()
        batchCache?[batch.id.description] = batch
    }

    public func batch(_ id: BatchObjectID) -> BatchRecord? {
        loadBatches()
        return batchCache?[id.description]
    }

    /// Every stored batch, newest first.
    public func batches() -> [BatchRecord] {
        loadBatches()
        return (batchCache ?? [:]).values.sorted { ($0.createdAt, $0.id.description) > ($1.createdAt, $1.id.description) }
    }

    private func loadBatches() {
        guard batchCache == nil else { return }
        var cache: [String: BatchRecord] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: batchesDir.path)) ?? [] where name.hasSuffix(".json") {
            guard let id = BatchObjectID.parse(String(name.dropLast(5)), as: .batch),
                  let data = try? Data(contentsOf: batchesDir.appendingPathComponent(name)),
                  let value = try? JSONValue.parse(data), let record = BatchRecord(stored: value), record.id == id else { continue }
            cache[id.description] = record
        }
        batchCache = cache
    }

    // MARK: Results log

    private func resultsURL(_ id: BatchObjectID) -> URL { batchesDir.appendingPathComponent("\(id).results") }

    /// Appends one finished request's line (no newline inside: `JSONValue.serialized` escapes them).
    public func appendResult(_ id: BatchObjectID, line: JSONValue) throws {
        try prepare()
        let url = resultsURL(id)
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw CocoaError(.fileWriteUnknown)
            }
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((line.serialized() + "\n").utf8))
    }

    /// The finished requests' lines, in the order they finished. A last line without its newline (torn by a
    /// crash) is cut off the log, and a line that is not a JSON object is skipped.
    public func results(_ id: BatchObjectID) -> [JSONValue] {
        let url = resultsURL(id)
        guard var data = try? Data(contentsOf: url) else { return [] }
        if let last = data.last, last != UInt8(ascii: "\n") {
            let keep = data.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
            data = data.prefix(keep)
            if let handle = try? FileHandle(forWritingTo: url) {
                try? handle.truncate(atOffset: UInt64(keep))
                try? handle.close()
            }
        }
        return data.split(separator: UInt8(ascii: "\n")).compactMap { line in
            guard let value = try? JSONValue.parse(Data(line)), case .object = value else { return nil }
            return value
        }
    }
}

/// Why the store cannot be used.
public enum BatchStoreError: Error, Equatable, CustomStringConvertible {
    /// Another process (or store) owns the directory.
    case locked(String)
    /// The lock file cannot be opened (path, errno).
    case unusable(String, Int32)

    public var description: String {
        switch self {
        case .locked(let dir): "the batch directory \(dir) is in use by another infer process; give each server its own --batch-dir"
        case .unusable(let path, let code): "cannot open \(path): \(String(cString: strerror(code)))"
        }
    }
}
