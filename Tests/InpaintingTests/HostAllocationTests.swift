import Compute
import ComputeCPU
import Graph
import Imaging
import Inpainting
import MallocCounter
import Models
import XCTest
#if OpenCL
import ComputeOpenCL
#endif

/// The z loop allocates nothing on the host either — no Swift array, closure box or string —
/// counted through an interposed malloc, in steady-state iterations (the device-side count is
/// checked in InpainterTests). With one CPU thread the count is exactly zero. With two, each hand
/// of work to the worker thread costs one small box that Swift's `withoutActuallyEscaping` makes
/// (measured: it allocates even for a closure that is only called); the test requires that those
/// are the only allocations.
final class HostAllocationTests: XCTestCase {
  func testZIterationMakesNoHeapAllocations() throws {
    guard mend_malloc_count() > 0 else {
      throw XCTSkip("heap allocations are counted only on Linux/glibc (interposed malloc)")
    }
    let gen = try faceGenerator()
    let d = try DCGANDiscriminator(weights: RandomWeights.dcganDiscriminator(seed: 4), logits: true)
    // Batch 1 and 8 starts (the default): batch-1 convolutions take the skinny GEMMs and the
    // lowering's single-image tiles, batch 8 the implicit GEMM and grouped tiles.
    for threads in [1, 2] {
      let cpu = CPUDevice(threads: threads)
      let (face, _) = try knownFace(gen, seed: 11, device: cpu)
      for starts in [1, 8] {
        var cfg = InpaintConfig()
        cfg.starts = starts; cfg.iterations = 3
        let inp = try Inpainter(generator: gen, discriminator: d, device: cpu, images: 1, config: cfg)
        _ = try inp.run([face], masks: [Mask.center(width: 64, height: 64, fraction: 0.4)])
        for t in 4...6 { try inp.step(t) }  // warm-up: lazily grown buffers, pre-packed weights
        let before = mend_malloc_count(), dispatchesBefore = ThreadSplitter.dispatchCount
        for t in 7...26 { try inp.step(t) }
        let allocations = mend_malloc_count() - before
        let dispatches = ThreadSplitter.dispatchCount - dispatchesBefore
        if threads == 1 {
          XCTAssertEqual(dispatches, 0)
          XCTAssertEqual(allocations, 0, "1 thread, \(starts) start(s): \(allocations) heap allocations in 20 z iterations")
        } else {
          XCTAssertGreaterThan(dispatches, 0)
          XCTAssertEqual(allocations, dispatches,
                         "2 threads, \(starts) start(s): \(allocations) heap allocations for \(dispatches) dispatches in 20 z iterations")
        }
      }
    }
  }

  /// The generator-tuning step (forward, backward to every weight, per-layer Adam) allocates
  /// nothing on the host either, by the same count and rule as the z loop above.
  func testTuningStepMakesNoHeapAllocations() throws {
    guard mend_malloc_count() > 0 else {
      throw XCTSkip("heap allocations are counted only on Linux/glibc (interposed malloc)")
    }
    let gen = try faceGenerator()
    let d = try DCGANDiscriminator(weights: RandomWeights.dcganDiscriminator(seed: 4), logits: true)
    for threads in [1, 2] {
      let cpu = CPUDevice(threads: threads)
      let (face, z) = try knownFace(gen, seed: 11, device: cpu)
      var cfg = InpaintConfig()
      cfg.tuning.steps = 20
      cfg.tuning.pull = 1
      cfg.tuning.latentLearningRate = 0.01
      let tuner = try GeneratorTuner(generator: gen, discriminator: d, device: cpu, config: cfg)
      try tuner.prepare(face, mask: Mask.center(width: 64, height: 64, fraction: 0.4), latent: z)
      for t in 1...3 { try tuner.step(t) }  // warm-up: lazily grown buffers
      let before = mend_malloc_count(), dispatchesBefore = ThreadSplitter.dispatchCount
      for t in 4...20 { try tuner.step(t) }  // every layer joins by step 17 (progressive, 20 steps)
      let allocations = mend_malloc_count() - before
      let dispatches = ThreadSplitter.dispatchCount - dispatchesBefore
      if threads == 1 {
        XCTAssertEqual(allocations, 0, "1 thread: \(allocations) heap allocations in 17 tuning steps")
      } else {
        XCTAssertEqual(allocations, dispatches, "2 threads: \(allocations) heap allocations for \(dispatches) dispatches")
      }
    }
  }

  #if OpenCL
  /// A compiled plan on OpenCL replays kernel objects bound at compile time (`Device.prepare`):
  /// no host allocation, no kernel creation and no argument setting per run, one launch per fused
  /// step (SRResNet, 2 blocks, every epilogue folded: 2·2 + 5).
  func testOpenCLPlanReplayMakesNoHeapAllocationsOfItsOwn() throws {
    guard mend_malloc_count() > 0 else {
      throw XCTSkip("heap allocations are counted only on Linux/glibc (interposed malloc)")
    }
    guard (try? OpenCLRuntime.devices().count) ?? 0 > 0 else { throw XCTSkip("no OpenCL device") }
    let dev = try OpenCLDevice(index: 0)
    dev.useFused = true
    // Launch by launch: with cl_khr_command_buffer the replay is one driver call whose own
    // allocations (PoCL: ~380 per submission of these 9 kernels, against ~40 per bare enqueue) have
    // no bare-enqueue yardstick; the command-buffer path adds no allocating code of mend's (two
    // array loops and the call), and its results are checked in OpenCLInpaintingTests.
    dev.useCommandBuffers = false
    let sr = try SRResNet(weights: RandomWeights.srresnet(blocks: 2))
    let (g, x, _) = try sr.graph(batch: 1, height: 8, width: 8)
    let plan = try g.compile(on: dev, fuse: true)
    try plan.set(x, [Float](repeating: 0.5, count: 3 * 64))
    try plan.run()  // warm-up
    try dev.synchronize()
    let counts = try XCTUnwrap(dev.activity)
    let before = mend_malloc_count()
    for _ in 0..<5 { try plan.run() }
    let allocations = mend_malloc_count() - before
    try dev.synchronize()
    let d = try XCTUnwrap(dev.activity) - counts
    XCTAssertEqual(d.launches, 5 * 9)
    XCTAssertEqual(d.kernelCreations + d.bufferCreations, 0)
    // The driver allocates per enqueued command (PoCL: dozens of blocks), so the bound is what
    // bare enqueues of one bound kernel cost: a prepared single-launch convolution replayed as
    // often. Any host allocation of mend's per step or per launch would show above it.
    let c = ConvGeometry(batch: 1, inChannels: 64, inHeight: 8, inWidth: 8, outChannels: 64, kernel: (3, 3), padding: (1, 1))
    let xs = try dev.zeros(c.inputShape), ws = try dev.zeros(c.weightShape), ys = try dev.zeros(c.outputShape)
    let one = try dev.prepare(.conv2d(c, bias: false, activation: .identity), inputs: [xs, ws], outputs: [ys])
    for _ in 0..<3 { try one.run() }
    try dev.synchronize()
    let bare0 = mend_malloc_count()
    for _ in 0..<(5 * 9) { try one.run() }
    let bare = mend_malloc_count() - bare0
    try dev.synchronize()
    print("OpenCL plan replay: \(allocations) heap allocations for 45 launches; 45 bare enqueues: \(bare)")
    XCTAssertLessThan(allocations, bare + 45,  // under one of mend's own per launch (measured: +3 in all)
                             "plan replay: \(allocations) heap allocations for 45 launches, bare enqueues \(bare)")
  }
  #endif
}
