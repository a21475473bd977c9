import ArgumentParser
import Batching
import Foundation
import Imaging

/// Output, folder-run and report options shared by `superres`, `inpaint` and `complete`.
struct RunOptions: ParsableArguments {
  @Option(help: "JPEG/WebP output quality, 1…100 (WebP at 100 is lossless).") var quality: Int = ImageFile.defaultQuality
  @Option(help: "Folder runs: output format png, jpg or webp (default: each input's own extension).") var format: String?
  @Flag(help: "Folder runs: redo images whose output already exists (by default they are skipped, so an interrupted run resumes). Any run: allow -o to overwrite the input.")
  var force = false
  @Option(help: ArgumentHelp(
    "Folder runs: process only shard I of N (I/N, 0-based), or auto.",
    discussion: "File i of the name-sorted list goes to shard i mod N. auto takes the rank from a Slurm array task (SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT), and within it from Open MPI (OMPI_COMM_WORLD_RANK/SIZE), PMI (PMI_RANK/SIZE) or Slurm tasks (SLURM_PROCID/SLURM_NTASKS).",
    valueName: "I/N|auto"))
  var shard: String?
  @Option(help: "Write one JSON object per image (JSON Lines): input, output, width, height, device, seconds, status (ok, skipped, error) and message; for inpaint/complete the chosen start's initial_loss and final_loss.")
  var report: String?
}

/// One image of a run.
struct Job {
  let input: URL
  let output: URL
  /// The per-image mask file of a folder run (`--masks DIR`, matched by stem).
  var mask: URL? = nil
}

/// What a command tells the report about one image.
struct JobInfo {
  var width: Int? = nil, height: Int? = nil
  var initialLoss: Float? = nil, finalLoss: Float? = nil
}

/// The list of jobs: one file, or every image of a folder (sorted by name, sharded).
struct RunPlan {
  let jobs: [Job]
  let folder: Bool
  let total: Int

  /// `input` a file: one job writing `output` (format from its extension). `input` a folder:
  /// `output` is a folder (created), each image's output `STEM.EXT` there.
  static func make(input: String, output: String, masks: String? = nil, options: RunOptions) throws -> RunPlan {
    guard (1...100).contains(options.quality) else { throw ValidationError("--quality must be 1…100") }
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: input, isDirectory: &isDir) else {
      throw ValidationError("\(input): no such file or folder")
    }
    if !isDir.boolValue {
      if options.format != nil { throw ValidationError("--format is for folder runs; name the output with the extension you want") }
      if options.shard != nil { throw ValidationError("--shard is for folder runs") }
      if masks != nil { throw ValidationError("--masks is for folder runs; pass --mask FILE") }
      _ = try ImageFormat(url: fileURL(output))
      if !options.force && sameFile(input, output) {
        throw ValidationError("-o \(output) is the input: pass --force to overwrite it")
      }
      return RunPlan(jobs: [Job(input: fileURL(input), output: fileURL(output))], folder: false, total: 1)
    }
    var ext: String? = nil
    if let f = options.format { ext = try ImageFormat(extension: f).fileExtension }
    let all = try BatchFiles.list(fileURL(input))
    guard !all.isEmpty else { throw ValidationError("\(input) holds no .png, .jpg, .jpeg or .webp files") }
    try BatchFiles.checkDistinctStems(all)
    let shard = try options.shard.map { try Shard.parse($0) } ?? .all
    let mine = shard.select(all)
    let outDir = fileURL(output)
    var outIsDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: output, isDirectory: &outIsDir), !outIsDir.boolValue {
      throw ValidationError("\(input) is a folder, so -o must be a folder too; \(output) is a file")
    }
    try AtomicFile.createDirectories(outDir)  // "cannot create …: <the system's reason>"
    removeStaleTemporaries(in: outDir)
    let maskFiles = try masks.map { try BatchFiles.masks(for: mine, in: fileURL($0)) } ?? mine.map { _ in nil }
    precondition(mine.count == maskFiles.count)
    let jobs = zip(mine, maskFiles).map { Job(input: $0, output: BatchFiles.output(for: $0, in: outDir, extension: ext), mask: $1) }
    if !options.force, let j = jobs.first(where: { sameFile($0.input.path, $0.output.path) }) {
      throw ValidationError("\(j.output.path) would overwrite its input: write to another folder or pass --force")
    }
    if shard.count > 1 {
      note("shard \(shard): \(jobs.count) of \(all.count) images")
    }
    return RunPlan(jobs: jobs, folder: true, total: all.count)
  }
}

/// Temporary files (`.NAME.mend-PID-N.tmp`, see AtomicFile) left in `dir` by a mend process that was
/// killed mid-write (SIGKILL, power loss): removed when that process no longer runs, so that a
/// resumed folder run leaves only complete outputs.
func removeStaleTemporaries(in dir: URL) {
  guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return }
  for name in names where name.hasPrefix(".") && name.hasSuffix(".tmp") {
    guard let r = name.range(of: ".mend-", options: .backwards),
          let pid = Int32(name[r.upperBound...].prefix { $0.isNumber }) else { continue }
    if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH {
      unlink(dir.appendingPathComponent(name).path)
    }
  }
}

/// Whether two paths name the same existing file (same device and inode: symbolic links, `./` and
/// hard links included).
func sameFile(_ a: String, _ b: String) -> Bool {
  var sa = stat(), sb = stat()
  guard stat(a, &sa) == 0, stat(b, &sb) == 0 else { return false }
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
}

func note(_ s: String) { standardError.write(Data("mend: note: \(s)\n".utf8)) }

/// JSON Lines report, one line per image, flushed as it goes (an interrupted run keeps its lines).
final class Report {
  let handle: FileHandle?

  init(_ path: String?) throws {
    guard let path else { handle = nil; return }
    guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
      throw ValidationError("cannot write the report \(path)")
    }
    handle = h
  }

  struct Line: Encodable {
    let input: String, output: String
    let width: Int?, height: Int?
    let device: String
    let seconds: Double
    let status: String
    let message: String?
    let initial_loss: Float?, final_loss: Float?
  }

  func add(_ job: Job, _ info: JobInfo, device: String, seconds: Double, status: String, message: String? = nil) {
    guard let handle else { return }
    let line = Line(input: job.input.path, output: job.output.path, width: info.width, height: info.height, device: device,
                    seconds: (seconds * 1000).rounded() / 1000, status: status, message: message,
                    initial_loss: info.initialLoss, final_loss: info.finalLoss)
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    guard let data = try? enc.encode(line) else { return }
    handle.write(data + [10])
  }
}

/// Runs `body` on every job: one progress line with ETA over the set, outputs that exist skipped
/// unless `--force`, a failing image reported on stderr and skipped, and at the end a non-zero exit
/// if any failed. A single-file run stops at its error (one `mend: error:` line).
func runJobs(_ plan: RunPlan, options: RunOptions, label: String, device: String,
             _ body: (Job, inout JobInfo) throws -> Void) throws {
  let report = try Report(options.report)
  let progress = Progress(label: "\(label) on \(device):")
  var failed = 0, skipped = 0, done = 0
  for job in plan.jobs {
    var info = JobInfo()
    if plan.folder && !options.force && FileManager.default.fileExists(atPath: job.output.path) {
      report.add(job, info, device: device, seconds: 0, status: "skipped", message: "output exists (--force redoes it)")
      skipped += 1
    } else {
      let start = Date()
      do {
        try body(job, &info)
        report.add(job, info, device: device, seconds: Date().timeIntervalSince(start), status: "ok")
      } catch {
        var message = "\(error)"
        if let e = error as? ValidationError { message = e.message }
        report.add(job, info, device: device, seconds: Date().timeIntervalSince(start), status: "error", message: message)
        guard plan.folder else { throw error }
        if !message.contains(job.input.lastPathComponent) { message = "\(job.input.lastPathComponent): \(message)" }
        // A full, over-quota or read-only output disk fails every image after this one too: stop
        // now (one line) rather than compute the rest for nothing. Images written so far stay; a
        // rerun once there is space skips them.
        if let e = error as? ImageError, e.isOutputDiskFailure {
          let left = plan.jobs.count - done - 1
          Mend.fail("\(message) (stopped: \(done - skipped - failed) written, \(skipped) skipped, \(failed) failed before it, \(left) not started)")
        }
        standardError.write(Data("mend: failed: \(Mend.oneLine(message))\n".utf8))
        failed += 1
      }
    }
    done += 1
    if plan.folder { progress.update(done, plan.jobs.count, failed > 0 ? "(\(failed) failed)" : "") }
  }
  if plan.folder {
    standardError.write(Data("\(label): \(done - skipped - failed) written, \(skipped) skipped (output exists), \(failed) failed\n".utf8))
    if failed > 0 { Mend.fail("\(failed) of \(plan.jobs.count) images failed (see above)") }
  }
}

/// Tells once per run that JPEG output drops alpha.
final class AlphaNotice: @unchecked Sendable {
  static let shared = AlphaNotice()
  private var told = false
  func tell() {
    guard !told else { return }
    told = true
    note("JPEG has no alpha channel: the input's alpha is dropped (write .png or .webp to keep it)")
  }
}

/// Writes an output image (atomically; format from the extension), with alpha where the format has it.
func writeOutput(_ rgb: Image, alpha: Image?, to url: URL, quality: Int, staged: StagedFiles? = nil) throws {
  let format = try ImageFormat(url: url)
  if alpha != nil && !format.hasAlpha { AlphaNotice.shared.tell() }
  guard let staged else { return try ImageFile.write(rgb, alpha: format.hasAlpha ? alpha : nil, to: url, quality: quality) }
  try staged.add(ImageFile.encode(rgb, alpha: format.hasAlpha ? alpha : nil, format: format, quality: quality), to: url)
}

/// An image for a side output (--grid and the like), staged with the run's other outputs.
func stageImage(_ im: Image, to url: URL, _ staged: StagedFiles) throws {
  try staged.add(ImageFile.encode(im, format: ImageFormat(url: url)), to: url)
}

/// The alpha written back after inpainting: the input's alpha, with the filled pixels made opaque
/// when the hole came from the alpha channel itself.
func filledAlpha(_ alpha: Image?, missing: [Bool], holeFromAlpha: Bool) -> Image? {
  guard var a = alpha else { return nil }
  if holeFromAlpha { for i in missing.indices where missing[i] { a.data[i] = 1 } }
  return a
}
