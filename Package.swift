// swift-tools-version: 6.1
import PackageDescription
import Foundation

// MARK: - Build settings

// One binary runs on any CPU of its architecture. The hot CPU kernels (Sources/CPUKernels) are
// compiled once per instruction-set level, each with its own `-target-cpu`, and `CPUDevice` picks
// one at run time from CPUID (`CPUISA`); everything else is built for the architecture's baseline.
// (SIMD16<Float>.addProduct needs FMA at compile time, or LLVM calls `fmaf` per lane; the generic
// kernels use a separate multiply and add there.) MEND_TARGET_CPU (e.g. `native`) overrides the
// baseline for the non-kernel code of a build that only runs where it was built.
#if arch(x86_64)
  let baselineCPU = "x86-64"
  let kernelLevels: [(name: String, cpu: String, define: String)] = [
    ("CPUKernelsAVX512", "skylake-avx512", "MEND_ISA_AVX512"),
    ("CPUKernelsAVX2", "haswell", "MEND_ISA_AVX2"),
    ("CPUKernelsGeneric", "x86-64", "MEND_ISA_GENERIC"),
  ]
#else
  let baselineCPU = "generic"
  let kernelLevels: [(name: String, cpu: String, define: String)] = [
    ("CPUKernelsGeneric", "generic", "MEND_ISA_GENERIC"),
  ]
#endif
let targetCPU = ProcessInfo.processInfo.environment["MEND_TARGET_CPU"] ?? baselineCPU
// MEND_CHECKED=1 builds release with -O instead of -Ounchecked: preconditions, bounds and overflow
// checks stay on (Tools/test.sh runs the fast suites that way; Tools/fuzz.sh fuzzes that way). Use a
// separate --scratch-path, so the switch does not rebuild the normal release tree.
let checked = ProcessInfo.processInfo.environment["MEND_CHECKED"] == "1"
func optimised(cpu: String) -> [SwiftSetting] {
  [
    .unsafeFlags(["-target-cpu", cpu, checked ? "-O" : "-Ounchecked"], .when(configuration: .release)),
    .unsafeFlags(["-target-cpu", cpu], .when(configuration: .debug)),
  ]
}
let fastMath = optimised(cpu: targetCPU)
// Each level's folder holds symbolic links to Sources/CPUKernels/*.swift.
let kernelTargets: [Target] = kernelLevels.map { level in
  .target(name: level.name, dependencies: ["Compute", "CPURuntime", "CCPUFeatures"],
          swiftSettings: optimised(cpu: level.cpu) + [.define(level.define)])
}
let kernelSourceFiles: [String] = {
  let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Kernels").path
  return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".cl") }.sorted()
}()
let kernelDependencies: [Target.Dependency] = kernelLevels.map { .target(name: $0.name) }

let package = Package(
  name: "mend",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "mend", targets: ["MendCLI"]),
    // The API an app uses: pick a device, load the pretrained models, inpaint, super-resolve, complete.
    .library(name: "Mend", targets: ["Mend"]),
    .library(name: "Compute", targets: ["Compute"]),
    .library(name: "ComputeCPU", targets: ["ComputeCPU"]),
    .library(name: "ComputeOpenCL", targets: ["ComputeOpenCL"]),
  ],
  // MARK: - Traits
  // `OpenCL` (default) builds the OpenCL/CLBlast backend. A CPU-only server without any OpenCL
  // library builds with `swift build --disable-default-traits` and runs on the Swift CPU path.
  traits: [
    .trait(name: "OpenCL", description: "Build the OpenCL backend (needs libOpenCL and CLBlast)."),
    .default(enabledTraits: ["OpenCL"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
  ],
  targets: [
    // MARK: - System library shims
    // OpenCL and CLBlast headers at build time; the libraries are opened at run time (dlopen).
    .target(name: "COpenCL", linkerSettings: [.linkedLibrary("dl")]),
    .systemLibrary(name: "CPNG", path: "Sources/CPNG"),
    // Whole-buffer JPEG (libjpeg-turbo) and WebP (libwebp) codecs in C: libjpeg reports errors by
    // longjmp, which Swift cannot catch.
    .target(name: "CCodecs", linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("webp")]),

    // MARK: - Compute core
    .target(name: "Compute", swiftSettings: fastMath),
    .target(name: "CCPUFeatures"),
    .target(name: "CPURuntime", dependencies: ["Compute", "CCPUFeatures"], swiftSettings: fastMath),
  ] + kernelTargets + [
    .target(name: "ComputeCPU", dependencies: ["Compute", "CPURuntime"] + kernelDependencies, swiftSettings: fastMath),
    // Every Kernels/*.cl is bundled; KernelSources orders them (common.cl first), so adding a
    // kernel file means adding the file, nothing else.
    .target(name: "MendKernels", path: "Kernels", resources: kernelSourceFiles.map { .copy($0) }),
    .target(
      name: "ComputeOpenCL",
      dependencies: ["Compute", "COpenCL", "MendKernels"],
      swiftSettings: fastMath),
    // The op-case table, float64 reference implementations, conformance and benchmark harness.
    .target(name: "ComputeCheck", dependencies: ["Compute", "ComputeCPU"], swiftSettings: fastMath),

    // MARK: - Graph, layers, models, images
    .target(name: "Graph", dependencies: ["Compute"], swiftSettings: fastMath),
    .target(name: "NN", dependencies: ["Compute", "Graph"], swiftSettings: fastMath),
    .target(name: "Models", dependencies: ["Compute", "Graph", "NN"], swiftSettings: fastMath),
    .target(name: "Imaging", dependencies: ["CPNG", "CCodecs"], swiftSettings: fastMath),
    // Folder runs: input listing, output naming, mask matching, sharding (pure logic, no I/O beyond listing).
    .target(name: "Batching"),
    .target(name: "Inpainting", dependencies: ["Compute", "Graph", "Models", "Imaging"], swiftSettings: fastMath),
    .target(name: "Training", dependencies: ["Compute", "Graph", "NN", "Models", "Imaging", "SuperResolution"],
            swiftSettings: fastMath),
    .target(name: "Pipeline", dependencies: ["Compute", "Models", "Imaging", "Inpainting", "SuperResolution", "FaceDetection"],
            swiftSettings: fastMath),
    .target(name: "SuperResolution", dependencies: ["Compute", "Graph", "Models", "Imaging"], swiftSettings: fastMath),
    // Viola–Jones face detection on OpenCV's Haar cascade files (pure Swift; frames faces for `complete`).
    .target(name: "FaceDetection", dependencies: ["Imaging"], swiftSettings: fastMath),
    // Quality evaluations behind `mend eval`: scores per image and method, mean rows, baseline files.
    .target(name: "Evaluation", dependencies: ["Imaging", "Inpainting", "SuperResolution", "Pipeline"],
            swiftSettings: fastMath),

    // MARK: - Library API
    .target(
      name: "Mend",
      dependencies: [
        "Compute", "ComputeCPU", "Models", "Imaging", "Inpainting", "SuperResolution", "Pipeline", "FaceDetection",
        .target(name: "ComputeOpenCL", condition: .when(traits: ["OpenCL"])),
      ],
      swiftSettings: fastMath),

    // MARK: - Command-line tool
    // The target is not called `mend`: module names differing only in case from `Mend` collide on
    // case-insensitive file systems. The product, and so the binary, is `mend`.
    .executableTarget(
      name: "MendCLI",
      dependencies: [
        "Mend", "Compute", "ComputeCPU", "ComputeCheck", "Graph", "NN", "Models", "Imaging", "Batching", "SuperResolution", "Inpainting", "Pipeline", "Training",
        "FaceDetection", "Evaluation", .target(name: "ComputeOpenCL", condition: .when(traits: ["OpenCL"])),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Tools/mend",
      swiftSettings: fastMath),

    // MARK: - Tests
    // Counts the test process's heap allocations (interposed malloc) for the no-allocation tests.
    .target(name: "MallocCounter", path: "Tests/MallocCounter"),
    .testTarget(
      name: "ComputeTests", dependencies: ["Compute", "ComputeCPU", "ComputeCheck"],
      swiftSettings: fastMath),
    .testTarget(
      name: "ModelsTests",
      dependencies: [
        "Compute", "ComputeCPU", "ComputeCheck", "Graph", "NN", "Models", "Imaging", "SuperResolution",
        .target(name: "ComputeOpenCL", condition: .when(traits: ["OpenCL"])),
      ],
      resources: [.copy("Fixtures")], swiftSettings: fastMath),
    .testTarget(
      name: "InpaintingTests",
      dependencies: ["Compute", "ComputeCPU", "ComputeCheck", "Graph", "Models", "Imaging", "Inpainting",
                     "SuperResolution", "Pipeline", "MallocCounter",
                     .target(name: "ComputeOpenCL", condition: .when(traits: ["OpenCL"]))],
      swiftSettings: fastMath),
    .testTarget(
      name: "TrainingTests",
      dependencies: ["Compute", "ComputeCPU", "ComputeCheck", "Graph", "NN", "Models", "Imaging", "Training",
                     .target(name: "ComputeOpenCL", condition: .when(traits: ["OpenCL"]))],
      swiftSettings: fastMath),
    // Runs the built `mend` binary (Tools/test.sh builds it first).
    .testTarget(name: "CLITests", dependencies: ["Imaging"]),
    .testTarget(name: "BatchingTests", dependencies: ["Batching"]),
    .testTarget(name: "FaceDetectionTests", dependencies: ["FaceDetection", "Imaging", "Compute"],
                resources: [.copy("Fixtures")], swiftSettings: fastMath),
    .testTarget(name: "MendTests", dependencies: ["Mend", "Compute"]),
    .testTarget(
      name: "EvaluationTests",
      dependencies: ["Compute", "ComputeCPU", "Models", "Imaging", "Inpainting", "SuperResolution", "Pipeline", "Evaluation"],
      swiftSettings: fastMath),
    .testTarget(name: "ImagingTests", dependencies: ["Imaging"], resources: [.copy("Fixtures")],
                swiftSettings: fastMath),
    .testTarget(
      name: "ComputeOpenCLTests",
      dependencies: [
        "Compute", "ComputeCPU", "ComputeCheck",
        .target(name: "ComputeOpenCL", condition: .when(traits: ["OpenCL"])),
      ],
      swiftSettings: fastMath),
  ],
  swiftLanguageModes: [.v6]
)

// MARK: - Fuzz targets (only with MEND_FUZZ=1)
// libFuzzer entry points for every reader (Fuzz/README.md). Tools/fuzz.sh builds them with
// MEND_FUZZ=1 MEND_CHECKED=1 --scratch-path .build-fuzz and -sanitize=fuzzer,address; a normal
// `swift build`/`swift test` never sees them.
if ProcessInfo.processInfo.environment["MEND_FUZZ"] == "1" {
  let fuzz: [(String, [Target.Dependency])] = [
    ("fuzz-png", ["Imaging"]), ("fuzz-jpeg", ["Imaging"]), ("fuzz-webp", ["Imaging"]),
    ("fuzz-safetensors", ["Models"]), ("fuzz-npy", ["Imaging"]), ("fuzz-mask", ["Imaging", "Inpainting"]),
  ]
  package.targets.append(.target(name: "FuzzDriver", path: "Fuzz/FuzzDriver"))
  package.targets += fuzz.map { name, deps in
    .executableTarget(name: name, dependencies: deps + ["FuzzDriver"], path: "Fuzz/\(name)",
                      swiftSettings: [.unsafeFlags(["-parse-as-library"])])
  }
  // The CLI's argument parsing and validation: the `mend` sources (symbolic links in Fuzz/fuzz-cli)
  // without their @main, plus the libFuzzer entry point.
  package.targets.append(.executableTarget(
    name: "fuzz-cli",
    dependencies: [
      "Mend", "Compute", "ComputeCPU", "ComputeCheck", "Graph", "NN", "Models", "Imaging", "Batching", "SuperResolution",
      "Inpainting", "Pipeline", "Training", "Evaluation", .target(name: "ComputeOpenCL", condition: .when(traits: ["OpenCL"])),
      .product(name: "ArgumentParser", package: "swift-argument-parser"), "FuzzDriver",
    ],
    path: "Fuzz/fuzz-cli", swiftSettings: [.define("MEND_FUZZ"), .unsafeFlags(["-parse-as-library"])]))
}
