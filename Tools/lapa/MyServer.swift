import Foundation
import Maestro

/// The seed program's `MyServer`, line for line: a CSX server whose replicated state is an
/// integer (plus, with --state-bytes, a blob streamed in chunks), pulled asynchronously by
/// every joining server from the oldest one.
final class MyServer: CSX {
    // Initialize the state of the server replica and join the group.
    init(_ i: Int, _ ops: CSXOptions, blob: [UInt8], watch: CompletionWatch) throws {
        self.blobSize = blob.count
        self.blob = blob
        self.watch = watch
        super.init(ops)
        resetState()
        try join()
    }

    override func resetState() {
        state = 0
        received = 0
        checksum = MyServer.checksumSeed
        expected = MyServer.checksumSeed
    }

    // State transfer is being (re)started.
    override func stateTransferCallback(_ xferID: XferID) {
        let requestMsg = Message()
        resetState()
        // Invoke the non-blocking version of getState.
        let xferStatus = (try? getState(xferID, requestMsg)) ?? .terminated
        if xferStatus == .terminated {
            line("(Asynchronous) Xfer Terminated")
        }
    }

    // (Asynchronous) state transfer has been canceled.
    override func xferCanceledCallback(_ xferID: XferID) {
        line("(Asynchronous) Xfer Canceled")
    }

    // Got a reply to an asynchronous call to getState.
    override func gotStateCallback(_ xferID: XferID, _ stateMsg: inout Message) {
        do {
            try stateMsg >> state
            line("(Asynchronous) Xfer Successful, got state: \(state)")
        } catch {
            line("(Asynchronous) Xfer Failed: malformed state (\(error))")
        }
        xferDone(xferID)
    }

    // Got a state request from a joining server.
    // Reply with (a portion of) the state.
    override func askStateCallback(_ origin: EndpID, _ xferID: XferID, _ requestMsg: inout Message) {
        if blobSize == 0 {
            var stateMsg = Message()
            stateMsg << state
            sendState(origin, xferID, stateMsg)
            return
        }
        // A large state: the blob in chunks, then the integer as the last chunk.
        var offset = 0
        let blob = self.blob
        let state = self.state
        var sentInt = false
        sendState(to: origin, xferID: xferID) { max in
            if offset < blob.count {
                let end = min(blob.count, offset + max)
                var m = Message()
                m.push(raw: blob[offset ..< end])
                offset = end
                return m
            }
            if sentInt { return nil }
            sentInt = true
            var m = Message()
            m << state
            return m
        }
    }

    // Large states arrive chunk by chunk: checked as they come (a running checksum of the bytes
    // received and one of the bytes expected at the same offsets), never held whole, so no
    // callback ever does more than one chunk's work (a long one would hold the loop past the
    // suspicion time, and the provider would suspect this joiner).
    override func gotStateChunkCallback(_ xferID: XferID, _ chunk: inout Message, index: Int, isLast: Bool) {
        if index == 0 {
            received = 0
            checksum = MyServer.checksumSeed
            expected = MyServer.checksumSeed
        }
        if !isLast {
            chunk.withUnsafeBytes { raw in
                var c = checksum
                var e = expected
                var offset = received
                for b in raw {
                    c = (c ^ UInt64(b)) &* MyServer.prime
                    e = (e ^ UInt64(MyServer.blobByte(offset))) &* MyServer.prime
                    offset += 1
                }
                checksum = c
                expected = e
                received = offset
            }
            return
        }
        var stateMsg = chunk
        do {
            try stateMsg >> state
            let ok = received == blobSize && checksum == expected
            line("(Asynchronous) Xfer Successful, got state: \(state) (\(received) bytes, checksum \(ok ? "ok" : "WRONG"))")
        } catch {
            line("(Asynchronous) Xfer Failed: malformed state (\(error))")
        }
        xferDone(xferID)
    }

    // Got a multicast message.
    override func csxReceiveCastCallback(_ origin: EndpID, _ msg: inout Message) {}

    // Got a point-to-point message.
    override func csxReceiveSendCallback(_ origin: EndpID, _ msg: inout Message) {}

    // Got a new view.
    override func csxAcceptedViewCallback(_ viewData: CSXViewData, _ msg: inout Message) {
        if viewData.myRank == 0 {
            line("view \(viewData.viewID.ltime): \(viewData.nmembers) members, \(viewData.servers.count) servers, \(viewData.xferServers.count) xfer-servers, \(viewData.clients.count) clients")
            watch.saw(viewData)
        }
    }

    private var state: Int = 0
    private let blobSize: Int
    private let blob: [UInt8]
    private var received = 0
    private var checksum = MyServer.checksumSeed
    private var expected = MyServer.checksumSeed
    private let watch: CompletionWatch

    static let checksumSeed: UInt64 = 0xCBF2_9CE4_8422_2325
    static let prime: UInt64 = 0x0000_0100_0000_01B3

    /// The state's byte at `offset` (every server starts with the same blob).
    @inline(__always) static func blobByte(_ offset: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: offset &* 2654435761 >> 13)
    }

    static func makeBlob(_ n: Int) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: n)
        b.withUnsafeMutableBufferPointer { p in
            for i in 0 ..< n { p[i] = blobByte(i) }
        }
        return b
    }
}

/// Prints a line at once (several processes may share a terminal or a pipe).
func line(_ s: String) {
    print(s)
    fflush(nil)
}
