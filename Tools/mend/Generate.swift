import ArgumentParser
import Compute
import Foundation
import Graph
import Imaging
import Models

struct Generate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Generate 64×64 faces with the DCGAN generator from latents (a .npy file or a seed).")

  @Option(name: .long, help: "Latents: float32 .npy of shape [N,100] or [N,100,1,1].")
  var latent: String?
  @Option(help: "Seed for N(0,1) latents when no --latent is given.") var seed: UInt64 = 0
  @Option(help: "Number of faces to draw with --seed.") var count: Int = 1
  @Option(name: .shortAndLong, help: "Output PNG (a grid when N > 1).") var output: String
  @Option(help: "Also write the raw generator output, float32 [N,3,64,64] in [-1,1], as .npy.") var raw: String?
  @Option(help: "Face model: synthetic or photo (see inpaint --face-model).") var faceModel: String = FaceModel.default.rawValue
  @Option(help: "Generator weights file name inside the weights folder (default: the face model's).") var generator: String?
  @OptionGroup var weightOptions: WeightOptions
  @OptionGroup var deviceOptions: DeviceOptions

  func run() throws {
    guarded {
      guard let model = FaceModel(rawValue: faceModel) else { throw ValidationError("--face-model must be synthetic or photo") }
      let gen = try DCGANGenerator(weights: try WeightStore.load(generator ?? model.generatorFile, override: weightOptions.weights))
      var z: [Float], n: Int
      if let latent {
        let (v, shape) = try NPY.read(fileURL(latent))
        guard (shape.count == 2 || (shape.count == 4 && shape[2] == 1 && shape[3] == 1)), shape[1] == gen.nz, shape[0] > 0 else {
          throw ValidationError("\(latent): latents must have shape [N,\(gen.nz)] or [N,\(gen.nz),1,1], got \(shape)")
        }
        z = v; n = shape[0]
      } else {
        guard count > 0 && count <= 4096 else { throw ValidationError("--count must be 1…4096") }
        var rng = SplitMix64(seed: seed)
        n = count
        z = (0..<(n * gen.nz)).map { _ in rng.nextGaussian() }
      }
      let device = deviceOptions.makeDevice()
      let (g, zv, out) = try gen.graph(batch: n)
      let plan = try g.compile(on: device)
      try plan.set(zv, z)
      try plan.run()
      let y = try plan.read(out)
      let per = 3 * 64 * 64
      let faces = (0..<n).map { Image.fromSigned(Array(y[($0 * per)..<(($0 + 1) * per)]), width: 64, height: 64, channels: 3) }
      let staged = StagedFiles()  // --raw and -o appear together or not at all
      if let raw { try staged.add(NPY.encode(y, shape: [n, 3, 64, 64]), to: fileURL(raw)) }
      try stageImage(n == 1 ? faces[0] : grid(faces), to: fileURL(output), staged)
      try staged.commit()
      standardError.write(Data("generate: \(n) face(s) on \(device.name) -> \(output)\n".utf8))
    }
  }
}
