import Glibc

/// The switch for the engine's own kernels that replace oneDNN primitives (the Winograd and
/// AVX2 convolutions, the batch norm fused with max pooling, training batch norm on nChw8c):
/// `KD_NATIVE_KERNELS=0` turns them off, to compare with oneDNN alone.
enum NativeKernels {
    static let allowed: Bool = {
        guard let flag = getenv("KD_NATIVE_KERNELS") else { return true }
        return String(cString: flag) != "0"
    }()
}
