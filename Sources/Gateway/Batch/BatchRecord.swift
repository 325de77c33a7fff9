import Foundation

/// A batch's lifecycle, as OpenAI names it.
public enum BatchStatus: String, Sendable, CaseIterable {
    case validating, failed
    case inProgress = "in_progress"
    case finalizing, completed, expired, cancelling, cancelled

    /// Nothing more happens to a batch in this state.
    public var isTerminal: Bool { [.failed, .completed, .expired, .cancelled].contains(self) }
}

/// `request_counts`.
public struct BatchRequestCounts: Sendable, Equatable {
    public var total = 0
    public var completed = 0
    public var failed = 0

    public init(total: Int = 0, completed: Int = 0, failed: Int = 0) {
        self.total = total
        self.completed = completed
        self.failed = failed
    }
}

/// One batch as it is stored and served: OpenAI's batch object plus its owner (`Caller.spendID` of whoever
/// created it; never part of the answer). Times are Unix seconds.
public struct BatchRecord: Sendable, Equatable {
    public var id: BatchObjectID
    public var endpoint: BatchEndpoint
    public var inputFileID: BatchObjectID
    public var completionWindow = BatchRecord.completionWindow
    public var status = BatchStatus.validating
    public var outputFileID: BatchObjectID?
    public var errorFileID: BatchObjectID?
    public var createdAt: Int
    public var inProgressAt: Int?
    public var expiresAt: Int
    public var finalizingAt: Int?
    public var completedAt: Int?
    public var failedAt: Int?
    public var expiredAt: Int?
    public var cancellingAt: Int?
    public var cancelledAt: Int?
    public var counts = BatchRequestCounts()
    /// Up to 16 string pairs (OpenAI's `metadata`).
    public var metadata: [(String, String)] = []
    /// Why validation failed (OpenAI's `errors.data`).
    public var errors: [BatchInputError] = []
    public var owner: String

    /// The only completion window OpenAI accepts.
    public static let completionWindow = "24h"
    public static let windowSeconds = 24 * 3600

    public init(id: BatchObjectID, endpoint: BatchEndpoint, inputFileID: BatchObjectID, createdAt: Int,
                owner: String, metadata: [(String, String)] = []) {
        self.id = id
        self.endpoint = endpoint
        self.inputFileID = inputFileID
        self.createdAt = createdAt
        expiresAt = createdAt + Self.windowSeconds
        self.owner = owner
        self.metadata = metadata
    }

    public static func == (a: BatchRecord, b: BatchRecord) -> Bool {
        a.stored().serialized() == b.stored().serialized()
    }

    /// OpenAI's batch object.
    public func openAI() -> JSONValue {
        func time(_ t: Int?) -> JSONValue { t.map { .int($0) } ?? .null }
        let errorList: JSONValue = errors.isEmpty ? .null : .object([
            ("object", "list"),
            ("data", .array(errors.map { e in
                .object([("code", .string(e.code)), ("message", .string(e.message)),
                         ("param", e.param.map { .string($0) } ?? .null), ("line", e.line.map { .int($0) } ?? .null)])
            })),
        ])
        return .object([
            ("id", .string(id.description)), ("object", "batch"), ("endpoint", .string(endpoint.rawValue)),
            ("errors", errorList), ("input_file_id", .string(inputFileID.description)),
            ("completion_window", .string(completionWindow)), ("status", .string(status.rawValue)),
            ("output_file_id", outputFileID.map { .string($0.description) } ?? .null),
            ("error_file_id", errorFileID.map { .string($0.description) } ?? .null),
            ("created_at", .int(createdAt)), ("in_progress_at", time(inProgressAt)), ("expires_at", .int(expiresAt)),
            ("finalizing_at", time(finalizingAt)), ("completed_at", time(completedAt)), ("failed_at", time(failedAt)),
            ("expired_at", time(expiredAt)), ("cancelling_at", time(cancellingAt)), ("cancelled_at", time(cancelledAt)),
            ("request_counts", .object([("total", .int(counts.total)), ("completed", .int(counts.completed)),
                                        ("failed", .int(counts.failed))])),
            ("metadata", metadata.isEmpty ? .null : .object(metadata.map { ($0.0, .string($0.1)) })),
        ])
    }

    /// The stored form: the batch object plus the owner.
    public func stored() -> JSONValue { openAI().settingField("owner", .string(owner)) }

    /// A stored record read back; nil when it is not one (a damaged or foreign file is skipped, never trusted).
    public init?(stored v: JSONValue) {
        guard case .string(let idText)? = v["id"], let id = BatchObjectID.parse(idText, as: .batch),
              case .string(let ep)? = v["endpoint"], let endpoint = BatchEndpoint(rawValue: ep),
              case .string(let input)? = v["input_file_id"], let inputID = BatchObjectID.parse(input, as: .file),
              case .string(let st)? = v["status"], let status = BatchStatus(rawValue: st),
              case .int(let created)? = v["created_at"], case .int(let expires)? = v["expires_at"],
              case .string(let owner)? = v["owner"] else { return nil }
        func time(_ key: String) -> Int? { if case .int(let t)? = v[key] { t } else { nil } }
        func file(_ key: String) -> BatchObjectID? {
            if case .string(let t)? = v[key] { BatchObjectID.parse(t, as: .file) } else { nil }
        }
        self.init(id: id, endpoint: endpoint, inputFileID: inputID, createdAt: created, owner: owner)
        self.status = status
        expiresAt = expires
        outputFileID = file("output_file_id")
        errorFileID = file("error_file_id")
        inProgressAt = time("in_progress_at")
        finalizingAt = time("finalizing_at")
        completedAt = time("completed_at")
        failedAt = time("failed_at")
        expiredAt = time("expired_at")
        cancellingAt = time("cancelling_at")
        cancelledAt = time("cancelled_at")
        if let c = v["request_counts"], case .int(let total)? = c["total"], case .int(let done)? = c["completed"],
           case .int(let failed)? = c["failed"] {
            counts = BatchRequestCounts(total: total, completed: done, failed: failed)
        }
        if case .object(let pairs)? = v["metadata"] {
            metadata = pairs.compactMap { if case .string(let s) = $0.1 { ($0.0, s) } else { nil } }
        }
        if case .array(let list)? = v["errors"]?["data"] {
            errors = list.compactMap { e in
                guard case .string(let code)? = e["code"], case .string(let message)? = e["message"] else { return nil }
                var line: Int?
                if case .int(let l)? = e["line"] { line = l }
                return BatchInputError(code: code, message: message, param: e["param"]?.stringField, line: line)
            }
        }
    }
}
