import XCTest

/// The model tests' own comparison (Support.swift) must be able to fail: NaN, infinities and a
/// length mismatch are +∞, never a pass.
final class SupportTests: XCTestCase {
  func testMaxAbsDiffFailsOnNaNInfinityAndLength() {
    XCTAssertEqual(maxAbsDiff([1, 2], [1, 2.25]), 0.25)
    XCTAssertFalse(maxAbsDiff([1, .nan], [1, 2]) <= 1e-3)
    XCTAssertFalse(maxAbsDiff([Float](repeating: .nan, count: 4), [0, 0, 0, 0]) <= 1e-3)
    XCTAssertFalse(maxAbsDiff([.infinity], [.infinity]) <= 1e-3)
    XCTAssertFalse(maxAbsDiff([1, 2, 3], [1, 2]) <= 1e-3)
  }
}
