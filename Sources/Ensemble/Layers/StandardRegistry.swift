extension LayerRegistry {
    /// Every layer this build implements.
    public static let standard = LayerRegistry(factories: [
        "Top": { s, p, x in Top(s, p, x) },
        "Top_appl": { s, p, x throws(ParameterError) in try TopAppl(s, p, x) },
        "Pt2pt": { s, p, x throws(ParameterError) in try Pt2pt(s, p, x) },
        "Frag": { s, p, x throws(ParameterError) in try Frag(s, p, x) },
        "Stable": { s, p, x throws(ParameterError) in try Stable(s, p, x) },
        "Mnak": { s, p, x throws(ParameterError) in try Mnak(s, p, x) },
        "Bottom": { s, p, x in Bottom(s, p, x) },
    ])
}
