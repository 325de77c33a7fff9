import Foundation
import Gateway
import OpenAIRequest

/// Turns one streamed choice's text into OpenAI chunks' deltas when tools are on: text that starts with `<`
/// is a call (the grammar allows nothing else there) and is held until the choice ends, then sent as
/// `tool_calls` deltas; any other text goes out as `content` as it comes.
///
/// NOTE: `@unchecked Sendable`: the state is only touched under `lock` (the chunk closure is `@Sendable`,
/// though one choice's events arrive in order from one task).
final class ToolCallStream: @unchecked Sendable {
    enum Mode { case undecided, text, call }

    private let lock = NSLock()
    private var modes: [Mode]
    private var buffers: [String]

    init(choices: Int, forced: Bool) {
        modes = Array(repeating: forced ? .call : .undecided, count: choices)
        buffers = Array(repeating: "", count: choices)
    }

    /// The deltas for choice `index` given new `text`; at the end (`finish` set) the finish reason to send,
    /// `tool_calls` when the held text parsed as calls.
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
                    buffers[index] = ""
                }
            }
        case .call:
            buffers[index] += text
        }
        guard let finish else { return (out, nil) }
        if modes[index] != .text, !buffers[index].isEmpty {
            if finish == "stop", let calls = ToolCallFormat.parse(buffers[index]) {
                for (k, call) in calls.enumerated() {
                    out.append(["tool_calls": [["index": .int(k), "id": .string(Self.callID()), "type": "function",
                                                "function": ["name": .string(call.name), "arguments": .string(call.arguments)]]]])
                }
                buffers[index] = ""
                return (out, "tool_calls")
            }
            out.append(["content": .string(buffers[index])])
            buffers[index] = ""
        }
        return (out, finish)
    }

    /// `call_` and 24 random letters and digits.
    static func callID() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var rng = SystemRandomNumberGenerator()
        return "call_" + String((0..<24).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
    }
}
