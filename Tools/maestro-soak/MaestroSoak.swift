import ArgumentParser
import Ensemble
import Foundation
import Simulation
import SoakCheck
import ToolSupport

/// `maestro-soak`: real-process soak tests of the group runtime. Without a subcommand it runs
/// a soak (`soak`, the orchestrator); `node` and `member` are the processes it and the tests
/// start. (The soak's options live on a default subcommand, not on the root, so that they do
/// not capture the subcommands' options of the same names.)
@main
struct MaestroSoak: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maestro-soak",
        abstract: "Soak-test a group of CSX server processes over real UDP while injecting faults.",
        discussion: """
            `maestro-soak --processes P --seconds S [options]` runs a soak (the default subcommand, \
            `soak`): see `maestro-soak soak --help` for what it does and every option. `node` is one \
            soak node process (started by the soak); `member` is one plain group member process \
            (started by the integration tests and maestro-perf).
            """,
        subcommands: [Soak.self, Node.self, Member.self],
        defaultSubcommand: Soak.self)
}

/// `maestro-soak soak` (the default): the orchestrator.
struct Soak: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Soak-test a group of CSX server processes over real UDP while injecting faults.",
        usage: """
            maestro-soak [soak] --processes P --seconds S [--members-per-process K] [--kill-every SEC] [--restart]
                         [--leave-every SEC] [--partition-every SEC] [--loss FRACTION] [--size-max BYTES]
                         [--state-bytes B] [--seed N] [--netns] [--json] [--total] [--primary]
                         [--split A,B,... [--split-at SEC] [--split-for SEC]] [more options below]
            """,
        discussion: """
            Starts a gossip rendezvous (maestro-gossip) and --processes node processes (`maestro-soak \
            node`), each running --members-per-process Maestro CSX servers with atomic state transfer \
            and a replicated state (the number of casts applied and a commutative checksum of them, plus \
            --state-bytes of blob streamed in chunks at every transfer). Every member sends random casts \
            and sends (--rate per second, up to --size-max bytes) while the soak injects faults: kill -9 \
            of a process and (--restart) a new process in its place, voluntary leave and rejoin, \
            partitions and heals, datagram loss. Loss and partitions are injected by the fault hook of \
            the members' sockets (Runtime.dropIncoming/dropOutgoing); with --netns each process also \
            runs in its own network namespace joined to the others by veth links, and partitions take \
            those links down too. Faults that would leave a transfer without any server to get the state \
            from are skipped (Maestro would promote the joiners without state).

            Timeline: faults during the first SECONDS - Q seconds, Q being the convergence bound of the \
            parameters (the simulation's bound; 7.6 s with the default fast timers) + 3 s. Then the \
            network heals, killed processes are restarted (--restart) and members that left rejoin; the \
            group must converge to one view of all live members, all servers, within the bound; traffic \
            goes on for 1 s in that view, stops, the last messages get 2 s to arrive, and the nodes \
            report their final states and stop.

            Each member logs its views, blocks, sends, deliveries and transfers to LOG-DIR; at the end \
            the logs are merged into one history and checked with the simulation's checkers (integrity, \
            no duplicates, no self-delivery, FIFO, sending-view delivery, reliable delivery, view \
            agreement and ordering, virtual synchrony, send synchrony, block discipline, merges, leave, \
            liveness), plus: identical replicated state among the servers of every final view, every \
            joiner's transferred state equal to its provider's, no process ended that the soak did not \
            kill, no member anomaly, convergence within the bound, and every leave excluded by every \
            survivor within --leave-bound (the check reports the worst time). Progress goes to stderr on one \
            line; the summary and one line per check go to stdout, the last line being \
            `N passed, N failed`; the exit status is 1 if any check failed. The same --seed gives the \
            same fault schedule and traffic choices (a real network and scheduler still vary).

            --total and --primary change the stack (see their help). The goal of the primary partition, \
            checked end to end: `maestro-soak --processes 5 --seconds 25 --primary --split 3,2 --netns` splits \
            5 processes into 3 + 2 and heals; only the 3-side is primary during the split (each member logs \
            `primary VIEWID 1|0` when csxPrimaryChangedCallback fires), and after the heal every server holds \
            the 3-side's state (every transfer after the heal provided by a server holding it: a 3-side server, or one that took \
            its state from one since the heal; the `primary at the \
            split` check's line gives the time to primary after the split and after the heal).

            Default parameters (--params): \(SoakPlan.fastParams) (fast failure detection and merges).
            """)

    @Option(help: "Node processes.")
    var processes: Int

    @Option(help: "Length of the run in seconds (faults stop SECONDS - Q seconds in; see above).")
    var seconds: Double

    @Option(help: "CSX servers per process (a kill -9 takes all of them).")
    var membersPerProcess = 1

    @Option(help: ArgumentHelp("kill -9 a random process about every SEC seconds.", valueName: "SEC"))
    var killEvery: Double?

    @Flag(help: "Restart killed processes (a new process: new endpoints, a state transfer) some time after each kill.")
    var restart = false

    @Option(help: ArgumentHelp("A random member leaves about every SEC seconds, and joins again later as a new member.", valueName: "SEC"))
    var leaveEvery: Double?

    @Option(help: ArgumentHelp("The longest from a leave until every survivor has installed a view without the leaver (the `leave bound` check reports the worst).", valueName: "SEC"))
    var leaveBound = SoakPlan.defaultLeaveBound

    @Option(help: ArgumentHelp("Split the processes in two about every SEC seconds; heal after a while.", valueName: "SEC"))
    var partitionEvery: Double?

    @Option(help: "Fraction of datagrams dropped, in and out, at every member while faults run (0 to 0.5).")
    var loss = 0.0

    @Option(help: "Largest message in bytes (messages above 6192 bytes are fragmented).")
    var sizeMax = 16384

    @Option(help: "Bytes of replicated state beyond the counters (streamed in chunks at each transfer).")
    var stateBytes = 0

    @Option(help: "Seed of the fault schedule and the traffic (default: random; printed for replay).")
    var seed: UInt64?

    @Flag(help: "Run every process in its own network namespace with veth links (root only).")
    var netns = false

    @Flag(help: "Also print the summary as one JSON object (the line before the last).")
    var json = false

    @Option(help: "Messages per second per member (casts 70%, sends 30%).")
    var rate = 20.0

    @Option(help: "Ensemble parameters, name=value:type;... (default: the fast timers above).")
    var params = SoakPlan.fastParams

    @Option(help: "What the members' stack must guarantee, Ensemble's way (e.g. Vsync:Total; default: the seed's stack). An unknown property is an error that lists the known ones.")
    var properties: String?

    @Flag(help: "Total order: add Total to the properties (Vsync:Total by default). Servers apply their own casts when they are delivered back, and their state is order-sensitive (a hash chain over the casts applied); the checks include one order per view.")
    var total = false

    @Flag(help: "The primary partition: add Primary and Total to the properties and primary_expected=MEMBERS:int to the parameters (unless --params sets it). Servers cast only while their view is confirmed primary; the checks include the primary line (one confirmed primary at a time, quorum) and casts only in the primary.")
    var primary = false

    @Option(help: ArgumentHelp("The split scenario: at --split-at, partition the processes into sides of these sizes (seeded choice of who is where; they must add up to --processes), and heal after --split-for. With --primary the checks require that only a side with a majority of the members is primary during the split, and that after the heal every server is primary again and the others took the majority's state.", valueName: "A,B,..."))
    var split: String?

    @Option(help: ArgumentHelp("When the split starts (seconds after the nodes are up), or later once the group is settled (with --primary: every member in one confirmed primary view).", valueName: "SEC"))
    var splitAt = SoakPlan.defaultSplitAt

    @Option(help: ArgumentHelp("How long the split lasts before the heal.", valueName: "SEC"))
    var splitFor = SoakPlan.defaultSplitFor

    @Option(help: "Directory for the logs (default: a new one under /tmp). Removed after a passing run unless --keep-logs.")
    var logDir: String?

    @Flag(help: "Keep the logs of a passing run.")
    var keepLogs = false

    /// Passed on to the rendezvous and the nodes: an authenticated group.
    @OptionGroup var key: KeyOptions

    /// Also passed to the nodes, whose log lines go to LOG-DIR/nodeP.G.stderr.
    @OptionGroup var log: LogOptions

    /// The run's plan (--processes and --seconds are checked by `validate`).
    var plan: SoakPlan {
        SoakPlan(processes: processes, seconds: seconds, membersPerProcess: membersPerProcess, killEvery: killEvery,
                 restart: restart, leaveEvery: leaveEvery, partitionEvery: partitionEvery, loss: loss, sizeMax: sizeMax,
                 stateBytes: stateBytes, seed: seed ?? UInt64.random(in: 1 ... 999_999_999), netns: netns, json: json,
                 rate: rate, params: params, logDir: logDir, keepLogs: keepLogs, logLevel: log.logLevel.rawValue,
                 keyArguments: key.childArguments, properties: properties, leaveBound: leaveBound,
                 total: total || primary, primary: primary, split: splitSizes, splitAt: splitAt, splitFor: splitFor)
    }

    /// --split as side sizes (nil if absent or malformed: `validate` says which).
    var splitSizes: [Int]? {
        guard let split else { return nil }
        let sizes = split.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard sizes.allSatisfy({ $0 != nil }) else { return nil }
        return sizes.compactMap { $0 }
    }

    func validate() throws {
        guard (1 ... 64).contains(processes) else { throw ValidationError("--processes must be between 1 and 64") }
        guard (1 ... 16).contains(membersPerProcess) else { throw ValidationError("--members-per-process must be between 1 and 16") }
        for (name, v) in [("--kill-every", killEvery), ("--leave-every", leaveEvery), ("--partition-every", partitionEvery)] {
            if let v, v <= 0 { throw ValidationError("\(name) must be a positive number of seconds") }
        }
        guard leaveBound > 0 else { throw ValidationError("--leave-bound must be a positive number of seconds") }
        if restart && killEvery == nil { throw ValidationError("--restart restarts killed processes: give --kill-every too") }
        guard (0 ... 0.5).contains(loss) else { throw ValidationError("--loss must be a fraction between 0 and 0.5") }
        guard sizeMax >= TestMessageSize.header + 1 && sizeMax <= 1 << 20 else {
            throw ValidationError("--size-max must be between \(TestMessageSize.header + 1) and 1048576")
        }
        guard stateBytes >= 0 && stateBytes <= 1 << 30 else { throw ValidationError("--state-bytes must be between 0 and 1 GiB") }
        guard rate > 0 && rate <= 10_000 else { throw ValidationError("--rate must be between 0 and 10000 messages per second") }
        do { _ = try Parameters(parsing: params) } catch { throw ValidationError("--params: \(error)") }
        if split != nil {
            guard let sizes = splitSizes, sizes.count >= 2, sizes.allSatisfy({ $0 >= 1 }), sizes.reduce(0, +) == processes else {
                throw ValidationError("--split must be two or more positive side sizes, comma separated, adding up to --processes (e.g. --split 3,2 with --processes 5)")
            }
            guard partitionEvery == nil else { throw ValidationError("--split and --partition-every both partition the processes: give one") }
            guard splitAt > 0, splitFor > 0 else { throw ValidationError("--split-at and --split-for must be positive numbers of seconds") }
        }
        if let properties = plan.effectiveProperties {
            do {
                let p = try Properties(parsing: properties)
                try p.checkSecurity(hasKey: key.keyFile != nil, encrypts: key.encrypt, keyOption: "--key-file", encryptOption: "--encrypt")
                _ = try p.protocolStack()
            } catch {
                throw ValidationError("--properties: \(error)")
            }
        }
        _ = try key.secret()
        let p = plan
        guard seconds >= p.minimumSeconds else {
            throw ValidationError(String(format: "--seconds must be at least %.0f with these parameters: the last %.1f s are quiet (convergence bound %.1f s + 3 s) and faults need 5 s",
                                         p.minimumSeconds.rounded(.up), p.quietPeriod, p.convergenceBound))
        }
        if split != nil && splitAt + splitFor >= p.faultEnd {
            throw ValidationError(String(format: "the split must heal before the faults stop at %.1f s (SECONDS - %.1f): lower --split-at or --split-for, or raise --seconds to at least %.0f",
                                         p.faultEnd, p.quietPeriod, (splitAt + splitFor + p.quietPeriod + 1).rounded(.up)))
        }
    }

    func run() throws {
        log.bootstrap()
        let plan = self.plan
        let dir = plan.logDir ?? "/tmp/maestro-soak-\(getpid())"
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw ValidationError("cannot create the log directory \(dir): \(error.localizedDescription)")
        }
        if let existing = try? FileManager.default.contentsOfDirectory(atPath: dir), !existing.isEmpty {
            throw ValidationError("the log directory \(dir) is not empty; give an empty or new --log-dir")
        }
        print("maestro-soak: \(plan.processes) processes × \(plan.membersPerProcess) member\(plan.membersPerProcess == 1 ? "" : "s"), \(fmt(plan.seconds)) s, seed \(plan.seed)\(plan.netns ? ", network namespaces" : "")")
        print("faults: \(plan.faultSummary); until \(String(format: "%.1f", plan.faultEnd)) s")
        print("traffic: \(fmt(plan.rate)) messages/s per member, up to \(plan.sizeMax) bytes\(plan.stateBytes > 0 ? ", state \(plan.stateBytes) bytes" : ""); params \(plan.effectiveParams)")
        if let p = plan.effectiveProperties { print("properties: \(p) (\(plan.protocolStack))") }
        fflush(nil)
        let outcome: RunOutcome
        do {
            outcome = try SoakRun(plan: plan, logDir: dir).run()
        } catch let e as SoakInterrupted {
            FileHandle.standardError.write(Data("\nmaestro-soak: \(e.description)\n".utf8))
            print("0 passed, 1 failed")
            throw ExitCode(130)
        } catch {
            // Setup failures (namespaces, processes that do not start): no checks ran.
            FileHandle.standardError.write(Data("\nmaestro-soak: \(error)\n".utf8))
            print("0 passed, 1 failed")
            throw ExitCode(1)
        }
        let report = SoakReport(plan: plan, outcome: outcome)
        report.print(json: plan.json)
        if report.failed == 0 && !plan.keepLogs && plan.logDir == nil {
            try? FileManager.default.removeItem(atPath: dir)
        }
        if report.failed > 0 { throw ExitCode(1) }
    }
}
