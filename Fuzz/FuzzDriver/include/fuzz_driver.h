#ifndef MEND_FUZZ_DRIVER_H
#define MEND_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>
/// Runs libFuzzer on the target's LLVMFuzzerTestOneInput. SwiftPM names an executable's entry point
/// `<module>_main` and aliases `main` to it, so libFuzzer's own main is never linked; the Swift
/// @main of each fuzz target calls this instead.
int mend_fuzz_main(int argc, char **argv);
#endif
