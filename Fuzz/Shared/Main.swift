import FuzzDriver

/// The entry point of every fuzz target: libFuzzer's driver over this target's LLVMFuzzerTestOneInput.
@main enum FuzzMain {
  static func main() { _ = mend_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv) }
}
