/// A header that is a single byte, its raw value: Bottom's message kinds, and the tags of
/// layer headers without fields (Top_appl's, Heal's).
protocol ByteHeader: HeaderEncodable, RawRepresentable where RawValue == UInt8 {}

extension ByteHeader {
    var encodedSizeBound: Int { 1 }
    func encode<W: WireWriting>(into w: inout W) { w.write(rawValue) }

    /// The header whose byte is `b`; `field` names it in the error if there is none.
    static func decode(byte b: UInt8, field: String) throws(WireError) -> Self {
        guard let h = Self(rawValue: b) else { throw .invalidValue(field: field, value: UInt64(b)) }
        return h
    }
}
