import ArgumentParser
import Foundation
import Imaging

/// --weights DIR, shared by commands that load pretrained models.
struct WeightOptions: ParsableArguments {
  @Option(help: "Folder with the .safetensors weights (default: $MEND_WEIGHTS, else ~/.local/share/mend/weights).")
  var weights: String?
}

/// Progress on stderr: one line rewritten in place on a terminal, plain lines otherwise.
struct Progress {
  let label: String
  let start = Date()
  let tty = isatty(2) != 0

  func update(_ done: Int, _ total: Int, _ extra: String = "") {
    let t = Date().timeIntervalSince(start)
    let eta = done > 0 ? t / Double(done) * Double(total - done) : 0
    let line = String(format: "%@ %d/%d  %.1fs elapsed, ETA %.1fs %@", label, done, total, t, eta, extra)
    if tty {
      standardError.write(Data("\r\(line)\u{1B}[K".utf8))
      if done == total { standardError.write(Data("\n".utf8)) }
    } else if done == total || done % max(1, total / 10) == 0 {
      standardError.write(Data("\(line)\n".utf8))
    }
  }
}

func fileURL(_ path: String) -> URL { URL(fileURLWithPath: path) }

/// Tiles images into a near-square grid.
func grid(_ images: [Image]) -> Image {
  let cols = Int(Double(images.count).squareRoot().rounded(.up))
  var rows: [Image] = []
  var i = 0
  while i < images.count {
    rows.append(Image.row(Array(images[i..<min(images.count, i + cols)])))
    i += cols
  }
  return Image.column(rows)
}

/// Runs `body`, turning any thrown error into one line on stderr and exit status 1.
func guarded(_ body: () throws -> Void) {
  do { try body() } catch let e as ExitCode { Foundation.exit(e.rawValue) } catch { Mend.fail("\(error)") }
}

/// Standard error for messages and progress. Unlike `FileHandle.standardError.write`, which traps
/// when the write fails, a failed write (a closed pipe, a full disk or a file-size limit behind
/// stderr) loses the message and mend carries on to its own error handling and exit status.
struct StandardError {
  func write(_ data: Data) {
    data.withUnsafeBytes { buf in
      guard var p = buf.baseAddress else { return }
      var left = buf.count
      while left > 0 {
        let n = Foundation.write(2, p, left)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        p += n
        left -= n
      }
    }
  }
}

let standardError = StandardError()
