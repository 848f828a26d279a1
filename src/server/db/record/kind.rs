//! A record's type as a closed set, for the processing code to branch on:
//! a processing used to compare the type's name several times over
//! (a put to a record spent more on that than on its alarm check).

/// The record types served (see [`super::supported_types`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Ai,
    Ao,
    Bi,
    Bo,
    Mbbi,
    Mbbo,
    Longin,
    Longout,
    Stringin,
    Stringout,
    Waveform,
    Calc,
    Calcout,
}

impl Kind {
    /// The kind of record type `rtyp`, one of [`super::fields::TYPES`]
    /// (`None` for any other name).
    pub(super) fn of(rtyp: &str) -> Option<Kind> {
        Some(match rtyp {
            "ai" => Kind::Ai,
            "ao" => Kind::Ao,
            "bi" => Kind::Bi,
            "bo" => Kind::Bo,
            "mbbi" => Kind::Mbbi,
            "mbbo" => Kind::Mbbo,
            "longin" => Kind::Longin,
            "longout" => Kind::Longout,
            "stringin" => Kind::Stringin,
            "stringout" => Kind::Stringout,
            "waveform" => Kind::Waveform,
            "calc" => Kind::Calc,
            "calcout" => Kind::Calcout,
            _ => return None,
        })
    }

    /// ai, ao, calc, calcout, longin, longout: a number checked against
    /// HIHI..LOLO, posted past MDEL/ADEL.
    pub(super) fn is_analog(self) -> bool {
        matches!(
            self,
            Kind::Ai | Kind::Ao | Kind::Calc | Kind::Calcout | Kind::Longin | Kind::Longout
        )
    }

    /// calc and calcout: VAL computed from CALC.
    pub(super) fn is_calc(self) -> bool {
        matches!(self, Kind::Calc | Kind::Calcout)
    }

    /// ao, bo, mbbo, longout, stringout: VAL from DOL in closed loop,
    /// written to OUT.
    pub(super) fn is_output(self) -> bool {
        matches!(
            self,
            Kind::Ao | Kind::Bo | Kind::Mbbo | Kind::Longout | Kind::Stringout
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_type_has_a_kind() {
        for t in super::super::supported_types() {
            assert!(Kind::of(t).is_some(), "{t}");
        }
        assert_eq!(Kind::of("calcout"), Some(Kind::Calcout));
        assert_eq!(Kind::of("aSub"), None);
    }
}
