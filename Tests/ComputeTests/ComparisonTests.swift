import Compute
import ComputeCheck
import XCTest

/// The comparison helpers every numerical test relies on must fail on NaN, infinities and length
/// mismatches — a helper that drops NaN (Swift.max) or truncates (zip) makes a test unable to fail.
final class ComparisonTests: XCTestCase {
  func testNMSEFailsOnNaNInfinityAndLength() {
    XCTAssertEqual(Harness.nmse([1, 2, 3], [1, 2, 3] as [Float]), 0)
    XCTAssertFalse(Harness.nmse([1, .nan, 3], [1, 2, 3] as [Float]) <= 1e-6)
    XCTAssertFalse(Harness.nmse([Float](repeating: .nan, count: 3), [1, 2, 3] as [Float]) <= 1e-6)
    XCTAssertFalse(Harness.nmse([1, .infinity, 3], [1, 2, 3] as [Float]) <= 1e-6)
    XCTAssertFalse(Harness.nmse([1, 2], [1, 2, 3] as [Float]) <= 1e-6)
    XCTAssertFalse(Harness.nmse([1, 2, 3], [1, 2] as [Float]) <= 1e-6)
  }

  func testMaxAbsDiffFailsOnNaNInfinityAndLength() {
    XCTAssertEqual(Harness.maxAbsDiff([1, 2, 3], [1, 2.5, 3]), 0.5)
    XCTAssertFalse(Harness.maxAbsDiff([1, .nan, 3], [1, 2, 3]) <= 1e-3)
    XCTAssertFalse(Harness.maxAbsDiff([.nan, .nan], [.nan, .nan]) <= 1e-3)
    XCTAssertFalse(Harness.maxAbsDiff([1, -.infinity], [1, 2]) <= 1e-3)
    XCTAssertFalse(Harness.maxAbsDiff([1, 2], [1, 2, 3]) <= 1e-3)
    XCTAssertFalse(Harness.maxAbsDiff([], [1]) <= 1e-3)
    XCTAssertEqual(Harness.maxAbs([1, -4, 2]), 4)
    XCTAssertFalse(Harness.maxAbs([1, .nan]) <= 10)
    // The pattern this replaces: `.max()` over a NaN-holding array need not see the NaN.
    XCTAssertEqual([1, Float.nan].max(), 1, "Sequence.max() drops a NaN after the first element (why the helpers exist)")
  }

  func testDirectionalErrorFailsOnNaNInfinityLengthAndLostGradients() {
    XCTAssertEqual(Harness.directionalError(numeric: 1.01, analytic: 1), 0.01, accuracy: 1e-12)
    XCTAssertEqual(Harness.directionalError(numeric: -0.99, analytic: -1), 0.01, accuracy: 1e-12)
    XCTAssertFalse(Harness.directionalError(numeric: .nan, analytic: 1) < 0.01)
    XCTAssertFalse(Harness.directionalError(numeric: 1, analytic: .nan) < 0.01)
    XCTAssertFalse(Harness.directionalError(numeric: .infinity, analytic: 1) < 0.01)
    XCTAssertFalse(Harness.directionalError(numeric: 0, analytic: 0) < 0.01, "a lost gradient (all zero) fails")
    XCTAssertEqual(Harness.directionalError(numeric: 0.01, analytic: 0, floor: 1), 0.01, accuracy: 1e-12)
    // Never NaN, so Swift.max over these values keeps a failure.
    XCTAssertEqual(max(0, Harness.directionalError(numeric: .nan, analytic: 1)), .infinity)
    XCTAssertTrue(Harness.dot([1, 2], [1, 2, 3]).isNaN, "a length mismatch must not truncate")
    XCTAssertFalse(Harness.directionalError(numeric: 5, analytic: Harness.dot([1, 2], [1, 2, 3])) < 0.01)
    XCTAssertEqual(Harness.dot([1, -2, 3], [1, 1, 0]), -1)
  }

  func testSignDirectionsFollowTheGradientsSigns() {
    var rng = SplitMix64(seed: 1)
    let g: [Float] = (0..<1000).map { Float($0 % 7) - 3 }
    let u = Harness.sparseSignDirection(g, entries: 64, rng: &rng)
    XCTAssertEqual(u.count, g.count)
    let moved = u.indices.filter { u[$0] != 0 }
    XCTAssertTrue((1...64).contains(moved.count))
    XCTAssertTrue(moved.allSatisfy { u[$0] == (g[$0] >= 0 ? 1 : -1) })
    XCTAssertEqual(Harness.dot(g, u), moved.reduce(0.0) { $0 + Double(abs(g[$1])) }, "the derivative is Σ|g_i|")
    let d = Harness.signDirection([3, -1, 0, -2])
    XCTAssertEqual(d, [0.5, -0.5, 0.5, -0.5])
  }
}
