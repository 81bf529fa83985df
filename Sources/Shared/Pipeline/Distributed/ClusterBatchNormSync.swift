import Engine

/// SyncBatchNorm over a cluster's processes: BatchNorm's sums go through MPI_Allreduce, and the
/// trainer sets `share` to this process's part of each batch.
final class ClusterBatchNormSync: BatchNormSynchronizer {
    let cluster: Cluster
    var share = 1.0

    init(_ cluster: Cluster) { self.cluster = cluster }

    func sum(_ values: inout [Double]) { values = cluster.allreduceSum(values) }
}
