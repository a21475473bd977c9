import Foundation
import Imaging

/// A frontal-face detector on OpenCV's `haarcascade_frontalface_default.xml` (Intel License
/// Agreement, BSD-style; Debian/Ubuntu package `opencv-data`). The cascade is not shipped with mend:
/// `FaceDetector` finds it, in this order:
///
/// 1. an explicit file (`cascade:`);
/// 2. `$MEND_FACE_CASCADE`;
/// 3. `haarcascade_frontalface_default.xml` in mend's weights folder (`MendPaths.weights()`:
///    `$MEND_WEIGHTS`, else `$XDG_DATA_HOME/mend/weights`, else `~/.local/share/mend/weights`);
/// 4. `/usr/share/opencv4/haarcascades/` and `/usr/share/opencv/haarcascades/` (opencv-data).
///
/// An explicit file or `$MEND_FACE_CASCADE` that does not exist is an error, not a reason to look
/// further; when no candidate exists the initialiser throws, so callers can fall back with a notice.
public struct FaceDetector: Sendable {
  /// The cascade file looked for in the weights folder and the system folders.
  public static let cascadeFileName = "haarcascade_frontalface_default.xml"
  /// Where Debian/Ubuntu's opencv-data (OpenCV 4, then older) installs the Haar cascades.
  public static let systemDirectories = ["/usr/share/opencv4/haarcascades", "/usr/share/opencv/haarcascades"]

  /// The loaded cascade.
  public let cascade: HaarCascade
  /// The file the cascade was loaded from.
  public let cascadeURL: URL

  /// The cascade file to use, or a one-line error saying where it looked.
  public static func locateCascade(
    _ explicit: URL? = nil, environment env: [String: String] = ProcessInfo.processInfo.environment,
    weightsDirectory: URL? = nil
  ) throws -> URL {
    let fm = FileManager.default
    if let url = explicit {
      guard fm.fileExists(atPath: url.path) else { throw CascadeError("face cascade \(url.path) does not exist") }
      return url
    }
    if let p = env["MEND_FACE_CASCADE"], !p.isEmpty {
      guard fm.fileExists(atPath: p) else { throw CascadeError("MEND_FACE_CASCADE=\(p) does not exist") }
      return URL(fileURLWithPath: p)
    }
    let candidates =
      [(weightsDirectory ?? defaultWeightsDirectory(env)).appendingPathComponent(cascadeFileName)]
      + systemDirectories.map { URL(fileURLWithPath: $0).appendingPathComponent(cascadeFileName) }
    if let found = candidates.first(where: { fm.fileExists(atPath: $0.path) }) { return found }
    throw CascadeError(
      "no face cascade: set MEND_FACE_CASCADE, or install Debian's opencv-data, or put \(cascadeFileName) in "
        + candidates[0].deletingLastPathComponent().path + " (looked in " + candidates.map(\.path).joined(separator: ", ") + ")")
  }

  /// Mirrors `MendPaths.weights` (module Compute, which this module does not depend on); a test
  /// checks the two agree.
  package static func defaultWeightsDirectory(_ env: [String: String]) -> URL {
    if let d = env["MEND_WEIGHTS"], !d.isEmpty { return URL(fileURLWithPath: d, isDirectory: true) }
    if let x = env["XDG_DATA_HOME"], !x.isEmpty {
      return URL(fileURLWithPath: x, isDirectory: true).appendingPathComponent("mend/weights", isDirectory: true)
    }
    let home = env["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
    return URL(fileURLWithPath: home, isDirectory: true).appendingPathComponent(".local/share/mend/weights", isDirectory: true)
  }

  /// Finds and loads the cascade (see the type's documentation for the search order).
  public init(
    cascade explicit: URL? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
    weightsDirectory: URL? = nil
  ) throws {
    let url = try Self.locateCascade(explicit, environment: environment, weightsDirectory: weightsDirectory)
    self.cascade = try HaarCascade(contentsOf: url)
    self.cascadeURL = url
  }

  /// Faces in the image, most certain (most neighbours) first, then largest.
  public func detectFaces(in image: Image, scaleFactor: Float = 1.1, minNeighbors: Int = 3, minSize: Int = 30) -> [Detection] {
    cascade.detect(in: image, scaleFactor: scaleFactor, minNeighbors: minNeighbors, minSize: minSize)
      .sorted { ($0.neighbors, $0.width * $0.height) > ($1.neighbors, $1.width * $1.height) }
  }

  /// The largest face, if any (the one to frame when a photo has one subject).
  public func largestFace(in image: Image, minSize: Int = 30) -> Detection? {
    detectFaces(in: image, minSize: minSize).max { $0.width * $0.height < $1.width * $1.height }
  }
}
