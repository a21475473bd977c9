import Foundation

public struct BatchError: Error, CustomStringConvertible, Equatable {
  public let description: String
  public init(_ d: String) { description = d }
}

/// A deterministic share of a sorted work list: item i belongs to shard `i mod count`, so `count`
/// shards cover every item exactly once, whatever the order the shards run in.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
  public let index: Int
  public let count: Int

  public static let all = Shard(uncheckedIndex: 0, count: 1)

  init(uncheckedIndex index: Int, count: Int) { self.index = index; self.count = count }

  public init(index: Int, count: Int) throws {
    guard count >= 1 else { throw BatchError("shard count must be ≥ 1, got \(count)") }
    guard index >= 0 && index < count else { throw BatchError("shard index \(index) is outside 0…\(count - 1)") }
    self.index = index; self.count = count
  }

  public var description: String { "\(index)/\(count)" }

  /// The items of this shard, in their original order.
  public func select<T>(_ items: [T]) -> [T] {
    items.enumerated().filter { $0.offset % count == index }.map(\.element)
  }

  /// `I/N` (0 ≤ I < N) or `auto` (rank and size from the launcher's environment, see `fromEnvironment`).
  public static func parse(_ spec: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Shard {
    if spec == "auto" { return try fromEnvironment(environment) }
    let parts = spec.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
      throw BatchError("--shard must be I/N (e.g. 0/4) or auto, got '\(spec)'")
    }
    return try Shard(index: i, count: n)
  }

  /// Rank and size from the environment:
  /// - a process rank from Open MPI (`OMPI_COMM_WORLD_RANK`/`OMPI_COMM_WORLD_SIZE`), else PMI
  ///   (`PMI_RANK`/`PMI_SIZE`, MPICH, Intel MPI, srun --mpi), else Slurm tasks (`SLURM_PROCID`/`SLURM_NTASKS`);
  /// - a Slurm array task (`SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN`, divided by
  ///   `SLURM_ARRAY_TASK_STEP` when set, of `SLURM_ARRAY_TASK_COUNT`).
  /// With both, each array task's processes split that task's share: shard = array rank × processes
  /// + process rank, of array size × processes. Throws when none is set or a value is malformed.
  public static func fromEnvironment(_ env: [String: String]) throws -> Shard {
    func int(_ k: String) throws -> Int? {
      guard let s = env[k] else { return nil }
      guard let v = Int(s.trimmingCharacters(in: .whitespaces)) else { throw BatchError("\(k)='\(s)' is not an integer") }
      return v
    }
    func pair(_ rankKey: String, _ sizeKey: String) throws -> Shard? {
      guard let r = try int(rankKey) else { return nil }
      guard let n = try int(sizeKey) else { throw BatchError("\(rankKey) is set but \(sizeKey) is not") }
      do { return try Shard(index: r, count: n) } catch let e as BatchError {
        throw BatchError("\(rankKey)=\(r), \(sizeKey)=\(n): \(e.description)")
      }
    }
    let process = try pair("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE") ?? pair("PMI_RANK", "PMI_SIZE")
      ?? pair("SLURM_PROCID", "SLURM_NTASKS")
    var array: Shard? = nil
    if let id = try int("SLURM_ARRAY_TASK_ID") {
      guard let n = try int("SLURM_ARRAY_TASK_COUNT") else {
        throw BatchError("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not")
      }
      let lo = try int("SLURM_ARRAY_TASK_MIN") ?? 0
      let step = try int("SLURM_ARRAY_TASK_STEP") ?? 1
      guard step >= 1, (id - lo) % step == 0 else {
        throw BatchError("SLURM_ARRAY_TASK_ID=\(id) is not on the array's grid (min \(lo), step \(step))")
      }
      do { array = try Shard(index: (id - lo) / step, count: n) } catch let e as BatchError {
        throw BatchError("Slurm array task \(id) (min \(lo), count \(n)): \(e.description)")
      }
    }
    switch (array, process) {
    case (nil, nil):
      throw BatchError("--shard auto found no rank in the environment (SLURM_ARRAY_TASK_ID, SLURM_PROCID, "
                       + "OMPI_COMM_WORLD_RANK or PMI_RANK); pass --shard I/N")
    case let (a?, nil): return a
    case let (nil, p?): return p
    case let (a?, p?): return try Shard(index: a.index * p.count + p.index, count: a.count * p.count)
    }
  }
}
