import Testing
@testable import Ensemble

/// The Primary layer's rule (quorum, clean leaves, minorities), its layer behaviour, and the
/// encoding of what views carry for it.
@Suite struct PrimaryTests {
    let ids = foreignEndpoints(6)

    func view(_ ltime: UInt64, _ ranks: [Int], primary: Bool = false, expected: Int = 0,
              last: PrimaryRecord? = nil) -> ViewState {
        ViewState(group: GroupID("t"), protocolStack: "P", ltime: ltime, members: ranks.map { ids[$0] },
                  addresses: ranks.map { .loopback(port: ids[$0].port) }, primary: primary, expected: expected, lastPrimary: last)
    }

    /// `next` as decided from `cv`, which the deciding coordinator knows to be confirmed (if
    /// primary) unless `confirmed` is false.
    func decide(_ next: [Int], from cv: ViewState, mergers: [ViewState] = [], leavers: [Int] = [], n: Int = 5,
                confirmed: Bool = true) -> ViewState {
        var nv = ViewState.merge([cv.removing(RankSet(cv.members.indices.filter { !next.contains(ranks(cv)[$0]) }))] + mergers)!
        nv.previousIDs[0] = cv.id
        return Primary.decide(next: nv, from: cv, mergers: mergers, leavers: leavers.map { ids[$0] }, configured: n,
                              confirmed: confirmed)
    }
    func ranks(_ v: ViewState) -> [Int] { v.members.map { m in ids.firstIndex(of: m)! } }

    @Test func theFirstPrimaryNeedsEveryExpectedMember() {
        let four = view(3, [0, 1, 2, 3])
        #expect(!decide([0, 1, 2, 3], from: four).primary, "4 of 5, no history: not yet")
        let five = view(3, [0, 1, 2, 3, 4])
        let nv = decide([0, 1, 2, 3, 4], from: five)
        #expect(nv.primary && nv.expected == 5 && nv.lastPrimary == nil)
    }

    /// A change of membership first installs a view that is not primary; a view of the same
    /// members decided from it is.
    func settle(_ v: ViewState, n: Int = 5) -> ViewState { decide(ranks(v), from: v, n: n) }

    @Test func aMajorityOfThePreviousPrimaryContinuesItAndAMinorityKnowsItIsNot() {
        let p = view(4, [0, 1, 2, 3, 4], primary: true, expected: 5)
        let major = decide([0, 1, 2], from: p)
        #expect(!major.primary && major.lastPrimary?.id == p.id, "a changed membership is not primary at once")
        let again = settle(major)
        #expect(again.primary && again.lastPrimary?.id == p.id && again.expected == 5)
        // The other side of the split, decided from the same primary by its own coordinator.
        let minor = decide([3, 4], from: p)
        #expect(!minor.primary && minor.lastPrimary?.id == p.id, "2 of 5: not primary, and it says so")
        #expect(!settle(minor).primary)
        // An even split of the primary gives neither side.
        let p4 = view(4, [0, 1, 2, 3], primary: true, expected: 4)
        #expect(!settle(decide([0, 1], from: p4)).primary && !settle(decide([2, 3], from: p4)).primary)
    }

    @Test func twoCoordinatorsThatFlushedTheSameMemberCannotBothDecideAPrimary() {
        // Primary view 18 of five splits; member 2 acknowledged the flushes of both 0 and 1.
        let p = view(18, [0, 1, 2, 3, 4], primary: true, expected: 5)
        let a = decide([0, 2, 4], from: p)
        let b = decide([1, 2, 3], from: p)
        #expect(!a.primary && !b.primary, "neither is primary before its members have all installed it")
    }

    @Test func membersFromMergingPartitionsDoNotCount() {
        // A non-primary partition holding 2 of the last primary {0,1,2} grants a place to a
        // partition with the third: the merged view is not primary yet (the merger may never
        // come), but its coordinator prompts a view of the same members, which is.
        let last = PrimaryRecord(id: ViewID(ltime: 4, coordinator: ids[0]), members: [ids[0], ids[1], ids[2]])
        let a = view(5, [0], expected: 3, last: last)
        let b = view(5, [1, 2], expected: 3, last: last)
        let merged = decide([0, 1, 2], from: a, mergers: [b], n: 3)
        #expect(!merged.primary && merged.lastPrimary == last)
        let again = decide([0, 1, 2], from: merged, n: 3)
        #expect(again.primary)
    }

    @Test func theNewestLastPrimaryWinsAcrossAMerge() {
        let old = PrimaryRecord(id: ViewID(ltime: 2, coordinator: ids[0]), members: [ids[0], ids[1], ids[2]])
        let new = PrimaryRecord(id: ViewID(ltime: 6, coordinator: ids[3]), members: [ids[3], ids[4], ids[5]])
        let a = view(7, [0, 1, 2], expected: 3, last: old)
        let b = view(7, [3], expected: 4, last: new)
        let nv = decide([0, 1, 2, 3], from: a, mergers: [b], n: 6)
        #expect(nv.lastPrimary == new && nv.expected == 4 && !nv.primary, "3 old members do not hold the newer primary")
    }

    @Test func cleanLeavesLowerTheExpectedMembershipDownToTheLastMember() {
        var p = view(4, [0, 1, 2], primary: true, expected: 3)
        p = decide([0, 1], from: p, leavers: [2], n: 3)
        #expect(!p.primary && p.expected == 2 && p.lastPrimary?.members == [ids[0], ids[1]])
        p = settle(p, n: 3)
        #expect(p.primary && p.expected == 2)
        p = decide([0], from: p, leavers: [1], n: 3)
        p = settle(p, n: 3)
        #expect(p.primary && p.expected == 1, "last man standing")
        // A failure, unlike a leave, is not subtracted.
        let q = view(4, [0, 1, 2], primary: true, expected: 3)
        #expect(!settle(decide([0], from: settle(decide([0, 1], from: q, n: 3), n: 3), n: 3), n: 3).primary)
        // A non-primary view does not apply leaves.
        let np = view(6, [0, 1], expected: 3, last: PrimaryRecord(id: ViewID(ltime: 5, coordinator: ids[0]), members: [ids[0], ids[1], ids[2], ids[3]]))
        #expect(decide([0], from: np, leavers: [1], n: 4).expected == 3)
    }

    @Test func aJoinRaisesTheExpectedMembership() {
        let p = view(4, [0, 1], primary: true, expected: 2)
        let nv = decide([0, 1, 2, 3], from: p, mergers: [view(2, [2, 3])], n: 2)
        #expect(!nv.primary && nv.expected == 2)
        let again = settle(nv, n: 2)
        #expect(again.primary && again.expected == 4)
    }

    @Test func aPrimaryViewIsConfirmedOnlyOnceEveryMemberInstalledIt() throws {
        final class App: GroupApplication {
            var confirmed = 0
            func install(view: ViewState, rank: Rank) {}
            func receiveCast(from origin: Rank, _ payload: Packet) {}
            func receiveSend(from origin: Rank, _ payload: Packet) {}
            func primaryConfirmed() { confirmed += 1 }
        }
        let v = view(4, [0, 1, 2], primary: true, expected: 3)
        let apps = [App(), App(), App()]
        let hs = try (0 ..< 3).map { r in
            try LayerHarness(view: v, rank: r, params: "primary_expected=3:int", application: apps[r]) { s, p, x throws(ParameterError) in try Primary(s, p, x) }
        }
        for h in hs { h.fromBelow(.initialize(.zero)) }
        #expect(hs[0].takeDown().isEmpty && apps[0].confirmed == 0)
        let present1 = try #require(hs[1].takeDown().first?.packet)
        let present2 = try #require(hs[2].takeDown().first?.packet)
        hs[0].fromBelow(.send(present1, peer: 1, flags: []))
        #expect(hs[0].takeDown().isEmpty && apps[0].confirmed == 0, "one member has not installed the view yet")
        hs[0].fromBelow(.send(present2, peer: 2, flags: []))
        let confirm = try #require(hs[0].takeDown().first?.packet)
        #expect(apps[0].confirmed == 1)
        hs[1].fromBelow(.cast(confirm, peer: 0, flags: []))
        #expect(apps[1].confirmed == 1 && apps[2].confirmed == 0)
        // The next view decided from a confirmed primary needs a majority of it alone; from
        // one it does not know to be confirmed, also of the sets that view's decision needed.
        hs[1].fromAbove(.view(nextView(of: v, without: RankSet([0]))))
        let fromConfirmed = try #require(hs[1].takeDown().first?.viewState)
        #expect(fromConfirmed.lastPrimary?.id == v.id && fromConfirmed.lastPrimary?.earlier == [])
        let last = PrimaryRecord(id: ViewID(ltime: 2, coordinator: ids[3]), members: [ids[3], ids[4]])
        var unconfirmed = v
        unconfirmed.lastPrimary = last
        let nv = Primary.decide(next: nextView(of: unconfirmed, without: RankSet([0])), from: unconfirmed, mergers: [], leavers: [],
                                configured: 3, confirmed: false)
        #expect(nv.lastPrimary?.earlier == [[ids[3], ids[4]]])
        #expect(!Primary.isPrimary(flushed: [ids[1], ids[2]], expected: 3, last: nv.lastPrimary, configured: 3),
                "2 of 3 of the view, but none of the earlier primary's members")
    }

    @Test func theLayerRefusesToBuildWithoutAnExpectedMembership() {
        do {
            _ = try LayerHarness(members: 3) { s, p, x throws(ParameterError) in try Primary(s, p, x) }
            Issue.record("built without primary_expected")
        } catch {
            #expect("\(error)".contains("primary_expected"))
        }
    }

    @Test func theCoordinatorMarksTheViewAndPromptsWhenItHasAQuorumButIsNotPrimary() throws {
        let h = try LayerHarness(members: 3, params: "primary_expected=3:int") { s, p, x throws(ParameterError) in try Primary(s, p, x) }
        h.fromBelow(.initialize(.zero))
        #expect(h.takeUp().kinds == ["initialize", "prompt"], "all 3 expected are here but the view is not primary")
        h.fromBelow(.left(2))
        #expect(h.takeUp().isEmpty, "a leave is consumed")
        h.fromAbove(.view(nextView(of: h.view)))
        let nv = try #require(h.takeDown().first?.viewState)
        #expect(nv.primary && nv.expected == 3)
        let member = try LayerHarness(members: 3, rank: 1, params: "primary_expected=3:int") { s, p, x throws(ParameterError) in try Primary(s, p, x) }
        member.fromBelow(.initialize(.zero))
        #expect(member.takeUp().kinds == ["initialize"], "only the coordinator prompts")
    }

    @Test func viewsRoundTripWithTheirPrimaryState() throws {
        let last = PrimaryRecord(id: ViewID(ltime: 4, coordinator: ids[1]), members: [ids[1], ids[2]])
        for v in [view(5, [0, 1, 2], primary: true, expected: 4, last: last), view(1, [3])] {
            var w = WireWriter()
            v.encode(into: &w)
            #expect(w.count <= v.encodedSizeBound)
            let back = try WireReader.decode(w.bytes) { (r: inout WireReader) throws(WireError) in try ViewState.decode(from: &r) }
            #expect(back == v)
        }
    }

    @Test func aDuplicateInTheLastPrimaryIsRejected() {
        let last = PrimaryRecord(id: ViewID(ltime: 4, coordinator: ids[1]), members: [ids[1], ids[1]])
        var w = WireWriter()
        view(5, [0], last: last).encode(into: &w)
        #expect(throws: WireError.self) {
            try WireReader.decode(w.bytes) { (r: inout WireReader) throws(WireError) in try ViewState.decode(from: &r) }
        }
    }

    @Test func propertiesBuildPrimaryStacks() throws {
        let s = try Properties(parsing: "Vsync:Primary").protocolStack()
        #expect(s.hasPrefix("Top:Heal:Switch:Primary:Leave:"))
        let t = try Properties(parsing: "Vsync:Total:Primary").protocolStack()
        #expect(t.contains("Switch:Primary:Leave") && t.contains("Top_appl:Seqbb"))
        #expect(try LayerRegistry.standard.validate(t).map(\.canonicalName).contains("Primary"))
    }
}
