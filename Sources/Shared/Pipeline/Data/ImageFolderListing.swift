import Engine
import Foundation

/// The image files of a folder dataset and their labels, split by split, in the order
/// torchvision would visit them (which is the row order of every logits file made from them).
///
/// Two layouts:
/// - `folder`, torchvision's `ImageFolder`: `train/` and `test/` (and optionally `val/`), each
///   with one subfolder per class. The classes are `train/`'s subfolders sorted by name, a
///   class's index its position. Within a class, files are visited as `sorted(os.walk(...))`
///   then `sorted(filenames)` visits them, symbolic links followed. A file counts when its
///   extension, in any case, is one of ImageFolder's (.jpg .jpeg .png .ppm .bmp .pgm .tif
///   .tiff .webp); the last three are listed so that rows stay aligned with torchvision's, and
///   the decoder refuses them by name.
/// - `food-11`: `training/`, `validation/`, `evaluation/`, each flat, files named
///   `<label>_<id>.<ext>` with a label in 0..<11, visited in sorted order.
public struct ImageFolderListing: Sendable {
    public struct Entry: Equatable, Sendable {
        /// Path relative to the dataset's root, e.g. "train/cat/001.png".
        public var path: String
        public var label: Int
    }

    public enum Layout: String, Sendable {
        case folder
        case food11 = "food-11"
    }

    public let root: String
    public let layout: Layout
    public let classNames: [String]
    public let train: [Entry]
    /// nil when the dataset has no validation folder (the split is then carved from `train`).
    public let val: [Entry]?
    public let test: [Entry]

    /// torchvision's `IMG_EXTENSIONS`.
    public static let torchvisionExtensions: Set<String> = ["jpg", "jpeg", "png", "ppm", "bmp", "pgm", "tif", "tiff", "webp"]

    /// food-11's classes, by label.
    public static let food11ClassNames = ["Bread", "Dairy product", "Dessert", "Egg", "Fried food", "Meat",
                                          "Noodles/Pasta", "Rice", "Seafood", "Soup", "Vegetable/Fruit"]

    /// Lists `root`. A missing folder, a class without images, a test or val class that the
    /// training folder lacks, or a food-11 name without a valid label is an error naming the path.
    public init(root: String, layout: Layout) throws {
        self.root = root
        self.layout = layout
        let fm = FileManager.default
        func folder(_ name: String, required: Bool) throws -> String? {
            let path = (root as NSString).appendingPathComponent(name)
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue { return path }
            if required { throw KDError(file: path, "folder not found (the \(layout.rawValue) layout needs it)") }
            return nil
        }
        switch layout {
        case .folder:
            let trainDir = try folder("train", required: true)!
            let classes = try Self.subfolders(trainDir)
            guard !classes.isEmpty else { throw KDError(file: trainDir, "has no class subfolders") }
            classNames = classes
            train = try Self.listClasses(trainDir, split: "train", classes: classes, requireAll: true)
            test = try Self.listClasses(try folder("test", required: true)!, split: "test", classes: classes, requireAll: false)
            val = try folder("val", required: false).map { try Self.listClasses($0, split: "val", classes: classes, requireAll: false) }
        case .food11:
            classNames = Self.food11ClassNames
            train = try Self.listFood11(try folder("training", required: true)!, split: "training")
            val = try Self.listFood11(try folder("validation", required: true)!, split: "validation")
            test = try Self.listFood11(try folder("evaluation", required: true)!, split: "evaluation")
        }
    }

    /// Python's string order (by code point).
    static func pythonLess(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
    }

    static func isImage(_ name: String) -> Bool {
        torchvisionExtensions.contains((name as NSString).pathExtension.lowercased())
    }

    /// Names of the folders (or links to folders) in `dir`, sorted as Python sorts.
    static func subfolders(_ dir: String) throws -> [String] {
        try contents(dir).filter { name in
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: dir + "/" + name, isDirectory: &isDir) && isDir.boolValue
        }.sorted(by: pythonLess)
    }

    private static func contents(_ dir: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: dir)
        } catch {
            throw KDError(file: dir, "cannot list folder (permission denied?)")
        }
    }

    /// `split/<class>/...` of every class folder present, labelled by the class's index.
    private static func listClasses(_ splitDir: String, split: String, classes: [String], requireAll: Bool) throws -> [Entry] {
        let present = try subfolders(splitDir)
        if let stranger = present.first(where: { !classes.contains($0) }) {
            throw KDError(file: splitDir + "/" + stranger, "class folder that train/ does not have (classes come from train/)")
        }
        var entries: [Entry] = []
        for (label, name) in classes.enumerated() where present.contains(name) || requireAll {
            let files = try walk(splitDir + "/" + name, relativeTo: splitDir).filter { isImage($0) }
            if files.isEmpty && requireAll {
                throw KDError(file: splitDir + "/" + name, "class folder holds no image files (extensions: \(torchvisionExtensions.sorted().joined(separator: ", ")))")
            }
            entries += files.map { Entry(path: split + "/" + $0, label: label) }
        }
        guard !entries.isEmpty else { throw KDError(file: splitDir, "holds no image files") }
        return entries
    }

    /// Every file under `dir` as a path relative to `base`, in `sorted(os.walk(dir))` order:
    /// folders by path, then each folder's files by name.
    private static func walk(_ dir: String, relativeTo base: String) throws -> [String] {
        var folders: [(path: String, files: [String])] = []
        var pending = [dir]
        var seen = Set<String>()
        while let current = pending.popLast() {
            // A link cycle would walk forever; each real folder is visited once.
            let real = (current as NSString).resolvingSymlinksInPath
            guard seen.insert(real).inserted else { continue }
            var files: [String] = []
            for name in try contents(current) {
                let path = current + "/" + name
                var isDir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { continue }
                if isDir.boolValue { pending.append(path) } else { files.append(name) }
            }
            folders.append((current, files.sorted(by: pythonLess)))
        }
        let prefix = base.count + 1
        return folders.sorted { pythonLess($0.path, $1.path) }.flatMap { folder in
            folder.files.map { String((folder.path + "/" + $0).dropFirst(prefix)) }
        }
    }

    private static func listFood11(_ dir: String, split: String) throws -> [Entry] {
        let names = try contents(dir).filter { isImage($0) }.sorted(by: pythonLess)
        guard !names.isEmpty else { throw KDError(file: dir, "holds no image files") }
        return try names.map { name in
            let prefix = name.prefix { $0 != "_" }
            guard prefix.count < name.count, let label = Int(prefix), (0..<food11ClassNames.count).contains(label) else {
                throw KDError(file: dir + "/" + name, "food-11 file names are <label>_<id>.jpg with a label in 0...10")
            }
            return Entry(path: split + "/" + name, label: label)
        }
    }
}
