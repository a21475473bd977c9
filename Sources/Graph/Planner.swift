import Compute

/// Where each value lives: which region and at what byte offset.
public struct Placement: Sendable {
  public enum Region: Sendable { case parameters, pinned, arena, external }
  public let region: Region
  public let offset: Int
}

/// Memory planning for a graph (ggml-alloc's rules): parameters in one buffer; inputs and outputs
/// pinned (their own offsets, live for the whole run); every other value lives from the node that
/// writes it to the last node that reads it, and values whose lifetimes do not overlap share
/// memory. Offsets are aligned; placement is greedy first-fit, largest values first.
public enum Planner {
  public static let alignment = 256

  public struct Result: Sendable {
    public let placements: [Placement]
    public let parameterBytes: Int
    public let pinnedBytes: Int
    public let arenaBytes: Int
    /// Bytes if every intermediate had its own memory.
    public let naiveArenaBytes: Int
  }

  static func align(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

  public static func plan(_ g: Graph) -> Result {
    var placements = [Placement?](repeating: nil, count: g.values.count)
    var paramOffset = 0, pinnedOffset = 0
    let pinned = Set(g.outputs.map(\.id))
    // Lifetimes in node order: [first write, last read].
    var first = [Int](repeating: Int.max, count: g.values.count)
    var last = [Int](repeating: -1, count: g.values.count)
    for (i, n) in g.nodes.enumerated() {
      for v in n.outputs { first[v.id] = min(first[v.id], i); last[v.id] = max(last[v.id], i) }
      for v in n.inputs { first[v.id] = min(first[v.id], i); last[v.id] = max(last[v.id], i) }
    }
    var arenaValues: [Int] = []
    for (id, info) in g.values.enumerated() {
      let bytes = align(max(4, info.count * 4))
      switch info.kind {
      case .parameter:
        placements[id] = Placement(region: .parameters, offset: paramOffset)
        paramOffset += bytes
      case .input:
        placements[id] = Placement(region: .pinned, offset: pinnedOffset)
        pinnedOffset += bytes
      case .external:
        placements[id] = Placement(region: .external, offset: 0)
      case .intermediate where g.elided.contains(id) && !pinned.contains(id) && last[id] < 0:
        placements[id] = Placement(region: .arena, offset: 0)  // never touched; sized below
      case .intermediate:
        if pinned.contains(id) || last[id] < 0 {
          placements[id] = Placement(region: .pinned, offset: pinnedOffset)
          pinnedOffset += bytes
        } else {
          arenaValues.append(id)
        }
      }
    }
    // Largest first; each takes the lowest offset that does not collide with a placed value whose
    // lifetime overlaps.
    arenaValues.sort { g.values[$0].count > g.values[$1].count || (g.values[$0].count == g.values[$1].count && $0 < $1) }
    var placed: [(start: Int, end: Int, first: Int, last: Int)] = []
    var arenaBytes = 0, naive = 0
    for id in arenaValues {
      let size = align(max(4, g.values[id].count * 4))
      naive += size
      let clashes = placed.filter { !($0.last < first[id] || last[id] < $0.first) }.sorted { $0.start < $1.start }
      var offset = 0
      for c in clashes {
        if offset + size <= c.start { break }
        offset = max(offset, c.end)
      }
      placed.append((offset, offset + size, first[id], last[id]))
      placements[id] = Placement(region: .arena, offset: offset)
      arenaBytes = max(arenaBytes, offset + size)
    }
    for id in g.elided where placements[id]?.region == .arena && last[id] < 0 {
      arenaBytes = max(arenaBytes, align(max(4, g.values[id].count * 4)))
    }
    return Result(placements: placements.map { $0! }, parameterBytes: paramOffset, pinnedBytes: pinnedOffset,
                  arenaBytes: arenaBytes, naiveArenaBytes: naive)
  }
}
