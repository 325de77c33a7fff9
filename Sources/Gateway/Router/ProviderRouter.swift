import CurlHTTP
import Foundation
import Logging
import NumericCore

/// Routes OpenAI-shaped requests for a model group to its deployments, with retries, fallbacks and
/// cooldowns (LiteLLM semantics; the decisions are `FallbackPlanner`'s and `CooldownPolicy`'s).
///
/// Contract: `route` returns once a deployment produced a full response (non-streaming) or its first
/// chunk (streaming); failures before that are retried or fall back. The `model` field of the answer
/// (every chunk, for streams) is rewritten to the requested name.
public final class ProviderRouter: Sendable {
    public let settings: RouterSettings
    /// Deployments per group, in config order.
    public let groups: [String: [Deployment]]
    /// Group names in config order.
    public let groupNames: [String]
    private let cooldowns: any CooldownStore
    /// Shared latency samples for `latency-based-routing` (nil: this instance's own numbers only).
    private let latencies: (any LatencyStore)?
    private let state: RouterState
    private let logger: Logger

    public init(deployments: [Deployment], settings: RouterSettings, cooldowns: (any CooldownStore)? = nil,
                latencies: (any LatencyStore)? = nil,
                random: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator(),
                logger: Logger = Logger(label: "gateway.router")) {
        self.settings = settings
        self.latencies = latencies
        var groups: [String: [Deployment]] = [:]
        var names: [String] = []
        for d in deployments {
            if groups[d.group] == nil { names.append(d.group) }
            groups[d.group, default: []].append(d)
        }
        self.groups = groups
        groupNames = names
        self.cooldowns = cooldowns ?? InMemoryCooldownStore(
            policy: CooldownPolicy(cooldownTime: settings.cooldownTime, allowedFails: settings.allowedFails))
        state = RouterState(deployments: deployments, settings: settings, random: random)
        self.logger = logger
    }

    /// Builds the router of a config. `localProvider` adapts `local/` entries (nil: they are an error).
    public convenience init(config: GatewayConfig, client: HTTPClient = .shared,
                            localProvider: ((ModelDeploymentConfig) throws -> any ChatProvider)? = nil,
                            cooldowns: (any CooldownStore)? = nil, latencies: (any LatencyStore)? = nil,
                            logger: Logger = Logger(label: "gateway.router")) throws(ConfigError) {
        var deployments: [Deployment] = []
        for (i, entry) in config.modelList.enumerated() {
            deployments.append(try Deployment.make(from: entry, index: i, client: client, localProvider: localProvider))
        }
        let names = Set(config.modelList.map(\.modelName))
        for (i, cascade) in config.routerSettings.cascades.enumerated() {
            let path = "router_settings.cascades[\(i)]"
            if names.contains(cascade.name) {
                throw ConfigError("\(path).model_name: \"\(cascade.name)\" is already a model group in model_list")
            }
            if let unknown = cascade.tiers.first(where: { !names.contains($0) }) {
                throw ConfigError("\(path).tiers: \"\(unknown)\" is not a model group in model_list")
            }
        }
        self.init(deployments: deployments, settings: config.routerSettings, cooldowns: cooldowns,
                  latencies: latencies, logger: logger)
    }

    /// Seconds left of a deployment's cooldown; nil when it is in rotation.
    public func cooldownRemaining(deploymentID: String) async -> Double? {
        await cooldowns.cooldownRemaining(deploymentID: deploymentID)
    }

    /// Per-deployment counters, in config order.
    public func metricsSnapshot() async -> [DeploymentMetrics] { await state.snapshot() }

    /// Serves `request` from the group `modelGroup`.
    ///
    /// - Parameters:
    ///   - requestFallbacks: the request's own `fallbacks` (replace the group's generic fallbacks).
    ///   - disableFallbacks: the request's `disable_fallbacks`.
    ///   - caller: who asks. Only groups `caller.mayUse(model:)` allows are ever attempted: the requested
    ///     group must be one (403 otherwise), and forbidden groups in any fallback list (the request's or
    ///     the config's) are skipped for this caller.
    /// - Throws: `RouterError` with the error to report (400 for an unknown model; 403 for a group the
    ///   caller may not use; 429 "No deployments available ..." when every deployment is cooling down and
    ///   no fallback helped).
    public func route(modelGroup: String, request: ProviderRequest, requestFallbacks: [String]? = nil,
                      disableFallbacks: Bool = false, caller: Caller = .anonymous) async throws(RouterError) -> RoutedResult {
        guard groups[modelGroup] != nil else {
            throw RouterError(
                error: ProviderError(status: 400, message: "Invalid model name passed in model=\(modelGroup). "
                    + "Call `/v1/models` to view available models.", type: "invalid_request_error",
                    code: "model_not_found", param: "model", kind: .notFound),
                requestedModel: modelGroup, lastDeploymentID: nil, attemptedRetries: 0, attemptedFallbacks: 0)
        }
        guard caller.mayUse(model: modelGroup) else {
            throw RouterError(
                error: ProviderError(status: 403, message: "This API key may not use the model `\(modelGroup)`.",
                                     type: "permission_error", code: "forbidden", param: "model",
                                     kind: .authentication),
                requestedModel: modelGroup, lastDeploymentID: nil, attemptedRetries: 0, attemptedFallbacks: 0)
        }
        // The planner only knows the groups this caller may use, so no fallback list can lead elsewhere.
        var planner = FallbackPlanner(group: modelGroup, policy: FallbackPlanner.Policy(settings),
                                      knownGroups: Set(groupNames.filter(caller.mayUse(model:))),
                                      requestFallbacks: requestFallbacks, disableFallbacks: disableFallbacks)
        var action = planner.start()
        var input = RoutingInput()
        if settings.routingStrategy == .prefixAware { input.text = RoutingText.of(request.body, endpoint: request.endpoint) }
        if settings.stickySessions, let session = request.session {
            input.session = StickySessions.key(session: session, tenant: request.tenant)
        }
        var failedIDs: Set<String> = []
        var lastID: String?
        while true {
            switch action {
            case .finish:
                preconditionFailure("the planner finishes only after .succeeded, which route never sends")
            case .giveUp(let error):
                throw RouterError(error: error, requestedModel: modelGroup, lastDeploymentID: lastID,
                                  attemptedRetries: planner.attemptedRetries,
                                  attemptedFallbacks: planner.attemptedFallbacks)
            case .attempt(let group, let delay):
                if delay > 0 { try? await Task.sleep(for: .milliseconds(Int64(delay * 1000))) }
                if Task.isCancelled {
                    throw RouterError(error: ProviderError(status: 499, message: "Request cancelled", code: "cancelled",
                                                           kind: .other),
                                      requestedModel: modelGroup, lastDeploymentID: lastID,
                                      attemptedRetries: planner.attemptedRetries,
                                      attemptedFallbacks: planner.attemptedFallbacks)
                }
                let members = groups[group] ?? []
                let (available, soonest) = await healthy(members)
                guard !available.isEmpty else {
                    action = planner.next(.noDeploymentAvailable(retryIn: soonest))
                    continue
                }
                let fresh = available.filter { !failedIDs.contains($0.id) }
                let candidates = fresh.isEmpty ? available : fresh
                if settings.routingStrategy == .latencyBased, candidates.count > 1, let latencies {
                    input.latencies = await latencies.averages(candidates.map(\.id))
                }
                let deployment = await state.pick(candidates, strategy: settings.routingStrategy, input: input)
                lastID = deployment.id
                do {
                    var call = request
                    var fixes: [String] = []
                    if request.endpoint == .chat,
                       let messageFixes = deployment.messageFixes ?? deployment.provider.requiredMessageFixes(request.body) {
                        (call.body, fixes) = messageFixes.apply(to: request.body)
                    }
                    let result = try await attempt(deployment, request: call, requestedModel: modelGroup)
                    var routed = RoutedResult(result: result, deploymentID: deployment.id, modelGroup: group,
                                              requestedModel: modelGroup, apiBase: deployment.apiBase,
                                              attemptedRetries: planner.attemptedRetries,
                                              attemptedFallbacks: planner.attemptedFallbacks)
                    routed.messageFixes = fixes
                    return routed
                } catch {
                    failedIDs.insert(deployment.id)
                    let cooled = await cooldowns.recordFailure(deploymentID: deployment.id, error: error,
                                                               groupSize: members.count)
                    await state.recordFailure(deployment.id, cooledDown: cooled)
                    let others = await healthy(members.filter { $0.id != deployment.id }).available.count
                    // The request's own fault (bad parameters, too long a prompt) is not news about the
                    // deployment: debug level; upstream failures: info.
                    let clientFault = error.kind == .badRequest || error.kind == .contextWindowExceeded
                    logger.log(level: clientFault ? .debug : .info, "deployment failed", metadata: [
                        "model_group": "\(group)", "deployment": "\(deployment.id)", "status": "\(error.status)",
                        "kind": "\(error.kind.rawValue)", "cooldown": "\(cooled)", "error": "\(error.message)",
                    ])
                    let fallbacksBefore = planner.attemptedFallbacks
                    action = planner.next(.failed(error, groupSize: members.count, healthyOthers: others))
                    if planner.attemptedFallbacks > fallbacksBefore { await state.recordFallback(from: deployment.id) }
                }
            }
        }
    }

    /// Deployments not cooling down, and the seconds until the first cooled one is free.
    private func healthy(_ members: [Deployment]) async -> (available: [Deployment], soonest: Double) {
        var available: [Deployment] = []
        var soonest = Double.infinity
        for d in members {
            if let left = await cooldowns.cooldownRemaining(deploymentID: d.id) {
                soonest = min(soonest, left)
            } else {
                available.append(d)
            }
        }
        return (available, soonest.isFinite ? soonest : settings.cooldownTime)
    }

    /// One call to one deployment.
    private func attempt(_ deployment: Deployment, request: ProviderRequest,
                         requestedModel: String) async throws(ProviderError) -> ProviderResult {
        var call = request
        call.body = request.body.settingField("model", .string(deployment.upstreamModel))
        call.timeout = request.timeout ?? deployment.timeout ?? settings.timeout
        call.streamTimeout = request.streamTimeout ?? deployment.streamTimeout ?? settings.streamTimeout
        let started = ContinuousClock.now
        await state.begin(deployment.id)
        let result: ProviderResult
        var retries = 0
        while true {
            do {
                result = try await deployment.provider.send(call)
                break
            } catch {
                if retries < deployment.maxRetries, Self.isTransient(error), !Task.isCancelled {
                    let delay = FallbackPlanner.Policy(settings).retryDelay(after: error, retryIndex: retries,
                                                                            healthyOthers: 0)
                    retries += 1
                    logger.debug("deployment retry", metadata: ["deployment": "\(deployment.id)", "retry": "\(retries)",
                                                               "status": "\(error.status)"])
                    try? await Task.sleep(for: .milliseconds(Int64(CheckedConversion.milliseconds(delay))))
                    continue
                }
                await state.end(deployment.id)
                throw error
            }
        }
        let elapsed = started.duration(to: .now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        if let latencies {
            // Off the request's path: the answer does not wait for the shared store.
            let id = deployment.id
            Task { await latencies.record(deploymentID: id, seconds: seconds) }
        }
        switch result {
        case .response(let json):
            await state.end(deployment.id)
            await state.recordSuccess(deployment.id, latency: seconds, streamed: false)
            await cooldowns.recordSuccess(deploymentID: deployment.id)
            return .response(json.settingField("model", .string(requestedModel)))
        case .stream(let upstream):
            await state.recordSuccess(deployment.id, latency: seconds, streamed: true)
            await cooldowns.recordSuccess(deploymentID: deployment.id)
            return .stream(relay(upstream, deployment: deployment, requestedModel: requestedModel))
        }
    }

    /// Failures the provider client retries on the same deployment (`max_retries`), as the OpenAI SDK does:
    /// connection errors, timeouts, 429 and 5xx; never the request's own faults.
    static func isTransient(_ error: ProviderError) -> Bool {
        switch error.kind {
        case .connection, .timeout, .rateLimited, .server: true
        default: false
        }
    }

    /// Re-emits a stream with `model` rewritten; ends the in-flight count when the stream ends.
    private func relay(_ upstream: AsyncThrowingStream<JSONValue, any Error>, deployment: Deployment,
                       requestedModel: String) -> AsyncThrowingStream<JSONValue, any Error> {
        let (output, continuation) = AsyncThrowingStream<JSONValue, any Error>.makeStream()
        let state = self.state
        let id = deployment.id
        let task = Task {
            // The in-flight count drops before the consumer sees the end, so a snapshot taken after
            // the stream ends is exact.
            do {
                for try await chunk in upstream {
                    continuation.yield(chunk.settingField("model", .string(requestedModel)))
                }
                await state.end(id)
                continuation.finish()
            } catch {
                await state.end(id)
                await state.recordFailure(id, cooledDown: false)
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return output
    }
}
