import Foundation
import XCTest

/// End-to-end checks of the `mend` binary built next to the tests: bad input gives one line on
/// stderr, a non-zero status, and no output file.
final class CLITests: XCTestCase {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  var binary: URL {
    get throws {
      for config in ["release", "debug"] {
        let u = Self.root.appendingPathComponent(".build/\(config)/mend")
        if FileManager.default.isExecutableFile(atPath: u.path) { return u }
      }
      throw XCTSkip("mend binary not built")
    }
  }

  func run(_ args: [String], environment: [String: String]? = nil) throws -> (status: Int32, stderr: String) {
    let p = Process()
    p.executableURL = try binary
    p.arguments = args
    if let environment { p.environment = environment }
    let err = Pipe()
    p.standardError = err
    p.standardOutput = Pipe()
    try p.run()
    let data = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  func tmp(_ name: String) -> String { FileManager.default.temporaryDirectory.appendingPathComponent("mend-cli-\(getpid())-\(name)").path }

  func assertFails(_ args: [String], mentions: String, output: String? = nil, environment: [String: String]? = nil,
                   file: StaticString = #filePath, line: UInt = #line) throws {
    let (status, stderr) = try run(args, environment: environment)
    XCTAssertNotEqual(status, 0, "\(args) should fail", file: file, line: line)
    let lines = stderr.split(separator: "\n").filter { $0.hasPrefix("mend: error:") }
    XCTAssertEqual(lines.count, 1, "one error line expected, got: \(stderr)", file: file, line: line)
    XCTAssert(stderr.contains(mentions), "\(stderr) should mention \(mentions)", file: file, line: line)
    XCTAssertFalse(stderr.contains("Fatal error"), "crashed: \(stderr)", file: file, line: line)
    if let output { XCTAssertFalse(FileManager.default.fileExists(atPath: output), "partial output left: \(output)", file: file, line: line) }
  }

  func testBadInputsFailCleanly() throws {
    let fixtures = Self.root.appendingPathComponent("Tests/ImagingTests/Fixtures")
    let face = Self.root.appendingPathComponent("docs/example/astronaut-face.png").path
    let out = tmp("out.png")
    try assertFails(["superres", fixtures.appendingPathComponent("truncated.png").path, "-o", out], mentions: "truncated", output: out)
    try assertFails(["superres", fixtures.appendingPathComponent("huge.png").path, "-o", out], mentions: "exceeds the limit", output: out)
    try assertFails(["complete", face, "--mask", fixtures.appendingPathComponent("rgb8.png").path, "-o", out],
                    mentions: "5×3 but the image is 150×150", output: out)
    try assertFails(["complete", face, "-o", out], mentions: "no mask", output: out)
    try assertFails(["inpaint", face, "--mask-type", "center", "-o", out], mentions: "64×64", output: out)
    try assertFails(["generate", "--seed", "1", "-o", out, "--device", "tpu"], mentions: "unknown device", output: out)
    try assertFails(["generate", "--seed", "1", "-o", out, "--weights", "/nonexistent"], mentions: "fetch-weights", output: out)
    let broken = tmp("broken")
    try FileManager.default.createDirectory(atPath: broken, withIntermediateDirectories: true)
    try Data("not safetensors".utf8).write(to: URL(fileURLWithPath: broken).appendingPathComponent("dcgan-face-G.safetensors"))
    try assertFails(["generate", "--seed", "1", "-o", out, "--weights", broken], mentions: "not a valid safetensors", output: out)
    try assertFails(["generate", "--seed", "1", "-o", "/nonexistent-dir/x.png"], mentions: "cannot write")
  }

  func testGenerateWritesAPNG() throws {
    let out = tmp("faces.png")
    defer { try? FileManager.default.removeItem(atPath: out) }
    let (status, stderr) = try run(["generate", "--seed", "3", "--count", "4", "-o", out])
    XCTAssertEqual(status, 0, stderr)
    let data = try Data(contentsOf: URL(fileURLWithPath: out))
    XCTAssertEqual(Array(data.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
  }

  /// `mend train srgan --stage 2` end to end on a tiny run: checkpoint, log, sample picture and
  /// both networks written; `--resume` continues the log; bad options are one-line errors.
  func testTrainSRGANStage2WritesEverythingAndResumes() throws {
    let data = tmp("srdata"), out = tmp("srout")
    try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: data); try? FileManager.default.removeItem(atPath: out) }
    try FileManager.default.copyItem(atPath: Self.root.appendingPathComponent("docs/example/astronaut-face.png").path,
                                     toPath: data + "/face.png")
    let common = ["train", "srgan", "--stage", "2", "--data", data, "--out", out, "--batch", "2", "--crop", "32",
                  "--discriminator", "none", "--checkpoint-every", "2", "--lr", "1e-5"]
    var (status, stderr) = try run(common + ["--steps", "2"])
    XCTAssertEqual(status, 0, stderr)
    for f in ["checkpoint.safetensors", "log.csv", "samples-000002.png", "srgan.safetensors", "discriminator.safetensors"] {
      XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + f), f)
    }
    (status, stderr) = try run(common + ["--steps", "3", "--resume"])
    XCTAssertEqual(status, 0, stderr)
    let log = try String(contentsOfFile: out + "/log.csv", encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(log.first, "step,content,adversarial,loss_d,d_real,d_fake,val_psnr_y")
    XCTAssertEqual(log.compactMap { $0.split(separator: ",").first.flatMap { Int($0) } }, [1, 2, 3])
    try assertFails(["train", "srgan", "--data", data, "--out", out, "--stage", "3"], mentions: "--stage")
    try assertFails(["train", "srgan", "--data", data, "--out", out, "--stage", "2", "--crop", "32"], mentions: "96")
    try assertFails(["train", "srgan", "--data", data, "--out", out, "--content", "vgg54", "--weights", tmp("noweights")],
                    mentions: "fetch-weights")
  }

  /// A shell whose `$HOME` is not the password file's home (containers, CI runners, `sudo -H`):
  /// `Tools/fetch-weights` and mend agree on the weights folder, mend finds weights placed there,
  /// and with none there it names that folder rather than another user's.
  func testWeightsFollowHOME() throws {
    let home = tmp("home")
    try? FileManager.default.removeItem(atPath: home)
    try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: home) }
    var env = ProcessInfo.processInfo.environment
    for k in ["MEND_WEIGHTS", "XDG_DATA_HOME", "XDG_CACHE_HOME", "MEND_CACHE_DIR"] { env[k] = nil }
    env["HOME"] = home

    let script = Process()
    script.executableURL = Self.root.appendingPathComponent("Tools/fetch-weights")
    script.arguments = ["--print-dir"]
    script.environment = env
    let out = Pipe()
    script.standardOutput = out
    try script.run()
    let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    script.waitUntilExit()
    XCTAssertEqual(script.terminationStatus, 0)
    XCTAssertEqual(printed, home + "/.local/share/mend/weights")

    let png = tmp("home-out.png")
    defer { try? FileManager.default.removeItem(atPath: png) }
    // No weights in the fresh home: the error names the fresh home's folder.
    try assertFails(["generate", "--seed", "1", "-o", png], mentions: printed, output: png, environment: env)

    // The weights placed where the script says: mend finds them.
    try FileManager.default.createDirectory(atPath: printed, withIntermediateDirectories: true)
    let real = ProcessInfo.processInfo.environment["MEND_WEIGHTS"].map { URL(fileURLWithPath: $0) }
      ?? URL(fileURLWithPath: NSHomeDirectory()).appendingPathComponent(".local/share/mend/weights")
    try FileManager.default.copyItem(at: real.appendingPathComponent("dcgan-face-G.safetensors"),
                                     to: URL(fileURLWithPath: printed).appendingPathComponent("dcgan-face-G.safetensors"))
    let (status, stderr) = try run(["generate", "--seed", "1", "-o", png], environment: env)
    XCTAssertEqual(status, 0, stderr)
    XCTAssertTrue(FileManager.default.fileExists(atPath: png))
  }
}
