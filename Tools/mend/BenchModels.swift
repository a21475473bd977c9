import ArgumentParser
import Compute
import ComputeCheck
import Foundation
import Graph
import Models

struct BenchModels: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "models",
    abstract: "Time whole model forward passes: G_fwd_b1, G_fwd_b64, D_fwd_b1, D_fwd_b64, SR_fwd_b1 (64→256).")

  @OptionGroup var deviceOptions: DeviceOptions
  @OptionGroup var weightOptions: WeightOptions
  @Option(help: "Only cases whose name contains this text.") var filter: String?
  @Option(help: "Seconds of timed runs per case (after 2 warm-up runs; at least 5 runs).") var budget: Double = 2.0
  @Flag(help: "One JSON object per line.") var json = false

  func run() throws {
    guarded {
      let device = deviceOptions.makeDevice()
      // The face G and SRResNet use the fetched weights; the DCGAN D has the DCGAN init (no trained
      // face D ships yet; timing does not depend on the values).
      let gen = try DCGANGenerator(weights: try WeightStore.load(WeightStore.faceGenerator, override: weightOptions.weights))
      let disc = try DCGANDiscriminator(weights: RandomWeights.dcganDiscriminator(), logits: false)
      let sr = try SRResNet(weights: try WeightStore.load(WeightStore.srresnet, override: weightOptions.weights))
      var cases: [(String, () throws -> (Graph, Value))] = []
      for b in [1, 64] {
        cases.append(("G_fwd_b\(b)", { let (g, z, _) = try gen.graph(batch: b); return (g, z) }))
      }
      for b in [1, 64] {
        cases.append(("D_fwd_b\(b)", { let (g, x, _) = try disc.graph(batch: b); return (g, x) }))
      }
      cases.append(("SR_fwd_b1", { let (g, x, _) = try sr.graph(batch: 1, height: 64, width: 64); return (g, x) }))
      if !json {
        print("# device: \(device.summary)")
        print(pad("case", 12) + lpad("median ms", 11) + lpad("min ms", 10) + lpad("GFLOP/s", 10) + "  memory")
      }
      var rng = SplitMix64(seed: 5)
      for (name, make) in cases where filter.map({ name.contains($0) }) ?? true {
        let (g, input) = try make()
        let plan = try g.compile(on: device)
        let n = g.shape(input).reduce(1, *)
        try plan.set(input, (0..<n).map { _ in rng.nextGaussian() * 0.5 })
        let t = try Bench.time(budget: budget) {
          try plan.run()
          try device.synchronize()
        }
        let gflops = g.flops / (t.median * 1e-3) / 1e9
        if json {
          print("{\"case\":\"\(name)\",\"device\":\"\(device.name)\",\"threads\":\(device.threadCount),"
                + "\"median_ms\":\(String(format: "%.3f", t.median)),\"min_ms\":\(String(format: "%.3f", t.min)),"
                + "\"runs\":\(t.runs),\"gflops\":\(String(format: "%.2f", gflops)),\"flop\":\(g.flops)}")
        } else {
          print(pad(name, 12) + lpad(String(format: "%.3f", t.median), 11) + lpad(String(format: "%.3f", t.min), 10)
                + lpad(String(format: "%.1f", gflops), 10) + "  " + plan.memorySummary)
        }
        fflush(nil)
      }
    }
  }
}
