import Batching
import Foundation
import XCTest

final class BatchingTests: XCTestCase {
  func testShardsCoverEveryItemExactlyOnce() throws {
    for total in [0, 1, 5, 17] {
      let items = Array(0..<total)
      for n in 1...6 {
        var seen: [Int] = []
        for i in 0..<n {
          let part = try Shard(index: i, count: n).select(items)
          XCTAssert(part.allSatisfy { $0 % n == i })
          seen += part
        }
        XCTAssertEqual(seen.sorted(), items, "\(total) items, \(n) shards")
      }
    }
  }

  func testParse() throws {
    XCTAssertEqual(try Shard.parse("2/5"), try Shard(index: 2, count: 5))
    for bad in ["5/5", "-1/3", "1/0", "1", "a/b", "1/2/3", ""] {
      XCTAssertThrowsError(try Shard.parse(bad, environment: [:]), bad)
    }
  }

  func testAutoFromEnvironment() throws {
    let cases: [([String: String], Shard)] = [
      (["SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_COUNT": "4"], try Shard(index: 2, count: 4)),
      (["SLURM_ARRAY_TASK_ID": "6", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_STEP": "2", "SLURM_ARRAY_TASK_COUNT": "4"],
       try Shard(index: 3, count: 4)),
      (["SLURM_PROCID": "3", "SLURM_NTASKS": "8"], try Shard(index: 3, count: 8)),
      (["OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2", "SLURM_PROCID": "0", "SLURM_NTASKS": "1"],
       try Shard(index: 1, count: 2)),
      (["PMI_RANK": "0", "PMI_SIZE": "3"], try Shard(index: 0, count: 3)),
      // An array task of 3 whose 2 processes split its share: 3 × 2 shards in all.
      (["SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "0",
        "SLURM_PROCID": "1", "SLURM_NTASKS": "2"], try Shard(index: 5, count: 6)),
    ]
    for (env, want) in cases { XCTAssertEqual(try Shard.parse("auto", environment: env), want, "\(env)") }
    let bad: [([String: String], String)] = [
      ([:], "found no rank"), (["PMI_RANK": "1"], "PMI_SIZE is not"), (["SLURM_PROCID": "x", "SLURM_NTASKS": "2"], "not an integer"),
      (["OMPI_COMM_WORLD_RANK": "4", "OMPI_COMM_WORLD_SIZE": "4"], "outside"),
      (["SLURM_ARRAY_TASK_ID": "1"], "SLURM_ARRAY_TASK_COUNT is not"),
    ]
    for (env, msg) in bad {
      XCTAssertThrowsError(try Shard.fromEnvironment(env), "\(env)") { XCTAssert("\($0)".contains(msg), "\($0)") }
    }
  }

  func testListingNamingAndMasks() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mend-batch-\(getpid())")
    let masks = dir.appendingPathComponent("masks")
    try? FileManager.default.removeItem(at: dir)
    try FileManager.default.createDirectory(at: masks, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    for f in ["b.JPG", "a.png", "c.webp", "notes.txt", ".hidden.png", "B.jpeg"] {
      try Data().write(to: dir.appendingPathComponent(f))
    }
    try FileManager.default.createDirectory(at: dir.appendingPathComponent("sub.png"), withIntermediateDirectories: true)
    let files = try BatchFiles.list(dir)
    XCTAssertEqual(files.map(\.lastPathComponent), ["B.jpeg", "a.png", "b.JPG", "c.webp"])
    let out = URL(fileURLWithPath: "/out")
    XCTAssertEqual(BatchFiles.output(for: files[2], in: out, extension: nil).path, "/out/b.JPG")
    XCTAssertEqual(BatchFiles.output(for: files[2], in: out, extension: "webp").path, "/out/b.webp")
    for f in ["a.png", "c.jpg"] { try Data().write(to: masks.appendingPathComponent(f)) }
    XCTAssertEqual(try BatchFiles.masks(for: files, in: masks).map { $0?.lastPathComponent }, [nil, "a.png", nil, "c.jpg"])
    try Data().write(to: masks.appendingPathComponent("a.webp"))
    XCTAssertThrowsError(try BatchFiles.masks(for: files, in: masks)) { XCTAssert("\($0)".contains("share the stem")) }
    XCTAssertNoThrow(try BatchFiles.checkDistinctStems(files))
    XCTAssertThrowsError(try BatchFiles.checkDistinctStems(files + [dir.appendingPathComponent("a.jpg")]))
    XCTAssertThrowsError(try BatchFiles.list(dir.appendingPathComponent("missing"))) { XCTAssert("\($0)".contains("cannot list")) }
  }
}
