import Ensemble
import Testing
@testable import Reactor

@Suite struct UDPTests {
    /// Two sockets exchange 100,000 datagrams each way at a paced rate: none is lost and
    /// each side receives the other's sequence numbers in order.
    @Test func pacedExchangeLosesNothing() throws {
        let reactor = Reactor()
        let total = 100_000
        let perTick = 250
        var received = [0, 0]
        var outOfOrder = 0
        func check(_ side: Int, _ bytes: UnsafeRawBufferPointer) {
            guard bytes.count == 64 else { outOfOrder += 1; return }
            let seq = Int(UInt32(bigEndian: bytes.loadUnaligned(as: UInt32.self)))
            if seq != received[side] { outOfOrder += 1 }
            received[side] += 1
        }
        let a = try UDPSocket(reactor: reactor) { bytes, _ in check(0, bytes) }
        let b = try UDPSocket(reactor: reactor) { bytes, _ in check(1, bytes) }
        var sent = 0
        var failures = 0
        var buffer = [UInt8](repeating: 7, count: 64)
        let pacer = reactor.every(.milliseconds(1)) {
            for _ in 0 ..< perTick where sent < total {
                withUnsafeBytes(of: UInt32(sent).bigEndian) { seq in
                    for i in 0 ..< 4 { buffer[i] = seq[i] }
                }
                if !b.send(buffer, to: a.localAddress) { failures += 1 }
                if !a.send(buffer, to: b.localAddress) { failures += 1 }
                sent += 1
            }
        }
        let done = reactor.run(until: { received[0] == total && received[1] == total }, timeout: .seconds(60))
        pacer.cancel()
        #expect(done, "received \(received) of \(total) each way")
        #expect(failures == 0)
        #expect(outOfOrder == 0)
        #expect(a.datagramsReceived == UInt64(total))
        #expect(b.datagramsReceived == UInt64(total))
    }

    @Test func senderAddressIsReported() throws {
        let reactor = Reactor()
        var from: Address?
        let a = try UDPSocket(reactor: reactor) { _, source in from = source }
        let b = try UDPSocket(reactor: reactor) { _, _ in }
        b.send([1, 2, 3], to: a.localAddress)
        #expect(reactor.run(until: { from != nil }, timeout: .seconds(5)))
        #expect(from == b.localAddress)
        #expect(a.localAddress.ip == Address.loopbackIP)
        #expect(a.localAddress.port != 0)
    }

    @Test func oversizedDatagramIsDroppedAndCounted() throws {
        let reactor = Reactor()
        var sizes: [Int] = []
        let a = try UDPSocket(reactor: reactor, maxDatagram: 100) { bytes, _ in sizes.append(bytes.count) }
        let b = try UDPSocket(reactor: reactor) { _, _ in }
        b.send([UInt8](repeating: 0, count: 500), to: a.localAddress)
        b.send([UInt8](repeating: 0, count: 100), to: a.localAddress)
        #expect(reactor.run(until: { sizes.count == 1 }, timeout: .seconds(5)))
        #expect(sizes == [100])
        #expect(a.truncatedDrops == 1)
    }

    @Test func bindingAPortInUseThrows() throws {
        let reactor = Reactor()
        let a = try UDPSocket(reactor: reactor) { _, _ in }
        #expect(throws: SocketError.self) {
            _ = try UDPSocket(reactor: reactor, bind: a.localAddress) { _, _ in }
        }
    }

    @Test func closedSocketStopsDelivering() throws {
        let reactor = Reactor()
        var count = 0
        let a = try UDPSocket(reactor: reactor) { _, _ in count += 1 }
        let b = try UDPSocket(reactor: reactor) { _, _ in }
        let target = a.localAddress
        b.send([1], to: target)
        #expect(reactor.run(until: { count == 1 }, timeout: .seconds(5)))
        a.close()
        b.send([2], to: target)
        reactor.run(for: .milliseconds(20))
        #expect(count == 1)
        #expect(!a.send([3], to: b.localAddress))
    }
}
