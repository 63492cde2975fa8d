// Splits an inline command line into arguments the way Redis's sdssplitargs does: blanks
// separate words; "double quotes" take \n \r \t \b \a \\ \" and \xHH escapes; 'single quotes'
// take \'. A closing quote must be followed by a blank or the end of the line.

enum InlineSplitter {
    /// The words of `line`, or nil if a quote is unbalanced (or not followed by a blank).
    static func split(_ line: ArraySlice<UInt8>) -> [[UInt8]]? {
        var words: [[UInt8]] = []
        var i = line.startIndex
        let end = line.endIndex
        func isBlank(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 10 || c == 13 || c == 11 || c == 12 || c == 0 }
        while true {
            while i < end && isBlank(line[i]) { i += 1 }
            guard i < end else { return words }
            var word: [UInt8] = []
            var inDouble = false, inSingle = false
            while true {
                if inDouble {
                    guard i < end else { return nil }
                    let c = line[i]
                    if c == UInt8(ascii: "\\") && i + 3 < end && line[i + 1] == UInt8(ascii: "x"),
                       let h = hex(line[i + 2]), let l = hex(line[i + 3]) {
                        word.append(h << 4 | l)
                        i += 4
                        continue
                    }
                    if c == UInt8(ascii: "\\") && i + 1 < end {
                        switch line[i + 1] {
                        case UInt8(ascii: "n"): word.append(10)
                        case UInt8(ascii: "r"): word.append(13)
                        case UInt8(ascii: "t"): word.append(9)
                        case UInt8(ascii: "b"): word.append(8)
                        case UInt8(ascii: "a"): word.append(7)
                        default: word.append(line[i + 1])
                        }
                        i += 2
                        continue
                    }
                    if c == UInt8(ascii: "\"") {
                        // The closing quote must end the word.
                        if i + 1 < end && !isBlank(line[i + 1]) { return nil }
                        i += 1
                        break
                    }
                    word.append(c)
                    i += 1
                } else if inSingle {
                    guard i < end else { return nil }
                    let c = line[i]
                    if c == UInt8(ascii: "\\") && i + 1 < end && line[i + 1] == UInt8(ascii: "'") {
                        word.append(UInt8(ascii: "'"))
                        i += 2
                        continue
                    }
                    if c == UInt8(ascii: "'") {
                        if i + 1 < end && !isBlank(line[i + 1]) { return nil }
                        i += 1
                        break
                    }
                    word.append(c)
                    i += 1
                } else {
                    guard i < end else { break }
                    let c = line[i]
                    if isBlank(c) { break }
                    if c == UInt8(ascii: "\"") { inDouble = true } else if c == UInt8(ascii: "'") { inSingle = true } else { word.append(c) }
                    i += 1
                }
            }
            words.append(word)
        }
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case 48 ... 57: c - 48
        case 97 ... 102: c - 87
        case 65 ... 70: c - 55
        default: nil
        }
    }
}
