import ArgumentParser
import Compute
import ComputeCheck
import Foundation

struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench", abstract: "Benchmarks: median and min of repeated runs after warm-up.",
    subcommands: [BenchOps.self, BenchModels.self])
}

struct BenchOps: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ops",
    abstract: "Time every op case (model-sized batches) on a device: ms, GFLOP/s, GB/s.")

  @OptionGroup var deviceOptions: DeviceOptions

  @Option(help: "Only cases whose name contains this text.")
  var filter: String?

  @Option(help: "Seconds of timed runs per case (after 2 warm-up runs; at least 5 runs).")
  var budget: Double = 1.0

  @Flag(help: "One JSON object per line instead of a table.")
  var json = false

  func run() throws {
    let device = deviceOptions.makeDevice()
    let peak = Bench.peak(of: device)
    if !json {
      print("# device: \(device.summary)")
      if let peak { print("# FMA peak (\(Bench.isa(of: device)) kernels, \(device.threadCount) threads, register-only probe): " + String(format: "%.1f GFLOP/s", peak)) }
      print(pad("case", 36) + pad("op", 20) + lpad("median ms", 11) + lpad("min ms", 10) + lpad("GFLOP/s", 10)
            + lpad("GB/s", 9) + (peak == nil ? "" : lpad("% peak", 8)))
    }
    var skipped: [String] = []
    for c in OpCases.all(.bench) where filter.map({ c.name.contains($0) }) ?? true {
      guard device.supports(c.op) else {
        skipped.append(c.name)
        continue
      }
      do {
        let r = try Bench.run(c, on: device, budget: budget, peak: peak)
        if json { print(r.json) } else {
          print(pad(r.name, 36) + pad(r.kind, 20) + lpad(String(format: "%.3f", r.medianMs), 11)
                + lpad(String(format: "%.3f", r.minMs), 10) + lpad(String(format: "%.1f", r.gflops), 10)
                + lpad(String(format: "%.2f", r.gbps), 9) + (peak.map { lpad(String(format: "%.1f", 100 * r.gflops / $0), 8) } ?? ""))
        }
        fflush(nil)
      } catch {
        Mend.fail("\(c.name): \(error)")
      }
    }
    if !skipped.isEmpty && !json {
      print("# not supported on \(device.name) (not timed): \(skipped.joined(separator: ", "))")
    }
  }
}

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? " " + s : String(repeating: " ", count: n - s.count) + s }
