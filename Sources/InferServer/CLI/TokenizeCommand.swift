import ArgumentParser
import Engine
import Foundation

/// `infer tokenize`: print the token ids of a text as a JSON array.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize", abstract: "Print the token ids of TEXT as a JSON array (BOS included when the model adds it).")

    @OptionGroup var modelOptions: ModelOptions

    @Flag(name: .long, help: "Treat special-token text (e.g. <start_of_turn>) as plain text.")
    var noParseSpecial = false

    @Argument(help: "The text to tokenize.")
    var text: String

    func run() throws {
        var options = modelOptions
        options.quiet = true
        let model = try options.load()
        let ids = model.tokenizer.encode(text, addSpecial: true, parseSpecial: !noParseSpecial)
        Console.out("[" + ids.map(String.init).joined(separator: ", ") + "]\n")
    }
}
