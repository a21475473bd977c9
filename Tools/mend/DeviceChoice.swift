import Compute
import Foundation
import Mend

/// Turns a `--device` spec into a device through the library's `DeviceSelection` (auto prefers an
/// OpenCL GPU, else the CPU; a broken OpenCL installation falls back to the CPU with a notice).
enum DeviceChoice {
  static func make(_ spec: String, threads: Int, notice: Bool) throws -> Device {
    try DeviceSelection(parsing: spec).makeDevice(threads: threads) { message in
      if notice { note(message) }
    }
  }

  static func note(_ message: String) {
    standardError.write(Data("mend: note: \(message)\n".utf8))
  }
}
