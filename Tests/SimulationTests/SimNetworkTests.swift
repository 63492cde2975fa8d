import Ensemble
import Testing
@testable import Simulation

@Suite struct SimNetworkTests {
    /// sent + duplicated = delivered + dropped + in flight, always.
    private func expectBalanced(_ world: SimWorld, _ comment: Comment) {
        let c = world.counters
        #expect(c.sent + c.duplicated == c.delivered + c.dropped + UInt64(world.datagramsInFlight), comment)
    }

    @Test func partitionDropsExactlyTheTrafficAcrossIt() throws {
        let seed: UInt64 = 11
        let k = 25
        let world = SimWorld(seed: seed)
        let procs = makeHosts(world, count: 4)
        let hosts = try procs.map { try #require(Host.of($0)) }
        func sendAll(round: UInt64) {
            for (i, from) in hosts.enumerated() {
                for (j, _) in hosts.enumerated() where j != i {
                    for n in 0..<k {
                        from.transport.send(encode(round << 32 | UInt64(n)), to: procs[j].address(port: 7000))
                    }
                }
            }
        }
        world.partition([[procs[0], procs[1]], [procs[2], procs[3]]])
        #expect(world.isPartitioned)
        #expect(world.connected(procs[0], procs[1]) && !world.connected(procs[1], procs[2]))
        sendAll(round: 1)
        world.runUntilIdle()

        let sameGroup = [0: 1, 1: 0, 2: 3, 3: 2]
        for (j, host) in hosts.enumerated() {
            let sources = host.recorder.receivedValues.map(\.from.ip)
            #expect(sources.count == k, "seed \(seed), receiver p\(j)")
            #expect(sources.allSatisfy { $0 == procs[sameGroup[j] ?? -1].ip }, "seed \(seed), receiver p\(j)")
        }
        #expect(world.counters.sent == UInt64(12 * k))
        #expect(world.counters.delivered == UInt64(4 * k))
        #expect(world.counters.droppedByPartition == UInt64(8 * k))
        #expect(world.counters.dropped == UInt64(8 * k))
        expectBalanced(world, "seed \(seed)")

        world.heal()
        #expect(!world.isPartitioned)
        sendAll(round: 2)
        world.runUntilIdle()
        for (j, host) in hosts.enumerated() {
            let second = host.recorder.receivedValues.filter { $0.value >> 32 == 2 }
            #expect(second.count == 3 * k, "seed \(seed), receiver p\(j)")
        }
        #expect(world.counters.delivered == UInt64(4 * k + 12 * k))
        #expect(world.counters.droppedByPartition == UInt64(8 * k))
        expectBalanced(world, "seed \(seed)")
    }

    @Test func partitionInstalledWhileInFlightDropsAtArrival() throws {
        let world = SimWorld(seed: 3)
        let procs = makeHosts(world, count: 3)
        let a = try #require(Host.of(procs[0]))
        a.transport.send(encode(1), to: procs[1].address(port: 7000))
        a.transport.send(encode(2), to: procs[2].address(port: 7000))
        world.partition([[procs[0], procs[2]]])  // p1 unlisted: isolated
        world.runUntilIdle()
        #expect(try #require(Host.of(procs[1])).recorder.events.isEmpty)
        #expect(try #require(Host.of(procs[2])).recorder.receivedValues.map(\.value) == [2])
        #expect(world.counters.droppedByPartition == 1)
    }

    @Test func linksAreFIFOWithJitterWithoutReorder() throws {
        for seed: UInt64 in [1, 2, 3] {
            let world = SimWorld(seed: seed)
            world.defaultFaults = LinkFaults(delay: Time.microseconds(10)...Time.microseconds(900))
            let procs = makeHosts(world, count: 3)
            let n = 1_000
            for i in 0..<n {
                world.schedule(at: Time.microseconds(Int64(i / 4))) {
                    Host.of(procs[0])?.transport.send(encode(UInt64(i)), to: procs[2].address(port: 7000))
                    Host.of(procs[1])?.transport.send(encode(UInt64(i)), to: procs[2].address(port: 7000))
                }
            }
            world.runUntilIdle()
            let received = try #require(Host.of(procs[2])).recorder.receivedValues
            for source in procs[0...1] {
                let values = received.filter { $0.from.ip == source.ip }.map(\.value)
                #expect(values == (0..<UInt64(n)).map { $0 }, "seed \(seed), from \(source.name)")
            }
            // The two links interleave: jitter is real.
            let firstSources = received.prefix(50).map(\.from.ip)
            #expect(Set(firstSources).count == 2, "seed \(seed)")
        }
    }

    @Test func reorderOvertakes() throws {
        let seed: UInt64 = 77
        let world = SimWorld(seed: seed)
        world.defaultFaults = LinkFaults(reorder: 0.1)
        let procs = makeHosts(world, count: 2)
        let n = 2_000
        for i in 0..<n {
            world.schedule(at: Time.microseconds(Int64(i) * 10)) {
                Host.of(procs[0])?.transport.send(encode(UInt64(i)), to: procs[1].address(port: 7000))
            }
        }
        world.runUntilIdle()
        let values = try #require(Host.of(procs[1])).recorder.receivedValues.map(\.value)
        #expect(values.count == n, "seed \(seed)")
        #expect(values.sorted() == (0..<UInt64(n)).map { $0 }, "seed \(seed)")
        let inversions = zip(values, values.dropFirst()).filter { $0 > $1 }.count
        #expect(inversions > 10, "seed \(seed): \(inversions) inversions")
    }

    @Test func duplicationAndTotalLoss() throws {
        let seed: UInt64 = 5150
        let world = SimWorld(seed: seed)
        let procs = makeHosts(world, count: 3)
        world.setFaults(from: procs[0], to: procs[1], LinkFaults(duplicate: 0.3))
        world.setFaults(from: procs[0], to: procs[2], LinkFaults(drop: 1.0))
        #expect(world.faults(from: procs[1], to: procs[0]) == .none)
        let n = 1_000
        let a = try #require(Host.of(procs[0]))
        for i in 0..<n {
            #expect(a.transport.send(encode(UInt64(i)), to: procs[1].address(port: 7000)))
            #expect(a.transport.send(encode(UInt64(i)), to: procs[2].address(port: 7000)))
        }
        world.runUntilIdle()
        let c = world.counters
        let values = try #require(Host.of(procs[1])).recorder.receivedValues.map(\.value)
        #expect(c.duplicated > 200 && c.duplicated < 400, "seed \(seed): \(c.duplicated)")
        #expect(values.count == n + Int(c.duplicated), "seed \(seed)")
        #expect(Set(values).count == n, "seed \(seed)")
        // FIFO with duplicates: the receiver sees a non-decreasing sequence.
        #expect(zip(values, values.dropFirst()).allSatisfy { $0 <= $1 }, "seed \(seed)")
        #expect(try #require(Host.of(procs[2])).recorder.events.isEmpty)
        #expect(c.droppedByLoss == UInt64(n))
        #expect(c.delivered == UInt64(n) + c.duplicated)
        expectBalanced(world, "seed \(seed)")
    }

    @Test func unboundOversizedAndNoDelegate() throws {
        let world = SimWorld(seed: 9)
        let procs = makeHosts(world, count: 2)
        let a = try #require(Host.of(procs[0]))
        a.transport.send(encode(1), to: procs[1].address(port: 9999))
        a.transport.send(encode(2), to: Address(ip: SimWorld.ipBase + 50, port: 7000))
        #expect(!a.transport.send([UInt8](repeating: 0, count: SimWorld.maxDatagramSize + 1), to: procs[1].address(port: 7000)))
        #expect(a.transport.send([UInt8](repeating: 0, count: SimWorld.maxDatagramSize), to: procs[1].address(port: 7000)))
        let silent = procs[1].makeTransport(port: 8000)
        a.transport.send(encode(3), to: silent.localAddress)
        #expect(world.datagramsInFlight == 3)
        world.runUntilIdle()
        let c = world.counters
        #expect(c.sent == 4 && c.rejectedAtSender == 1)
        #expect(c.droppedUnbound == 2 && c.droppedNoDelegate == 1 && c.delivered == 1)
        expectBalanced(world, "seed 9")
    }

    @Test func delaysStayInTheConfiguredRange() throws {
        let seed: UInt64 = 31
        let world = SimWorld(seed: seed)
        let procs = makeHosts(world, count: 2)
        let a = try #require(Host.of(procs[0]))
        for i in 0..<200 {
            world.schedule(at: Time.milliseconds(Int64(i))) {
                a.transport.send(encode(UInt64(i)), to: procs[1].address(port: 7000))
            }
        }
        world.runUntilIdle()
        let events = try #require(Host.of(procs[1])).recorder.events
        for case let .received(bytes, _, at) in events {
            let latency = at - .milliseconds(Int64(decode(bytes)))
            #expect(latency >= .microseconds(100) && latency <= .microseconds(200), "seed \(seed)")
        }
        #expect(events.count == 200)
    }
}
