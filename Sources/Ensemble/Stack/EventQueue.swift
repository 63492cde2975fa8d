/// The FIFO queue of events between a stack's layers: a ring buffer that takes events over
/// (`consuming`) and hands them out by moving them, so an event crossing a layer boundary is
/// never copied (no reference counting on its packet). Grows by doubling; never shrinks.
final class EventQueue {
    typealias Item = (index: Int, up: Bool, event: Event)

    // Unchecked exclusivity: push and pop are the only accessors and never nest.
    @exclusivity(unchecked) private var buffer: UnsafeMutablePointer<Item>
    @exclusivity(unchecked) private var capacity: Int
    @exclusivity(unchecked) private var head = 0
    @exclusivity(unchecked) private(set) var count = 0

    init(capacity: Int = 64) {
        var c = 1
        while c < capacity { c <<= 1 }
        self.capacity = c
        buffer = .allocate(capacity: c)
    }

    deinit {
        while count > 0 { _ = pop() }
        buffer.deallocate()
    }

    var isEmpty: Bool { count == 0 }

    func push(_ index: Int, _ up: Bool, _ event: consuming Event) {
        if count == capacity { grow() }
        (buffer + ((head + count) & (capacity - 1))).initialize(to: (index, up, event))
        count += 1
    }

    func pop() -> Item? {
        guard count > 0 else { return nil }
        let item = (buffer + head).move()
        head = (head + 1) & (capacity - 1)
        count -= 1
        return item
    }

    private func grow() {
        let bigger = UnsafeMutablePointer<Item>.allocate(capacity: capacity * 2)
        for i in 0 ..< count {
            (bigger + i).moveInitialize(from: buffer + ((head + i) & (capacity - 1)), count: 1)
        }
        buffer.deallocate()
        buffer = bigger
        capacity *= 2
        head = 0
    }
}
