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
                         [--state-bytes B] [--seed N] [--netns] [--json] [more options below]
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
                 keyArguments: key.childArguments, properties: properties, leaveBound: leaveBound)
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
        if let properties {
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
        print("traffic: \(fmt(plan.rate)) messages/s per member, up to \(plan.sizeMax) bytes\(plan.stateBytes > 0 ? ", state \(plan.stateBytes) bytes" : ""); params \(plan.params)")
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
