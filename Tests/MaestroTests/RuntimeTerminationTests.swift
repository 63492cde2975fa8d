import Ensemble
import Testing
import Maestro
@testable import MaestroCore
import Reactor
#if canImport(Glibc)
import Glibc
#endif

/// The runtime's registry of joined members and its clean exit: every member leaves, and the
/// caller hears when they all have exited or when the bounded wait ran out.
@Suite(.serialized) struct RuntimeTerminationTests {
    final class Recorder: GroupMember {
        var exits = 0
        override func grpMembExitCallback() { exits += 1 }
    }

    /// Never leaves (as a member whose leave is stuck would).
    final class Stuck: GroupMember {
        override func leave() {}
    }

    func ops(_ group: String) -> MaestroOptions {
        var o = MaestroOptions()
        o.groupName = group
        o.params = "suspect_sweep=0.05:time;suspect_max_idle=4:int;top_sweep=0.2:time"
        return o
    }

    @Test func membersRegisterAtJoinAndUnregisterAtExitAndCrash() throws {
        let runtime = Runtime()
        let a = Recorder(ops("reg-\(UInt32.random(in: 0 ... .max))"), shell: runtime)
        let b = Recorder(ops("reg-\(UInt32.random(in: 0 ... .max))"), shell: runtime)
        #expect(runtime.joinedMembers.isEmpty)
        try a.join()
        try b.join()
        #expect(runtime.joinedMembers.map(ObjectIdentifier.init) == [ObjectIdentifier(a), ObjectIdentifier(b)])
        b.crash()
        #expect(runtime.joinedMembers.map(ObjectIdentifier.init) == [ObjectIdentifier(a)])
        a.leave()
        #expect(runtime.run(until: { a.exits == 1 }, timeout: .seconds(5)))
        #expect(runtime.joinedMembers.isEmpty)
    }

    @Test func theRuntimeDoesNotKeepAMemberAlive() throws {
        let runtime = Runtime()
        weak var gone: Recorder?
        do {
            let m = Recorder(ops("weak-\(UInt32.random(in: 0 ... .max))"), shell: runtime)
            try m.join()
            gone = m
            #expect(runtime.joinedMembers.count == 1)
        }
        runtime.run(for: .milliseconds(10))
        #expect(gone == nil)
        #expect(runtime.joinedMembers.isEmpty)
    }

    @Test func leaveAllReportsWhenEveryMemberHasExited() throws {
        let runtime = Runtime()
        let group = "all-\(UInt32.random(in: 0 ... .max))"
        let members = try (0 ..< 3).map { _ in
            let m = Recorder(ops(group), shell: runtime)
            try m.join()
            return m
        }
        #expect(runtime.run(until: { members.allSatisfy { $0.viewData?.nmembers == 3 } }, timeout: .seconds(10)))
        var result: Bool?
        runtime.leaveAll(within: .seconds(5)) { all in
            // Only after every exit callback has run.
            #expect(members.allSatisfy { $0.exits == 1 })
            result = all
        }
        #expect(result == nil, "leaveAll reported from inside the call")
        #expect(runtime.run(until: { result != nil }, timeout: .seconds(10)))
        #expect(result == true)
        #expect(runtime.joinedMembers.isEmpty)
    }

    @Test func leaveAllGivesUpAfterItsTimeout() throws {
        let runtime = Runtime()
        let stuck = Stuck(ops("stuck-\(UInt32.random(in: 0 ... .max))"), shell: runtime)
        try stuck.join()
        var result: Bool?
        let started = runtime.now
        runtime.leaveAll(within: .milliseconds(200)) { result = $0 }
        #expect(runtime.run(until: { result != nil }, timeout: .seconds(5)))
        #expect(result == false)
        #expect(runtime.now - started >= .milliseconds(190))
        stuck.crash()
    }

    @Test func leaveAllWithNoMemberReportsFromTheLoop() {
        let runtime = Runtime()
        var result: Bool?
        runtime.leaveAll(within: .seconds(1)) { result = $0 }
        #expect(result == nil)
        #expect(runtime.run(until: { result != nil }, timeout: .seconds(5)))
        #expect(result == true)
    }

    /// A daemon's own handler replaces the default (which would leave and exit).
    @Test func onTerminationReplacesTheDefault() {
        let runtime = Runtime()
        var got: Int32?
        runtime.onTermination = { got = $0 }
        runtime.installTerminationHandler()
        raise(SIGTERM)
        #expect(runtime.run(until: { got != nil }, timeout: .seconds(5)))
        #expect(got == SIGTERM)
    }

    @Test func fastParametersLowerTheSlowCallbackThreshold() throws {
        let runtime = Runtime()
        let m = Recorder(ops("slow-\(UInt32.random(in: 0 ... .max))"), shell: runtime)
        try m.join()
        // suspect_sweep 50 ms, suspected after 4 + 1 unanswered: a quarter of 250 ms.
        #expect(runtime.reactor.slowCallbackThreshold == .microseconds(62_500))
        m.crash()
    }
}

/// Where members bind, and what their status dump says when sends fail.
@Suite struct MemberBindingTests {
    @Test func aMemberOfALocalGroupBindsLoopbackByDefault() throws {
        let runtime = Runtime()
        var o = MaestroOptions()
        o.groupName = "bind-\(UInt32.random(in: 0 ... .max))"
        let m = GroupMember(o, shell: runtime)
        try m.join()
        let id = try #require(m.myEndpID)
        #expect(id.host == Address.loopbackIP)
        #expect(m.localAddress == Address(ip: id.host, port: id.port))
        m.crash()
    }

    @Test func everyInterfaceAdvertisesARealAddress() throws {
        let runtime = Runtime()
        var o = MaestroOptions()
        o.groupName = "any-\(UInt32.random(in: 0 ... .max))"
        o.bind = Address(ip: 0, port: 0)
        let m = GroupMember(o, shell: runtime)
        try m.join()
        #expect(m.myEndpID?.host == Address.loopbackIP)  // the embedded rendezvous is local
        m.crash()
    }

    @Test func failedSendsShowInTheStatusDump() throws {
        let runtime = Runtime()
        var o = MaestroOptions()
        o.groupName = "unreachable-\(UInt32.random(in: 0 ... .max))"
        o.bind = .loopback(port: 0)  // cannot reach the rendezvous below
        o.gossip = ["10.77.0.254:6788"]
        o.params = "top_sweep=0.02:time"
        let m = GroupMember(o, shell: runtime)
        try m.join()
        runtime.run(for: .milliseconds(200))
        #expect(m.status.contains("send failures: Invalid argument (errno 22)"), "\(m.status)")
        m.crash()
    }
}
