import Engine
import Foundation

/// The two pictures of a sweep, as self-contained SVG.
enum SVGChart {
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Mean validation accuracy for each (alpha, T), a cell per pair, darker is better; where
    /// the sweep varies the soft term, for the chosen configuration's.
    static func heatmap(_ r: SweepResults) -> String {
        let ts = r.spec.temperatures, alphas = r.spec.alphas
        let cell = 80.0, left = 90.0, top = 60.0
        let width = max(left + cell * Double(ts.count) + 20, 380), height = top + cell * Double(alphas.count) + 60
        let chosen = r.chosen?.configuration
        let kd = r.rows.filter { row in !row.isScratch && (chosen.map { row.configuration.sameSoftTerm(as: $0) } ?? true) }
        let values = kd.map(\.val.mean).filter { $0.isFinite }
        let lo = values.min() ?? 0, hi = values.max() ?? 1
        let variant = chosen?.softTermLabel
        var svg = header(width, height, title: "Validation accuracy (%), mean over seeds" + (variant.map { " (\($0))" } ?? ""))
        for (j, t) in ts.enumerated() {
            svg += text(left + cell * (Double(j) + 0.5), top - 10, "T = \(numberText(t))", anchor: "middle")
        }
        for (i, a) in alphas.enumerated() {
            let y = top + cell * Double(i)
            svg += text(left - 10, y + cell / 2 + 4, "α = \(numberText(a))", anchor: "end")
            for (j, t) in ts.enumerated() {
                let x = left + cell * Double(j)
                if let row = kd.first(where: { $0.alpha == a && $0.temperature == t }), row.val.mean.isFinite {
                    let u = hi > lo ? (row.val.mean - lo) / (hi - lo) : 1
                    let shade = Int(235 - 170 * u)
                    svg += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(cell - 2)\" height=\"\(cell - 2)\" fill=\"rgb(\(shade),\(shade + 10 > 255 ? 255 : shade + 10),255)\"/>\n"
                    let isChosen = r.chosen.map { $0.alpha == a && $0.temperature == t } ?? false
                    svg += text(x + cell / 2, y + cell / 2 + 4, String(format: "%.2f%@", 100 * row.val.mean, isChosen ? "*" : ""),
                                anchor: "middle", fill: u > 0.6 ? "white" : "black")
                } else {
                    svg += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(cell - 2)\" height=\"\(cell - 2)\" fill=\"#eeeeee\"/>\n"
                    svg += text(x + cell / 2, y + cell / 2 + 4, "—", anchor: "middle")
                }
            }
        }
        var foot = "* chosen on validation"
        if let s = r.scratch { foot += String(format: "; scratch: %.2f%%", 100 * s.val.mean) }
        svg += text(left, height - 20, foot)
        return svg + "</svg>\n"
    }

    /// Validation accuracy per epoch (mean over seeds) of the chosen configuration and scratch.
    static func curves(_ r: SweepResults) -> String {
        let series: [(String, String, [Double])] = [r.chosen.map { ("KD: " + $0.label, "#1f77b4", meanCurve($0)) },
                                                    r.scratch.map { ("scratch", "#d62728", meanCurve($0)) }].compactMap { $0 }
        return lines(series, title: "Validation accuracy by epoch (mean over seeds)")
    }

    /// Accuracy curves by epoch, one polyline per (name, colour, values), in %.
    static func lines(_ series: [(String, String, [Double])], title: String) -> String {
        let width = 560.0, height = 360.0, left = 60.0, right = 20.0, top = 40.0, bottom = 50.0
        let all = series.flatMap(\.2)
        let epochs = max(series.map(\.2.count).max() ?? 1, 2)
        let lo = (all.min() ?? 0) - 0.005, hi = (all.max() ?? 1) + 0.005
        func px(_ e: Int) -> Double { left + (width - left - right) * Double(e) / Double(epochs - 1) }
        func py(_ v: Double) -> Double { top + (height - top - bottom) * (1 - (v - lo) / max(hi - lo, 1e-9)) }
        var svg = header(width, height, title: title)
        svg += "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - right)\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
        svg += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
        for k in 0...4 {
            let v = lo + (hi - lo) * Double(k) / 4
            svg += text(left - 6, py(v) + 4, String(format: "%.1f", 100 * v), anchor: "end")
        }
        svg += text((left + width - right) / 2, height - 15, "epoch (1 to \(epochs))", anchor: "middle")
        for (i, (name, color, curve)) in series.enumerated() where !curve.isEmpty {
            let points = curve.enumerated().map { String(format: "%.1f,%.1f", px($0.offset), py($0.element)) }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points)\"/>\n"
            svg += "<rect x=\"\(left + 10)\" y=\"\(top + 8 + 18 * Double(i))\" width=\"12\" height=\"4\" fill=\"\(color)\"/>\n"
            svg += text(left + 28, top + 14 + 18 * Double(i), name)
        }
        return svg + "</svg>\n"
    }

    /// A confusion matrix as a grid: rows the true class, columns the predicted one, each cell
    /// shaded by its share of the row (the count written in it for up to 20 classes).
    static func confusion(_ m: ConfusionMatrix, names: [String], title: String) -> String {
        let k = m.classes
        let cell = min(36.0, 540.0 / Double(k)), left = 110.0, top = 70.0
        let width = left + cell * Double(k) + 20, height = top + cell * Double(k) + 40
        var svg = header(width, height, title: title)
        svg += text(left + cell * Double(k) / 2, top - 30, "predicted class", anchor: "middle")
        func name(_ c: Int) -> String { k > 20 ? String(c) : String(names[c].prefix(12)) }
        for c in 0..<k {
            svg += text(left - 6, top + cell * (Double(c) + 0.5) + 4, name(c), anchor: "end", size: k > 20 ? 9 : 12)
            svg += text(left + cell * (Double(c) + 0.5), top - 8, k > 20 ? "" : String(c), anchor: "middle", size: 11)
        }
        for t in 0..<k {
            let total = max(m.total(truth: t), 1)
            for p in 0..<k {
                let share = Double(m.count(truth: t, predicted: p)) / Double(total)
                let shade = Int(255 - 200 * share.squareRoot())
                let x = left + cell * Double(p), y = top + cell * Double(t)
                svg += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(cell - 1)\" height=\"\(cell - 1)\" fill=\"rgb(\(shade),\(shade),255)\"/>\n"
                if k <= 20, m.count(truth: t, predicted: p) > 0 {
                    svg += text(x + cell / 2, y + cell / 2 + 4, String(m.count(truth: t, predicted: p)), anchor: "middle",
                                fill: share > 0.5 ? "white" : "black", size: 10)
                }
            }
        }
        svg += text(left + cell * Double(k) / 2, height - 12, String(format: "accuracy %.2f%%; rows: true class", 100 * m.accuracy), anchor: "middle")
        return svg + "</svg>\n"
    }

    static func meanCurve(_ row: SweepResults.Row) -> [Double] {
        let n = row.runs.map(\.valCurve.count).min() ?? 0
        return (0..<n).map { e in row.runs.map { $0.valCurve[e] }.reduce(0, +) / Double(row.runs.count) }
    }

    static func header(_ w: Double, _ h: Double, title: String) -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" font-family=\"sans-serif\" font-size=\"13\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
            + text(w / 2, 22, title, anchor: "middle", size: 15)
    }

    static func text(_ x: Double, _ y: Double, _ s: String, anchor: String = "start", fill: String = "black", size: Int = 13) -> String {
        "<text x=\"\(String(format: "%.1f", x))\" y=\"\(String(format: "%.1f", y))\" text-anchor=\"\(anchor)\" fill=\"\(fill)\" font-size=\"\(size)\">\(escape(s))</text>\n"
    }
}
