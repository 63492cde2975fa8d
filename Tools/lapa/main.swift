import ArgumentParser
import ToolSupport

/// The lapa demo group: the seed program of Maestro's asynchronous state transfer, in Swift.
/// The group itself arrives with the Maestro issue; until then this explains what exists.
struct Lapa: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lapa",
        abstract: "Run the lapa demo group (Maestro's asynchronous state-transfer example).")

    @OptionGroup var log: LogOptions

    func run() throws {
        log.bootstrap()
        print("""
            lapa: the demo group needs the protocol stack and the Maestro API, which are not built yet.
            What this build has: the libev reactor, the wire codec and the simulator.
            Try: .build/release/maestro-perf udp --size 1024
            """)
    }
}

Lapa.main()
