import ArgumentParser
import CFloodBaseline
import Ensemble
import Foundation
import Reactor
import ToolSupport

/// `maestro-perf udp`: raw reactor throughput, one socket flooding another on 127.0.0.1,
/// against the same flood written in C in the same run.
struct UDPFlood: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "udp",
        abstract: "Flood datagrams between two reactor sockets on 127.0.0.1.",
        discussion: """
            Runs the Swift reactor flood (sendto bursts on writability, recvmmsg drain) and, \
            unless --no-baseline, the same flood in plain C (sendto/recvfrom on libev), \
            alternating for --rounds rounds, and reports the median of each.
            """)

    @Option(help: "Datagram payload size in bytes (1...65507).")
    var size = 1024

    @Option(help: "Length of each round in seconds.")
    var seconds = 2.0

    @Option(help: "Datagrams sent per writable event.")
    var burst = 32

    @Option(help: "Rounds of each flood; the median is reported.")
    var rounds = 1

    @Flag(inversion: .prefixedNo, help: "Also run the plain C sendto/recvfrom flood for comparison.")
    var baseline = true

    @Flag(help: "End with one JSON object on the last line.")
    var json = false

    @OptionGroup var log: LogOptions

    func validate() throws {
        guard (1...65507).contains(size) else { throw ValidationError("--size must be between 1 and 65507 bytes") }
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
        guard burst > 0 else { throw ValidationError("--burst must be positive") }
        guard rounds > 0 else { throw ValidationError("--rounds must be positive") }
    }

    struct Round {
        var sent: UInt64 = 0
        var received: UInt64 = 0
        var seconds: Double = 0
        var rate: Double { seconds > 0 ? Double(received) / seconds : 0 }
    }

    func run() throws {
        log.bootstrap()
        let progress = Progress()
        var swiftRounds: [Round] = []
        var cRounds: [Round] = []
        for i in 1...rounds {
            progress.update("round \(i)/\(rounds): Swift reactor flood, \(size) B, \(seconds) s")
            swiftRounds.append(try swiftFlood())
            if baseline {
                progress.update("round \(i)/\(rounds): C baseline flood, \(size) B, \(seconds) s")
                cRounds.append(try cFlood())
            }
        }
        progress.finish()

        let s = median(swiftRounds)
        let mb = s.rate * Double(size) / 1e6
        let lost = s.sent > s.received ? s.sent - s.received : 0
        print(String(format: "swift reactor: %.0f datagrams/s, %.1f MB/s (%d B, sent %llu, received %llu, lost %llu)",
                     s.rate, mb, size, s.sent, s.received, lost))
        var cRate = 0.0
        if baseline {
            let c = median(cRounds)
            cRate = c.rate
            print(String(format: "C baseline:    %.0f datagrams/s, %.1f MB/s (sent %llu, received %llu)",
                         c.rate, c.rate * Double(size) / 1e6, c.sent, c.received))
            print(String(format: "ratio swift/C: %.2f", c.rate > 0 ? s.rate / c.rate : 0))
        }
        if json {
            print(jsonLine([
                "benchmark": "udp", "size": size, "seconds": seconds, "rounds": rounds,
                "datagrams_per_sec": s.rate, "mb_per_sec": mb, "sent": s.sent, "received": s.received,
                "c_datagrams_per_sec": cRate, "ratio_vs_c": cRate > 0 ? s.rate / cRate : 0,
            ]))
        }
    }

    private func median(_ rounds: [Round]) -> Round {
        rounds.sorted { $0.rate < $1.rate }[rounds.count / 2]
    }

    private func swiftFlood() throws -> Round {
        let reactor = Reactor()
        var round = Round()
        let receiver = try UDPSocket(reactor: reactor) { _, _ in round.received &+= 1 }
        let sender = try UDPSocket(reactor: reactor) { _, _ in }
        let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        payload.initializeMemory(as: UInt8.self, repeating: 0x5A)
        defer { payload.deallocate() }
        let destination = receiver.localAddress
        let burst = self.burst
        let writer = IOWatcher(reactor, fd: sender.fd, events: .write) { _ in
            for _ in 0 ..< burst {
                guard sender.send(UnsafeRawBufferPointer(payload), to: destination) else { break }
                round.sent &+= 1
            }
        }
        let signals = reactor.stopOnTerminationSignals()
        defer { withExtendedLifetime(signals) {} }  // (`_ = signals` would not keep them)
        reactor.updateNow()
        let start = reactor.now
        writer.start()
        reactor.run(for: .seconds(seconds))
        writer.stop()
        reactor.updateNow()
        round.seconds = (reactor.now - start).seconds
        reactor.runOnce()  // collect what is still queued
        receiver.close()
        sender.close()
        return round
    }

    private func cFlood() throws -> Round {
        var r = cflood_result()
        let rc = cflood_run(Int32(size), seconds, Int32(burst), &r)
        guard rc == 0 else {
            throw ValidationError("C baseline flood could not open its sockets: \(String(cString: strerror(-rc)))")
        }
        return Round(sent: r.sent, received: r.received, seconds: r.seconds)
    }
}
