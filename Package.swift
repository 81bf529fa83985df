// swift-tools-version:6.0
import PackageDescription

// Release builds are what users run and what `make bench` measures; checked arithmetic in hot
// loops is avoided in code (&+, &*), not with -Ounchecked.
let package = Package(
    name: "kd-pipeline",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "teacher-train", targets: ["teacher-train"]),
        .executable(name: "teacher-export", targets: ["teacher-export"]),
        .executable(name: "student-distill", targets: ["student-distill"]),
        .library(name: "Shared", targets: ["Shared"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries from Debian's -dev packages, each wrapped by a shim header.
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5"),
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "COpenMP", path: "Sources/COpenMP"),

        .target(
            name: "Shared",
            dependencies: ["CHDF5", "CDNNL", "CZlib", "COpenMP"],
            path: "Sources/Shared"
        ),
        .executableTarget(
            name: "teacher-train",
            dependencies: ["Shared", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/teacher-train"
        ),
        .executableTarget(
            name: "teacher-export",
            dependencies: ["Shared", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/teacher-export"
        ),
        .executableTarget(
            name: "student-distill",
            dependencies: ["Shared", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/student-distill"
        ),
        // Developer tool behind `make bench`; not a product.
        .executableTarget(
            name: "kd-bench",
            dependencies: ["Shared", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/kd-bench"
        ),
        .testTarget(
            name: "SharedTests",
            dependencies: ["Shared", "CHDF5"],
            path: "Tests/SharedTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)
