import CFuzzerDriver
import Foundation

// SwiftPM aliases `main` to this file's top-level code, so libFuzzer's own `main` is not used: hand
// control to its driver with the same arguments (-max_total_time, corpus dirs, ...).
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzGGUF(data!, size) })
