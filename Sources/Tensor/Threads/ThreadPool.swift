#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// One persistent pool of worker threads used by every kernel (never Swift's cooperative pool).
///
/// `run` executes a body on all threads at once (the calling thread is thread 0) and returns when all
/// are done. Workers spin briefly on a generation counter between regions, so the ~100+ parallel regions
/// of a decode step cost microseconds, then fall back to sleeping on a condition variable when idle.
///
/// NOTE: `@unchecked Sendable` is safe: the job slot is written only by the thread inside `run` before it
/// publishes a new generation (release) and read by workers after they observe it (acquire); `run` is
/// serialised by `runLock`, and it does not return before every worker has finished reading the job.
public final class ThreadPool: @unchecked Sendable {
    /// The process-wide pool. Size: `INFER_THREADS` if set, else the number of online cores.
    public static let shared = ThreadPool(threads: ThreadPool.defaultThreadCount())

    /// Number of threads taking part in each region, including the caller.
    public let threadCount: Int

    private typealias Job = (Int, Int) -> Void
    private nonisolated(unsafe) var job: Job?
    private let generation = Atomic<UInt64>(0)
    private let finished = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let runLock = Mutex<Void>(())
    // NOTE: the pthread mutex and condition live on the heap at a fixed address: a pthread object must not
    // move, and `&storedProperty` only promises a pointer valid for the duration of the call.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var threads: [pthread_t] = []
    private let oversubscribed: Bool

    /// Spin iterations before a worker sleeps (about 50-100 microseconds).
    private static let spinLimit = 20_000

    public static func defaultThreadCount() -> Int {
        if let s = getenv("INFER_THREADS"), let n = Int(String(cString: s)), n > 0 { return n }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Creates a pool with `threads` participants (the caller plus `threads - 1` workers).
    public init(threads: Int) {
        threadCount = max(1, threads)
        oversubscribed = threadCount > Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        mutex.initialize(to: pthread_mutex_t())
        cond.initialize(to: pthread_cond_t())
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
        for index in 1..<threadCount {
            let box = Unmanaged.passRetained(WorkerStart(pool: self, index: index))
            var tid = pthread_t()
            let rc = pthread_create(&tid, nil, { raw in
                let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
                start.pool.workerLoop(index: start.index)
                return nil
            }, box.toOpaque())
            precondition(rc == 0, "pthread_create failed: \(rc)")
            self.threads.append(tid)
        }
    }

    deinit {
        stopping.store(true, ordering: .releasing)
        generation.add(1, ordering: .releasing)
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
        for t in threads { pthread_join(t, nil) }
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    /// Runs `body(threadIndex, threadCount)` on every thread of the pool and waits for all of them.
    public func run(_ body: (Int, Int) -> Void) {
        if threadCount == 1 {
            body(0, 1)
            return
        }
        runLock.withLock { _ in
            withoutActuallyEscaping(body) { escaping in
                job = escaping
                finished.store(0, ordering: .relaxed)
                generation.add(1, ordering: .releasing)
                pthread_mutex_lock(mutex)
                pthread_cond_broadcast(cond)
                pthread_mutex_unlock(mutex)
                escaping(0, threadCount)
                while finished.load(ordering: .acquiring) < threadCount - 1 {
                    spinPause()
                }
                job = nil
            }
        }
    }

    /// Splits `0..<count` into contiguous chunks (multiples of `granularity`) across the pool.
    public func parallelFor(_ count: Int, granularity: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let units = (count + granularity - 1) / granularity
        if units == 1 || threadCount == 1 {
            body(0..<count)
            return
        }
        run { index, n in
            let lo = units * index / n * granularity
            let hi = min(count, units * (index + 1) / n * granularity)
            if lo < hi { body(lo..<hi) }
        }
    }

    private func workerLoop(index: Int) {
        var seen: UInt64 = 0
        while true {
            var spins = 0
            var current = generation.load(ordering: .acquiring)
            while current == seen {
                spins += 1
                if spins < Self.spinLimit {
                    spinPause()
                } else {
                    pthread_mutex_lock(mutex)
                    while generation.load(ordering: .acquiring) == seen {
                        pthread_cond_wait(cond, mutex)
                    }
                    pthread_mutex_unlock(mutex)
                }
                current = generation.load(ordering: .acquiring)
            }
            seen = current
            if stopping.load(ordering: .acquiring) { return }
            job?(index, threadCount)
            finished.add(1, ordering: .releasing)
        }
    }

    @inline(__always) private func spinPause() {
        // The scheduler yield keeps an oversubscribed machine (more threads than cores) usable.
        if oversubscribed { sched_yield() }
    }
}

private final class WorkerStart {
    // Unowned so that workers do not keep the pool alive; `deinit` joins them before the pool is freed.
    unowned(unsafe) let pool: ThreadPool
    let index: Int
    init(pool: ThreadPool, index: Int) {
        self.pool = pool
        self.index = index
    }
}
