//! Labels: the `as=LABEL` bindings of a script or connection, and resolving the `LABEL+OFFSET`
//! addresses of a parsed `Op<Addr>` into the `Op<u64>` the simulator applies.
//!
//! The session binds a label after the `mmap` or `mremap` that names it succeeds, to the address
//! the call returned; binding a label again replaces the old address.

use std::collections::BTreeMap;
use std::convert::Infallible;

use super::op::{Addr, Op};
use crate::err;
use crate::errno::Error;

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

    /// Every binding, in label order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.map.iter().map(|(label, addr)| (label.as_str(), *addr))
    }

    /// The number `addr` stands for: an absolute address itself, a label its binding plus the
    /// offset. An unbound label or an offset that overflows is `EINVAL`.
    pub fn resolve_addr(&self, addr: &Addr) -> Result<u64, Error> {
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

impl<A> Op<A> {
    /// The same op with every address mapped by `f`, which is given the address's key (`addr`
    /// or `new_addr`) and the address; the first error `f` returns is the result.
    pub fn try_map_addr<B, E>(
        self,
        mut f: impl FnMut(&'static str, A) -> Result<B, E>,
    ) -> Result<Op<B>, E> {
        Ok(match self {
            Op::Spawn {
                pid,
                comm,
                uid,
                start_brk,
                bare,
            } => Op::Spawn {
                pid,
                comm,
                uid,
                start_brk,
                bare,
            },
            Op::Exit { pid } => Op::Exit { pid },
            Op::Fork { pid, child } => Op::Fork { pid, child },
            Op::Mmap {
                pid,
                addr,
                len,
                prot,
                flags,
                file,
                offset,
                label,
            } => Op::Mmap {
                pid,
                addr: addr.map(|a| f("addr", a)).transpose()?,
                len,
                prot,
                flags,
                file,
                offset,
                label,
            },
            Op::Munmap { pid, addr, len } => Op::Munmap {
                pid,
                addr: f("addr", addr)?,
                len,
            },
            Op::Reclaim { pid, addr, len } => Op::Reclaim {
                pid,
                addr: f("addr", addr)?,
                len,
            },
            Op::Mprotect {
                pid,
                addr,
                len,
                prot,
            } => Op::Mprotect {
                pid,
                addr: f("addr", addr)?,
                len,
                prot,
            },
            Op::Mremap {
                pid,
                addr,
                old_len,
                new_len,
                flags,
                new_addr,
                label,
            } => Op::Mremap {
                pid,
                addr: f("addr", addr)?,
                old_len,
                new_len,
                flags,
                new_addr: new_addr.map(|a| f("new_addr", a)).transpose()?,
                label,
            },
            Op::Madvise {
                pid,
                addr,
                len,
                advice,
            } => Op::Madvise {
                pid,
                addr: f("addr", addr)?,
                len,
                advice,
            },
            Op::Brk { pid, addr } => Op::Brk {
                pid,
                addr: addr.map(|a| f("addr", a)).transpose()?,
            },
            Op::Name {
                pid,
                addr,
                len,
                name,
            } => Op::Name {
                pid,
                addr: f("addr", addr)?,
                len,
                name,
            },
            Op::Touch {
                pid,
                addr,
                len,
                access,
            } => Op::Touch {
                pid,
                addr: f("addr", addr)?,
                len,
                access,
            },
            Op::File { path, size } => Op::File { path, size },
            Op::Read { path } => Op::Read { path },
        })
    }
}

impl Op<Addr> {
    /// The op with every label address replaced by its binding plus offset. An unbound label or
    /// an overflowing offset is `EINVAL`, naming the key and the address.
    pub fn resolve(self, labels: &Labels) -> Result<Op<u64>, Error> {
        let verb = self.verb();
        self.try_map_addr(|key, addr| {
            labels
                .resolve_addr(&addr)
                .map_err(|e| Error::new(e.errno, format!("{verb}: {key}={addr}: {}", e.message)))
        })
    }
}

impl From<u64> for Addr {
    fn from(n: u64) -> Addr {
        Addr::Abs(n)
    }
}

/// A resolved op in address form, every address absolute: it prints the same and parses back.
impl From<Op<u64>> for Op<Addr> {
    fn from(op: Op<u64>) -> Op<Addr> {
        let Ok(op) = op.try_map_addr(|_, a| Ok::<_, Infallible>(Addr::Abs(a)));
        op
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse_line;
    use crate::Errno;

    fn op(line: &str) -> Op<Addr> {
        parse_line(line).unwrap().unwrap()
    }

    #[test]
    fn resolves_labels_with_offsets() {
        let mut labels = Labels::new();
        labels.bind("heap", 0x7000_0000);
        labels.bind("b", 0x1000);
        let got = op(
            "mremap pid=1 addr=heap+4M old_len=4K new_len=8K flags=maymove,fixed \
                      new_addr=b+0x10",
        )
        .resolve(&labels)
        .unwrap();
        assert_eq!(
            got.to_string(),
            "mremap pid=1 addr=0x70400000 old_len=0x1000 new_len=0x2000 flags=maymove,fixed \
             new_addr=0x1010"
        );
        assert_eq!(
            labels.iter().collect::<Vec<_>>(),
            [("b", 0x1000), ("heap", 0x7000_0000)]
        );
        labels.bind("heap", 5);
        assert_eq!(labels.get("heap"), Some(5));
        let brk = op("brk pid=1").resolve(&labels).unwrap();
        assert_eq!(brk, Op::Brk { pid: 1, addr: None });
    }

    #[test]
    fn unknown_label_and_overflow_are_einval() {
        let mut labels = Labels::new();
        let e = op("munmap pid=1 addr=heap+4K len=4K")
            .resolve(&labels)
            .unwrap_err();
        assert_eq!(e.errno, Errno::EINVAL);
        assert!(
            e.message
                .starts_with("munmap: addr=heap+0x1000: unknown label \"heap\""),
            "{e}"
        );
        labels.bind("heap", u64::MAX - 1);
        let e = op("touch pid=1 addr=heap+2 len=4K access=read")
            .resolve(&labels)
            .unwrap_err();
        assert_eq!(e.errno, Errno::EINVAL);
        assert!(
            e.message.contains("heap") && e.message.contains("overflows"),
            "{e}"
        );
        assert_eq!(
            op("touch pid=1 addr=heap+1 len=4K access=read").resolve(&labels),
            Ok(Op::Touch {
                pid: 1,
                addr: u64::MAX,
                len: 4096,
                access: crate::command::Access::Read
            })
        );
    }

    #[test]
    fn resolved_ops_convert_back_to_address_form() {
        let resolved = op("name pid=3 addr=0x1000 len=0x2000 clear")
            .resolve(&Labels::new())
            .unwrap();
        let back = Op::<Addr>::from(resolved.clone());
        assert_eq!(back, op("name pid=3 addr=0x1000 len=0x2000 clear"));
        assert_eq!(back.to_string(), resolved.to_string());
    }
}
