import Foundation

/// How a folder dataset's images become tensors: decoded to RGB, resized to `size` x `size`
/// (torchvision's `Resize((size, size))` on PIL images, or `Resize(size)` then
/// `CenterCrop(size)`), kept as RGB or turned into grey, and cached decoded under
/// `cacheDirectory`.
public struct ImageFolderOptions: Equatable, Sendable {
    /// Side of the square every image is resized to.
    public var size: Int
    public var resize = Resize.stretch

    public enum Resize: String, CaseIterable, Sendable {
        /// `Resize((size, size))`: both sides to `size`, the aspect ratio lost.
        case stretch
        /// `Resize(size)` then `CenterCrop(size)`: the shorter side to `size`, the longer in
        /// proportion (truncated, as torchvision), then the centre square.
        case shorterSide = "shorter_side"
    }
    /// 3 (RGB) or 1 (grey, PIL's `convert("L")` after resizing).
    public var channels: Int
    /// Folder of the decoded caches; nil for `defaultCacheDirectory`.
    public var cacheDirectory: String?
    /// Leave out images that cannot be decoded (listed on every load) instead of stopping.
    public var skipBadImages: Bool
    /// Decoded images larger than this many bytes stay in the cache file and are read batch by
    /// batch (`ImageStore`); smaller ones are read into memory.
    public var memoryBudget: Int

    public init(size: Int = 32, channels: Int = 3, cacheDirectory: String? = nil, skipBadImages: Bool = false,
                memoryBudget: Int = ImageFolderOptions.defaultMemoryBudget) {
        self.size = size
        self.channels = channels
        self.cacheDirectory = cacheDirectory
        self.skipBadImages = skipBadImages
        self.memoryBudget = memoryBudget
    }

    /// A quarter of this machine's memory.
    public static var defaultMemoryBudget: Int { Int(ProcessInfo.processInfo.physicalMemory / 4) }

    /// `$KD_CACHE_DIR`, else `$XDG_CACHE_HOME/kd-pipeline`, else `~/.cache/kd-pipeline`.
    public static var defaultCacheDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["KD_CACHE_DIR"], !dir.isEmpty { return dir }
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/kd-pipeline" }
        return NSHomeDirectory() + "/.cache/kd-pipeline"
    }
}
