import Gateway
import Hummingbird
import OpenAIRequest
import Synchronization

/// Counts API requests in flight, server-wide and per tenant, and turns away those over the limits.
///
/// A permit is released when the response it guards is released (its body written or dropped), so a
/// request that throws anywhere, or a client that goes away, can never leak a slot.
final class ConcurrencyLimiter: Sendable {
    private struct State {
        var total = 0
        var perTenant: [String: Int] = [:]
    }
    private let state = Mutex(State())
    let limit: Int
    let perTenantLimit: Int?

    init(limit: Int, perTenantLimit: Int?) {
        self.limit = limit
        self.perTenantLimit = perTenantLimit
    }

    /// Requests in flight now.
    var inFlight: Int { state.withLock { $0.total } }

    /// A permit, or a 429 when the server (or `tenant`) is at its limit.
    func acquire(tenant: String?) throws -> Permit {
        let tenantKey = perTenantLimit == nil ? nil : tenant
        try state.withLock { s in
            guard s.total < limit else { throw OpenAIError.tooManyConcurrent("on this server", limit: limit) }
            if let tenantKey, let perTenantLimit {
                guard s.perTenant[tenantKey, default: 0] < perTenantLimit else {
                    throw OpenAIError.tooManyConcurrent("for this API key", limit: perTenantLimit)
                }
                s.perTenant[tenantKey, default: 0] += 1
            }
            s.total += 1
        }
        return Permit(limiter: self, tenant: tenantKey)
    }

    fileprivate func release(tenant: String?) {
        state.withLock { s in
            s.total -= 1
            if let tenant {
                let left = s.perTenant[tenant, default: 1] - 1
                s.perTenant[tenant] = left > 0 ? left : nil
            }
        }
    }

    /// One admitted request; gives its slot back when released.
    final class Permit: Sendable {
        private let limiter: ConcurrencyLimiter
        private let tenant: String?

        fileprivate init(limiter: ConcurrencyLimiter, tenant: String?) {
            self.limiter = limiter
            self.tenant = tenant
        }

        deinit { limiter.release(tenant: tenant) }
    }
}
