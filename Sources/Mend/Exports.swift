// The types a caller of `Mender` needs, re-exported so that `import Mend` is the only import.
// The lower modules (Compute, ComputeCPU, Imaging, Inpainting, Models, …) stay importable for
// work below this API.
@_exported import protocol Compute.Device
@_exported import struct Imaging.Image
@_exported import enum Imaging.ImageFile
@_exported import enum Imaging.ImageFormat
@_exported import enum Inpainting.BlendMode
@_exported import struct Inpainting.Mask
@_exported import enum Models.FaceModel
