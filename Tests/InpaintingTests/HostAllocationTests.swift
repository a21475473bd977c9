import Compute
import ComputeCPU
import Imaging
import Inpainting
import MallocCounter
import Models
import XCTest

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
}
