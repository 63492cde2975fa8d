import Ensemble

// ClientServer's role changes: a client asking to be a server, a transfer's end, the
// coordinator's server lists for the next view, and the rule for a view with no server left
// (who holds a state, of which primary lineage, and who is promoted). The view-by-view state
// machine that calls them is in ClientServer.swift.
extension ClientServer {
    /// Asks to become a server (no-op unless I am a client in `vd`). A new transfer id: the
    /// transfer that follows is a new one.
    func becomeServer(_ vd: inout ClSvViewData) {
        guard vd.clients.contains(vd.myEndpID) else { return }
        currentXferID.value += 1
        if vd.myRank == 0 && vd.nmembers == 1 && mayFoundState(vd) {
            becomeLoneServer(&vd)
        } else if vd.myRank == 0 {
            becomeServerRequest(from: vd.myEndpID, xferType: options.xferType)
            vd.state = .becomingServer
        } else {
            var m = Message()
            m << options.xferType.rawValue
            m << ClSvType.becomeServer.rawValue
            _ = raw(m, to: vd.coordinator)
            vd.state = .becomingServer
        }
    }

    /// Alone in the view: a server at once, whatever the transfer type.
    func becomeLoneServer(_ vd: inout ClSvViewData) {
        vd.servers = [vd.myEndpID]
        vd.xferServers = []
        vd.clients = []
        vd.myServerRank = 0
        vd.viewType = .noXfer
        serversNext = vd.servers
        xferServersNext = []
        viewTypeNext = .noXfer
        vd.state = .serverNormal
    }

    /// Whether I may become a server in `vd` without a state from a transfer: I hold a state,
    /// or the view is primary, or the group has had no primary view (see the class comment).
    func mayFoundState(_ vd: ClSvViewData) -> Bool {
        vd.decidedPrimary || vd.primaryLineage == nil || (holdsState && stateLineage == vd.primaryLineage)
    }

    /// Reports the end of my transfer (no-op unless I am a transfer server in `vd`); the
    /// transfer id expires unless the transfer is still running (a re-sent XFER_DONE).
    func finishTransfer(_ vd: inout ClSvViewData) {
        guard vd.xferServers.contains(vd.myEndpID) else { return }
        defer { if vd.state != .serverXfer { currentXferID.value += 1 } }
        holdsState = true
        stateLineage = vd.primaryLineage
        if vd.myRank == 0 && vd.nmembers == 1 {
            becomeLoneServer(&vd)
        } else if vd.myRank == 0 {
            xferDoneRequest(from: vd.myEndpID)
            vd.state = .serverXferDone
        } else {
            var m = Message()
            m << ClSvType.xferDone.rawValue
            _ = raw(m, to: vd.coordinator)
            vd.state = .serverXferDone
        }
    }

    /// Ends this member's state transfer `xferID` (`stateTransferCallback`'s id in CSX;
    /// `viewData.xferID` of the view that said `startXfer` in a plain client/server member): it
    /// becomes a full server at the next view. Nothing happens if `xferID` is stale (the
    /// transfer was restarted or has ended) or this member is not receiving state.
    public func xferDone(_ xferID: XferID) {
        guard xferID == currentXferID, clsvState == .serverXfer, var vd = clsvViewData else { return }
        finishTransfer(&vd)
        clsvState = vd.state
        clsvViewData = vd
    }

    func becomeServerRequest(from s: EndpID, xferType: XferType) {
        guard clsvViewData?.clients.contains(s) ?? true else { return }
        if xferType != .noXfer {
            if !xferServersNext.contains(s) { xferServersNext.append(s) }
            viewTypeNext = max(viewTypeNext, xferType)
        } else if !serversNext.contains(s) {
            serversNext.append(s)
        }
        requestNewView()
    }

    /// No server in `vd` while I wait to be one: I tell the coordinator whether I hold a state
    /// (and the primary view it was last the group's state in).
    func noServerLeft(_ vd: ClSvViewData) {
        if vd.myRank == 0 {
            stateReport(from: vd.myEndpID, holds: holdsState, lineage: stateLineage)
        } else {
            var m = Message()
            if holdsState { m.push(optional: stateLineage) }
            m << (holdsState ? ClSvType.holdsState : .holdsNoState).rawValue
            _ = raw(m, to: vd.coordinator)
        }
    }

    /// Coordinator: a transfer server of this view, with no server left, holds a state or not.
    /// The others take the state from the one promoted, in the next view. Which one:
    /// - the group never had a primary view: the first holder at once; if none holds one, the
    ///   first transfer server, once every one has answered;
    /// - a view outside the primary, descending from primary view L: only a holder of L's
    ///   state (`lineage == L`), at once; nobody otherwise (see the class comment);
    /// - a primary view: once every one has answered, the holder of the newest lineage (the
    ///   first of equals); if none holds one, the first transfer server.
    func stateReport(from s: EndpID, holds: Bool, lineage: ViewID?) {
        guard serversNext.isEmpty, xferOfView.contains(s), let vd = clsvViewData else { return }
        if holds { holders[s] = lineage } else { stateless.insert(s) }
        if !vd.decidedPrimary {
            if holds && (vd.primaryLineage == nil || lineage == vd.primaryLineage) { return promote(s) }
            guard vd.primaryLineage == nil, holders.isEmpty, xferOfView.allSatisfy(stateless.contains),
                  let first = xferOfView.first else { return }
            return promote(first)
        }
        guard xferOfView.allSatisfy({ stateless.contains($0) || holders.keys.contains($0) }), let first = xferOfView.first else { return }
        let none = ViewID(ltime: 0, coordinator: .none)
        let best = xferOfView.filter(holders.keys.contains).max { (holders[$0].flatMap { $0 } ?? none) < (holders[$1].flatMap { $0 } ?? none) }
        promote(best ?? first)
    }

    func promote(_ s: EndpID) {
        xferServersNext.removeAll { $0 == s }
        serversNext.append(s)
        if xferServersNext.isEmpty { viewTypeNext = .noXfer }
        requestNewView()
    }

    func xferDoneRequest(from s: EndpID) {
        guard clsvViewData?.xferServers.contains(s) ?? false else { return }
        xferServersNext.removeAll { $0 == s }
        if !serversNext.contains(s) { serversNext.append(s) }
        if xferServersNext.isEmpty { viewTypeNext = .noXfer }
        requestNewView()
    }
}
