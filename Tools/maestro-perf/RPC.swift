import ArgumentParser
import CFloodBaseline
import Ensemble
import Foundation
import Maestro
import ToolSupport

/// `maestro-perf rpc`: the original maestro-perf. Two processes, each one CSX client member;
/// rank 0 does sequential round trips: cast an empty message, wait for the other's empty
/// cast in reply.
struct RPC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpc",
        abstract: "Sequential empty cast-and-reply round trips between two member processes (Maestro's maestro-perf).")

    @Option(help: "Round trips.")
    var rounds = 500

    @Flag(help: "End with one JSON object on the last line.")
    var json = false

    @Option(help: ArgumentHelp(
        "Pin both processes (and the C baseline) to this CPU. A round trip on one core avoids the cross-CPU wake-up, which dominates on virtual machines.",
        valueName: "cpu"))
    var pinCpu: Int?

    @Option(help: "(internal) Run the replying member, joining through this rendezvous.")
    var serve: String?

    @Option(help: "(internal) Group name.")
    var group = "maestro_rpc_perf_test"

    @OptionGroup var common: GroupOptions

    func run() throws {
        common.log.bootstrap()
        var ops = CSXOptions()
        ops.groupName = group
        ops.heartbeatRate = .milliseconds(10)
        ops.membershipType = .client
        ops.params = common.params
        ops.properties = common.properties
        ops.key = try common.key.secret()
        ops.encrypt = common.key.encrypt
        if let cpu = pinCpu {
            let rc = pin_to_cpu(Int32(cpu))
            guard rc == 0 else { throw ValidationError("cannot pin to CPU \(cpu): \(String(cString: strerror(-rc))); see nproc for the CPUs there are") }
        }
        let runtime = Runtime.current
        if let serve {
            guard let a = Address(serve) else { throw ValidationError("--serve needs HOST:PORT") }
            ops.gossip = [a.description]
            let member = try RPCMember(ops, runtime: runtime, replier: true)
            withExtendedLifetime(member) { runtime.start() }
        }
        let rendezvous = try runtime.rendezvous()
        ops.groupName = "\(group)-\(UInt32.random(in: 0 ... .max))"
        let me = try RPCMember(ops, runtime: runtime, replier: false)
        let child = try ChildProcess("maestro-perf", ["rpc", "--serve", rendezvous.description, "--group", ops.groupName, "--params", common.params]
                                     + common.memberArguments)
        // SIGTERM/SIGINT: the replying process leaves too, then this one's member leaves and it exits.
        runtime.onTermination = { _ in
            child.kill(SIGTERM)
            runtime.terminate()
        }
        runtime.installTerminationHandler()
        let progress = Progress()
        progress.update("waiting for the two-member view")
        guard runtime.run(until: { me.peer != nil }, timeout: .seconds(30)) else {
            throw ChildError("the two members never formed one view")
        }
        me.target = rounds
        progress.update("\(rounds) round trips")
        let start = Date()
        me.next()
        guard runtime.run(until: { me.done }, timeout: .seconds(120)) else {
            throw ChildError("round trips stopped after \(me.times.count)")
        }
        let elapsed = Date().timeIntervalSince(start)
        child.kill(SIGTERM)
        progress.finish()
        let sorted = me.times.sorted()
        let median = sorted[sorted.count / 2] * 1e6
        let p99 = sorted[min(sorted.count - 1, sorted.count * 99 / 100)] * 1e6
        print(String(format: "Elapsed time for %d rpcs = %.4f secs", rounds, elapsed))
        print(String(format: "Throughput = %.0f round trips/sec; round trip median %.1f us, p99 %.1f us", Double(rounds) / elapsed, median, p99))
        // The machine's floor, measured now: wake-ups between two processes dominate.
        var base = [Double](repeating: 0, count: max(rounds, 1))
        let rc = base.withUnsafeMutableBufferPointer { cpingpong_run(Int32($0.count), $0.baseAddress) }
        base.sort()
        let baseMedian = rc == 0 ? base[base.count / 2] : Double.nan
        if rc == 0 {
            print(String(format: "C baseline (two processes, UDP echo, epoll): round trip median %.1f us, p99 %.1f us",
                         baseMedian, base[min(base.count - 1, base.count * 99 / 100)]))
        } else {
            print("C baseline failed: \(String(cString: strerror(-rc)))")
        }
        if json {
            print(jsonLine(["benchmark": "rpc", "rounds": rounds, "seconds": elapsed, "round_trips_per_sec": Double(rounds) / elapsed,
                            "round_trip_us_median": median, "round_trip_us_p99": p99, "baseline_round_trip_us_median": baseMedian,
                            "pinned_cpu": pinCpu ?? -1]))
        }
    }
}

final class RPCMember: CSX {
    let replier: Bool
    var peer: EndpID?
    var target = 0
    var times: [Double] = []
    var done = false
    private var sentAt = timespec()

    init(_ ops: CSXOptions, runtime: Runtime, replier: Bool) throws {
        self.replier = replier
        super.init(ops, shell: runtime)
        try join()
    }

    override func csxAcceptedViewCallback(_ viewData: CSXViewData, _ msg: inout Message) {
        if viewData.nmembers == 2 { peer = viewData.members.first { $0 != viewData.myEndpID } }
        else if viewData.nmembers < 2 && !replier && target > 0 && !done {
            done = true  // the other one is gone
        }
    }

    func next() {
        guard times.count < target else {
            done = true
            return
        }
        clock_gettime(CLOCK_MONOTONIC, &sentAt)
        cast(Message())
    }

    override func csxReceiveCastCallback(_ origin: EndpID, _ msg: inout Message) {
        if replier {
            cast(Message())
            return
        }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        times.append(Double(now.tv_sec - sentAt.tv_sec) + Double(now.tv_nsec - sentAt.tv_nsec) / 1e9)
        next()
    }
}
