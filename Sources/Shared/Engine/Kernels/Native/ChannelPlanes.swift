internal import CDNNL

/// The geometry the engine's own per-channel kernels (pooling, batch norm) work on: a 4-D
/// tensor whose innermost run is `lanes` channels (a multiple of 8) of one pixel, seen as
/// `outer` planes of H x W x lanes. oneDNN's nChw8c and nChw16c (lanes 8 and 16; channels
/// padded up to whole blocks) and nhwc with C a multiple of 8 (lanes C, one plane per image).
struct ChannelPlanes {
    let outer, height, width, lanes: Int
    /// The tensor's layout, which outputs of the same shape keep.
    let layout: dnnl_format_tag_t

    /// The geometry of `x`, or nil where its layout is none of the above.
    init?(_ x: MemoryDesc) {
        let d = x.dims
        guard d.count == 4 else { return nil }
        let (n, c) = (d[0], d[1])
        if x == MemoryDesc(d, dnnl_nChw8c) {
            (outer, lanes, layout) = (n * ((c + 7) / 8), 8, dnnl_nChw8c)
        } else if x == MemoryDesc(d, dnnl_nChw16c) {
            (outer, lanes, layout) = (n * ((c + 15) / 16), 16, dnnl_nChw16c)
        } else if x == MemoryDesc(d, dnnl_nhwc), c % 8 == 0 {
            (outer, lanes, layout) = (n, c, dnnl_nhwc)
        } else {
            return nil
        }
        (height, width) = (d[2], d[3])
    }

    var planeSize: Int { height * width }
}
