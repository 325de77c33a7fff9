import Gateway
import Testing

@Suite("Cascade classifier")
struct CascadeClassifierTests {
    static func chat(_ text: String, system: String? = nil) -> JSONValue {
        var messages: [JSONValue] = []
        if let system { messages.append(["role": "system", "content": .string(system)]) }
        messages.append(["role": "user", "content": [["type": "text", "text": .string(text)]]])
        messages.append(["role": "assistant", "content": "def f(): pass;\nclass X {"])   // assistant text is not the prompt
        return ["model": "c", "messages": .array(messages)]
    }

    @Test func codePrompts() {
        let c = CascadeClassifier(code: true)
        #expect(c.reason(for: Self.chat("Fix this:\n```python\nprint(1)\n```")) == "code")
        #expect(c.reason(for: Self.chat("Why does this fail?\ndef add(a, b):\n    return a - b")) == "code")
        #expect(c.reason(for: Self.chat("int main() {\n  return 0;\n}")) == "code")
        #expect(c.reason(for: Self.chat("SELECT name FROM users\nWHERE id = 3;")) == "code")
        #expect(c.reason(for: ["prompt": "import os\nimport sys\n"]) == "code")
        #expect(c.reason(for: Self.chat("What is the capital of France?")) == nil)
        #expect(c.reason(for: Self.chat("Let me know; I will return tomorrow.")) == nil)
        #expect(c.reason(for: ["prompt": "Once upon a time"]) == nil)
    }

    @Test func mathPrompts() {
        let c = CascadeClassifier(math: true)
        #expect(c.reason(for: Self.chat("Solve 3x + 2 = 11.")) == "math")
        #expect(c.reason(for: Self.chat("If x^2 = 16, what is x?")) == "math")
        #expect(c.reason(for: Self.chat("Compute \\int_0^1 x dx")) == "math")
        #expect(c.reason(for: Self.chat("Is √2 rational?")) == "math")
        #expect(c.reason(for: Self.chat("Simplify $a+b=c$ please")) == "math")
        #expect(c.reason(for: Self.chat("I have 3 apples and 2 pears.")) == nil)
        #expect(c.reason(for: Self.chat("It costs $5 or $6 = cheap.")) == nil)
        #expect(c.reason(for: Self.chat("Meet at 5pm = fine?")) == nil)
    }

    @Test func lengthAndOrder() {
        let c = CascadeClassifier(minPromptChars: 20, code: true, routeTo: "mid")
        #expect(c.reason(for: Self.chat("short")) == nil)
        #expect(c.reason(for: Self.chat("0123456789", system: "0123456789")) == "prompt 21 chars >= 20")
        #expect(CascadeClassifier().reason(for: Self.chat(String(repeating: "x", count: 10_000))) == nil)
    }
}
