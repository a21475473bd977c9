import Compute
import ComputeCPU
import Foundation
import Imaging
import Models
import XCTest
#if OpenCL
import ComputeOpenCL
#endif

enum Fixtures {
  static func npy(_ name: String) throws -> (values: [Float], shape: [Int]) {
    guard let url = Bundle.module.url(forResource: name, withExtension: "npy", subdirectory: "Fixtures") else {
      throw WeightsError("fixture \(name).npy missing (Tools/make-fixtures.py writes it)")
    }
    return try NPY.read(url)
  }
}

/// The pretrained weights, which Tools/test.sh fetches before the tests. Missing weights fail the
/// test (they are part of what mend ships), with the command that fixes it.
func pretrained(_ name: String) throws -> WeightSet {
  do { return try WeightStore.load(name) } catch {
    XCTFail("\(error)")
    throw error
  }
}

/// Every device the tests run on: the CPU, and each OpenCL device when built with OpenCL.
func allDevices() throws -> [Device] {
  var ds: [Device] = [CPUDevice(threads: 2)]
  // Tools/test.sh reruns these tests on each other CPU kernel level (MEND_CPU_ISA) with
  // MEND_TEST_CPU_ONLY=1: the OpenCL device already ran them once, and does not depend on it.
  if ProcessInfo.processInfo.environment["MEND_TEST_CPU_ONLY"] == "1" { return ds }
  #if OpenCL
  let n = (try? OpenCLRuntime.devices().count) ?? 0
  if n == 0 && ProcessInfo.processInfo.environment["CI"] == "true" {
    XCTFail("CI=true but no OpenCL device was found")
  }
  for i in 0..<n { ds.append(try OpenCLDevice(index: i)) }
  #endif
  return ds
}

/// Largest |a − b|; +∞ when the lengths differ or any value is NaN or infinite (Swift.max would
/// silently drop a NaN, so an all-NaN output would pass every bound).
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
  guard a.count == b.count else { return .infinity }
  var m: Float = 0
  for (x, y) in zip(a, b) {
    let d = abs(x - y)
    guard d.isFinite else { return .infinity }
    m = max(m, d)
  }
  return m
}
