// Fills the hole in an image (up to 256×256) and upscales the result 4×:
//
//   swift run -c release MendExample IMAGE MASK OUT-DIR [ITERATIONS]
//
// The mask is white where pixels are missing. Writes OUT-DIR/completed.png (the input's size) and
// OUT-DIR/upscaled.png (4× larger).
import Foundation
import Mend

let args = CommandLine.arguments
guard args.count >= 4 else {
  print("usage: MendExample IMAGE MASK OUT-DIR [ITERATIONS]")
  exit(2)
}
let out = URL(fileURLWithPath: args[3])

do {
  let mender = try Mender(device: .auto)
  let (image, _) = try ImageFile.read(URL(fileURLWithPath: args[1]))
  let (maskImage, _) = try ImageFile.read(URL(fileURLWithPath: args[2]))

  var options = CompletionOptions()
  options.inpaint.iterations = args.count > 4 ? Int(args[4]) ?? 1000 : 1000
  let completed = try mender.complete(image, mask: .fromImage(maskImage), options: options) { p in
    if p.stage == .inpaint && p.completed % 100 == 0 { print("iteration \(p.completed)/\(p.total)") }
  }
  let upscaled = try mender.superResolve(completed.image)

  try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
  try ImageFile.write(completed.image, to: out.appendingPathComponent("completed.png"))
  try ImageFile.write(upscaled, to: out.appendingPathComponent("upscaled.png"))
  print(
    "wrote completed.png (\(image.width)×\(image.height)) and upscaled.png (\(upscaled.width)×\(upscaled.height)) to \(out.path) on \(mender.device.name)"
  )
} catch {
  print("error: \(error)")
  exit(1)
}
