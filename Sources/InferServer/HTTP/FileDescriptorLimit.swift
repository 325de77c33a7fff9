#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's open-file limit, raised at start so that `--max-connections` (not `accept` failing with
/// EMFILE) is what bounds the connections. Go's runtime and nginx's `worker_rlimit_nofile` do the same.
enum FileDescriptorLimit {
    /// Raises the soft limit towards `wanted` (at most the hard limit); warns when the hard limit is lower.
    static func raise(toAtLeast wanted: Int) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let target = rlim_t(clamping: wanted)
        guard limit.rlim_cur < target else { return }
        let newSoft = min(target, limit.rlim_max)
        var raised = limit
        raised.rlim_cur = newSoft
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) != 0 || newSoft < target {
            Console.error("[serve] warning: the open-file limit is \(newSoft < target ? newSoft : limit.rlim_cur), "
                + "below --max-connections + 256 (\(wanted)); new connections past it fail to be accepted "
                + "(raise `ulimit -n`, or lower --max-connections)")
        }
    }
}
