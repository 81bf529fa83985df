// swift-tools-version:6.0
import PackageDescription

// Release builds are what users run and what `make bench` measures; checked arithmetic in hot
// loops is avoided in code (&+, &*), not with -Ounchecked.
//
// oneDNN and libgomp belong to the engine alone. Their module maps say `requires kd_engine`, a
// clang feature only the Engine target turns on, so `import CDNNL` anywhere else is a build
// error. Engine imports them `internal` and is built with library evolution, so a module that
// imports Engine never loads them (without it, Swift loads a non-resilient module's internal
// imports in every importer, for type layouts). Measured: no change in `kd-bench` speed.
let engineOnlyCModules = [
    "-enable-library-evolution",
    "-Xcc", "-Xclang", "-Xcc", "-fmodule-feature", "-Xcc", "-Xclang", "-Xcc", "kd_engine",
]

// Debug builds (what `swift test` builds) optimise the engine and the pipeline anyway: the
// tests train and evaluate real models through them, in process and through the stages'
// debug executables, and unoptimised Swift made that most of the suite's time (the build
// itself takes longer). The C kernels are -O2 in every build for the same reason.
let optimizedInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "kd-pipeline",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "teacher-train", targets: ["teacher-train"]),
        .executable(name: "teacher-export", targets: ["teacher-export"]),
        .executable(name: "student-distill", targets: ["student-distill"]),
        .library(name: "Pipeline", targets: ["Pipeline", "Engine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries from Debian's -dev packages, each wrapped by a shim header.
        .systemLibrary(name: "CHDF5", path: "Sources/Shared/CHDF5"),
        .systemLibrary(name: "CDNNL", path: "Sources/Shared/CDNNL"),
        .systemLibrary(name: "CZlib", path: "Sources/Shared/CZlib"),
        .systemLibrary(name: "COpenMP", path: "Sources/Shared/COpenMP"),
        .systemLibrary(name: "CTurboJPEG", path: "Sources/Shared/CTurboJPEG"),
        .systemLibrary(name: "CPNG", path: "Sources/Shared/CPNG"),
        .systemLibrary(name: "CMPI", path: "Sources/Shared/CMPI"),

        // Walks an HDF5 file in another process before a stage opens it, so that a damaged file
        // is an error instead of a crash or a hang (CHDF5Probe.h says how, and why in C).
        .target(name: "CHDF5Probe", path: "Sources/Shared/CHDF5Probe", linkerSettings: [.linkedLibrary("hdf5_serial")]),

        // The engine's own C kernels (AVX2 + FMA, chosen at run time), optimised in debug
        // builds too so that tests run them at speed.
        .target(name: "CKernels", path: "Sources/Shared/CKernels", cSettings: [.unsafeFlags(["-O2"])]),

        // The engine: tensors, oneDNN and OpenMP behind Kernels/, reference kernels, layers,
        // models, losses, optimizers. The only module that sees a C library of the engine.
        .target(
            name: "Engine",
            dependencies: ["CDNNL", "COpenMP", "CKernels"],
            path: "Sources/Shared/Engine",
            swiftSettings: [.unsafeFlags(engineOnlyCModules)] + optimizedInDebug
        ),
        // The pipeline on top: data, HDF5 files, params, run directories, training, export,
        // sweeps. It sees the engine's Swift API only, never oneDNN.
        .target(
            name: "Pipeline",
            dependencies: ["Engine", "CHDF5", "CHDF5Probe", "CZlib", "CTurboJPEG", "CPNG", "CMPI"],
            path: "Sources/Shared/Pipeline",
            swiftSettings: optimizedInDebug
        ),
        // The stages' shared command-line options (swift-argument-parser).
        .target(
            name: "KDCommandLine",
            dependencies: ["Pipeline", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Shared/KDCommandLine"
        ),
        .executableTarget(
            name: "teacher-train",
            dependencies: ["KDCommandLine", "Pipeline", "Engine", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/teacher-train"
        ),
        .executableTarget(
            name: "teacher-export",
            dependencies: ["KDCommandLine", "Pipeline", "Engine", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/teacher-export"
        ),
        .executableTarget(
            name: "student-distill",
            dependencies: ["KDCommandLine", "Pipeline", "Engine", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/student-distill"
        ),
        // Developer tool behind `make bench`; not a product.
        .executableTarget(
            name: "kd-bench",
            dependencies: ["Pipeline", "Engine", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/kd-bench"
        ),
        // What the tests share: layer checks against the reference kernels, synthetic data,
        // temporary folders, running the stages.
        .target(
            name: "KDTestSupport",
            dependencies: ["Pipeline", "Engine"],
            path: "Tests/KDTestSupport"
        ),
        .testTarget(
            name: "KDTests",
            dependencies: ["KDTestSupport", "Pipeline", "Engine", "CHDF5"],
            path: "Tests/KDTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)
