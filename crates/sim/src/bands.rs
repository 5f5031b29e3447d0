//! Photometric bands of the variable-star simulator: how a star's mean magnitude and its
//! amplitude change from the reference band V to the band a survey observes in.
//!
//! Colours: each star has a colour `(V-I)` (its class's intrinsic range plus reddening), and a
//! band's mean magnitude is `V + slope (V-I)`, a straight-line stand-in for the colour
//! transformations (B-V about 0.9 (V-I) on the main sequence, V-R about 0.5 (V-I), Gaia's
//! G_BP - G_RP about 1.25 (V-I) and G - V about -0.2 (V-I) over 0.3 < V-I < 1.2; ZTF g and r
//! from g - V about 0.5 (V-I) and r - V about -0.45 (V-I)). They are rounded, good to about
//! 0.1 mag over that range; enough to give colour the role it has in classification, not to
//! transform real photometry.
//!
//! Amplitudes: pulsators vary more in blue light than in red. The RR Lyrae amplitude ratios to V
//! are the rounded literature values B 1.25, R 0.80, I 0.63 (e.g. A_I / A_V = 0.63 for RRab,
//! Kunder et al. 2013, AJ 145, 33), Gaia G 0.92, G_BP 1.10 and G_RP 0.69 (G_BP / G near 1.2 and
//! G_RP / G near 0.75, Clementini et al. 2019, A&A 622, A60), ZTF g 1.20 and r 0.85. Eclipses of
//! stars of similar temperature are grey: the binaries keep the same amplitude in every band (a
//! detached pair of very different temperatures would not; that case is not simulated).

/// One band the simulator can observe in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    /// Its name in configs.
    pub name: &'static str,
    /// `m_band - V` per magnitude of `(V-I)`.
    pub colour_slope: f64,
    /// A pulsating star's amplitude in this band over its amplitude in V.
    pub pulsation_amplitude_ratio: f64,
}

/// The bands the simulator knows.
pub const BANDS: [Band; 9] = [
    Band { name: "B", colour_slope: 0.9, pulsation_amplitude_ratio: 1.25 },
    Band { name: "V", colour_slope: 0.0, pulsation_amplitude_ratio: 1.0 },
    Band { name: "R", colour_slope: -0.5, pulsation_amplitude_ratio: 0.80 },
    Band { name: "I", colour_slope: -1.0, pulsation_amplitude_ratio: 0.63 },
    Band { name: "G", colour_slope: -0.2, pulsation_amplitude_ratio: 0.92 },
    Band { name: "BP", colour_slope: 0.2, pulsation_amplitude_ratio: 1.10 },
    Band { name: "RP", colour_slope: -1.05, pulsation_amplitude_ratio: 0.69 },
    Band { name: "g", colour_slope: 0.5, pulsation_amplitude_ratio: 1.20 },
    Band { name: "r", colour_slope: -0.45, pulsation_amplitude_ratio: 0.85 },
];

/// The band called `name`, or an error listing the known ones.
pub fn band(name: &str) -> Result<Band, String> {
    BANDS.iter().copied().find(|b| b.name == name).ok_or_else(|| {
        let known: Vec<&str> = BANDS.iter().map(|b| b.name).collect();
        format!("unknown band {name:?}; the simulator knows {known:?}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaia_colours_and_amplitude_ratios_follow_the_cited_relations() {
        let (g, bp, rp) = (band("G").unwrap(), band("BP").unwrap(), band("RP").unwrap());
        // A typical RR Lyrae, (V-I) = 0.55, has G_BP - G_RP near 0.7.
        let bp_rp = (bp.colour_slope - rp.colour_slope) * 0.55;
        assert!((bp_rp - 0.69).abs() < 0.05, "{bp_rp}");
        assert!((bp.pulsation_amplitude_ratio / g.pulsation_amplitude_ratio - 1.2).abs() < 0.02);
        assert!((rp.pulsation_amplitude_ratio / g.pulsation_amplitude_ratio - 0.75).abs() < 0.01);
        // Bluer bands vary more.
        let order: Vec<f64> = ["B", "V", "R", "I"].iter().map(|n| band(n).unwrap().pulsation_amplitude_ratio).collect();
        assert!(order.windows(2).all(|w| w[0] > w[1]), "{order:?}");
        let err = band("Ks").unwrap_err();
        assert!(err.contains("\"Ks\"") && err.contains("\"RP\""), "{err}");
    }
}
