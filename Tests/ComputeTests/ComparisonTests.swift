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
}
