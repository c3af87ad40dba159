//! Printing: every op and value in canonical form, the form `parse.rs` reads back to the same
//! value.
//!
//! Canonical form:
//! - the command word, then its keys in a fixed order (each optional key only when present):
//!   - `spawn pid comm uid brk bare`
//!   - `exit pid`
//!   - `fork pid child`
//!   - `mmap pid addr len prot flags file offset as`
//!   - `munmap pid addr len`
//!   - `mprotect pid addr len prot`
//!   - `mremap pid addr old_len new_len flags new_addr as` (`flags=` only when a flag is set)
//!   - `madvise pid addr len advice`
//!   - `brk pid addr`
//!   - `name pid addr len name|clear`
//!   - `touch pid addr len access`
//!   - `file path size`
//!   - `read path`
//! - pids and uids in decimal; addresses, lengths, sizes and offsets in lowercase hex (`0x1000`);
//!   a label address as `label` or `label+0x...`;
//! - strings (names, `comm=`, paths) bare when they are a non-empty run of `[A-Za-z0-9_./:@+-]`,
//!   otherwise double-quoted with `"` and `\` escaped as `\"` and `\\`;
//! - boolean flags as bare words; flag lists in the order of the flag's fields in `op.rs`.
//!
//! What cannot round-trip, because no line parses to it: an `mmap` with no flag set (printed as
//! `flags=""`, which the parser rejects), strings with control characters, and labels that are
//! not `[A-Za-z_][A-Za-z0-9_.-]*`.

use std::fmt;

use super::op::{Access, Addr, Advice, MmapFlags, MremapFlags, Op, Prot};

/// How an address type prints in canonical form: `u64` and [`Addr::Abs`] as lowercase hex,
/// labels as `label` or `label+0x...`. This is what lets both `Op<Addr>` and `Op<u64>` print.
pub trait FmtAddr {
    fn fmt_addr(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

impl FmtAddr for u64 {
    fn fmt_addr(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:#x}")
    }
}

impl FmtAddr for Addr {
    fn fmt_addr(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
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

impl fmt::Display for Prot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = if self.read { 'r' } else { '-' };
        let w = if self.write { 'w' } else { '-' };
        let x = if self.exec { 'x' } else { '-' };
        write!(f, "{r}{w}{x}")
    }
}

/// Writes the set words of `words` as a comma list.
fn write_flag_list(f: &mut fmt::Formatter<'_>, words: &[(&str, bool)]) -> fmt::Result {
    let mut sep = "";
    for (word, _) in words.iter().filter(|(_, set)| *set) {
        write!(f, "{sep}{word}")?;
        sep = ",";
    }
    Ok(())
}

impl fmt::Display for MmapFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_flag_list(f, &self.words())
    }
}

impl fmt::Display for MremapFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_flag_list(f, &self.words())
    }
}

impl fmt::Display for Advice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// Whether `s` can be written as a bare value.
fn is_bare_safe(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b':' | b'@' | b'+' | b'-')
        })
}

/// Writes ` key=value` with a string value, quoting it unless it is bare-safe.
fn string(f: &mut fmt::Formatter<'_>, key: &str, s: &str) -> fmt::Result {
    if is_bare_safe(s) {
        return write!(f, " {key}={s}");
    }
    write!(f, " {key}=\"")?;
    for c in s.chars() {
        if matches!(c, '"' | '\\') {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("\"")
}

/// Writes ` key=value` for a value that prints in canonical form itself.
fn value(f: &mut fmt::Formatter<'_>, key: &str, v: impl fmt::Display) -> fmt::Result {
    write!(f, " {key}={v}")
}

/// Writes ` key=0x...`.
fn hex(f: &mut fmt::Formatter<'_>, key: &str, n: u64) -> fmt::Result {
    write!(f, " {key}={n:#x}")
}

/// Writes ` key=ADDR`.
fn addr(f: &mut fmt::Formatter<'_>, key: &str, a: &impl FmtAddr) -> fmt::Result {
    write!(f, " {key}=")?;
    a.fmt_addr(f)
}

/// Writes ` flag` when `set`.
fn flag(f: &mut fmt::Formatter<'_>, flag: &str, set: bool) -> fmt::Result {
    if set {
        write!(f, " {flag}")?;
    }
    Ok(())
}

impl<A: FmtAddr> fmt::Display for Op<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.verb())?;
        match self {
            Op::Spawn {
                pid,
                comm,
                uid,
                start_brk,
                bare,
            } => {
                if let Some(pid) = pid {
                    value(f, "pid", pid)?;
                }
                if let Some(comm) = comm {
                    string(f, "comm", comm)?;
                }
                if let Some(uid) = uid {
                    value(f, "uid", uid)?;
                }
                if let Some(start_brk) = start_brk {
                    hex(f, "brk", *start_brk)?;
                }
                flag(f, "bare", *bare)
            }
            Op::Exit { pid } => value(f, "pid", pid),
            Op::Fork { pid, child } => {
                value(f, "pid", pid)?;
                if let Some(child) = child {
                    value(f, "child", child)?;
                }
                Ok(())
            }
            Op::Mmap {
                pid,
                addr: a,
                len,
                prot,
                flags,
                file,
                offset,
                label,
            } => {
                value(f, "pid", pid)?;
                if let Some(a) = a {
                    addr(f, "addr", a)?;
                }
                hex(f, "len", *len)?;
                value(f, "prot", prot)?;
                if *flags == MmapFlags::default() {
                    f.write_str(" flags=\"\"")?;
                } else {
                    value(f, "flags", flags)?;
                }
                if let Some(file) = file {
                    string(f, "file", file)?;
                }
                if let Some(offset) = offset {
                    hex(f, "offset", *offset)?;
                }
                if let Some(label) = label {
                    string(f, "as", label)?;
                }
                Ok(())
            }
            Op::Munmap { pid, addr: a, len } | Op::Reclaim { pid, addr: a, len } => {
                value(f, "pid", pid)?;
                addr(f, "addr", a)?;
                hex(f, "len", *len)
            }
            Op::Mprotect {
                pid,
                addr: a,
                len,
                prot,
            } => {
                value(f, "pid", pid)?;
                addr(f, "addr", a)?;
                hex(f, "len", *len)?;
                value(f, "prot", prot)
            }
            Op::Mremap {
                pid,
                addr: a,
                old_len,
                new_len,
                flags,
                new_addr,
                label,
            } => {
                value(f, "pid", pid)?;
                addr(f, "addr", a)?;
                hex(f, "old_len", *old_len)?;
                hex(f, "new_len", *new_len)?;
                if *flags != MremapFlags::default() {
                    value(f, "flags", flags)?;
                }
                if let Some(b) = new_addr {
                    addr(f, "new_addr", b)?;
                }
                if let Some(label) = label {
                    string(f, "as", label)?;
                }
                Ok(())
            }
            Op::Madvise {
                pid,
                addr: a,
                len,
                advice,
            } => {
                value(f, "pid", pid)?;
                addr(f, "addr", a)?;
                hex(f, "len", *len)?;
                value(f, "advice", advice)
            }
            Op::Brk { pid, addr: a } => {
                value(f, "pid", pid)?;
                if let Some(a) = a {
                    addr(f, "addr", a)?;
                }
                Ok(())
            }
            Op::Name {
                pid,
                addr: a,
                len,
                name,
            } => {
                value(f, "pid", pid)?;
                addr(f, "addr", a)?;
                hex(f, "len", *len)?;
                match name {
                    Some(name) => string(f, "name", name),
                    None => flag(f, "clear", true),
                }
            }
            Op::Touch {
                pid,
                addr: a,
                len,
                access,
            } => {
                value(f, "pid", pid)?;
                addr(f, "addr", a)?;
                hex(f, "len", *len)?;
                value(f, "access", access)
            }
            Op::File { path, size } => {
                string(f, "path", path)?;
                hex(f, "size", *size)
            }
            Op::Read { path } => string(f, "path", path),
        }
    }
}
