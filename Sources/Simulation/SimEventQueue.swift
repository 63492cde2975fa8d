import Ensemble

/// The world's pending events: an array-based binary min-heap ordered by (time, sequence
/// number). Sequence numbers are handed out in insertion order and never reused, so events at
/// the same time run in the order they were scheduled, and a sequence number identifies one
/// scheduling for good (stale wake-ups and cancelled events are recognised by it).
///
/// Entries are small plain values (no closures, no references): the payload lives in the
/// world's side tables, indexed by `ref`. Pushing and popping allocate nothing once the array
/// has grown to its working size.
struct SimEventQueue {
    enum Kind: UInt8 {
        /// A datagram arrives; `ref` indexes the world's in-flight table.
        case delivery
        /// A transport's wake-up; `ref` indexes the world's transport table.
        case wake
        /// A transport's idle callback; `ref` indexes the world's transport table.
        case idle
        /// A driver closure; `ref` indexes the world's driver table.
        case driver
    }

    struct Entry {
        var time: Int64
        var seq: UInt64
        var ref: UInt32
        var kind: Kind

        @inline(__always)
        static func precedes(_ a: Entry, _ b: Entry) -> Bool {
            a.time < b.time || (a.time == b.time && a.seq < b.seq)
        }
    }

    private var heap: ContiguousArray<Entry> = []
    private var lastSeq: UInt64 = 0

    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }

    /// The earliest entry, if any.
    var first: Entry? { heap.first }

    /// Queues an event and returns its sequence number (never 0).
    @discardableResult
    mutating func push(time: Time, kind: Kind, ref: Int) -> UInt64 {
        lastSeq &+= 1
        let entry = Entry(time: time.nanoseconds, seq: lastSeq, ref: UInt32(truncatingIfNeeded: ref), kind: kind)
        heap.append(entry)
        heap.withUnsafeMutableBufferPointer { buf in
            var i = buf.count - 1
            while i > 0 {
                let parent = (i - 1) >> 1
                guard Entry.precedes(entry, buf[parent]) else { break }
                buf[i] = buf[parent]
                i = parent
            }
            buf[i] = entry
        }
        return lastSeq
    }

    /// Removes and returns the earliest entry.
    mutating func popFirst() -> Entry? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if heap.isEmpty { return top }
        heap.withUnsafeMutableBufferPointer { buf in
            let n = buf.count
            var i = 0
            while true {
                var child = 2 * i + 1
                if child >= n { break }
                if child + 1 < n && Entry.precedes(buf[child + 1], buf[child]) { child += 1 }
                guard Entry.precedes(buf[child], last) else { break }
                buf[i] = buf[child]
                i = child
            }
            buf[i] = last
        }
        return top
    }
}
