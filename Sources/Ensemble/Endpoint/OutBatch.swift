/// The datagram being filled for one destination during one loop turn.
struct OutBatch {
    var bytes: [UInt8] = []
    var messages = 0

    var isEmpty: Bool { messages == 0 }

    mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        messages = 0
    }
}
