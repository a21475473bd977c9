#if OpenCL
import Compute
import ComputeCPU
import ComputeOpenCL
import Foundation
import Imaging
import Inpainting
import Models
import XCTest

/// The whole z loop (G and D forward, losses, backward to z, Adam) on OpenCL against the CPU, at
/// the paper's batch of 64 starts, on both OpenCL convolution paths.
final class OpenCLInpaintingTests: XCTestCase {
  /// What every test here starts from: an OpenCL device (a skip without one, not counted as a
  /// pass, and a failure under CI=true), the face generator and discriminator (logits), a face the
  /// generator drew from `faceSeed`, and a centre hole of 40 % of the side.
  struct Fixture {
    let gen: DCGANGenerator, disc: DCGANDiscriminator, face: Image, mask: Mask

    init(faceSeed: UInt64) throws {
      guard (try? OpenCLRuntime.devices().isEmpty) == false else {
        if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail("CI=true but no OpenCL device") }
        throw XCTSkip("no OpenCL device (not counted as a pass)")
      }
      gen = try faceGenerator()
      disc = try DCGANDiscriminator(weights: try WeightStore.load(WeightStore.faceDiscriminator), logits: true)
      face = try knownFace(gen, seed: faceSeed, device: CPUDevice(threads: 2)).0
      mask = Mask.center(width: 64, height: 64, fraction: 0.4)
    }

    /// The z loop compiled on `device` (activity counted after this excludes its set-up).
    func inpainter(on device: Device, _ cfg: InpaintConfig) throws -> Inpainter {
      try Inpainter(generator: gen, discriminator: disc, device: device, images: 1, config: cfg)
    }

    /// The z loop on `device` for the face and hole.
    func run(on device: Device, _ cfg: InpaintConfig) throws -> InpaintResult {
      try inpainter(on: device, cfg).run([face], masks: [mask])[0]
    }
  }

  func testZLoopMatchesCPUAtBatch64() throws {
    let f = try Fixture(faceSeed: 33)
    var cfg = InpaintConfig()
    cfg.starts = 64; cfg.iterations = 3; cfg.seed = 9; cfg.logEvery = 1000
    // The best start's G(ẑ) alone: the mean over several starts is host code after the device
    // work (InpainterTests), and would make this comparison depend on how close starts 2–4 rank.
    cfg.average = 1
    let want = try f.run(on: CPUDevice(threads: 2), cfg)
    for fused in [true, false] {
      let dev = try OpenCLDevice(index: 0)
      dev.useFused = fused
      let got = try f.run(on: dev, cfg)
      let path = fused ? "fused" : "lowered"
      XCTAssertEqual(got.bestStart, want.bestStart, path)
      let dz = zip(got.latent, want.latent).map { abs($0 - $1) }.max() ?? .infinity
      let dimg = zip(got.generated.data, want.generated.data).map { abs($0 - $1) }.max() ?? .infinity
      let dloss = abs(got.totalLoss - want.totalLoss) / abs(want.totalLoss)
      print("z loop OpenCL (\(path)) vs CPU: max |Δz| \(dz), max |Δimage| \(dimg), loss rel \(dloss)")
      XCTAssertEqual(got.latent.count, want.latent.count)
      // Measured (3 iterations, PoCL): |Δz| 3.6e-6, |Δimage| 4.4e-6, loss 1.2e-6 relative — the CPU
      // reference's Winograd F(4 × 4) at batch 64 rounds more than the OpenCL kernels (with
      // MEND_WINOGRAD_F4=0: 1.2e-7, 6.9e-7, 3.5e-7, float32 sums in another order). The bounds
      // leave ≥ 2.3× room; a wrong gradient or Adam step moves z by ~1e-2 (lr 0.03) in one iteration.
      XCTAssertLessThan(dz, 1e-5, path)
      XCTAssertLessThan(dimg, 1e-5, path)
      XCTAssertLessThan(dloss, 1e-5, path)
    }
  }

  /// With `cl_khr_command_buffer` (PoCL 3 has it), a plan of fused kernels replays as one command
  /// buffer per run (without it, launch by launch, checked the same way): the z loop gives bit-identical latents and images to launch-by-launch replay
  /// (the same kernels in the same order), with one submission per iteration and the same launches.
  func testCommandBufferReplayEqualsLaunchByLaunch() throws {
    let f = try Fixture(faceSeed: 35)
    // Without the extension (or with MEND_OPENCL_COMMAND_BUFFER=0) both runs replay launch by launch:
    // the comparison still holds and no buffer may be submitted.
    let supported = try OpenCLDevice(index: 0).supportsCommandBuffers
    if !supported { print("note: this OpenCL device offers no cl_khr_command_buffer: checking the launch-by-launch fallback") }
    var cfg = InpaintConfig()
    cfg.starts = 8; cfg.iterations = 4; cfg.seed = 3; cfg.logEvery = 1000
    var results: [InpaintResult] = [], activity: [DeviceActivity] = []
    for buffers in [false, true] {
      let dev = try OpenCLDevice(index: 0)
      dev.useFused = true
      dev.useCommandBuffers = buffers
      let inp = try f.inpainter(on: dev, cfg)
      let before = try XCTUnwrap(dev.activity)
      results.append(try inp.run([f.face], masks: [f.mask])[0])
      activity.append(try XCTUnwrap(dev.activity) - before)
    }
    XCTAssertEqual(results[1].latent, results[0].latent)
    XCTAssertEqual(results[1].generated.data, results[0].generated.data)
    XCTAssertEqual(results[1].totalLoss, results[0].totalLoss)
    XCTAssertEqual(activity[0].submissions, 0)
    XCTAssertEqual(activity[1].launches, activity[0].launches)
    if supported {
      // One buffer per plan run: the 4 iterations plus the final forward (at most a few more).
      XCTAssertGreaterThanOrEqual(activity[1].submissions, cfg.iterations)
      XCTAssertLessThan(activity[1].submissions, 3 * cfg.iterations)
    } else {
      XCTAssertEqual(activity[1].submissions, 0)
    }
    print("z loop, 4 iterations: \(activity[0].launches) launches either way; \(activity[1].submissions) command buffers")
  }

  /// The z loop as a many-unit GPU runs it: with the split rule planning for 132 compute units
  /// (`splitUnits`), most batch-1 convolutions cut their reduction into slices and add them in a
  /// second launch. Same seed, same kernels otherwise: the result follows the unsplit one to float32
  /// rounding of the reordered sums, and the plan still creates nothing per iteration.
  func testZLoopWithSplitReductionsMatchesUnsplit() throws {
    let f = try Fixture(faceSeed: 37)
    var cfg = InpaintConfig()
    cfg.starts = 2; cfg.iterations = 6; cfg.seed = 5; cfg.logEvery = 1000; cfg.average = 1
    var results: [InpaintResult] = [], activity: [DeviceActivity] = []
    for units in [0, 132] {
      let dev = try OpenCLDevice(index: 0)
      dev.useFused = true
      dev.splitOverride = nil
      dev.splitUnits = units
      let inp = try f.inpainter(on: dev, cfg)
      let before = try XCTUnwrap(dev.activity)
      results.append(try inp.run([f.face], masks: [f.mask])[0])
      activity.append(try XCTUnwrap(dev.activity) - before)
    }
    XCTAssertGreaterThan(activity[1].launches, activity[0].launches, "132 units: some layers split")
    XCTAssertEqual(activity[1].bufferCreations, activity[0].bufferCreations)
    XCTAssertEqual(activity[1].kernelCreations, activity[0].kernelCreations)
    XCTAssertEqual(results[1].latent.count, results[0].latent.count)
    let dz = zip(results[1].latent, results[0].latent).map { abs($0 - $1) }.max() ?? .infinity
    let dimg = zip(results[1].generated.data, results[0].generated.data).map { abs($0 - $1) }.max() ?? .infinity
    print("z loop split (132 units) vs unsplit: \(activity[1].launches) vs \(activity[0].launches) launches, "
          + "max |Δz| \(dz), max |Δimage| \(dimg)")
    // As the OpenCL-vs-CPU z loop: reordered float32 sums move z by ~1e-6 in a few iterations; a
    // lost or doubled slice moves the image by ~1e-1.
    XCTAssertLessThan(dz, 1e-4)
    XCTAssertLessThan(dimg, 1e-4)
  }

  /// Half-precision weights (`halfWeights`) in the z loop: the generator and discriminator read
  /// their weights rounded to half; the fill must stay what float weights give, to the eye.
  func testZLoopWithHalfWeightsFollowsFloat() throws {
    let f = try Fixture(faceSeed: 39)
    var cfg = InpaintConfig()
    cfg.starts = 4; cfg.iterations = 40; cfg.seed = 11; cfg.logEvery = 1000; cfg.average = 1
    var results: [InpaintResult] = []
    for half in [false, true] {
      let dev = try OpenCLDevice(index: 0)
      dev.useFused = true
      dev.splitOverride = 1
      dev.halfWeights = half
      results.append(try f.run(on: dev, cfg))
    }
    let a = results[0].generated.data, b = results[1].generated.data
    XCTAssertEqual(a.count, b.count)
    XCTAssertNotEqual(a, b, "the half kernels ran")
    // What a user sees: the fill's hole PSNR against the true face, float vs half weights, and the
    // two fills against each other.
    let pf = Metrics.maskedPSNR(results[0].generated, f.face, missing: f.mask.missing)
    let ph = Metrics.maskedPSNR(results[1].generated, f.face, missing: f.mask.missing)
    let between = Metrics.maskedPSNR(results[1].generated, results[0].generated, missing: f.mask.missing)
    print("z loop, 40 iterations: hole PSNR float weights \(pf) dB, half weights \(ph) dB; "
          + "half vs float fill \(between) dB")
    XCTAssertEqual(results[1].bestStart, results[0].bestStart)
    // Bounds from the measurement beside them (docs/performance.md): the optimisation moves apart
    // over 40 iterations (rounding differences grow), but the fill's quality must not move by more
    // than a change of seed does (0.4–0.7 dB per face on real photos, docs/inpainting-eval.md).
    XCTAssertLessThan(abs(ph - pf), 1.0)
    XCTAssertGreaterThan(between, 30)
  }
}
#endif
