//! `defaultdict`: serve any PV name (under a prefix, or every name), making
//! the PV on first use, as caproto's `caproto-defaultdict-server` does: the
//! quickest way to give a client or a display something to talk to. New PVs
//! are read-write, of one type and element count chosen on the command line
//! (double scalars by default), starting at zero (empty strings, enum state
//! 0 of "Off"/"On").

use std::sync::Arc;

use clap::ValueEnum;

use crate::server::{DynamicPvs, Pv};

/// At most this many PVs are made on demand (see [`DynamicPvs`]).
pub const MAX_PVS: usize = 100_000;

/// The native type of PVs made on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DefaultType {
    /// DBF_DOUBLE
    Double,
    /// DBF_FLOAT
    Float,
    /// DBF_LONG
    Long,
    /// DBF_SHORT
    #[value(alias = "int")]
    Short,
    /// DBF_CHAR
    Char,
    /// DBF_ENUM with states "Off", "On"
    Enum,
    /// DBF_STRING
    String,
}

/// A new PV named `name`: `kind`, `count` elements, all zero.
pub fn new_pv(name: &str, kind: DefaultType, count: usize) -> Pv {
    let n = count.max(1);
    match kind {
        DefaultType::Double => Pv::new(name, vec![0.0f64; n]),
        DefaultType::Float => Pv::new(name, vec![0.0f32; n]),
        DefaultType::Long => Pv::new(name, vec![0i32; n]),
        DefaultType::Short => Pv::new(name, vec![0i16; n]),
        DefaultType::Char => Pv::new(name, vec![0u8; n]),
        DefaultType::Enum => Pv::enumerated(name, &["Off", "On"], 0),
        DefaultType::String => Pv::new(name, vec![String::new(); n]),
    }
}

/// The on-demand PVs: names starting with `prefix` (every name when
/// `prefix` is `None`).
pub fn dynamic(prefix: Option<String>, kind: DefaultType, count: usize) -> Arc<DynamicPvs> {
    DynamicPvs::new(
        move |name| match &prefix {
            Some(p) => name.len() > p.len() && name.starts_with(p.as_str()),
            None => !name.is_empty(),
        },
        move |name| new_pv(name, kind, count),
        MAX_PVS,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::dbr::NativeType;

    #[test]
    fn prefix_and_types() {
        let d = dynamic(Some("dd:".into()), DefaultType::Long, 3);
        assert!(d.serves("dd:x") && !d.serves("dd:") && !d.serves("other:x"));
        let pv = d.find_or_create("dd:x").unwrap();
        assert_eq!((pv.native_type(), pv.max_count()), (NativeType::Long, 3));
        let any = dynamic(None, DefaultType::String, 1);
        assert!(any.serves("anything"));
        let pv = any.find_or_create("anything").unwrap();
        assert_eq!(pv.native_type(), NativeType::String);
    }

    /// The documented bound of `caproto-ioc defaultdict`: 100 000 PVs, then new names are
    /// neither answered nor made, while the ones made are still served.
    #[test]
    fn at_most_100_000_pvs_are_made() {
        assert_eq!(MAX_PVS, 100_000);
        let d = dynamic(Some("dd:".into()), DefaultType::Double, 1);
        for i in 0..MAX_PVS {
            assert!(d.find_or_create(&format!("dd:{i}")).is_some(), "PV {i}");
        }
        assert!(!d.serves("dd:one-more"));
        assert!(d.find_or_create("dd:one-more").is_none());
        assert!(d.serves("dd:0") && d.find_or_create("dd:99999").is_some());
        assert_eq!(d.created_names().len(), MAX_PVS);
    }
}
