/// Fields shared by the layers' headers (see `LayerHeader` for their tags). The rule by which
/// the membership layers find their coordinator is in `Roster`; rank sets encode themselves
/// (`RankSet.encode`, with their exact size).

/// Writes an array of counts as varints.
func encodeCounts<W: WireWriting>(_ a: [Int], into w: inout W) {
    w.writeCount(a.count)
    for x in a { w.writeVarint(UInt64(max(0, x))) }
}

func decodeCounts(from r: inout WireReader, members: Int) throws(WireError) -> [Int] {
    let n = try r.readCount(limit: members)
    var a: [Int] = []
    a.reserveCapacity(n)
    for _ in 0 ..< n {
        let v: UInt64 = try r.readVarint()
        a.append(Int(clamping: v))
    }
    return a
}
