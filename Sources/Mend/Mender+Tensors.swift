// Overloads for callers that hold pixels as float tensors rather than `Image` values: planar
// (channel-major) layout `[3, H, W]` or `[1, 3, H, W]`, values in [0, 1] — the layout `Image.data`
// has and PyTorch's NCHW with N = 1.
extension Image {
  /// Wraps a planar `[3, H, W]` or `[1, 3, H, W]` tensor.
  ///
  /// - Throws: ``MendError/invalidArgument(_:)`` when the shape is not one of those or does not
  ///   match the value count.
  public init(tensor values: [Float], shape: [Int]) throws {
    let s = shape.count == 4 && shape[0] == 1 ? Array(shape.dropFirst()) : shape
    guard s.count == 3, s.allSatisfy({ $0 > 0 }), s.reduce(1, *) == values.count else {
      throw MendError.invalidArgument(
        "expected a [C, H, W] or [1, C, H, W] tensor with \(values.count) values, got shape \(shape)")
    }
    self.init(width: s[2], height: s[1], channels: s[0], data: values)
  }

  /// The image's shape as a tensor, `[channels, height, width]`; `data` holds the values.
  public var tensorShape: [Int] { [channels, height, width] }
}

extension Mask {
  /// A mask from one value per pixel (row-major, `[H, W]` or `[1, 1, H, W]`): a value above 0.5
  /// marks a missing pixel.
  ///
  /// - Throws: ``MendError/invalidArgument(_:)`` when the shape does not match the value count.
  public init(tensor values: [Float], shape: [Int]) throws {
    let s = shape.count == 4 && shape[0] == 1 && shape[1] == 1 ? Array(shape.dropFirst(2)) : shape
    guard s.count == 2, s.allSatisfy({ $0 > 0 }), s.reduce(1, *) == values.count else {
      throw MendError.invalidArgument("expected an [H, W] or [1, 1, H, W] mask with \(values.count) values, got shape \(shape)")
    }
    self.init(width: s[1], height: s[0], missing: values.map { $0 > 0.5 })
  }
}

extension Mender {
  /// Inpaints a `[3, 64, 64]` tensor with an `[64, 64]` mask tensor (values above 0.5 missing);
  /// returns the filled tensor, `[3, 64, 64]`.
  public func inpaint(
    tensor: [Float], shape: [Int], maskTensor: [Float], maskShape: [Int], options: InpaintOptions = .init(),
    progress: (MendProgress) -> Void = { _ in }, cancellation: CancellationToken? = nil
  ) throws -> [Float] {
    let image = try Image(tensor: tensor, shape: shape)
    let mask = try Mask(tensor: maskTensor, shape: maskShape)
    return try inpaint(image, mask: mask, options: options, progress: progress, cancellation: cancellation).image.data
  }

  /// Upscales a `[3, H, W]` tensor 4×; returns `[3, 4H, 4W]` values.
  public func superResolve(
    tensor: [Float], shape: [Int], options: SuperResolutionOptions = .init(),
    progress: (MendProgress) -> Void = { _ in }, cancellation: CancellationToken? = nil
  ) throws -> [Float] {
    try superResolve(try Image(tensor: tensor, shape: shape), options: options, progress: progress, cancellation: cancellation)
      .data
  }
}
