import ArgumentParser
import Compute
import ComputeCheck
import Foundation
import Graph
import Imaging
import Inpainting
import Models
import Training

struct BenchModels: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "models",
    abstract: "Time whole models: G_fwd_b1/b64, D_fwd_b1/b64, SR_fwd_b1 (64→256), z_iter_b1/b64 (G+D forward, losses, backward to z, Adam), dcgan_train_step_b64, srresnet_train_step_b16, srgan_train_step_b16.")

  @OptionGroup var deviceOptions: DeviceOptions
  @OptionGroup var weightOptions: WeightOptions
  @Option(help: "Only cases whose name contains this text.") var filter: String?
  @Option(help: "Seconds of timed runs per case (after 2 warm-up runs; at least 5 runs).") var budget: Double = 2.0
  @Flag(help: "One JSON object per line.") var json = false
  @Flag(help: "After each case, print where the time goes (per op, synchronised; one run).") var profile = false

  func printProfile(_ plan: Plan) throws {
    var rows = try plan.runProfiled(now: Bench.now)
    rows.sort { $0.seconds > $1.seconds }
    let total = rows.reduce(0) { $0 + $1.seconds }
    for r in rows.prefix(25) {
      let detail: String
      switch r.op {
      case .conv2d(let c, _, _, let e), .conv2dBackwardData(let c, _, _, let e): detail = e.isNone ? "\(c)" : "\(c) + \(e)"
      case .conv2dBackwardFilter(let c, _): detail = "\(c)"
      case .gemm(let g): detail = "m\(g.m) n\(g.n) k\(g.k) b\(g.batch)"
      default: detail = ""
      }
      print(String(format: "    %6.3f ms %5.1f%%  #%-3d %@ %@", r.seconds * 1e3, r.seconds / total * 100, r.node, r.op.kind, detail))
    }
  }

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
      let peak = Bench.peak(of: device), isa = Bench.isa(of: device)
      if !json {
        print("# device: \(device.summary)")
        if let peak { print("# FMA peak (\(isa) kernels, \(device.threadCount) threads, register-only probe): " + String(format: "%.1f GFLOP/s", peak)) }
        print(pad("case", 12) + lpad("median ms", 11) + lpad("min ms", 10) + lpad("GFLOP/s", 10) + (peak == nil ? "" : lpad("% peak", 8)) + "  memory")
      }
      var rng = SplitMix64(seed: 5)
      // One DCGAN training step (D on real and fake, G through D, both Adam updates), batch 64.
      if filter.map({ "dcgan_train_step_b64".contains($0) }) ?? true {
        var cfg = DCGANTrainer.Config()
        cfg.batch = 64
        let tr = try DCGANTrainer(generator: RandomWeights.dcganGenerator(), discriminator: RandomWeights.dcganDiscriminator(),
                                  device: device, config: cfg)
        let real = (0..<(64 * 3 * 64 * 64)).map { _ in rng.nextFloat() * 2 - 1 }
        let r = try Bench.time(warmup: 1, minRuns: 3, budget: budget, device: device) {
          try tr.train(real: real)
          try device.synchronize()
        }
        report("dcgan_train_step_b64", r, flops: tr.plan.graph.flops, memory: tr.plan.memorySummary)
        if profile { try printProfile(tr.plan) }
      }
      // One SRResNet training step (16 random 96×96 crops, MSE, Adam), and one SRGAN stage-2 step:
      // the same plus a random 96×96 discriminator on G(lr) in the G step, and the D step.
      for (name, stage2) in [("srresnet_train_step_b16", false), ("srgan_train_step_b16", true)]
      where filter.map({ name.contains($0) }) ?? true {
        var cfg = SRTrainer.Config()
        cfg.batch = 16; cfg.crop = 96
        let tr = try SRTrainer(weights: try WeightStore.load(WeightStore.srresnet, override: weightOptions.weights),
                               discriminator: stage2 ? RandomWeights.srganDiscriminator(size: 96) : nil, device: device,
                               config: cfg)
        let lr = (0..<(16 * 3 * 24 * 24)).map { _ in rng.nextFloat() }, hr = (0..<(16 * 3 * 96 * 96)).map { _ in rng.nextFloat() }
        let r = try Bench.time(warmup: 1, minRuns: 3, budget: budget, device: device) {
          try tr.train(lr: lr, hr: hr)
          try device.synchronize()
        }
        report(name, r, flops: tr.plan.graph.flops + (tr.planD?.graph.flops ?? 0), memory: tr.plan.memorySummary)
        if profile {
          try printProfile(tr.plan)
          if let d = tr.planD { try printProfile(d) }
        }
      }
      // z iterations: one image, b starting latents (b in the GEMM batch), λ = 0.1 with the D.
      for b in [1, 8, 64] where filter.map({ "z_iter_b\(b)".contains($0) }) ?? true {
        var cfg = InpaintConfig()
        cfg.starts = b; cfg.iterations = 0
        let inp = try Inpainter(generator: gen, discriminator: try DCGANDiscriminator(weights: RandomWeights.dcganDiscriminator(), logits: true),
                                device: device, images: 1, config: cfg)
        var face = Image(width: 64, height: 64, channels: 3)
        for i in face.data.indices { face.data[i] = rng.nextFloat() }
        _ = try inp.run([face], masks: [Mask.center(width: 64, height: 64)])
        var t = 0
        let r = try Bench.time(budget: budget, device: device) {
          t += 1
          try inp.step(t)
          try device.synchronize()
        }
        report("z_iter_b\(b)", r, flops: inp.plan.graph.flops, memory: inp.memorySummary)
        if profile { try printProfile(inp.plan) }
      }
      for (name, make) in cases where filter.map({ name.contains($0) }) ?? true {
        let (g, input) = try make()
        let plan = try g.compile(on: device)
        let n = g.shape(input).reduce(1, *)
        try plan.set(input, (0..<n).map { _ in rng.nextGaussian() * 0.5 })
        let t = try Bench.time(budget: budget, device: device) {
          try plan.run()
          try device.synchronize()
        }
        report(name, t, flops: g.flops, memory: plan.memorySummary)
        if profile { try printProfile(plan) }
      }
      func report(_ name: String, _ t: (median: Double, min: Double, runs: Int), flops: Double, memory: String) {
        let gflops = flops / (t.median * 1e-3) / 1e9
        if json {
          print("{\"case\":\"\(name)\",\"device\":\"\(device.name)\",\"threads\":\(device.threadCount),"
                + "\"median_ms\":\(String(format: "%.3f", t.median)),\"min_ms\":\(String(format: "%.3f", t.min)),"
                + "\"runs\":\(t.runs),\"gflops\":\(String(format: "%.2f", gflops)),\"flop\":\(flops),\"isa\":\"\(isa)\""
                + (peak.map { ",\"peak_gflops\":\(String(format: "%.2f", $0)),\"peak_fraction\":\(String(format: "%.4f", gflops / $0))" } ?? "") + Bench.lastActivityJSON + "}")
        } else {
          print(pad(name, 12) + lpad(String(format: "%.3f", t.median), 11) + lpad(String(format: "%.3f", t.min), 10)
                + lpad(String(format: "%.1f", gflops), 10) + (peak.map { lpad(String(format: "%.1f", 100 * gflops / $0), 8) } ?? "") + "  " + memory)
        }
        fflush(nil)
      }
    }
  }
}
