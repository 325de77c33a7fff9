/// A model group made of ordered tiers (`router_settings.cascades`): the request goes to the first tier; its
/// answer is returned if it passes the gate, otherwise the next tier gets the same request. The last tier's
/// answer is always returned.
public struct Cascade: Sendable, Equatable {
    /// The name clients ask for (`model_name`).
    public var name: String
    /// Model groups, cheapest first.
    public var tiers: [String]
    public var gate: CascadeGate
    /// Sends prompts with some features straight to a higher tier (nil: every request starts at the first).
    public var classifier: CascadeClassifier?

    public init(name: String, tiers: [String], gate: CascadeGate, classifier: CascadeClassifier? = nil) {
        self.name = name
        self.tiers = tiers
        self.gate = gate
        self.classifier = classifier
    }
}
