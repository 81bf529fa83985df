/// What SyncBatchNorm needs from a data-parallel job: sums over its processes, and this
/// process's share of the current batch (its samples / the batch's).
public protocol BatchNormSynchronizer: AnyObject {
    func sum(_ values: inout [Double])
    var share: Double { get }
}
