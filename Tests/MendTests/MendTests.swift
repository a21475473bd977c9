import Foundation
import Mend
import XCTest

/// A smooth, seeded RGB test picture (no file needed).
func picture(width: Int, height: Int, seed: Float = 0) -> Image {
  var data = [Float](repeating: 0, count: 3 * width * height)
  for c in 0..<3 {
    for y in 0..<height {
      for x in 0..<width {
        let v = 0.5 + 0.4 * sin(Float(x) * 0.21 + Float(c) + seed) * cos(Float(y) * 0.17 - seed)
        data[(c * height + y) * width + x] = v
      }
    }
  }
  return Image(width: width, height: height, channels: 3, data: data)
}

/// Collects progress reports from any thread.
final class ProgressLog: @unchecked Sendable {
  private let lock = NSLock()
  private var items: [MendProgress] = []
  func append(_ p: MendProgress) { lock.lock(); items.append(p); lock.unlock() }
  var all: [MendProgress] { lock.lock(); defer { lock.unlock() }; return items }
}

final class MendTests: XCTestCase {
  // One Mender for the suite: models load once.
  nonisolated(unsafe) static var shared: Mender?

  func mender() throws -> Mender {
    if let m = Self.shared { return m }
    let m = try Mender(device: .cpu)
    Self.shared = m
    return m
  }

  func testInpaintFewIterationsLowersTheLossAndReportsProgress() throws {
    let image = picture(width: 64, height: 64)
    let mask = Mask.center(width: 64, height: 64, fraction: 0.4)
    let log = ProgressLog()
    let options = InpaintOptions(iterations: 30, starts: 2, blend: .alpha)
    let r = try mender().inpaint(image, mask: mask, options: options, progress: log.append)
    XCTAssertEqual([r.image.width, r.image.height, r.image.channels], [64, 64, 3])
    XCTAssertEqual(r.latent.count, 100)
    XCTAssertLessThan(r.totalLoss, r.initialTotalLoss, "30 Adam steps should lower the winner's loss")
    // Two starts, default average (4): the fill is the mean of both.
    XCTAssertEqual(options.average, 4)
    XCTAssertEqual(r.candidates.count, 2)
    for j in stride(from: 0, to: 3 * 64 * 64, by: 97) {
      // (a + b)·0.5 in Float is exact up to one rounding: 1e-6 is a few ulps of values ≤ 1.
      XCTAssertEqual(r.generated.data[j], (r.candidates[0].data[j] + r.candidates[1].data[j]) / 2, accuracy: 1e-6)
    }
    // Alpha blending: known pixels are the input's, hole pixels the generator's.
    for i in 0..<(64 * 64) {
      for c in 0..<3 {
        let j = c * 64 * 64 + i
        XCTAssertEqual(r.image.data[j], mask.missing[i] ? r.generated.data[j] : image.data[j])
      }
    }
    let reports = log.all
    // Losses are read back every `InpaintConfig.logEvery` (25) iterations, and at the end.
    XCTAssertEqual(reports.map(\.completed), [25, 30])
    XCTAssert(reports.allSatisfy { $0.stage == .inpaint && $0.total == 30 && $0.loss != nil })
    XCTAssertEqual(reports.last?.loss ?? .nan, r.totalLoss, accuracy: 1e-6)

    // The same seed and options give the same result (the cached plan is reset between runs).
    let again = try mender().inpaint(image, mask: mask, options: options)
    XCTAssertEqual(again.latent, r.latent)
    XCTAssertEqual(again.image, r.image)
  }

  func testInpaintBatchMatchesSingleImages() throws {
    let images = [picture(width: 64, height: 64), picture(width: 64, height: 64, seed: 1.3)]
    let masks = [Mask.center(width: 64, height: 64), Mask.half(width: 64, height: 64, side: .left)]
    let options = InpaintOptions(iterations: 5, starts: 2)
    let batch = try mender().inpaint(images, masks: masks, options: options)
    XCTAssertEqual(batch.count, 2)
    // The batch's starting latents are drawn in order from one seed, so the first image starts
    // where a single-image call starts.
    let single = try mender().inpaint(images[0], mask: masks[0], options: options)
    XCTAssertEqual(batch[0].bestStart, single.bestStart)
    for (a, b) in zip(batch[0].latent, single.latent) { XCTAssertEqual(a, b, accuracy: 1e-3) }
    XCTAssertNotEqual(batch[1].latent, batch[0].latent)
  }

  func testUpscaleSmallImage() throws {
    let image = picture(width: 20, height: 12)
    let log = ProgressLog()
    let out = try mender().superResolve(image, progress: log.append)
    XCTAssertEqual([out.width, out.height, out.channels], [80, 48, 3])
    XCTAssert(out.data.allSatisfy { $0 >= 0 && $0 <= 1 })
    // A smooth picture upscaled stays close to its bicubic-free nearest-neighbour enlargement.
    var err: Float = 0
    for c in 0..<3 {
      for y in 0..<48 { for x in 0..<80 { err += abs(out[c, y, x] - image[c, y / 4, x / 4]) } }
    }
    XCTAssertLessThan(err / Float(out.data.count), 0.08)
    XCTAssertEqual(log.all, [MendProgress(stage: .superResolve, completed: 1, total: 1)])
    // The tensor form gives the same values; so does a tiled run (tiling is exact).
    let t = try mender().superResolve(tensor: image.data, shape: [1, 3, 12, 20])
    XCTAssertEqual(t, out.data)
  }

  func testTiledUpscaleEqualsWholeImage() throws {
    let image = picture(width: 100, height: 90, seed: 0.7)
    let whole = try mender().superResolve(image)
    let log = ProgressLog()
    let tiled = try mender().superResolve(image, options: .init(tile: 96), progress: log.append)
    XCTAssertEqual(tiled.data.count, whole.data.count)
    var worst: Float = 0
    for (a, b) in zip(tiled.data, whole.data) { worst = max(worst, abs(a - b)) }
    XCTAssertLessThan(worst, 1e-4)  // same pixels, different GEMM shapes: rounding only
    XCTAssertGreaterThan(log.all.count, 1)
    XCTAssertEqual(log.all.last?.completed, log.all.last?.total)
  }

  func testCancellationFromProgressStopsTheRun() throws {
    let token = CancellationToken()
    let log = ProgressLog()
    let start = Date()
    XCTAssertThrowsError(
      try mender().inpaint(
        picture(width: 64, height: 64), mask: .center(width: 64, height: 64),
        options: InpaintOptions(iterations: 5000, starts: 4),
        progress: { p in
          log.append(p)
          if p.completed >= 50 { token.cancel() }
        }, cancellation: token)
    ) { error in
      XCTAssertEqual(error as? MendError, .cancelled)
      XCTAssertEqual("\(error)", "cancelled")
    }
    XCTAssertEqual(log.all.last?.completed, 50, "no progress after the cancel")
    XCTAssertLessThan(Date().timeIntervalSince(start), 60)
    // The Mender stays usable; a cancelled token stops a run before it starts.
    XCTAssertNoThrow(
      try mender().inpaint(
        picture(width: 64, height: 64), mask: .center(width: 64, height: 64),
        options: InpaintOptions(iterations: 2, starts: 1)))
    XCTAssertThrowsError(try mender().superResolve(picture(width: 8, height: 8), cancellation: token)) {
      XCTAssertEqual($0 as? MendError, .cancelled)
    }
  }

  func testTaskCancellationStopsAsyncRun() async throws {
    let m = try mender()
    let log = ProgressLog()
    let task = Task {
      try await m.inpaint(
        picture(width: 64, height: 64), mask: .center(width: 64, height: 64),
        options: InpaintOptions(iterations: 5000, starts: 4), progress: log.append)
    }
    while log.all.isEmpty { try await Task.sleep(nanoseconds: 10_000_000) }
    task.cancel()
    do {
      _ = try await task.value
      XCTFail("the run finished although its task was cancelled")
    } catch {
      XCTAssertEqual(error as? MendError, .cancelled)
    }
    XCTAssertLessThan(log.all.last?.completed ?? 5000, 5000)
  }

  func testCompleteChangesOnlyTheHole() throws {
    let image = picture(width: 96, height: 80, seed: 2)
    var mask = Mask(width: 96, height: 80)
    for y in 30..<50 { for x in 40..<60 { mask[x, y] = true } }
    let log = ProgressLog()
    let r = try mender().complete(
      image, mask: mask, options: CompletionOptions(inpaint: InpaintOptions(iterations: 10, starts: 1)),
      progress: log.append)
    XCTAssertEqual([r.image.width, r.image.height], [96, 80])
    let n = 96 * 80
    var changed = 0
    for c in 0..<3 {
      for i in 0..<n {
        if mask.missing[i] {
          changed += r.image.data[c * n + i] != image.data[c * n + i] ? 1 : 0
        } else {
          XCTAssertEqual(r.image.data[c * n + i], image.data[c * n + i])
        }
      }
    }
    XCTAssertGreaterThan(changed, 0)
    XCTAssertEqual([r.superResolved.width, r.superResolved.height], [256, 256])
    // No face in a smooth pattern: the default window (the whole image), after looking twice.
    XCTAssertEqual(r.framing, faceCascadeAvailable ? .noFace : .off)
    XCTAssert(r.window == (0, 0, 96, 80))
    var stages: [MendProgress.Stage] = []
    for p in log.all where stages.last != p.stage { stages.append(p.stage) }
    XCTAssertEqual(stages, [.inpaint, .superResolve, .merge])
  }

  /// The face cascade ships in Debian's opencv-data (Tools/setup.sh installs it).
  var faceCascadeAvailable: Bool {
    FileManager.default.fileExists(atPath: "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml")
  }

  func testCompleteFramesTheFace() throws {
    if !faceCascadeAvailable {
      if ProcessInfo.processInfo.environment["CI"] == "true" { return XCTFail("opencv-data's face cascade is missing") }
      throw XCTSkip("no face cascade (apt install opencv-data)")
    }
    // The astronaut (public domain) shrunk to 102 px at (120, 48) on a 256×256 gray canvas; OpenCV
    // finds her face at 58×58 near (123, 68). The hole covers the mouth, so the eyes stay visible.
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let (image, _) = try ImageFile.read(root.appendingPathComponent("Tests/FaceDetectionTests/Fixtures/astronaut-canvas.png"))
    var mask = Mask(width: image.width, height: image.height)
    for y in 112..<126 { for x in 140..<164 { mask[x, y] = true } }
    let options = CompletionOptions(inpaint: InpaintOptions(iterations: 2, starts: 1))
    let r = try mender().complete(image, mask: mask, options: options)
    guard case .face(let fx, let fy, let fw, let fh) = r.framing else { return XCTFail("no face framed: \(r.framing)") }
    // On the clean canvas OpenCV's box is 58 px; with the mouth filled and minNeighbors 2 the
    // largest grouped box may be larger (measured 73), but it must be this face, not the canvas.
    XCTAssert(
      (50...80).contains(fw) && (100...150).contains(fx + fw / 2) && (60...120).contains(fy + fh / 2),
      "face box \(fw) at (\(fx), \(fy))")
    XCTAssertEqual(fw, fh)
    // The window frames the face as the generator's training crops do: side = box / 0.80, centred
    // on the box (0.01 of a side higher), and holds the hole.
    let w = r.window
    XCTAssertEqual(w.width, w.height)
    XCTAssertEqual(Double(w.width), Double(fw) / 0.8, accuracy: 1.5)
    XCTAssertEqual(Double(w.x) + Double(w.width) / 2, Double(fx) + Double(fw) / 2, accuracy: 1.5)
    XCTAssertEqual(Double(w.y) + Double(w.height) / 2, Double(fy) + Double(fh) / 2 - 0.01 * Double(w.height), accuracy: 1.5)
    XCTAssert(w.x <= 140 && w.y <= 112 && w.x + w.width >= 164 && w.y + w.height >= 126)
    // Known pixels are untouched outside the hole.
    let n = image.width * image.height
    for c in 0..<3 { for i in 0..<n where !mask.missing[i] { XCTAssertEqual(r.image.data[c * n + i], image.data[c * n + i]) } }
    // Framing off: the whole 256×256 image is the window.
    let off = try mender().complete(image, mask: mask, options: CompletionOptions(inpaint: options.inpaint, frameFace: false))
    XCTAssertEqual(off.framing, .off)
    XCTAssert(off.window == (0, 0, 256, 256))
  }

  func testClearErrors() throws {
    XCTAssertThrowsError(try mender().inpaint(picture(width: 32, height: 32), mask: .center(width: 32, height: 32))) {
      guard case .invalidArgument(let s)? = $0 as? MendError else { return XCTFail("\($0)") }
      XCTAssert(s.contains("64×64"))
    }
    XCTAssertThrowsError(
      try mender().inpaint(
        picture(width: 64, height: 64), mask: .center(width: 64, height: 64),
        options: InpaintOptions(window: 4))
    ) {
      XCTAssertEqual($0 as? MendError, .invalidArgument("window must be odd, 1…63"))
    }
    let empty = FileManager.default.temporaryDirectory.appendingPathComponent("mend-no-weights-\(getpid())")
    let bare = try Mender(device: .cpu, weightsDirectory: empty)
    XCTAssertThrowsError(try bare.superResolve(picture(width: 8, height: 8))) {
      guard case .missingWeights(let s)? = $0 as? MendError else { return XCTFail("\($0)") }
      XCTAssert(s.contains("srresnet-x4.safetensors"))
    }
  }

  func testFaceModelsLoadTheirOwnWeights() throws {
    // Both face models ship (Tools/fetch-weights installs them); each inpaints with its own
    // generator, so the same latents give different faces.
    let image = picture(width: 64, height: 64, seed: 1)
    let mask = Mask.center(width: 64, height: 64, fraction: 0.4)
    var options = InpaintOptions(iterations: 0, starts: 1, blend: .alpha)
    XCTAssertEqual(options.faceModel, .photo, "the default face model (the better one on real faces)")
    options.faceModel = .synthetic
    let synthetic = try mender().inpaint(image, mask: mask, options: options)
    options.faceModel = .photo
    let photo = try mender().inpaint(image, mask: mask, options: options)
    XCTAssertEqual(synthetic.latent, photo.latent, "the same seed draws the same starting latents")
    XCTAssertNotEqual(synthetic.generated, photo.generated)
    // A weights folder without the photo model: a clear error naming the missing file.
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mend-synthetic-only-\(getpid())")
    try? FileManager.default.removeItem(at: dir)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let installed = try mender().weightsDirectory
    for f in [FaceModel.synthetic.generatorFile, FaceModel.synthetic.discriminatorFile] {
      try FileManager.default.createSymbolicLink(
        at: dir.appendingPathComponent(f), withDestinationURL: installed.appendingPathComponent(f))
    }
    let partial = try Mender(device: .cpu, weightsDirectory: dir)
    var syntheticOnly = InpaintOptions(iterations: 0, starts: 1)
    syntheticOnly.faceModel = .synthetic
    XCTAssertNoThrow(try partial.inpaint(image, mask: mask, options: syntheticOnly))
    XCTAssertThrowsError(try partial.inpaint(image, mask: mask, options: options)) {
      guard case .missingWeights(let s)? = $0 as? MendError else { return XCTFail("\($0)") }
      XCTAssert(s.contains(FaceModel.photo.generatorFile), s)
    }
  }

  func testDeviceSelectionParsing() throws {
    XCTAssertEqual(try DeviceSelection(parsing: "AUTO"), .auto)
    XCTAssertEqual(try DeviceSelection(parsing: "cpu"), .cpu)
    XCTAssertEqual(try DeviceSelection(parsing: "opencl"), .openCL(index: 0))
    XCTAssertEqual(try DeviceSelection(parsing: "opencl:2"), .openCL(index: 2))
    XCTAssertEqual(try DeviceSelection(parsing: "opencl:PoCL"), .openCLNamed("PoCL"))
    XCTAssertThrowsError(try DeviceSelection(parsing: "gpu"))
    XCTAssertThrowsError(try DeviceSelection(parsing: "opencl:"))
    XCTAssertThrowsError(try DeviceSelection(parsing: "opencl:-1"))
    XCTAssertEqual(try DeviceSelection.cpu.makeDevice(threads: 1).name, "cpu")
  }

  func testTensorShapes() throws {
    XCTAssertEqual(try Image(tensor: [Float](repeating: 0, count: 12), shape: [1, 3, 2, 2]).tensorShape, [3, 2, 2])
    XCTAssertThrowsError(try Image(tensor: [0, 0], shape: [3, 2, 2]))
    let m = try Mask(tensor: [0, 1, 0, 0, 0, 1], shape: [1, 1, 2, 3])
    XCTAssertEqual([m.width, m.height, m.holeCount], [3, 2, 2])
  }
}
