extension HaarCascade {
  /// OpenCV's `groupRectangles(rects, groupThreshold, eps)`: clusters rectangles that are similar
  /// (every edge within eps·(min width + min height)/2 of the other's), replaces each cluster by its
  /// mean (rounded half to even, in float), drops clusters of ≤ groupThreshold members, and drops a
  /// cluster lying inside a larger-scored one (within eps of its size) unless it is itself strong.
  package static func groupRectangles(_ rects: [Rect], groupThreshold: Int, eps: Double) -> [Detection] {
    if groupThreshold <= 0 || rects.isEmpty {
      return rects.map { Detection(x: $0.x, y: $0.y, width: $0.width, height: $0.height, neighbors: 1) }
    }
    func similar(_ a: Rect, _ b: Rect) -> Bool {
      let delta = eps * Double(min(a.width, b.width) + min(a.height, b.height)) * 0.5
      return Double(abs(a.x - b.x)) <= delta && Double(abs(a.y - b.y)) <= delta
        && Double(abs(a.x + a.width - b.x - b.width)) <= delta && Double(abs(a.y + a.height - b.y - b.height)) <= delta
    }
    // Connected components of the similarity graph (union–find, as cv::partition).
    var parent = Array(0..<rects.count)
    func root(_ i: Int) -> Int {
      var r = i
      while parent[r] != r { r = parent[r] }
      var k = i
      while parent[k] != r { let next = parent[k]; parent[k] = r; k = next }
      return r
    }
    for i in rects.indices {
      for j in (i + 1)..<rects.count where similar(rects[i], rects[j]) {
        let a = root(i), b = root(j)
        if a != b { parent[a] = b }
      }
    }
    var label = [Int: Int]()
    var sums: [(x: Int, y: Int, w: Int, h: Int, n: Int)] = []
    for (i, r) in rects.enumerated() {
      let key = root(i)
      let c: Int
      if let l = label[key] { c = l } else { c = sums.count; label[key] = c; sums.append((0, 0, 0, 0, 0)) }
      sums[c].x += r.x; sums[c].y += r.y; sums[c].w += r.width; sums[c].h += r.height; sums[c].n += 1
    }
    let means: [(Rect, Int)] = sums.map { s in
      let inv = 1 / Float(s.n)
      func avg(_ v: Int) -> Int { Int((Float(v) * inv).rounded(.toNearestOrEven)) }
      return (Rect(x: avg(s.x), y: avg(s.y), width: avg(s.w), height: avg(s.h)), s.n)
    }
    var out: [Detection] = []
    for (i, (r1, n1)) in means.enumerated() where n1 > groupThreshold {
      let swallowed = means.indices.contains { j in
        let (r2, n2) = means[j]
        guard j != i, n2 > groupThreshold else { return false }
        let dx = Int((Double(r2.width) * eps).rounded(.toNearestOrEven))
        let dy = Int((Double(r2.height) * eps).rounded(.toNearestOrEven))
        return r1.x >= r2.x - dx && r1.y >= r2.y - dy && r1.x + r1.width <= r2.x + r2.width + dx
          && r1.y + r1.height <= r2.y + r2.height + dy && (n2 > max(3, n1) || n1 < 3)
      }
      if !swallowed { out.append(Detection(x: r1.x, y: r1.y, width: r1.width, height: r1.height, neighbors: n1)) }
    }
    return out
  }
}
