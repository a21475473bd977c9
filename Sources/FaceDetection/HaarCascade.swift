import Foundation

/// A boosted cascade of Haar-feature classifiers in OpenCV's "new" XML format (what
/// `opencv_traincascade` writes and the files in opencv-data's `haarcascades/` use):
/// `<opencv_storage><cascade>` with stageType BOOST, featureType HAAR, the window size, stages of
/// weak classifiers (decision stumps or small trees) and the feature list. Immutable once loaded.
public struct HaarCascade: Sendable {
  /// The detection window the cascade was trained on (24×24 for frontalface_default).
  public let windowWidth: Int, windowHeight: Int

  /// Up to three weighted rectangles, upright or rotated by 45° (`tilted`).
  struct Feature: Sendable {
    var rects: [(x: Int, y: Int, width: Int, height: Int, weight: Float)]
    var tilted: Bool
  }
  /// A tree node: go `left` when the normalised feature value is below `threshold`, else `right`.
  /// A child > 0 is a node index within the tree; ≤ 0 is a leaf, index −child.
  struct Node: Sendable { var left: Int32, right: Int32, feature: Int32, threshold: Float }
  struct Tree: Sendable { var nodeStart: Int, nodeCount: Int, leafStart: Int }
  struct Stage: Sendable { var treeStart: Int, treeCount: Int, threshold: Float }

  let features: [Feature]
  let nodes: [Node]
  let leaves: [Float]
  let trees: [Tree]
  let stages: [Stage]
  /// Every tree is one node with children (0, −1), so evaluation can skip the tree walk.
  package let isStumps: Bool
  package var hasTiltedFeatures: Bool { features.contains { $0.tilted } }

  /// Files larger than this are refused before reading (the largest OpenCV cascade is 2.7 MB).
  public static let maxFileBytes = 64 << 20

  /// Loads and validates a cascade file. Errors are one line and name the file.
  public init(contentsOf url: URL) throws {
    let bytes: [UInt8]
    do {
      let attrs = try FileManager.default.attributesOfItem(atPath: url.path)
      if let size = attrs[.size] as? Int, size > Self.maxFileBytes {
        throw CascadeError("\(url.path): \(size) bytes, larger than the \(Self.maxFileBytes)-byte limit for a cascade")
      }
      bytes = [UInt8](try Data(contentsOf: url))
    } catch let e as CascadeError {
      throw e
    } catch {
      throw CascadeError("\(url.path): cannot read (\(error.localizedDescription))")
    }
    do { try self.init(xml: bytes) } catch let e as CascadeError {
      throw CascadeError("\(url.lastPathComponent): \(e.description)")
    }
  }

  /// Parses a cascade from the bytes of its XML file.
  public init(xml bytes: [UInt8]) throws {
    guard bytes.count <= Self.maxFileBytes else { throw CascadeError("larger than \(Self.maxFileBytes) bytes") }
    let doc = try MiniXML.parse(bytes)
    guard let storage = doc.children.first, storage.name == "opencv_storage" else {
      throw CascadeError("not an OpenCV FileStorage XML file (no <opencv_storage>)")
    }
    // FileStorage reads the first top-level node, whatever its name (traincascade writes <cascade>).
    guard let cascade = storage.children.first else { throw CascadeError("empty <opencv_storage>") }
    // The old (OpenCV 1.x, haartraining) format has <size> and <trees> but no <stageType>.
    if cascade.child("stageType") == nil {
      throw CascadeError("<\(cascade.name)> is an old-format cascade (no <stageType>); only the traincascade format is supported")
    }
    guard let stageType = cascade.child("stageType")?.trimmed, stageType == "BOOST" else {
      throw CascadeError("stageType must be BOOST")
    }
    guard let featureType = cascade.child("featureType")?.trimmed, featureType == "HAAR" else {
      throw CascadeError("featureType must be HAAR (LBP and HOG cascades are not supported)")
    }
    func int(_ e: FileStorageNode?, _ what: String, _ range: ClosedRange<Int>) throws -> Int {
      guard let v = e?.numbers(), v.count == 1, v[0] == v[0].rounded(), let i = Int(exactly: v[0]), range.contains(i) else {
        throw CascadeError("\(what) missing or outside \(range.lowerBound)...\(range.upperBound)")
      }
      return i
    }
    let width = try int(cascade.child("width"), "<width>", 1...1024)
    let height = try int(cascade.child("height"), "<height>", 1...1024)

    // Features: 1 to 3 rectangles "x y w h weight", optionally <tilted>1</tilted>.
    guard let featureList = cascade.child("features")?.children, !featureList.isEmpty else {
      throw CascadeError("no <features>")
    }
    guard featureList.count <= 1_000_000 else { throw CascadeError("more than 1000000 features") }
    var features: [Feature] = []
    features.reserveCapacity(featureList.count)
    for (fi, f) in featureList.enumerated() {
      guard let rects = f.child("rects")?.children, (1...3).contains(rects.count) else {
        throw CascadeError("feature \(fi): needs 1 to 3 <rects>")
      }
      let tilted = try f.child("tilted").map { try int($0, "feature \(fi) <tilted>", 0...1) } == 1
      var rs: [(x: Int, y: Int, width: Int, height: Int, weight: Float)] = []
      for r in rects {
        guard let v = r.numbers(), v.count == 5, v[0..<4].allSatisfy({ $0 == $0.rounded() && abs($0) <= 4096 }),
          v[4].isFinite
        else { throw CascadeError("feature \(fi): a rect must be \"x y w h weight\" with integer x y w h") }
        let (x, y, w, h) = (Int(v[0]), Int(v[1]), Int(v[2]), Int(v[3]))
        // The corners the evaluator reads must lie inside the window's integral image.
        let inside =
          tilted
          ? (w >= 0 && h >= 0 && x - h >= 0 && x + w <= width && y >= 0 && y + w + h <= height)
          : (w >= 0 && h >= 0 && x >= 0 && y >= 0 && x + w <= width && y + h <= height)
        guard inside else {
          throw CascadeError("feature \(fi): rect \(x) \(y) \(w) \(h) lies outside the \(width)×\(height) window")
        }
        rs.append((x, y, w, h, Float(v[4])))
      }
      features.append(Feature(rects: rs, tilted: tilted))
    }

    // Stages → weak classifiers → internalNodes ("left right featureIdx threshold" per node) and
    // leafValues (one more than the nodes).
    guard let stageList = cascade.child("stages")?.children, !stageList.isEmpty else { throw CascadeError("no <stages>") }
    guard stageList.count <= 10_000 else { throw CascadeError("more than 10000 stages") }
    var nodes: [Node] = [], leaves: [Float] = [], trees: [Tree] = [], stages: [Stage] = []
    for (si, s) in stageList.enumerated() {
      guard let t = s.child("stageThreshold")?.numbers(), t.count == 1, t[0].isFinite else {
        throw CascadeError("stage \(si): missing <stageThreshold>")
      }
      guard let weak = s.child("weakClassifiers")?.children, !weak.isEmpty else {
        throw CascadeError("stage \(si): no <weakClassifiers>")
      }
      // OpenCV subtracts THRESHOLD_EPS = 1e-5 from every stage threshold when it loads a cascade.
      stages.append(Stage(treeStart: trees.count, treeCount: weak.count, threshold: Float(t[0]) - 1e-5))
      for (wi, w) in weak.enumerated() {
        guard let inner = w.child("internalNodes")?.numbers(), let leafValues = w.child("leafValues")?.numbers() else {
          throw CascadeError("stage \(si) classifier \(wi): <internalNodes> and <leafValues> must be numbers")
        }
        let count = inner.count / 4
        guard count >= 1, count <= 1024, inner.count == count * 4 else {
          throw CascadeError(
            "stage \(si) classifier \(wi): <internalNodes> must hold 1 to 1024 groups of 4 numbers (categorical features are not supported)"
          )
        }
        guard leafValues.count == count + 1, leafValues.allSatisfy(\.isFinite) else {
          throw CascadeError("stage \(si) classifier \(wi): expected \(count + 1) finite leaf values, found \(leafValues.count)")
        }
        for k in 0..<count {
          let (l, r, f, th) = (inner[4 * k], inner[4 * k + 1], inner[4 * k + 2], inner[4 * k + 3])
          guard [l, r, f].allSatisfy({ $0 == $0.rounded() && abs($0) <= 2_000_000 }), th.isFinite,
            Int(f) >= 0 && Int(f) < features.count,
            Int(l) <= 0 ? -Int(l) <= count : Int(l) < count,
            Int(r) <= 0 ? -Int(r) <= count : Int(r) < count
          else { throw CascadeError("stage \(si) classifier \(wi) node \(k): bad child, feature index or threshold") }
          nodes.append(Node(left: Int32(l), right: Int32(r), feature: Int32(f), threshold: Float(th)))
        }
        // The walk from the root must be a tree: each node reached at most once, so evaluation
        // terminates (a cycle would loop forever).
        let start = nodes.count - count
        var seen = [Bool](repeating: false, count: count)
        var todo = [0]
        while let k = todo.popLast() {
          guard !seen[k] else { throw CascadeError("stage \(si) classifier \(wi): the nodes do not form a tree") }
          seen[k] = true
          for c in [nodes[start + k].left, nodes[start + k].right] where c > 0 { todo.append(Int(c)) }
        }
        trees.append(Tree(nodeStart: start, nodeCount: count, leafStart: leaves.count))
        leaves += leafValues.map { Float($0) }
      }
    }
    self.windowWidth = width
    self.windowHeight = height
    self.features = features
    self.nodes = nodes
    self.leaves = leaves
    self.trees = trees
    self.stages = stages
    self.isStumps = trees.allSatisfy { $0.nodeCount == 1 } && nodes.allSatisfy { $0.left == 0 && $0.right == -1 }
  }

  /// The number of stages (for diagnostics).
  public var stageCount: Int { stages.count }
  /// The number of weak classifiers over all stages (for diagnostics).
  public var classifierCount: Int { trees.count }
}
