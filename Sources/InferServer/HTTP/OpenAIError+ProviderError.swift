import Engine
import Gateway
import Hummingbird
import Logging
import NumericCore
import OpenAIRequest

extension OpenAIError {
    /// The same error, classified for the router.
    var providerError: ProviderError {
        let kind: ProviderError.Kind
        switch (status.code, code) {
        case (_, "context_length_exceeded"): kind = .contextWindowExceeded
        case (429, _): kind = .overloaded
        case (401, _), (403, _): kind = .authentication
        case (404, _): kind = .notFound
        case (400..<500, _): kind = .badRequest
        default: kind = .server
        }
        let retryAfter = headers[.retryAfter].flatMap(Double.init)
        return ProviderError(status: status.code, message: message, type: type, code: code, param: param,
                             retryAfter: retryAfter, kind: kind)
    }

    /// A router or provider failure as the HTTP error the client gets.
    init(_ error: ProviderError) {
        var headers: HTTPFields = [:]
        if let retry = error.retryAfter { headers[.retryAfter] = String(CheckedConversion.wholeSeconds(retry)) }
        self.init(status: HTTPResponse.Status(code: error.status), message: error.message, type: error.type,
                  param: error.param, code: error.code, headers: headers)
    }
}
