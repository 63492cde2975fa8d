/// The soak's log format: the kinds of line and how one line is written (`LogLine.format`)
/// and read back (`LogLine.parse`, LogLineParser.swift). Members write their logs with
/// `EventLog`; `LogReader` reads whole logs.
///
/// Every line is `MICROS KIND FIELDS...`, MICROS being microseconds since the soak's epoch
/// (every process of a soak runs on one machine and reads the same clock). Endpoints, view
/// ids and views are written as `LogCodec` says. The kinds:
///
///     start MEMBER INCARNATION ENDPOINT ADDRESS    the member exists (first line)
///     view VIEWID ROLE VIEWHEX                     a view accepted, with its full ViewState
///     block VIEWID                                 block() in the current view
///     primary VIEWID 1|0                           the view is confirmed primary, or this member
///                                                  is outside the primary (csxPrimaryChangedCallback;
///                                                  may come just before the view's own line)
///     cast VIEWID SEQ FILLER                       a cast was sent in the view
///     send VIEWID SEQ FILLER DEST-ENDPOINT         a send was sent in the view
///     recv cast|send VIEWID FROM-ENDPOINT MEMBER INCARNATION KIND SEQ FILLER
///     recv cast|send VIEWID FROM-ENDPOINT invalid  a payload that is no test message
///     xfer-start XFERID                            state transfer (re)started: state reset
///     xfer-cancel XFERID                           the request was abandoned
///     xfer-provide JOINER-ENDPOINT XFERID DIGEST COUNT   this server answered a request
///     xfer-got PROVIDER-ENDPOINT XFERID DIGEST COMPUTED COUNT   state received and installed
///     leave                                        the member asked to leave
///     exit                                         the member's exit callback ran
///     final COUNT SUM DIGEST VIEWID                its state when the soak stopped it
///     anomaly TEXT...                              something the member found wrong
///
/// The orchestrator writes `soak.log` with the same timestamps: `kill MEMBER INCARNATION`
/// (one line per member of a killed process) and `note TEXT...` for the other faults.
public enum LogLine {
    public enum Kind: String, Sendable {
        case start, view, block, primary, cast, send, recv, leave, exit, final, anomaly, kill, note
        case xferStart = "xfer-start"
        case xferCancel = "xfer-cancel"
        case xferProvide = "xfer-provide"
        case xferGot = "xfer-got"
    }

    /// `MICROS KIND FIELDS...`, fields separated by one space, without the newline.
    public static func format(micros: Int64, _ kind: Kind, _ fields: [String]) -> String {
        var line = "\(micros) \(kind.rawValue)"
        for f in fields {
            line += " "
            line += f
        }
        return line
    }
}
