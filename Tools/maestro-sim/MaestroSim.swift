import ArgumentParser
import Ensemble
import Foundation
import MaestroSimulation
import Simulation
import ToolSupport

/// `maestro-sim`: seeded whole-group runs of the real stack on the simulator, checked by the
/// property checker. Every failing seed is printed with a command that replays it exactly.
@main
struct MaestroSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maestro-sim",
        abstract: "Run seeded simulations of whole groups and check the group-communication guarantees.",
        discussion: """
            Each seed builds a group of simulated processes running the real protocol stack on a \
            simulated network. Every member starts alone and finds the others through a gossip \
            rendezvous (or, with --static, all start in one view). Random casts and sends (0 to \
            64 KB, so fragmentation works hard) run while the chosen faults are injected; then \
            the faults stop and the group settles. The checks: integrity, no duplicates, FIFO, \
            no self-delivery, sending-view delivery, reliable delivery, view self-inclusion, \
            monotonic and agreed views, virtual synchrony, send synchrony, block discipline, \
            merge correctness, leave, and liveness (one final view of exactly the live members). \
            The same seed always replays the same run. The last line is `N passed, N failed`.

            With --maestro, the members are Maestro CSX servers holding a replicated state (of \
            random size, streamed in chunks) and some clients, each with a random transfer type \
            (atomic, protected, free), sending updates and messages of random safety. The \
            checks: no callback after exit, a client never gets state, exactly one block between \
            accepted views, FIFO of casts and sends (held messages released in order), every \
            installed state is the one its provider sent for that transfer, the servers of each \
            final view hold the same state, and every live member ends in one view with its \
            transfer done.
            """)

    @Option(help: "Number of seeds to run (seeds first-seed, first-seed+1, ...).")
    var seeds = 100

    @Option(help: "Run only this seed (replay).")
    var seed: UInt64?

    @Option(help: "First seed when running several.")
    var firstSeed: UInt64 = 1

    @Option(help: "Members per group: a number, or a range such as 3-8 (drawn per seed).")
    var members = "3-8"

    @Option(help: "Faults to inject: any of loss,dup,reorder,delay,crash,restart,quickrestart,leave,partition,heal; or network, all, none.")
    var faults = "all"

    @Flag(help: "Every member starts in one given view instead of alone.")
    var `static` = false

    @Flag(help: "Run Maestro CSX servers and clients with a replicated state and state transfers (see below).")
    var maestro = false

    @Option(help: "With --maestro: the largest replicated state, in bytes.")
    var maxStateBytes = 2 << 20

    @Option(help: "Protocol stack, top layer first (default: what --properties choose, else the seed's stack).")
    var protocolStack: String?

    @Option(help: "Virtual seconds of traffic (and faults) per seed.")
    var trafficSeconds = 6.0

    @Option(help: "Virtual seconds after the faults stop, for repairs and convergence.")
    var settleSeconds = 60.0

    @Flag(help: "Print one line per seed, and each member's final view.")
    var verbose = false

    @Flag(help: "End with one JSON object on the last line: passed, failed, longest_blocked_seconds, blocked_p90_seconds, ...")
    var json = false

    @Flag(help: "Print the membership history (views, blocks, faults) of every failing seed, or of the one seed given with --seed.")
    var history = false

    @Option(help: "Add every membership event of this member (0-based) to the history (debugging).")
    var trace: Int?

    @OptionGroup var common: GroupOptions

    func validate() throws {
        guard seeds > 0 else { throw ValidationError("--seeds must be positive") }
        _ = try memberRange()
        do { _ = try FaultSet(parsing: faults) } catch { throw ValidationError(error.description) }
    }

    func memberRange() throws -> ClosedRange<Int> {
        let parts = members.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        switch parts.count {
        case 1: if let a = parts[0], a >= 1 { return a ... a }
        case 2: if let a = parts[0], let b = parts[1], a >= 1, b >= a { return a ... b }
        default: break
        }
        throw ValidationError("--members must be a number or a range such as 3-8")
    }

    /// The member count of a seed: fixed, or drawn from the seed.
    static func members(for seed: UInt64, in range: ClosedRange<Int>) -> Int {
        var z = seed &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return range.lowerBound + Int(z % UInt64(range.count))
    }

    func run() throws {
        common.log.bootstrap()
        let range = try memberRange()
        let faultSet = try FaultSet(parsing: faults)
        let parameters = try Parameters(parsing: common.params)
        let stack = try common.protocolStack(explicit: protocolStack)
        let secret = try common.key.secret()
        let list: [UInt64] = seed.map { [$0] } ?? (0 ..< UInt64(seeds)).map { firstSeed + $0 }
        var sent = 0
        var worstBlocked: (Time, UInt64, String) = (.zero, 0, "")
        var worstLeave: (Time, UInt64, String) = (.zero, 0, "")
        var blockedPerSeed: [Double] = []
        var views = 0
        if maestro {
            try runMaestro(list, range, faultSet, parameters, stack)
            return
        }
        let (passed, failed, elapsed) = forEachSeed(list, range) { s, n in
            var config = GroupScenario.Config(seed: s, members: n, faults: faultSet)
            config.staticView = `static`
            config.protocolStack = stack
            config.params = parameters
            config.trafficTime = .seconds(trafficSeconds)
            config.settleTime = .seconds(settleSeconds)
            config.traceMember = trace
            config.key = secret
            let result = GroupScenario(config).run()
            sent += result.messagesSent
            if result.longestBlocked > worstBlocked.0 { worstBlocked = (result.longestBlocked, s, result.longestBlockedMember) }
            if result.longestLeaveExclusion > worstLeave.0 { worstLeave = (result.longestLeaveExclusion, s, result.longestLeaveExclusionMember) }
            blockedPerSeed.append(result.longestBlocked.seconds)
            views += result.viewsInstalled
            return SeedOutcome(
                violations: result.violations,
                summary: "\(result.messagesSent) messages, \(result.deliveries) deliveries, \(result.viewsInstalled) views, \(result.faultsInjected) faults, converged at \(result.convergedAt), longest blocked \(result.longestBlocked)",
                finalViews: result.finalViews, history: result.history, progress: "\(sent) messages")
        }
        let p90 = Self.percentile(blockedPerSeed, 0.9)
        if worstBlocked.0 > .zero {
            print("longest blocked: \(worstBlocked.0) (seed \(worstBlocked.1), member \(worstBlocked.2)); 90th percentile of each seed's longest: \(String(format: "%.3f", p90)) s")
        }
        if worstLeave.0 > .zero {
            print("longest leave to exclusion: \(worstLeave.0) (seed \(worstLeave.1), \(worstLeave.2))")
        }
        print("\(passed) passed, \(failed) failed")
        if json {
            print(jsonLine([
                ("passed", passed), ("failed", failed), ("seeds", list.count), ("members", members), ("faults", faults),
                ("longest_blocked_seconds", worstBlocked.0.seconds), ("longest_blocked_seed", worstBlocked.1),
                ("blocked_p90_seconds", p90), ("longest_leave_exclusion_seconds", worstLeave.0.seconds),
                ("messages", sent), ("views", views), ("seconds", elapsed),
            ]))
        }
        if failed > 0 { throw ExitCode(1) }
    }

    /// The `q` quantile of `values` (nearest rank; 0 for none).
    static func percentile(_ values: [Double], _ q: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    /// `--maestro`: CSX servers and clients on the simulator.
    func runMaestro(_ list: [UInt64], _ range: ClosedRange<Int>, _ faultSet: FaultSet, _ parameters: Parameters, _ stack: String) throws {
        guard !`static`, common.key.keyFile == nil else { throw ValidationError("--maestro runs without --static and --key-file") }
        var transfers = 0
        var canceled = 0
        var skipped = 0
        var held = 0
        var deliveries = 0
        let (passed, failed, elapsed) = forEachSeed(list, range) { s, n in
            var config = MaestroScenario.Config(seed: s, members: n, faults: faultSet)
            config.protocolStack = stack
            config.params = parameters
            config.trafficTime = .seconds(trafficSeconds)
            config.settleTime = .seconds(settleSeconds)
            config.maxStateBytes = maxStateBytes
            config.keepHistory = history
            let r = MaestroScenario(config).run()
            transfers += r.transfers
            canceled += r.transfersCanceled
            skipped += r.transfersSkipped
            held += r.heldSends
            deliveries += r.deliveries
            return SeedOutcome(
                violations: r.violations,
                summary: "state \(r.stateBytes) bytes, \(r.transfers) transfers, \(r.transfersCanceled) canceled, \(r.transfersSkipped) skipped, \(r.heldSends) held sends, \(r.deliveries) deliveries, \(r.views) views, \(r.faultsInjected) faults",
                finalViews: r.finalViews, history: r.history, progress: "\(transfers) transfers")
        }
        print("transfers: \(transfers) completed, \(canceled) canceled, \(skipped) skipped (equal digests); \(held) sends held; \(deliveries) deliveries")
        print("\(passed) passed, \(failed) failed")
        if json {
            print(jsonLine([
                ("passed", passed), ("failed", failed), ("seeds", list.count), ("members", members), ("faults", faults),
                ("transfers", transfers), ("transfers_canceled", canceled), ("transfers_skipped", skipped),
                ("held_sends", held), ("deliveries", deliveries), ("seconds", elapsed),
            ]))
        }
        if failed > 0 { throw ExitCode(1) }
    }

    /// What one seed of either kind of run reports to `forEachSeed`.
    struct SeedOutcome {
        var violations: [Violation]
        /// Printed after "seed S: passed (M members, " with --verbose.
        var summary: String
        var finalViews: [String]
        var history: [String]
        /// The running totals shown in the progress line.
        var progress: String
    }

    /// Runs `body` on every seed of `list` (with its member count): prints each failure with
    /// its violations and the command that replays it, the progress, and the rate at the end.
    func forEachSeed(_ list: [UInt64], _ range: ClosedRange<Int>, _ body: (UInt64, Int) -> SeedOutcome) -> (passed: Int, failed: Int, elapsed: Double) {
        let progress = Progress()
        let started = Date()
        var passed = 0
        var failed = 0
        for (i, s) in list.enumerated() {
            let n = Self.members(for: s, in: range)
            let r = body(s, n)
            if r.violations.isEmpty {
                passed += 1
                if verbose {
                    print("seed \(s): passed (\(n) members, \(r.summary))")
                    for v in r.finalViews { print("  \(v)") }
                }
                if history && seed != nil { for h in r.history { print("  | \(h)") } }
            } else {
                failed += 1
                progress.finish()
                print("seed \(s): FAILED with \(n) members: \(r.violations.count) violation(s)")
                for v in r.violations.prefix(5) { print("  \(v)") }
                if r.violations.count > 5 { print("  ... and \(r.violations.count - 5) more") }
                if verbose { for v in r.finalViews { print("  final \(v)") } }
                if history { for h in r.history { print("  | \(h)") } }
                print("  replay: \(replayCommand(seed: s, members: n))")
            }
            let elapsed = Date().timeIntervalSince(started)
            progress.update(String(format: "%d/%d seeds, %d failed, %.1f seeds/s, ", i + 1, list.count, failed,
                                   Double(i + 1) / max(elapsed, 1e-9)) + r.progress)
        }
        progress.finish()
        let elapsed = Date().timeIntervalSince(started)
        FileHandle.standardError.write(Data(String(format: "%.1f s, %.1f seeds/s\n", elapsed, Double(list.count) / max(elapsed, 1e-9)).utf8))
        return (passed, failed, elapsed)
    }

    func replayCommand(seed s: UInt64, members n: Int) -> String {
        var cmd = "maestro-sim --seed \(s) --members \(n) --faults \(faults)"
        if maestro { cmd += " --maestro" }
        if maestro && maxStateBytes != 2 << 20 { cmd += " --max-state-bytes \(maxStateBytes)" }
        if `static` { cmd += " --static" }
        if let protocolStack { cmd += " --protocol-stack '\(protocolStack)'" }
        if let properties = common.properties { cmd += " --properties '\(properties)'" }
        if !common.params.isEmpty { cmd += " --params '\(common.params)'" }
        if trafficSeconds != 6 { cmd += " --traffic-seconds \(trafficSeconds)" }
        if settleSeconds != 60 { cmd += " --settle-seconds \(settleSeconds)" }
        if let k = common.key.keyFile { cmd += " --key-file \(k)" }
        return cmd + " --verbose"
    }
}
