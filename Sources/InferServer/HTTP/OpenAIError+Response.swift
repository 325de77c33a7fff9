import Hummingbird
import OpenAIRequest

/// `OpenAIError` as a Hummingbird error response: the JSON envelope with the error's status and headers.
extension OpenAIError: HTTPResponseError {
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields,
                        body: ResponseBody(byteBuffer: ByteBuffer(string: body.serialized())))
    }
}
