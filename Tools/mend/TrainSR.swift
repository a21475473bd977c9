import ArgumentParser
import Compute
import Foundation
import Imaging
import Models
import Training

struct TrainSRGAN: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "srgan",
    abstract: "Train SRResNet (stage 1, MSE) or SRGAN (stage 2, MSE + adversarial) on a folder of photos.",
    discussion: """
      Random HR crops (--crop, default 96) and their bicubic 4× downscales; Adam. Writes OUT/checkpoint.safetensors \
      every --checkpoint-every steps and at the end (with the optimizer state), OUT/samples-STEP.png at each \
      checkpoint (bicubic | model | original on the first held-out photo, else a training photo; 128×128 centre), \
      OUT/log.csv, and OUT/srresnet.safetensors; \
      with --val DIR reports PSNR (Y, border 4) on held-out images at each checkpoint. --init-from srresnet fine-tunes the \
      fetched weights. \
      Stage 2 adds the SRGAN discriminator: the generator's loss is MSE + --adversarial-weight · BCE(D(G(lr)), real), \
      D is trained on the HR crops against G(lr) with the same learning rate. --discriminator picks D's start: \
      krasserm (the fetched trained D, 96×96 crops only; default) or none (random). Stage 2 writes OUT/srgan.safetensors \
      and OUT/discriminator.safetensors. \
      --content picks the content loss: mse (pixels), or vgg54 / vgg22 (MSE of VGG19 feature maps after the ReLU of \
      conv5_4 / conv2_2, scaled by 1/12.75 as in the paper); the VGG losses need torchvision's VGG19 weights, converted \
      once with Tools/fetch-weights --convert-vgg19 vgg19-dcbb9e9d.pth (none ship with mend).
      """)

  @Option(help: "Folder of training photos (PNG, larger than the crop).") var data: String
  @Option(help: "Folder of held-out photos for PSNR.") var val: String?
  @Option(help: "Output folder.") var out: String
  @Option(name: [.customLong("init-from"), .customLong("init")],
          help: "Start from: srresnet (the fetched weights), srgan, or none (random).") var initFrom: String = "srresnet"
  @Option(help: "Stage: 1 (MSE) or 2 (MSE + adversarial, with the SRGAN discriminator).") var stage: Int = 1
  @Option(help: "Stage 2: the discriminator to start from: krasserm (fetched) or none (random).") var discriminator: String = "krasserm"
  @Option(help: "Stage 2: weight of the adversarial loss.") var adversarialWeight: Float = 1e-3
  @Option(help: "Content loss: mse, vgg54 or vgg22 (needs converted VGG19 weights).") var content: String = "mse"
  @Option(help: "Steps (total, including resumed ones).") var steps: Int = 200
  @Option(help: "Batch size.") var batch: Int = 16
  @Option(help: "HR crop size (multiple of 4).") var crop: Int = 96
  @Option(help: "Adam learning rate.") var lr: Float = 1e-5
  @Option(help: "Checkpoint every N steps.") var checkpointEvery: Int = 50
  @Option(help: "Seed.") var seed: UInt64 = 0
  @Flag(help: "Resume from OUT/checkpoint.safetensors.") var resume = false
  @OptionGroup var weightOptions: WeightOptions
  @OptionGroup var deviceOptions: DeviceOptions

  func run() throws {
    guarded {
      guard stage == 1 || stage == 2 else { throw ValidationError("--stage must be 1 or 2") }
      guard batch >= 1 && batch <= 1024, steps >= 1, checkpointEvery >= 1 else {
        throw ValidationError("--batch must be 1…1024, --steps and --checkpoint-every ≥ 1")
      }
      let images = try loadFolder(data).map(\.1).filter { $0.width >= crop && $0.height >= crop }
      guard !images.isEmpty else { throw ValidationError("\(data): no PNG at least \(crop)×\(crop)") }
      let valImages = try val.map { try loadFolder($0).map(\.1) } ?? []
      let weights: WeightSet
      switch initFrom {
      case "srresnet": weights = try WeightStore.load(WeightStore.srresnet, override: weightOptions.weights)
      case "srgan": weights = try WeightStore.load(WeightStore.srgan, override: weightOptions.weights)
      case "none": weights = RandomWeights.srresnet(seed: seed)
      default: throw ValidationError("--init-from must be srresnet, srgan or none")
      }
      var dWeights: WeightSet?
      if stage == 2 {
        switch discriminator {
        case "krasserm":
          guard crop == 96 else { throw ValidationError("the fetched discriminator takes 96×96 crops (--crop 96), or use --discriminator none") }
          dWeights = try WeightStore.load(WeightStore.srganDiscriminator, override: weightOptions.weights)
        case "none":
          guard crop % 16 == 0 else { throw ValidationError("stage 2 needs --crop a multiple of 16") }
          dWeights = RandomWeights.srganDiscriminator(size: crop, seed: seed &+ 1)
        default: throw ValidationError("--discriminator must be krasserm or none")
        }
      }
      var vgg: VGG19Features?
      switch content {
      case "mse": break
      case "vgg54", "vgg22":
        let url: URL
        do { url = try WeightStore.url(WeightStore.vgg19, override: weightOptions.weights) } catch {
          throw ValidationError("--content \(content) needs VGG19 weights: download torchvision's vgg19-dcbb9e9d.pth and run "
                                + "Tools/fetch-weights --convert-vgg19 vgg19-dcbb9e9d.pth")
        }
        vgg = try VGG19Features(weights: try WeightSet(contentsOf: url), block: content == "vgg54" ? 5 : 2,
                                conv: content == "vgg54" ? 4 : 2)
      default: throw ValidationError("--content must be mse, vgg54 or vgg22")
      }
      let device = deviceOptions.makeDevice()
      var o = SRTrainingRun.Options(output: fileURL(out), images: images)
      o.validation = valImages
      o.config.vgg = vgg
      o.config.batch = batch; o.config.crop = crop; o.config.lr = lr; o.config.adversarialWeight = adversarialWeight
      o.steps = steps; o.checkpointEvery = checkpointEvery; o.seed = seed; o.resume = resume
      let training = try SRTrainingRun(options: o, weights: weights, discriminator: dWeights, device: device)
      let trainer = training.trainer
      signal(SIGINT) { _ in interrupted = true }
      let label = "train srgan (stage \(stage), \(content)\(stage == 1 ? "" : " + adversarial")) on \(device.name): step"
      var progress = Progress(label: label)
      try training.run(shouldStop: { interrupted }, initialPSNR: { p in
        standardError.write(Data(String(format: "train srgan: validation PSNR before training %.3f dB\n", p).utf8))
        progress = Progress(label: label)
      }) { done, total, st, psnr in
        var msg = String(format: "%@ %.4g", content, st.content)
        if stage == 2 { msg += String(format: " adv %.3f D %.3f D(hr) %.2f D(sr) %.2f", st.adversarial, st.lossD, st.dReal, st.dFake) }
        if let psnr { msg += " val PSNR \(String(format: "%.3f", psnr)) dB" }
        progress.update(done, total, msg)
      }
      standardError.write(Data("train srgan: \(interrupted ? "interrupted, saved" : "done") at step \(trainer.step) -> \(out)\n".utf8))
      if interrupted { throw ExitCode(130) }
    }
  }
}
