import Foundation

/// An uploaded or produced file (OpenAI's file object) plus its owner.
public struct BatchFileRecord: Sendable, Equatable {
    public var id: BatchObjectID
    public var bytes: Int
    public var createdAt: Int
    public var filename: String
    /// `batch` (uploaded input) or `batch_output` (a batch's output and error files).
    public var purpose: String
    public var owner: String

    public init(id: BatchObjectID, bytes: Int, createdAt: Int, filename: String, purpose: String, owner: String) {
        self.id = id
        self.bytes = bytes
        self.createdAt = createdAt
        self.filename = filename
        self.purpose = purpose
        self.owner = owner
    }

    /// OpenAI's file object.
    public func openAI() -> JSONValue {
        .object([("id", .string(id.description)), ("object", "file"), ("bytes", .int(bytes)),
                 ("created_at", .int(createdAt)), ("filename", .string(filename)), ("purpose", .string(purpose)),
                 ("status", "processed"), ("status_details", .null)])
    }

    public func stored() -> JSONValue { openAI().settingField("owner", .string(owner)) }

    public init?(stored v: JSONValue) {
        guard case .string(let idText)? = v["id"], let id = BatchObjectID.parse(idText, as: .file),
              case .int(let bytes)? = v["bytes"], case .int(let created)? = v["created_at"],
              case .string(let name)? = v["filename"], case .string(let purpose)? = v["purpose"],
              case .string(let owner)? = v["owner"] else { return nil }
        self.init(id: id, bytes: bytes, createdAt: created, filename: name, purpose: purpose, owner: owner)
    }
}
