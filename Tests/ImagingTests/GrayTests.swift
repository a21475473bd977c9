import Imaging
import XCTest

final class GrayTests: XCTestCase {
  /// BT.601 luma by hand on two pixels; gray detection within its tolerance, on the pixels asked.
  func testLumaAndGrayDetection() {
    // Pixel 0: (1, 0, 0) → 0.299; pixel 1: (0.2, 0.4, 0.6) → 0.0598 + 0.2348 + 0.0684 = 0.363.
    let im = Image(width: 2, height: 1, channels: 3, data: [1, 0.2, 0, 0.4, 0, 0.6])
    let g = im.grayscaled()
    XCTAssertEqual(g.data.count, 6)
    for (got, want) in zip(g.data, [0.299, 0.363, 0.299, 0.363, 0.299, 0.363] as [Float]) {
      XCTAssertEqual(got, want, accuracy: 1e-6)  // float sums of three products: a few ulps
    }
    XCTAssertTrue(g.isGray(tolerance: 0))
    XCTAssertFalse(im.isGray())
    XCTAssertFalse(im.isGray(where: { $0 == 1 }))
    // Within 1.5/255 counts as gray (8-bit rounding of a gray picture); 2/255 off does not.
    let near = Image(width: 1, height: 1, channels: 3, data: [0.5, 0.5 + 1 / 255, 0.5])
    XCTAssertTrue(near.isGray())
    let off = Image(width: 1, height: 1, channels: 3, data: [0.5, 0.5 + 2 / 255, 0.5])
    XCTAssertFalse(off.isGray())
    // Only the pixels asked: a colour pixel outside them does not count.
    let mixed = Image(width: 2, height: 1, channels: 3, data: [0.3, 1, 0.3, 0, 0.3, 0])
    XCTAssertTrue(mixed.isGray(where: { $0 == 0 }))
    XCTAssertFalse(mixed.isGray())
    // NaN is never gray; a 1-channel image is not a gray RGB picture.
    XCTAssertFalse(Image(width: 1, height: 1, channels: 3, data: [.nan, .nan, .nan]).isGray())
    XCTAssertFalse(Image(width: 1, height: 1, channels: 1, data: [0.5]).isGray())
  }
}
