import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import NIOCore
import OpenAIRequest

/// OpenAI's Files and Batch APIs over `BatchStore` and `BatchRunner`:
///
///     POST   /v1/files                      multipart upload, purpose "batch" (validated as a batch input file)
///     GET    /v1/files                      the caller's files
///     GET    /v1/files/{file_id}            one file object
///     GET    /v1/files/{file_id}/content    its bytes
///     DELETE /v1/files/{file_id}
///     POST   /v1/batches                    {input_file_id, endpoint, completion_window: "24h", metadata}
///     GET    /v1/batches                    the caller's batches (newest first; `limit`, `after`)
///     GET    /v1/batches/{batch_id}
///     POST   /v1/batches/{batch_id}/cancel
///
/// Every object belongs to the key that created it (`Caller.mayAccess(owner:)`): another key gets the same 404
/// as for an id that does not exist, so ids cannot be probed.
struct BatchRoutes: Sendable {
    let server: OpenAIServer
    let store: BatchStore
    let runner: BatchRunner

    /// Longest `filename` kept (bytes); longer names are cut.
    static let maxFilenameBytes = 255
    /// OpenAI's metadata bounds: 16 pairs, keys up to 64 and values up to 512 characters.
    static let maxMetadataPairs = 16

    // MARK: Files

    func uploadFile(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        let contentType = request.headers[.contentType] ?? ""
        let form: MultipartForm
        do {
            guard let boundary = try MultipartForm.boundary(contentType: contentType) else {
                throw OpenAIError.invalidRequest("Uploads must be multipart/form-data with a 'file' and a 'purpose' part.",
                                                 code: "invalid_content_type")
            }
            let buffer = try await request.body.collect(upTo: server.settings.maxBodyBytes)
            form = try MultipartForm(Data(buffer.readableBytesView), boundary: boundary)
        } catch let error as MultipartForm.Error {
            throw OpenAIError.invalidRequest(error.message, code: "invalid_multipart")
        }
        guard let purposePart = form.part(named: "purpose") else {
            throw OpenAIError.badParameter("purpose", "'purpose' is required.")
        }
        let purpose = String(decoding: purposePart.data, as: UTF8.self)
        guard purpose == "batch" else {
            throw OpenAIError.badParameter("purpose", "Only purpose 'batch' is supported here, got '\(purpose.prefix(64))'.")
        }
        guard let file = form.part(named: "file"), file.filename != nil else {
            throw OpenAIError.badParameter("file", "'file' is required (a JSONL file part).")
        }
        do {
            _ = try BatchInputFile.parse(file.data)
        } catch let error as BatchInputError {
            throw OpenAIError.invalidRequest("Invalid batch input file: \(error)", param: "file", code: error.code)
        }
        let record = try await Self.writing {
            try await store.addFile(file.data, filename: Self.filename(file.filename ?? ""), purpose: purpose,
                                    owner: context.caller.spendID)
        }
        return server.json(record.openAI())
    }

    func listFiles(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        var files = await store.files().filter { context.caller.mayAccess(owner: $0.owner) }
        if let purpose = request.uri.queryParameters.get("purpose") { files = files.filter { $0.purpose == purpose } }
        return server.json(.object([("object", "list"), ("data", .array(files.map { $0.openAI() })),
                                    ("has_more", false)]))
    }

    func file(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        server.json(try await ownedFile(context).openAI())
    }

    func fileContent(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        let record = try await ownedFile(context)
        let data = try await store.content(record.id)
        var headers = HTTPFields()
        headers[.contentType] = "application/jsonl"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    func deleteFile(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        let record = try await ownedFile(context)
        try await Self.writing { try await store.deleteFile(record.id) }
        return server.json(.object([("id", .string(record.id.description)), ("object", "file"), ("deleted", true)]))
    }

    private func ownedFile(_ context: InferRequestContext) async throws -> BatchFileRecord {
        let text = context.parameters.get("file_id") ?? ""
        guard let id = BatchObjectID.parse(text, as: .file), let record = await store.file(id),
              context.caller.mayAccess(owner: record.owner) else {
            throw Self.notFound("File", text)
        }
        return record
    }

    // MARK: Batches

    func createBatch(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        let f = try await server.readFields(request)
        guard let inputText = try f.string("input_file_id") else {
            throw OpenAIError.badParameter("input_file_id", "'input_file_id' is required.")
        }
        guard let endpointText = try f.string("endpoint") else {
            throw OpenAIError.badParameter("endpoint", "'endpoint' is required.")
        }
        guard let endpoint = BatchEndpoint(rawValue: endpointText) else {
            throw OpenAIError.badParameter("endpoint", "'endpoint' must be one of "
                + BatchEndpoint.allCases.map(\.rawValue).joined(separator: ", ") + ".")
        }
        let window = try f.string("completion_window") ?? BatchRecord.completionWindow
        guard window == BatchRecord.completionWindow else {
            throw OpenAIError.badParameter("completion_window", "'completion_window' must be '24h'.")
        }
        let metadata = try Self.metadata(f.object["metadata"])
        guard let inputID = BatchObjectID.parse(inputText, as: .file), let input = await store.file(inputID),
              context.caller.mayAccess(owner: input.owner) else {
            throw Self.notFound("File", inputText)
        }
        guard input.purpose == "batch" else {
            throw OpenAIError.badParameter("input_file_id", "The file \(inputText) has purpose '\(input.purpose)'; a batch "
                + "needs a file uploaded with purpose 'batch'.")
        }
        let batch = BatchRecord(id: .make(.batch), endpoint: endpoint, inputFileID: inputID, createdAt: BatchRunner.now(),
                                owner: context.caller.spendID, metadata: metadata)
        try await Self.writing { try await store.save(batch) }
        await runner.submit(batch.id)
        return server.json(batch.openAI())
    }

    func listBatches(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let limit = query.get("limit").flatMap(Int.init) ?? 20
        guard (1...100).contains(limit) else {
            throw OpenAIError.badParameter("limit", "'limit' must be between 1 and 100.")
        }
        var batches = await store.batches().filter { context.caller.mayAccess(owner: $0.owner) }
        if let after = query.get("after") {
            guard let index = batches.firstIndex(where: { $0.id.description == after }) else {
                throw Self.notFound("Batch", after)
            }
            batches = Array(batches[(index + 1)...])
        }
        let page = batches.prefix(limit)
        return server.json(.object([
            ("object", "list"), ("data", .array(page.map { $0.openAI() })),
            ("first_id", page.first.map { .string($0.id.description) } ?? .null),
            ("last_id", page.last.map { .string($0.id.description) } ?? .null),
            ("has_more", .bool(batches.count > limit)),
        ]))
    }

    func batch(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        server.json(try await ownedBatch(context).openAI())
    }

    func cancelBatch(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        let batch = try await ownedBatch(context)
        do {
            return server.json(try await Self.writing { try await runner.cancel(batch.id) }.openAI())
        } catch BatchRunnerError.alreadyEnded(let status) {
            throw OpenAIError(status: .conflict, message: "Cannot cancel a batch with status '\(status.rawValue)'.",
                              type: "invalid_request_error", code: "batch_not_cancellable")
        } catch BatchRunnerError.notFound {
            throw Self.notFound("Batch", batch.id.description)
        }
    }

    private func ownedBatch(_ context: InferRequestContext) async throws -> BatchRecord {
        let text = context.parameters.get("batch_id") ?? ""
        guard let id = BatchObjectID.parse(text, as: .batch), let record = await store.batch(id),
              context.caller.mayAccess(owner: record.owner) else {
            throw Self.notFound("Batch", text)
        }
        return record
    }

    // MARK: Helpers

    /// Runs a write; a directory another process owns is a 503 naming the problem (not a bare 500).
    static func writing<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as BatchStoreError {
            throw OpenAIError(status: .serviceUnavailable, message: "The Batch API cannot write: \(error).",
                              type: "server_error", code: "batch_store_unavailable")
        }
    }

    static func notFound(_ kind: String, _ id: String) -> OpenAIError {
        OpenAIError(status: .notFound, message: "No such \(kind) object: \(id.prefix(64))", type: "invalid_request_error",
                    param: "id", code: nil)
    }

    /// The upload's file name as a label: control characters dropped, at most `maxFilenameBytes` bytes.
    static func filename(_ raw: String) -> String {
        var name = String(String.UnicodeScalarView(raw.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7f }))
        while name.utf8.count > maxFilenameBytes { name.removeLast() }
        return name.isEmpty ? "upload.jsonl" : name
    }

    /// OpenAI's `metadata`: null or an object of at most 16 string values (keys <= 64, values <= 512 chars).
    static func metadata(_ value: JSONValue?) throws -> [(String, String)] {
        switch value {
        case nil, .null?: return []
        case .object(let pairs)?:
            guard pairs.count <= maxMetadataPairs else {
                throw OpenAIError.badParameter("metadata", "'metadata' may hold at most \(maxMetadataPairs) pairs.")
            }
            return try pairs.map { key, v in
                guard case .string(let s) = v, key.count <= 64, s.count <= 512 else {
                    throw OpenAIError.badParameter("metadata", "'metadata' values must be strings (keys up to 64 and "
                        + "values up to 512 characters).")
                }
                return (key, s)
            }
        default:
            throw OpenAIError.badParameter("metadata", "'metadata' must be an object of strings.")
        }
    }
}
