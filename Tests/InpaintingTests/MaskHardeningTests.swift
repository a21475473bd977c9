import Imaging
import Inpainting
import XCTest

/// Fractions outside [0, 1] (the CLI fuzz target's `--mask-fraction 2`) would make Mask.center
/// index outside the image (a trap with checks on, memory corruption under -Ounchecked), and NaN
/// would trap in Int(_:). The CLI refuses such fractions; Mask.center itself clamps.
final class MaskHardeningTests: XCTestCase {
  func testCenterMaskClampsTheFraction() {
    for f in [2.0, 1e300, .infinity] {
      XCTAssertEqual(Mask.center(width: 64, height: 48, fraction: f).holeCount, 64 * 48, "\(f)")
    }
    XCTAssertEqual(Mask.center(width: 64, height: 48, fraction: .nan).holeCount, 64 * 48)
    XCTAssertEqual(Mask.center(width: 64, height: 48, fraction: -1).holeCount, 1)
    XCTAssertEqual(Mask.center(width: 64, height: 64, fraction: 0.5).holeCount, 32 * 32)
  }
}
