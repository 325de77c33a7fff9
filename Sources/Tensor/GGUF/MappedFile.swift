#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file. The mapping lives as long as this object.
///
/// NOTE: `@unchecked Sendable` is safe because the mapping is read-only (PROT_READ) and immutable
/// after `init`; it is unmapped only in `deinit`, when no other reference exists.
public final class MappedFile: @unchecked Sendable {
    /// Start of the mapping (nil for an empty file).
    public let base: UnsafeRawPointer?
    /// Length of the file in bytes.
    public let count: Int
    public let path: String

    /// Maps `path` read-only. Throws `GGUFError(.ioError)` naming the path and errno text.
    public init(path: String) throws(GGUFError) {
        self.path = path
        // NOTE: O_NONBLOCK so that a FIFO (or other special file) at `path` fails the regular-file
        // check below instead of blocking forever in open(2); it has no effect on regular files.
        // O_CLOEXEC so the descriptor never leaks into a process spawned concurrently.
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            throw GGUFError(.ioError, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw GGUFError(.ioError, "cannot stat \(path): \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw GGUFError(.ioError, "\(path) is not a regular file")
        }
        count = Int(st.st_size)
        if count == 0 {
            base = nil
            return
        }
        let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw GGUFError(.ioError, "cannot mmap \(path): \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(p)
    }

    /// The mapped bytes.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Drops the resident pages wholly inside `start ..< start + count` (a range of this mapping) from the
    /// process: a later read faults them back in from the file (the mapping is read-only and private, so
    /// nothing is lost). Used after a tensor has been repacked into heap memory.
    public func releasePages(_ start: UnsafeRawPointer, count: Int) {
        guard let base, count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = (start - base + page - 1) / page * page
        let hi = min(start - base + count, self.count) / page * page
        guard lo >= 0, hi > lo else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + lo), hi - lo, MADV_DONTNEED)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }
}
