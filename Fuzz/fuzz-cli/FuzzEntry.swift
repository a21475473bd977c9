import ArgumentParser
import Foundation
import Imaging

// libFuzzer target: the CLI from arguments to a plan. The input bytes are split at NUL into at most
// 24 arguments; they are parsed and validated as `mend` would (ArgumentParser, the commands'
// validate()), the error text is formatted, and for superres/inpaint/complete the run plan (file or
// folder, output format, quality, shard) and the built-in mask are made — inside a sandbox folder
// holding one small image and a folder of two. Nothing runs a model. A parse either succeeds or
// gives a message; nothing may trap. (The sources of `mend` are linked into Fuzz/fuzz-cli/mend by
// Tools/fuzz.sh.)

let sandbox: URL = {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mend-fuzz-cli-\(getpid())")
  try? FileManager.default.createDirectory(at: dir.appendingPathComponent("imgs"), withIntermediateDirectories: true)
  let im = Image(width: 8, height: 8, channels: 3, fill: 0.5)
  for p in ["in.png", "imgs/a.png", "imgs/b.jpg", "mask.png"] { try? ImageFile.write(im, to: dir.appendingPathComponent(p)) }
  FileManager.default.changeCurrentDirectoryPath(dir.path)
  return dir
}()

/// Paths the plan may create folders at: relative, inside the sandbox.
func contained(_ p: String) -> Bool { !p.hasPrefix("/") && !p.contains("..") && !p.hasPrefix("~") && p.utf8.count < 64 }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  _ = sandbox
  let buf = bytes.map { UnsafeBufferPointer(start: $0, count: size) } ?? UnsafeBufferPointer(start: nil, count: 0)
  let args = buf.split(separator: 0, maxSplits: 24, omittingEmptySubsequences: false).prefix(24)
    .map { String(decoding: $0, as: UTF8.self) }
  do {
    let command = try Mend.parseAsRoot(args)
    func plan(_ input: String, _ output: String, _ masks: String?, _ options: RunOptions) {
      guard contained(input), contained(output), masks.map(contained) ?? true else { return }
      do { _ = try RunPlan.make(input: input, output: output, masks: masks, options: options) } catch { oneLine(error) }
    }
    func mask(_ m: MaskOptions) {
      do { _ = try m.builtIn(64, 64) } catch { oneLine(error) }
    }
    switch command {
    case let c as SuperRes: plan(c.input, c.output, nil, c.runOptions)
    case let c as Inpaint: plan(c.input, c.output, c.masks, c.runOptions); mask(c.maskOptions)
    case let c as Complete: plan(c.input, c.output, c.masks, c.runOptions); mask(c.maskOptions)
    default: break
    }
  } catch {
    let message = Mend.message(for: error)
    _ = Mend.fullMessage(for: error)
    let code = Mend.exitCode(for: error)
    if code != .success { precondition(!message.isEmpty, "an error without a message: \(args)") }
  }
  return 0
}

/// What `Mend.fail` prints must be one line.
func oneLine(_ error: Error) {
  let s = Mend.oneLine("\(error)")
  precondition(!s.isEmpty && !s.contains("\n"), "error is not one line: \(s)")
}
