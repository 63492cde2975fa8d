/// A stack of layers built for one view from a protocol string, top layer first.
///
/// Events between layers go through one FIFO queue: a handler's outputs are handled after it
/// returns, in the order emitted, so no layer is ever re-entered and every pair of adjacent
/// layers sees FIFO order in each direction (Ensemble's I/O-automaton model).
public final class Stack {
    enum Direction { case up, down }

    public let view: ViewState
    public let rank: Rank
    public let layerNames: [String]
    let drops: DropCounters
    private(set) var layers: [any Layer] = []
    private let queue = EventQueue()
    private var running = false
    /// Receives events that leave the top of the stack.
    private let above: (Event) -> Void
    /// When set, sees every event as a layer handles it (debugging; costly).
    public var tracer: ((_ layer: String, _ up: Bool, _ event: Event) -> Void)?

    /// Builds the stack. `above` receives every event the top layer emits upward.
    public convenience init(protocolStack: String, setup: LayerSetup, services: StackServices,
                            registry: LayerRegistry = .standard, above: @escaping (Event) -> Void) throws(StackError) {
        try self.init(entries: try registry.validate(protocolStack), setup: setup, services: services, above: above)
    }

    /// A stack of the given layers, unchecked: for testing one layer between probes.
    init(entries: [LayerRegistry.Entry], setup: LayerSetup, services: StackServices,
         above: @escaping (Event) -> Void) throws(StackError) {
        view = setup.view
        rank = setup.rank
        self.above = above
        drops = setup.shared.drops
        layerNames = entries.map(\.canonicalName)
        for (i, entry) in entries.enumerated() {
            do {
                layers.append(try entry.factory(setup, LayerPort(stack: self, index: i), services))
            } catch {
                throw .badParameter(layer: entry.canonicalName, error)
            }
        }
    }

    /// The layer of type `L` (the first one), for the endpoint and tests.
    public func layer<L: Layer>(_: L.Type) -> L? {
        for l in layers { if let l = l as? L { return l } }
        return nil
    }

    /// Injects an event at the bottom, travelling up (from the network or the alarm clock).
    public func injectUp(_ event: consuming Event) {
        enqueue(layers.count - 1, .up, event)
    }

    /// Injects an event at layer `index`, travelling down (the application, via Top_appl).
    public func injectDown(_ event: consuming Event, at index: Int) {
        enqueue(index, .down, event)
    }

    public func index<L: Layer>(of _: L.Type) -> Int? { layers.firstIndex { $0 is L } }

    @inline(__always)
    func enqueue(_ index: Int, _ direction: Direction, _ event: consuming Event) {
        queue.push(index, direction == .up, event)
        if !running { drain() }
    }

    /// Handles queued events until none is left.
    private func drain() {
        running = true
        defer { running = false }
        while let (index, up, event) = queue.pop() {
            if index < 0 {
                above(event)
            } else if index < layers.count {
                if let tracer { tracer(layerNames[index], up, event) }
                if up { layers[index].up(event) } else { layers[index].down(event) }
            }
            // index == layers.count: Bottom never emits below itself; nothing to do.
        }
    }
}

/// Why a stack could not be built.
public enum StackError: Error, Equatable, CustomStringConvertible {
    case emptyProtocol
    case unknownLayer(String, known: [String])
    case misplacedLayer(String, reason: String, known: [String])
    case duplicateLayer(String)
    case missingLayer(String)
    case notImplemented(String)
    case badParameter(layer: String, ParameterError)
    /// A property name `Properties` does not know (`known`: the list, one per line).
    case unknownProperty(String, known: String)
    /// Properties that cannot be built together, and why.
    case propertyConflict(String)

    public var description: String {
        switch self {
        case .emptyProtocol:
            "the protocol string is empty"
        case let .unknownLayer(name, known):
            "unknown layer '\(name)'; known layers, top to bottom: \(known.joined(separator: ":"))"
        case let .misplacedLayer(name, reason, known):
            "layer '\(name)' is misplaced: \(reason); the order is, top to bottom: \(known.joined(separator: ":"))"
        case let .duplicateLayer(name):
            "layer '\(name)' appears twice"
        case let .missingLayer(name):
            "a stack needs the '\(name)' layer"
        case let .notImplemented(name):
            "layer '\(name)' is not implemented in this build"
        case let .badParameter(layer, error):
            "layer \(layer): \(error)"
        case let .unknownProperty(name, known):
            "unknown property '\(name)'; the known properties are:\n\(known)"
        case let .propertyConflict(why):
            why
        }
    }
}
