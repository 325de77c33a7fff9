import Gateway
import HTTPTypes
import Hummingbird
import OpenAIRequest

/// `GET /ui` (the page; open, it holds no data) and `GET /ui/api/summary` (the numbers; master key, or anyone
/// on a server without keys).
struct DashboardRoutes: Sendable {
    let server: OpenAIServer
    let pipeline: GatewayPipeline

    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let frameOptions = HTTPField.Name("X-Frame-Options")!

    /// The page with its security headers.
    func page(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        Response(status: .ok, headers: [
            .contentType: "text/html; charset=utf-8",
            .contentSecurityPolicy: DashboardPage.contentSecurityPolicy,
            .cacheControl: "no-store",
            .xContentTypeOptions: "nosniff",
            Self.referrerPolicy: "no-referrer",
            Self.frameOptions: "DENY",
        ], body: ResponseBody(byteBuffer: ByteBuffer(string: DashboardPage.html)))
    }

    /// The summary shows every key's spend and the whole server: the master key only (a virtual key gets 403).
    func summary(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        guard context.caller.isAdmin else { throw OpenAIError.forbidden("The dashboard needs the master key.") }
        return server.json(await DashboardSummary.render(server: server, pipeline: pipeline),
                           headers: [.cacheControl: "no-store"])
    }
}
