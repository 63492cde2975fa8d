extension LayerRegistry {
    /// Every layer this build implements.
    public static let standard = LayerRegistry(factories: [
        "Top": { s, p, x throws(ParameterError) in try Top(s, p, x) },
        "Heal": { s, p, x in Heal(s, p, x) },
        "Switch": { s, p, x in Switch(s, p, x) },
        "Primary": { s, p, x throws(ParameterError) in try Primary(s, p, x) },
        "Leave": { s, p, x throws(ParameterError) in try Leave(s, p, x) },
        "Inter": { s, p, x throws(ParameterError) in try Inter(s, p, x) },
        "Intra": { s, p, x in Intra(s, p, x) },
        "Elect": { s, p, x in Elect(s, p, x) },
        "Merge": { s, p, x throws(ParameterError) in try Merge(s, p, x) },
        "Sync": { s, p, x in Sync(s, p, x) },
        "Suspect": { s, p, x throws(ParameterError) in try Suspect(s, p, x) },
        "Vsync": { s, p, x in Vsync(s, p, x) },
        "Top_appl": { s, p, x throws(ParameterError) in try TopAppl(s, p, x) },
        "Local": { s, p, x in Local(s, p, x) },
        "Seqbb": { s, p, x throws(ParameterError) in try Seqbb(s, p, x) },
        "Pt2pt": { s, p, x throws(ParameterError) in try Pt2pt(s, p, x) },
        "Frag": { s, p, x throws(ParameterError) in try Frag(s, p, x) },
        "Stable": { s, p, x throws(ParameterError) in try Stable(s, p, x) },
        "Mnak": { s, p, x throws(ParameterError) in try Mnak(s, p, x) },
        "Bottom": { s, p, x in Bottom(s, p, x) },
    ])
}
