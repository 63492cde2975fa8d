/// Wire encodings of views, merge contacts and gossip records. Decoders take limits so that
/// hostile input cannot make them allocate much.
public enum WireLimits {
    /// Most members a decoded view may have (`max_members`).
    public static let maxMembers = 1024
    public static let maxProtocolLength = 1024
}

extension Address {
    public func encode<W: WireWriting>(into w: inout W) {
        w.write(ip)
        w.write(port)
    }
    public static func decode(from r: inout WireReader) throws(WireError) -> Address {
        Address(ip: try r.read(), port: try r.read())
    }
}

extension GroupID {
    public func encode<W: WireWriting>(into w: inout W) { w.write(name) }
    public static func decode(from r: inout WireReader) throws(WireError) -> GroupID {
        GroupID(try r.readString(limit: 256))
    }
}

extension ViewState {
    public var encodedSizeBound: Int {
        64 + group.name.utf8.count + protocolStack.utf8.count + members.count * (EndpointID.encodedSize + 8)
            + previousIDs.count * ViewID.encodedSize + params.description.utf8.count * 2 + 64
            + 12 + (lastPrimary.map { l in
                ViewID.encodedSize + 12 + l.quorums.reduce(0) { $0 + 10 + $1.count * EndpointID.encodedSize }
            } ?? 0)
    }

    public func encode<W: WireWriting>(into w: inout W) {
        group.encode(into: &w)
        w.write(protocolStack)
        w.writeVarint(ltime)
        w.writeCount(members.count)
        for i in members.indices {
            members[i].encode(into: &w)
            addresses[i].encode(into: &w)
            w.write(clients[i])
        }
        w.writeCount(previousIDs.count)
        for id in previousIDs { id.encode(into: &w) }
        params.encode(into: &w)
        w.write(primary)
        w.writeVarint(signed: uptime.nanoseconds)
        w.writeVarint(UInt64(max(0, expected)))
        w.write(lastPrimary != nil)
        if let l = lastPrimary {
            l.id.encode(into: &w)
            w.writeCount(l.members.count)
            for m in l.members { m.encode(into: &w) }
            w.write(UInt8(l.earlier.count) | (l.overflow ? 0x80 : 0))
            for set in l.earlier {
                w.writeCount(set.count)
                for m in set { m.encode(into: &w) }
            }
        }
    }

    public static func decode(from r: inout WireReader) throws(WireError) -> ViewState {
        let group = try GroupID.decode(from: &r)
        let proto = try r.readString(limit: WireLimits.maxProtocolLength)
        let ltime: UInt64 = try r.readVarint()
        let n = try r.readCount(limit: WireLimits.maxMembers)
        guard n >= 1 else { throw .invalidValue(field: "view size", value: 0) }
        var members: [EndpointID] = []
        var addresses: [Address] = []
        var clients: [Bool] = []
        members.reserveCapacity(n)
        addresses.reserveCapacity(n)
        clients.reserveCapacity(n)
        for _ in 0 ..< n {
            members.append(try EndpointID.decode(from: &r))
            addresses.append(try Address.decode(from: &r))
            clients.append(try r.readBool())
        }
        guard Set(members).count == n else { throw .invalidValue(field: "view with a duplicate member", value: UInt64(n)) }
        let np = try r.readCount(limit: 64)
        var prev: [ViewID] = []
        for _ in 0 ..< np { prev.append(try ViewID.decode(from: &r)) }
        let params = try Parameters.decode(from: &r)
        let primary = try r.readBool()
        let uptime = Time(nanoseconds: try r.readVarint(signed: ()))
        let expected: UInt64 = try r.readVarint()
        guard expected <= UInt64(WireLimits.maxMembers) else { throw .invalidValue(field: "expected membership", value: expected) }
        var last: PrimaryRecord?
        if try r.readBool() {
            let id = try ViewID.decode(from: &r)
            func memberSet(_ r: inout WireReader) throws(WireError) -> [EndpointID] {
                let k = try r.readCount(limit: WireLimits.maxMembers)
                var ms: [EndpointID] = []
                ms.reserveCapacity(k)
                for _ in 0 ..< k { ms.append(try EndpointID.decode(from: &r)) }
                guard Set(ms).count == k else { throw .invalidValue(field: "primary record with a duplicate member", value: UInt64(k)) }
                return ms
            }
            let ms = try memberSet(&r)
            let flags: UInt8 = try r.read()
            let count = Int(flags & 0x7F)
            guard count <= PrimaryRecord.maxEarlier else { throw .invalidValue(field: "primary record's earlier sets", value: UInt64(count)) }
            var earlier: [[EndpointID]] = []
            for _ in 0 ..< count { earlier.append(try memberSet(&r)) }
            last = PrimaryRecord(id: id, members: ms, earlier: earlier, overflow: flags & 0x80 != 0)
        }
        return ViewState(group: group, protocolStack: proto, ltime: ltime, members: members, addresses: addresses,
                         clients: clients, previousIDs: prev, params: params, primary: primary, uptime: uptime,
                         expected: Int(expected), lastPrimary: last)
    }
}

extension MergeContact {
    public func encode<W: WireWriting>(into w: inout W) {
        endpoint.encode(into: &w)
        address.encode(into: &w)
        w.write(viewID != nil)
        viewID?.encode(into: &w)
    }
    public static func decode(from r: inout WireReader) throws(WireError) -> MergeContact {
        let e = try EndpointID.decode(from: &r)
        let a = try Address.decode(from: &r)
        let v: ViewID? = try r.readBool() ? try ViewID.decode(from: &r) : nil
        return MergeContact(endpoint: e, address: a, viewID: v)
    }
}

extension Gossip {
    /// Flags byte (which parts are present), then each present part.
    public func encode<W: WireWriting>(into w: inout W) {
        w.write(UInt8((heal != nil ? 1 : 0) | (protocolSuggestion != nil ? 2 : 0) | (merge != nil ? 4 : 0)))
        if let h = heal {
            w.write(h.protocolStack)
            h.viewID.encode(into: &w)
            h.contact.encode(into: &w)
            w.writeCount(h.members.count)
            for m in h.members { m.encode(into: &w) }
            w.write(h.primary)
            w.write(h.primaryLineage != nil)
            h.primaryLineage?.encode(into: &w)
        }
        if let s = protocolSuggestion {
            w.write(s.protocolStack)
            s.viewID.encode(into: &w)
            w.writeVarint(signed: s.timestamp.nanoseconds)
        }
        if let m = merge {
            m.contact.encode(into: &w)
            m.sender.encode(into: &w)
            w.writeVarint(m.sequence)
            w.write(m.kind.rawValue)
            m.view.encode(into: &w)
        }
    }

    public static func decode(from r: inout WireReader) throws(WireError) -> Gossip {
        let flags: UInt8 = try r.read()
        guard flags & ~7 == 0 else { throw .invalidValue(field: "gossip flags", value: UInt64(flags)) }
        var g = Gossip()
        if flags & 1 != 0 {
            let proto = try r.readString(limit: WireLimits.maxProtocolLength)
            let vid = try ViewID.decode(from: &r)
            let contact = try MergeContact.decode(from: &r)
            let n = try r.readCount(limit: WireLimits.maxMembers)
            var members: [EndpointID] = []
            members.reserveCapacity(n)
            for _ in 0 ..< n { members.append(try EndpointID.decode(from: &r)) }
            let primary = try r.readBool()
            let lineage = try r.readBool() ? try ViewID.decode(from: &r) : nil
            g.heal = HealGossip(protocolStack: proto, viewID: vid, contact: contact, members: members, primary: primary,
                                primaryLineage: lineage)
        }
        if flags & 2 != 0 {
            g.protocolSuggestion = ProtocolGossip(protocolStack: try r.readString(limit: WireLimits.maxProtocolLength),
                                                  viewID: try ViewID.decode(from: &r),
                                                  timestamp: Time(nanoseconds: try r.readVarint(signed: ())))
        }
        if flags & 4 != 0 {
            let contact = try MergeContact.decode(from: &r)
            let sender = try EndpointID.decode(from: &r)
            let seq: UInt64 = try r.readVarint()
            let k: UInt8 = try r.read()
            guard let kind = MergeGossip.Kind(rawValue: k) else { throw .invalidValue(field: "merge kind", value: UInt64(k)) }
            g.merge = MergeGossip(contact: contact, sender: sender, sequence: seq, kind: kind, view: try ViewState.decode(from: &r))
        }
        return g
    }
}
