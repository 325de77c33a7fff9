import Foundation
import Gateway
import OpenAIRequest

/// Turns one streamed choice's text into OpenAI chunks' deltas when tools are on: text that starts with `<`
/// is a call (the grammar allows nothing else there), any other text goes out as `content` as it comes.
/// Calls are streamed as OpenAI does: a first `tool_calls` delta with the call's `index`, `id`, `type` and
/// `function.name` (and empty `arguments`) once the block's header is complete, then `function.arguments`
/// in pieces as the model writes them (`ToolCallScanner`); the finish reason is `tool_calls` when the answer
/// ended (`stop`) after complete blocks.
///
/// NOTE: `@unchecked Sendable`: the state is only touched under `lock` (the chunk closure is `@Sendable`,
/// though one choice's events arrive in order from one task).
final class ToolCallStream: @unchecked Sendable {
    enum Mode { case undecided, text, call }

    private let lock = NSLock()
    private var modes: [Mode]
    private var buffers: [String]
    private var scanners: [ToolCallScanner]

    init(choices: Int, forced: Bool) {
        modes = Array(repeating: forced ? .call : .undecided, count: choices)
        buffers = Array(repeating: "", count: choices)
        scanners = Array(repeating: ToolCallScanner(), count: choices)
    }

    /// The deltas for choice `index` given new `text`; at the end (`finish` set) the finish reason to send,
    /// `tool_calls` when the text was complete call blocks.
    func deltas(_ index: Int, _ text: String, finish: String?) -> (deltas: [JSONValue], finish: String?) {
        lock.lock()
        defer { lock.unlock() }
        var out: [JSONValue] = []
        switch modes[index] {
        case .text:
            if !text.isEmpty { out.append(["content": .string(text)]) }
        case .undecided:
            buffers[index] += text
            if let first = buffers[index].first(where: { !$0.isWhitespace }) {
                modes[index] = first == "<" ? .call : .text
                if first != "<" {
                    out.append(["content": .string(buffers[index])])
                } else {
                    out += scanners[index].feed(buffers[index])
                }
                buffers[index] = ""
            }
        case .call:
            out += scanners[index].feed(text)
        }
        guard let finish else { return (out, nil) }
        switch modes[index] {
        case .text: return (out, finish)
        case .undecided:
            if !buffers[index].isEmpty { out.append(["content": .string(buffers[index])]) }
            buffers[index] = ""
            return (out, finish)
        case .call:
            if scanners[index].calls == 0 {
                // Not a single call header (cut off by max_tokens): what was written is the answer's text.
                let held = scanners[index].unparsed
                if !held.isEmpty { out.append(["content": .string(held)]) }
                return (out, finish)
            }
            return (out, finish == "stop" && scanners[index].isComplete ? "tool_calls" : finish)
        }
    }

    /// `call_` and 24 random letters and digits.
    static func callID() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var rng = SystemRandomNumberGenerator()
        return "call_" + String((0..<24).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
    }
}
