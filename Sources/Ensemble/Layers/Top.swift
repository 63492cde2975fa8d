/// Top: the top of every stack. Here the coordinator's membership decisions will live
/// (block, fail, view, merge); today it sinks the events nobody above wants and passes the
/// next view and the exit to the endpoint.
public final class Top: Layer {
    private let port: LayerPort

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) {
        self.port = port
    }

    public func up(_ event: Event) {
        switch event {
        case .view, .exit:
            port.up(event)
        default:
            break  // stray events end here
        }
    }

    public func down(_ event: Event) {
        port.down(event)
    }
}
