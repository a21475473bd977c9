// swift-tools-version: 6.1
// An app that uses mend as a library: depend on the `Mend` product, `import Mend`.
import PackageDescription

let package = Package(
  name: "mend-examples",
  platforms: [.macOS(.v14)],
  dependencies: [
    // In your own package: .package(url: "https://…/mend.git", from: "0.2.0")
    .package(name: "mend", path: "..")
  ],
  targets: [
    .executableTarget(
      name: "MendExample",
      dependencies: [.product(name: "Mend", package: "mend")])
  ],
  swiftLanguageModes: [.v6]
)
