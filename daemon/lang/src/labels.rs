//! Labels: the `as=LABEL` bindings of a script or a connection, and addresses written as
//! `LABEL+OFFSET`.
//!
//! A session binds a label after the `mmap` or `mremap` that names it succeeds, to the address
//! the call returned; binding a label again replaces the old address. The parser resolves every
//! label address against the session's bindings as it reads the line, so a parsed [`Call`]
//! carries plain numbers.
//!
//! [`Call`]: anonmap_abi::Call

use std::collections::BTreeMap;
use std::fmt;

use anonmap_abi::{err, Error};

/// An address as a line writes it: a number, or a label bound earlier by `as=LABEL`, plus an
/// offset (`heap+4M`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Addr {
    Abs(u64),
    Label { label: String, offset: u64 },
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Abs(n) => write!(f, "{n:#x}"),
            Addr::Label { label, offset: 0 } => f.write_str(label),
            Addr::Label { label, offset } => write!(f, "{label}+{offset:#x}"),
        }
    }
}

/// Label → address bindings, in label order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels {
    map: BTreeMap<String, u64>,
}

impl Labels {
    pub fn new() -> Labels {
        Labels::default()
    }

    /// Binds `label` to `addr`, replacing any earlier binding.
    pub fn bind(&mut self, label: impl Into<String>, addr: u64) {
        self.map.insert(label.into(), addr);
    }

    /// The address `label` is bound to.
    pub fn get(&self, label: &str) -> Option<u64> {
        self.map.get(label).copied()
    }

    /// How many labels are bound.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every binding, in label order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.map.iter().map(|(label, addr)| (label.as_str(), *addr))
    }

    /// The number `addr` stands for: an absolute address itself, a label its binding plus the
    /// offset. An unbound label or an offset that overflows is `EINVAL`.
    pub fn resolve(&self, addr: &Addr) -> Result<u64, Error> {
        match addr {
            Addr::Abs(n) => Ok(*n),
            Addr::Label { label, offset } => {
                let base = self.get(label).ok_or_else(|| {
                    err!(
                        EINVAL,
                        "unknown label {label:?} (bind it first with as={label} on an mmap or \
                         mremap)"
                    )
                })?;
                base.checked_add(*offset).ok_or_else(|| {
                    err!(
                        EINVAL,
                        "label {label:?} is {base:#x}; adding offset {offset:#x} overflows 64 \
                         bits"
                    )
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anonmap_abi::Errno;

    fn label(label: &str, offset: u64) -> Addr {
        Addr::Label {
            label: label.to_owned(),
            offset,
        }
    }

    #[test]
    fn resolves_labels_with_offsets() {
        let mut labels = Labels::new();
        labels.bind("heap", 0x7000_0000);
        labels.bind("b", 0x1000);
        assert_eq!(labels.resolve(&label("heap", 4 << 20)), Ok(0x7040_0000));
        assert_eq!(labels.resolve(&label("b", 0x10)), Ok(0x1010));
        assert_eq!(labels.resolve(&Addr::Abs(7)), Ok(7));
        assert_eq!(
            labels.iter().collect::<Vec<_>>(),
            [("b", 0x1000), ("heap", 0x7000_0000)]
        );
        labels.bind("heap", 5);
        assert_eq!(labels.get("heap"), Some(5));
        assert_eq!(labels.len(), 2);
    }

    #[test]
    fn unknown_label_and_overflow_are_einval() {
        let mut labels = Labels::new();
        let e = labels.resolve(&label("heap", 4096)).unwrap_err();
        assert_eq!(e.errno, Errno::EINVAL);
        assert!(e.message.starts_with("unknown label \"heap\""), "{e}");
        labels.bind("heap", u64::MAX - 1);
        let e = labels.resolve(&label("heap", 2)).unwrap_err();
        assert!(e.message.contains("overflows"), "{e}");
        assert_eq!(labels.resolve(&label("heap", 1)), Ok(u64::MAX));
    }

    #[test]
    fn addresses_print_as_written() {
        assert_eq!(Addr::Abs(255).to_string(), "0xff");
        assert_eq!(label("h", 0).to_string(), "h");
        assert_eq!(label("h", 16).to_string(), "h+0x10");
    }
}
