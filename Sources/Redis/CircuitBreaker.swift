/// The Redis client's circuit breaker as a plain state machine (no locks, no clock of its own: the
/// caller passes `now` and keeps it behind a lock).
///
/// closed --N consecutive failures--> open(until) --cool-off elapsed--> halfOpen (one probe admitted)
/// halfOpen --probe succeeds--> closed (cool-off reset) | --probe fails--> open (cool-off doubled, capped)
///
/// NOTE: the doubling cool-off *is* the reconnect backoff: while open no call touches the network, and
/// the one probe let through after the cool-off is what reconnects.
struct CircuitBreaker: Sendable {
    enum State: Sendable, Equatable {
        case closed(failures: Int)
        case open(until: Double)
        case halfOpen
    }

    private(set) var state: State = .closed(failures: 0)
    let threshold: Int
    let baseCoolOff: Double
    let maxCoolOff: Double
    private(set) var coolOff: Double

    init(threshold: Int, coolOff: Double, maxCoolOff: Double) {
        self.threshold = threshold
        self.baseCoolOff = coolOff
        self.maxCoolOff = maxCoolOff
        self.coolOff = coolOff
    }

    /// Whether a call may go to the network now. Moving from open to half-open admits exactly one probe.
    mutating func admit(now: Double) -> Bool {
        switch state {
        case .closed: return true
        case .open(let until):
            guard now >= until else { return false }
            state = .halfOpen
            return true
        case .halfOpen: return false
        }
    }

    /// Records a call that reached Redis (any reply, error replies included).
    mutating func recordSuccess() {
        state = .closed(failures: 0)
        coolOff = baseCoolOff
    }

    /// Records a connection-level failure (connect, write, read, timeout).
    mutating func recordFailure(now: Double) {
        switch state {
        case .closed(let failures):
            if failures + 1 >= threshold {
                state = .open(until: now + coolOff)
            } else {
                state = .closed(failures: failures + 1)
            }
        case .halfOpen:
            coolOff = min(coolOff * 2, maxCoolOff)
            state = .open(until: now + coolOff)
        case .open:
            break   // a call admitted before the breaker opened; the breaker is already open
        }
    }

    /// Gives back an admitted call that never reached the network (e.g. the pool was saturated): a
    /// half-open breaker becomes due for a new probe instead of staying stuck half-open.
    mutating func abandon(now: Double) {
        if state == .halfOpen { state = .open(until: now) }
    }

    /// True while calls are refused without touching the network.
    var isOpen: Bool {
        if case .closed = state { return false }
        return true
    }
}
