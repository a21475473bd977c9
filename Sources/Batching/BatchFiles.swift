import Foundation

/// The files of a folder run: which inputs, where their outputs and masks are.
public enum BatchFiles {
  /// Extensions of the image files a folder run picks up (any case).
  public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg", "webp"]

  public static func isImage(_ url: URL) -> Bool { imageExtensions.contains(url.pathExtension.lowercased()) }

  /// The image files directly inside `dir` (not recursive; hidden files skipped), sorted by name
  /// (byte order, so every machine sees the same list and shards agree).
  public static func list(_ dir: URL) throws -> [URL] {
    let names: [String]
    do { names = try FileManager.default.contentsOfDirectory(atPath: dir.path) } catch {
      throw BatchError("cannot list \(dir.path): \(error.localizedDescription)")
    }
    return names.filter { !$0.hasPrefix(".") }
      .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
      .map { dir.appendingPathComponent($0) }
      .filter { isImage($0) && !isDirectory($0) }
  }

  static func isDirectory(_ url: URL) -> Bool {
    var d: ObjCBool = false
    return FileManager.default.fileExists(atPath: url.path, isDirectory: &d) && d.boolValue
  }

  /// The stem of a file name: the name without its last extension.
  public static func stem(_ url: URL) -> String { url.deletingPathExtension().lastPathComponent }

  /// `OUT_DIR/STEM.EXT`: `ext` is the output format's extension, or the input's when nil.
  public static func output(for input: URL, in dir: URL, extension ext: String?) -> URL {
    dir.appendingPathComponent(stem(input)).appendingPathExtension(ext ?? input.pathExtension)
  }

  /// Pairs each input with the mask of the same stem in `maskDir` (any image extension). Inputs
  /// without a mask map to nil; a stem with several mask files is an error (ambiguous).
  public static func masks(for inputs: [URL], in maskDir: URL) throws -> [URL?] {
    var byStem: [String: URL] = [:]
    for m in try list(maskDir) {
      let s = stem(m)
      if let other = byStem[s] {
        throw BatchError("masks \(other.lastPathComponent) and \(m.lastPathComponent) share the stem '\(s)'")
      }
      byStem[s] = m
    }
    return inputs.map { byStem[stem($0)] }
  }

  /// Inputs whose stems collide would write the same output: refuse them before any work.
  public static func checkDistinctStems(_ inputs: [URL]) throws {
    var seen: [String: URL] = [:]
    for u in inputs {
      if let other = seen[stem(u)] {
        throw BatchError("\(other.lastPathComponent) and \(u.lastPathComponent) would write the same output (same stem)")
      }
      seen[stem(u)] = u
    }
  }
}
