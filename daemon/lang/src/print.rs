//! Printing: calls and commands in canonical form (see `forms.rs` for the form itself), with the
//! language's one quoting rule.
//!
//! [`line`] wraps a [`Call`] so that it displays as its command line; [`Command`] displays the
//! same way, with ` as=LABEL` after a call that binds a label.

use std::fmt;

use anonmap_abi::Call;

use crate::forms::{for_each_form, verb, Form};
use crate::parse::Command;

/// Whether `s` can be written as a bare value: a non-empty run of `[A-Za-z0-9_./:@+-]`.
pub fn is_bare_safe(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b':' | b'@' | b'+' | b'-')
        })
}

/// Writes `s` as a value: bare when it is bare-safe, otherwise double-quoted with `"` and `\`
/// escaped. This is the only quoting rule of the language.
pub fn write_value(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    if is_bare_safe(s) {
        return out.write_str(s);
    }
    out.write_char('"')?;
    for c in s.chars() {
        if matches!(c, '"' | '\\') {
            out.write_char('\\')?;
        }
        out.write_char(c)?;
    }
    out.write_char('"')
}

/// `s` as a value (see [`write_value`]).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_value(&mut out, s).expect("writing to a String cannot fail");
    out
}

/// Writes the ` key=value` words of a line.
pub(crate) struct Writer<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
}

impl Writer<'_, '_> {
    pub fn raw(&mut self, s: &str) -> fmt::Result {
        self.f.write_str(s)
    }

    /// ` key=value` for a value that prints in canonical form itself.
    pub fn value(&mut self, key: &str, v: impl fmt::Display) -> fmt::Result {
        write!(self.f, " {key}={v}")
    }

    /// ` key=N` in decimal (pids, uids, the signed `value=` of `clear_refs` and `oom_score_adj`).
    pub fn dec(&mut self, key: &str, n: impl fmt::Display) -> fmt::Result {
        self.value(key, n)
    }

    pub fn opt_dec(&mut self, key: &str, n: Option<impl fmt::Display>) -> fmt::Result {
        n.map_or(Ok(()), |n| self.dec(key, n))
    }

    /// ` key=0x...` (addresses, lengths, sizes, offsets).
    pub fn hex(&mut self, key: &str, n: u64) -> fmt::Result {
        write!(self.f, " {key}={n:#x}")
    }

    pub fn opt_hex(&mut self, key: &str, n: Option<u64>) -> fmt::Result {
        n.map_or(Ok(()), |n| self.hex(key, n))
    }

    /// ` key=VALUE` for a string, quoted unless bare-safe.
    pub fn string(&mut self, key: &str, s: &str) -> fmt::Result {
        write!(self.f, " {key}=")?;
        write_value(self.f, s)
    }

    pub fn opt_string(&mut self, key: &str, s: Option<&str>) -> fmt::Result {
        s.map_or(Ok(()), |s| self.string(key, s))
    }

    /// ` pid=N addr=0x... len=0x...`: the start of every call on a range.
    pub fn range(&mut self, pid: u32, addr: u64, len: u64) -> fmt::Result {
        self.dec("pid", pid)?;
        self.hex("addr", addr)?;
        self.hex("len", len)
    }

    /// ` flag` when `set`.
    pub fn flag(&mut self, flag: &str, set: bool) -> fmt::Result {
        if set {
            write!(self.f, " {flag}")?;
        }
        Ok(())
    }

    /// ` key=a,b,c`: the set words of `words`, in their order.
    pub fn flag_list(&mut self, key: &str, words: &[(&str, bool)]) -> fmt::Result {
        write!(self.f, " {key}=")?;
        let mut sep = "";
        for (word, _) in words.iter().filter(|(_, set)| *set) {
            write!(self.f, "{sep}{word}")?;
            sep = ",";
        }
        Ok(())
    }
}

/// A call displayed as its command line in canonical form.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a>(pub &'a Call);

/// `call` as its command line: `format!("{}", line(&call))`.
pub fn line(call: &Call) -> Line<'_> {
    Line(call)
}

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(verb(self.0))?;
        let mut w = Writer { f };
        for_each_form!(self.0, |a| a.print(&mut w))
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Call { call, bind } => {
                write!(f, "{}", line(call))?;
                let mut w = Writer { f };
                w.opt_string("as", bind.as_deref())
            }
            Command::Read { path, offset, len } => {
                f.write_str("read")?;
                let mut w = Writer { f };
                w.string("path", path)?;
                w.opt_hex("offset", *offset)?;
                w.opt_hex("len", *len)
            }
        }
    }
}
