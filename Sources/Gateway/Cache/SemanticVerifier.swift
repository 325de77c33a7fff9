/// The second check of a semantic-cache hit: do two questions whose embeddings are close ask the same thing?
///
/// Sentence embeddings (MiniLM) place "Celsius to Fahrenheit" and "Fahrenheit to Celsius" at 0.99, "ascending"
/// and "descending" at 0.95, a question and its negation at 0.95: similarity alone serves the wrong answer.
/// These rules look at exactly what such near-misses change and refuse the hit when either question has
/// something the other lacks:
///
/// | rule | refuses when |
/// |---|---|
/// | numbers | the multisets of numbers differ (digits, ordinals like `5th`, number words two..billion) |
/// | negation | the counts of negation words differ (`not`, `no`, `never`, `n't`, `without`, ...) |
/// | opposite | one has a word whose opposite only the other has (ascending/descending, encrypt/decrypt, ...) |
/// | time | the time expressions differ (yesterday / tomorrow, last week / next week, weekdays, seasons) |
/// | language | their languages differ (stop-word counts for en, fr, de, es, it, pt, nl) |
/// | terms | the key terms differ: capitalised names (merged across words), acronyms, units and data types |
/// | direction | a term before `to` / `into` / `than` in one is the term after it in the other (X to Y vs Y to X) |
/// | substitution | the content words line up one to one but the last one differs (gold vs silver) |
///
/// Measured on `bench/semantic/pairs.jsonl` (100 paraphrases, 110 near-misses) and on a held-out set written
/// after the rules were fixed (`pairs-holdout.jsonl`); the table is in the README and
/// `SemanticVerificationTests` recomputes it. It costs microseconds per candidate (no model call).
public struct SemanticVerifier: Sendable {
    /// Why a candidate was refused.
    public enum Rule: String, Sendable, CaseIterable {
        case numbers, negation, opposite, time, language, terms, direction, substitution
    }

    public init() {}

    /// `nil` when the two questions may share an answer, else the first rule that tells them apart.
    public func refusal(_ a: String, _ b: String) -> Rule? {
        let (qa, qb) = (Question(a), Question(b))
        if qa.numbers != qb.numbers { return .numbers }
        if qa.negations != qb.negations { return .negation }
        for (x, y) in [(qa.wordSet, qb.wordSet), (qb.wordSet, qa.wordSet)] {
            for word in x {
                for opposite in Lexicon.opposites[word] ?? [] where y.contains(opposite) && !y.contains(word) {
                    return .opposite
                }
            }
        }
        if qa.times != qb.times { return .time }
        if let la = qa.language, let lb = qb.language, la != lb { return .language }
        if qa.terms.sorted() != qb.terms.sorted() { return .terms }
        for (x, y) in qa.directions {
            for (u, v) in qb.directions where x == v || y == u { return .direction }
        }
        let (ca, cb) = (qa.content, qb.content)
        if ca.count == cb.count, let last = ca.last, last != cb.last {
            let differing = zip(ca, cb).filter { $0 != $1 }
            if differing.count == 1, let (x, y) = differing.first, !Lexicon.isSynonym(x, y),
               x.prefix(4) != y.prefix(4) {
                return .substitution
            }
        }
        return nil
    }
}

/// One question, tokenised once for every rule.
private struct Question {
    let words: [String]            // lower-cased: ASCII words, numbers, every other character alone
    let wordSet: Set<String>
    let numbers: [String]
    let negations: Int
    let times: [String]
    let language: String?
    let terms: [String]
    let directions: [(String, String)]
    let content: [String]

    init(_ text: String) {
        var lowered = text.lowercased()
        for (from, to) in [("can't", "can not"), ("won't", "will not"), ("n't", " not")] {
            lowered = lowered.replacingOccurrences(of: from, with: to)
        }
        words = Self.split(lowered)
        wordSet = Set(words)
        numbers = words.compactMap(Self.number).sorted()
        negations = words.filter { Lexicon.negations.contains($0) }.count
        var times = words.filter { Lexicon.timeWords.contains($0) }
        for (a, b) in zip(words, words.dropFirst()) where Lexicon.timeModifiers.contains(a) && Lexicon.timeUnits.contains(b) {
            times.append(a + " " + b)
        }
        self.times = times.sorted()
        language = Self.language(text)
        (terms, directions) = Self.terms(text)
        content = words.filter { word in
            !Lexicon.function.contains(word) && word.unicodeScalars.allSatisfy { $0.properties.isLowercase && $0.isASCII }
        }
    }

    /// ASCII letters and digits form words (a decimal point between digits stays inside a number); every other
    /// non-space character is a token of its own.
    static func split(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        let chars = Array(text)
        for (i, c) in chars.enumerated() {
            let isWord = c.isASCII && (c.isLetter || c.isNumber)
            let isDecimalPoint = c == "." && !current.isEmpty && current.last!.isNumber
                && i + 1 < chars.count && chars[i + 1].isASCII && chars[i + 1].isNumber
            if isWord || isDecimalPoint {
                current.append(c)
                continue
            }
            if !current.isEmpty { out.append(current); current = "" }
            if !c.isWhitespace { out.append(String(c)) }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    static func number(_ word: String) -> String? {
        if let first = word.first, first.isNumber {
            let digits = word.prefix { $0.isNumber || $0 == "." }
            let suffix = word.dropFirst(digits.count)
            return ["", "st", "nd", "rd", "th", "s"].contains(String(suffix)) ? String(digits) : nil
        }
        return Lexicon.numberWords[word]
    }

    static func language(_ text: String) -> String? {
        let words = text.lowercased().split { !($0.isLetter || $0 == "'" || $0 == "-") }.map(String.init)
        var best: (String, Int)? = nil
        var english = 0
        for (language, stops) in Lexicon.stopWords {
            let score = words.filter { stops.contains($0) }.count
            if language == "en" { english = score }
            if score > (best?.1 ?? 0) { best = (language, score) }
        }
        guard let best else { return nil }
        return english == best.1 ? "en" : best.0   // a tie with English counts as English
    }

    /// Key terms in order, and the (before, after) term pairs around each direction word.
    static func terms(_ text: String) -> ([String], [(String, String)]) {
        // Tokens: words that start with an ASCII letter, and single punctuation characters (for sentence starts).
        var tokens: [String] = []
        var current = ""
        for c in text {
            if c.isASCII && (c.isLetter || (!current.isEmpty && (c.isNumber || "_+#-".contains(c)))) {
                current.append(c)
                continue
            }
            if !current.isEmpty { tokens.append(current); current = "" }
            if !c.isWhitespace && !c.isLetter { tokens.append(String(c)) }
        }
        if !current.isEmpty { tokens.append(current) }

        var termOf = [String?](repeating: nil, count: tokens.count)
        var order: [String] = []
        var i = 0
        while i < tokens.count {
            let token = tokens[i]
            let lower = token.lowercased()
            guard token.first?.isLetter == true else { i += 1; continue }
            if isName(tokens, i) {
                var j = i
                var parts: [String] = []
                while j < tokens.count, tokens[j].first?.isLetter == true, isName(tokens, j) {
                    parts.append(tokens[j].lowercased())
                    j += 1
                }
                let term = parts.joined(separator: " ")
                for k in i..<j { termOf[k] = term }
                order.append(term)
                i = j
                continue
            }
            if Lexicon.units.contains(lower) {
                termOf[i] = lower
                order.append(lower)
            }
            i += 1
        }
        var pairs: [(String, String)] = []
        let words = tokens.indices.filter { tokens[$0].first?.isLetter == true }
        for (w, index) in words.enumerated() where Lexicon.directionWords.contains(tokens[index].lowercased()) {
            let before = words[max(0, w - 3)..<w].compactMap { termOf[$0] }
            let after = words[(w + 1)..<min(words.count, w + 4)].compactMap { termOf[$0] }
            if let x = before.last, let y = after.first { pairs.append((x, y)) }
        }
        return (order, pairs)
    }

    /// A capitalised word that is not at a sentence start, not "I" and not a weekday or month; or an acronym.
    static func isName(_ tokens: [String], _ i: Int) -> Bool {
        let token = tokens[i]
        guard token != "I", let first = token.first, first.isUppercase else { return false }
        if token.count > 1 && token.allSatisfy({ $0.isUppercase || $0.isNumber }) { return true }
        let sentenceStart = i == 0 || [".", "?", "!", ":"].contains(tokens[i - 1])
        return !sentenceStart && !Lexicon.timeWords.contains(token.lowercased())
    }
}

/// The word lists behind the rules (English, lower case).
enum Lexicon {
    static let numberWords: [String: String] = {
        var map: [String: String] = [:]
        let small = ["zero", "_one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                     "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]
        for (value, word) in small.enumerated() { map[word] = String(value) }
        // "one", "once" and "second" are left out: too often not numbers ("which one", "one at a time", "a second").
        let more: [String: String] = [
            "thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90",
            "hundred": "100", "thousand": "1000", "million": "1000000", "billion": "1000000000", "first": "1",
            "third": "3", "fourth": "4", "fifth": "5", "sixth": "6", "seventh": "7", "eighth": "8", "ninth": "9",
            "tenth": "10", "half": "0.5", "twice": "2x", "double": "2x", "triple": "3x", "dozen": "12",
        ]
        map.merge(more) { $1 }
        return map
    }()

    static let negations: Set<String> = ["not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "without", "cannot"]

    static let opposites: [String: Set<String>] = {
        let pairs: [(String, String)] = [
            ("ascending", "descending"), ("increase", "decrease"), ("increasing", "decreasing"), ("raise", "lower"),
            ("maximum", "minimum"), ("max", "min"), ("largest", "smallest"), ("biggest", "smallest"), ("highest", "lowest"),
            ("most", "least"), ("more", "less"), ("higher", "lower"), ("greater", "less"), ("encrypt", "decrypt"),
            ("encryption", "decryption"), ("compress", "decompress"), ("upload", "download"), ("push", "pull"),
            ("import", "export"), ("enable", "disable"), ("add", "remove"), ("before", "after"), ("first", "last"),
            ("open", "close"), ("start", "stop"), ("buy", "sell"), ("win", "lose"), ("left", "right"), ("above", "below"),
            ("inside", "outside"), ("input", "output"), ("encode", "decode"), ("serialize", "deserialize"), ("zip", "unzip"),
            ("install", "uninstall"), ("mount", "unmount"), ("lock", "unlock"), ("load", "unload"), ("connect", "disconnect"),
            ("join", "leave"), ("send", "receive"), ("safe", "unsafe"), ("legal", "illegal"), ("healthy", "unhealthy"),
            ("possible", "impossible"), ("correct", "incorrect"), ("valid", "invalid"), ("like", "dislike"),
            ("agree", "disagree"), ("true", "false"), ("positive", "negative"), ("hot", "cold"), ("fast", "slow"),
            ("cheap", "expensive"), ("easy", "hard"), ("old", "new"), ("oldest", "newest"), ("earliest", "latest"),
            ("best", "worst"), ("good", "bad"), ("pros", "cons"), ("advantages", "disadvantages"), ("benefits", "risks"),
            ("male", "female"), ("north", "south"), ("east", "west"), ("uppercase", "lowercase"), ("upper", "lower"),
        ]
        var map: [String: Set<String>] = [:]
        for (a, b) in pairs {
            map[a, default: []].insert(b)
            map[b, default: []].insert(a)
        }
        return map
    }()

    static let units: Set<String> = Set("""
        celsius fahrenheit kelvin kilometers kilometer km miles mile meters meter metres metre feet foot inches inch yards yard
        pounds pound lbs lb kilograms kilogram kg grams gram ounces ounce liters liter litres litre gallons gallon cups cup
        dollars dollar usd euros euro eur yen gbp utc gmt pst est cet pacific eastern string strings integer integers int
        float floats double list lists dict dictionary dictionaries array arrays json xml csv yaml tuple tuples set sets
        bytes byte hex binary decimal seconds second minutes minute hours hour days day weeks week months month years year
        """.split(whereSeparator: \.isWhitespace).map(String.init))

    static let timeWords: Set<String> = Set("""
        yesterday today tomorrow tonight morning afternoon evening night weekend summer winter spring autumn monday tuesday
        wednesday thursday friday saturday sunday january february march april may june july august september october
        november december
        """.split(whereSeparator: \.isWhitespace).map(String.init))
    static let timeModifiers: Set<String> = ["last", "next", "this", "previous", "coming", "past"]
    static let timeUnits: Set<String> = ["week", "weekend", "month", "year", "night", "time", "season", "quarter", "decade", "century"]

    static let directionWords: Set<String> = ["to", "into", "than"]

    static let function: Set<String> = Set("""
        a an the is are was were be been being am do does did doing have has had can could should would will shall may
        might must i me my we our you your he she it its they them their this that these those there here what which who
        whom whose when where why how of in on at by for with about as into to from than then so and or but if also just
        very really please tell give show explain s way best some any each per one ones
        """.split(whereSeparator: \.isWhitespace).map(String.init))

    static let synonyms: Set<Set<String>> = [
        ["exit", "quit"], ["delete", "remove"], ["big", "large"], ["biggest", "largest"], ["make", "create"],
        ["begin", "start"], ["fix", "repair"], ["car", "automobile"], ["kids", "children"], ["buy", "purchase"],
        ["help", "assist"], ["use", "utilize"], ["find", "locate"], ["movie", "film"], ["hard", "difficult"], ["quick", "fast"],
    ]
    static func isSynonym(_ a: String, _ b: String) -> Bool { synonyms.contains([a, b]) }

    static let stopWords: [(String, Set<String>)] = [
        ("en", "the a an is are was what how do does i you to of in and for with on it this that can my your why which who when where should be will"),
        ("fr", "le la les un une est sont que qui quoi comment de des du et pour avec sur ce cette je tu vous il elle où est-ce quelle quel"),
        ("de", "der die das ein eine ist sind was wie ich du sie es und für mit auf nicht wo wer warum geht dir"),
        ("es", "el la los las un una es son que qué como cómo de del y para con en por hora dónde quién esta está"),
        ("it", "il lo la gli le un una è sono che come di del e per con su dove chi"),
        ("pt", "o a os as um uma é são que como de do da e para com em onde quem"),
        ("nl", "de het een is zijn wat hoe ik je en voor met op waar wie"),
    ].map { ($0.0, Set($0.1.split(separator: " ").map(String.init))) }
}
