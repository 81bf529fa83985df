internal import CDNNL
#if canImport(Glibc)
import Glibc
#endif

/// Which oneDNN algorithm a convolution asks for: Winograd F(4x4, 3x3) where it pays, direct
/// elsewhere.
///
/// oneDNN 2.6 implements Winograd for f32 only on AVX-512 (`jit_wino_4x3:avx512_core`); below
/// that, or where a shape is outside its kernel, creating the primitive fails and the layer
/// takes the direct algorithm. It does a quarter of the direct multiplications, so it wins where
/// the channels are many (measured on 2 Zen 4 cores, BENCHMARKS.md, issue 26: a 64-to-64
/// layer on 56x56 planes 9.7 ms against 27.3 direct, 256-to-256 on 14x14 9.7 against 20.6)
/// and loses where the transforms dominate (16 channels on 32x32: 1.48 ms against 1.25; 3
/// input channels: 5.8 against 0.9). `candidates` says where it is asked for. The engine's own
/// Winograd (`Winograd3x3`), faster still, runs the passes it applies to instead; oneDNN's
/// keeps the rest (and all of them with `KD_NATIVE_KERNELS=0`).
///
/// Its results differ from the direct algorithm's by rounding: within 2.1e-6 of the largest
/// value in Conv2dTests, where direct is within 1.1e-6. `KD_WINOGRAD=0` turns it off.
enum ConvolutionAlgorithm {
    static let winogradAllowed: Bool = {
        guard let flag = getenv("KD_WINOGRAD") else { return true }
        return String(cString: flag) != "0"
    }()

    /// The most scratch memory a Winograd primitive may ask for (`Primitive.scratchpadBytes`):
    /// vgg13's 512-channel weight gradients ask for 128 MiB, which raised its training peak
    /// from 398 to 452 MiB.
    static let maxScratchpadBytes = 64 << 20

    enum Pass { case forward, backwardData, backwardWeights }

    /// The algorithms to try in order for one pass of a convolution of this geometry on
    /// `height` x `width` inputs; the last is direct. Winograd for 3x3, stride 1, ungrouped, as
    /// many input as output channels (the stacked convolutions of residual and VGG stages):
    /// - at least 32 channels, and 64 for the weight gradient, where Winograd ran slower on
    ///   narrower layers (32 channels on 16x16: forward 0.62 ms against 0.96 direct, weight
    ///   gradient 0.78 against 0.79; on 14x14, 2.37 against 1.27);
    /// - at least 128 where the plane is not a multiple of the 4x4 output tile, whose padded
    ///   tiles then cost more than they save (resnet20 on 28x28: its 14x14 and 7x7 layers,
    ///   forward and backward-data 43.8 ms a step against 42.6; ResNet-50's 256 channels on
    ///   14x14 still gain twofold).
    static func candidates(kernel: Int, stride: Int, groups: Int, inChannels: Int, outChannels: Int, height: Int, width: Int,
                           pass: Pass) -> [dnnl_alg_kind_t] {
        let floor = height % 4 == 0 && width % 4 == 0 ? (pass == .backwardWeights ? 64 : 32) : 128
        let winograd = winogradAllowed && kernel == 3 && stride == 1 && groups == 1 && inChannels == outChannels && inChannels >= floor
        return winograd ? [dnnl_convolution_winograd, dnnl_convolution_direct] : [dnnl_convolution_direct]
    }

    /// The primitive of the first candidate oneDNN implements: `describe` fills in the operation
    /// descriptor for an algorithm. The direct algorithm, last, must succeed.
    static func primitive(_ candidates: [dnnl_alg_kind_t], hint: Primitive? = nil, attributes: PostOps? = nil, what: String,
                          describe: (dnnl_alg_kind_t) -> dnnl_convolution_desc_t) -> Primitive {
        for algorithm in candidates.dropLast() {
            var d = describe(algorithm)
            if let p = Primitive(trying: &d, hint: hint, attributes: attributes, what: what), p.scratchpadBytes <= maxScratchpadBytes { return p }
        }
        var d = describe(candidates.last!)
        return Primitive(op: &d, hint: hint, attributes: attributes, what: what)
    }
}
