import Ensemble

/// A simulated group member: a `GroupEndpoint` on a `SimTransport`, with an application
/// that sends numbered test messages and records everything into the scenario's recorder.
final class SimMember: GroupApplication {
    let me: Recorder.Member
    let recorder: Recorder
    var endpoint: GroupEndpoint?
    private(set) var view: ViewState?
    private(set) var rank: Rank = 0
    private var nextSeq: UInt64 = 0
    private(set) var fullResults = 0
    private(set) var leaving = false
    private(set) var exited = false
    private let onInstall: () -> Void

    init(me: Recorder.Member, recorder: Recorder, onInstall: @escaping () -> Void = {}) {
        self.me = me
        self.recorder = recorder
        self.onInstall = onInstall
    }

    /// Joined and neither leaving nor gone.
    var isActive: Bool { endpoint != nil && view != nil && !leaving && !exited }

    func install(view: ViewState, rank: Rank) {
        self.view = view
        self.rank = rank
        recorder.record(.installed(me, view))
        onInstall()
    }

    func leave() {
        guard isActive else { return }
        leaving = true
        recorder.record(.leaveRequested(me))
        endpoint?.leave()
    }

    func receiveCast(from origin: Rank, _ payload: Packet) { received(.cast, from: origin, payload) }
    func receiveSend(from origin: Rank, _ payload: Packet) { received(.send, from: origin, payload) }

    private func received(_ kind: TestMessage.Kind, from origin: Rank, _ payload: Packet) {
        guard let view else { return }
        let from = origin < view.count ? recorder.member(of: view.members[origin]) : nil
        let msg = payload.withBytes { TestMessage.decode($0) }
        recorder.record(.delivered(.init(receiver: me, view: view.id, from: from, message: msg, kind: kind)))
    }

    func primaryConfirmed() {
        if let view { recorder.record(.primaryConfirmed(me, view.id)) }
    }

    func block() {
        if let view { recorder.record(.blocked(me, view.id)) }
    }

    func exit() {
        exited = true
        recorder.record(.left(me))
    }

    /// Casts (destination nil) or sends one test message with `filler` extra bytes.
    func sendTest(to destination: Rank?, filler: Int) {
        guard let endpoint, let view else { return }
        let kind: TestMessage.Kind = destination == nil ? .cast : .send
        let msg = TestMessage(origin: me.process, incarnation: me.incarnation, kind: kind, seq: nextSeq, fillerLength: filler)
        let bytes = msg.encode()
        let result = destination.map { endpoint.send(to: $0, bytes) } ?? endpoint.cast(bytes)
        switch result {
        case .sent:
            nextSeq += 1
            let dest = destination.flatMap { recorder.member(of: view.members[$0]) }
            recorder.record(.sent(.init(origin: me, view: view.id, kind: kind, seq: msg.seq, destination: dest)))
        case .full:
            fullResults += 1
        case .blocked, .rejected:
            break
        }
    }
}
