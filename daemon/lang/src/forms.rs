//! The forms of the language: for each call, its command word, its keys and flags, how a line
//! is read into its argument struct and how the struct is printed back, side by side. A new
//! call of the ABI gets one [`Form`] impl here, one row in [`COMMANDS`] and one arm in
//! [`for_each_form!`].
//!
//! Canonical form (what [`Form::print`] writes and [`crate::parse_line`] reads back to the
//! same value): the command word, then the keys in the order of [`Form::KEYS`], each optional
//! key only when present; pids and uids in decimal; the `value=` of `clear_refs` and of
//! `oom_score_adj` in signed decimal (`-1`); addresses, lengths, sizes and offsets in
//! lowercase hex (`0x1000`); strings bare when they are a non-empty run of
//! `[A-Za-z0-9_./:@+-]`, otherwise double-quoted with `"` and `\` escaped; flags as bare
//! words, flag lists in the order of the ABI struct's fields.
//! What cannot round-trip, because no line parses to it: an `mmap` or an `mlockall` with no flag
//! set (printed as `flags=""`, which the parser refuses) and strings with control characters.

use std::fmt;

use anonmap_abi::{
    BrkArgs, Call, ClearRefsArgs, Error, ExitArgs, FileArgs, ForkArgs, MadviseArgs, MigrateArgs,
    MlockArgs, MlockFlags, MlockallArgs, MlockallFlags, MmapArgs, MmapFlags, MprotectArgs,
    MremapArgs, MremapFlags, MunlockArgs, MunlockallArgs, MunmapArgs, NameArgs, OomScoreAdjArgs,
    ReclaimArgs, SpawnArgs, TouchArgs,
};

use crate::parse::{Args, Command};
use crate::print::Writer;
use crate::value::{
    access_word, mlock_flag_words, mlockall_flag_words, mmap_flag_words, mremap_flag_words,
    parse_access, parse_advice, parse_mlock_flags, parse_mlockall_flags, parse_mmap_flags,
    parse_mremap_flags, parse_prot, parse_signed,
};

/// How one call is written.
pub(crate) trait Form: Sized + Into<Call> {
    /// The command word.
    const VERB: &'static str;
    /// The keys, in canonical order.
    const KEYS: &'static [&'static str];
    /// The bare flag words.
    const FLAGS: &'static [&'static str] = &[];
    /// Reads the arguments of a line (its keys already checked against `KEYS` and `FLAGS`).
    fn parse(a: &Args<'_>) -> Result<Self, Error>;
    /// Writes the arguments after the command word.
    fn print(&self, w: &mut Writer<'_, '_>) -> fmt::Result;
}

/// Runs `$body` with `$args` bound to the argument struct of `$call`, whatever its variant.
macro_rules! for_each_form {
    ($call:expr, |$args:ident| $body:expr) => {
        match $call {
            Call::Spawn($args) => $body,
            Call::Exit($args) => $body,
            Call::Fork($args) => $body,
            Call::Mmap($args) => $body,
            Call::Munmap($args) => $body,
            Call::Mprotect($args) => $body,
            Call::Mremap($args) => $body,
            Call::Madvise($args) => $body,
            Call::Brk($args) => $body,
            Call::Name($args) => $body,
            Call::Touch($args) => $body,
            Call::Reclaim($args) => $body,
            Call::Migrate($args) => $body,
            Call::File($args) => $body,
            Call::Mlock($args) => $body,
            Call::Munlock($args) => $body,
            Call::Mlockall($args) => $body,
            Call::Munlockall($args) => $body,
            Call::ClearRefs($args) => $body,
            Call::OomScoreAdj($args) => $body,
        }
    };
}
pub(crate) use for_each_form;

/// What the parser needs to know of a command word.
pub(crate) struct Syntax {
    pub verb: &'static str,
    pub keys: &'static [&'static str],
    pub flags: &'static [&'static str],
    pub parse: fn(&Args<'_>) -> Result<Command, Error>,
}

const fn syntax<F: Form>() -> Syntax {
    Syntax {
        verb: F::VERB,
        keys: F::KEYS,
        flags: F::FLAGS,
        parse: parse_form::<F>,
    }
}

fn parse_form<F: Form>(a: &Args<'_>) -> Result<Command, Error> {
    let call = F::parse(a)?.into();
    let bind = if F::KEYS.contains(&"as") {
        a.bind()?
    } else {
        None
    };
    Ok(Command::Call { call, bind })
}

fn parse_read(a: &Args<'_>) -> Result<Command, Error> {
    Ok(Command::Read {
        path: a.req_string("path")?,
        offset: a.opt_number("offset")?,
        len: a.opt_number("len")?,
    })
}

/// Every command word, in the order error messages list them.
pub(crate) const COMMANDS: [Syntax; 21] = [
    syntax::<SpawnArgs>(),
    syntax::<ExitArgs>(),
    syntax::<ForkArgs>(),
    syntax::<MmapArgs>(),
    syntax::<MunmapArgs>(),
    syntax::<MprotectArgs>(),
    syntax::<MremapArgs>(),
    syntax::<MadviseArgs>(),
    syntax::<MlockArgs>(),
    syntax::<MunlockArgs>(),
    syntax::<MlockallArgs>(),
    syntax::<MunlockallArgs>(),
    syntax::<ReclaimArgs>(),
    syntax::<MigrateArgs>(),
    syntax::<BrkArgs>(),
    syntax::<NameArgs>(),
    syntax::<TouchArgs>(),
    syntax::<ClearRefsArgs>(),
    syntax::<OomScoreAdjArgs>(),
    syntax::<FileArgs>(),
    Syntax {
        verb: "read",
        keys: READ_KEYS,
        flags: &[],
        parse: parse_read,
    },
];

/// The keys of `read`, in canonical order.
pub(crate) const READ_KEYS: &[&str] = &["path", "offset", "len"];

/// The `pid= addr= len=` that every call on a range of an address space starts with.
fn parse_range(a: &Args<'_>) -> Result<(u32, u64, u64), Error> {
    Ok((a.req_u32("pid")?, a.req_addr("addr")?, a.req_number("len")?))
}

/// The command word of `call`.
pub fn verb(call: &Call) -> &'static str {
    fn of<F: Form>(_: &F) -> &'static str {
        F::VERB
    }
    for_each_form!(call, |a| of(a))
}

impl Form for SpawnArgs {
    const VERB: &'static str = "spawn";
    const KEYS: &'static [&'static str] = &["pid", "comm", "uid", "brk"];
    const FLAGS: &'static [&'static str] = &["bare"];

    fn parse(a: &Args<'_>) -> Result<Self, Error> {
        Ok(SpawnArgs {
            pid: a.opt_u32("pid")?,
            comm: a.string("comm"),
            uid: a.opt_u32("uid")?,
            start_brk: a.opt_number("brk")?,
            bare: a.flag("bare"),
        })
    }

    fn print(&self, w: &mut Writer<'_, '_>) -> fmt::Result {
        let SpawnArgs {
            pid,
            comm,
            uid,
            start_brk,
            bare,
        } = self;
        w.opt_dec("pid", *pid)?;
        w.opt_string("comm", comm.as_deref())?;
        w.opt_dec("uid", *uid)?;
        w.opt_hex("brk", *start_brk)?;
        w.flag("bare", *bare)
    }
}

impl Form for ExitArgs {
    const VERB: &'static str = "exit";
    const KEYS: &'static [&'static str] = &["pid"];

    fn parse(a: &Args<'_>) -> Result<Self, Error> {
        Ok(ExitArgs {
            pid: a.req_u32("pid")?,
        })
    }

    fn print(&self, w: &mut Writer<'_, '_>) -> fmt::Result {
        let ExitArgs { pid } = self;
        w.dec("pid", pid)
    }
}

impl Form for ForkArgs {
    const VERB: &'static str = "fork";
    const KEYS: &'static [&'static str] = &["pid", "child"];

    fn parse(a: &Args<'_>) -> Result<Self, Error> {
        Ok(ForkArgs {
            pid: a.req_u32("pid")?,
            child: a.opt_u32("child")?,
        })
    }

    fn print(&self, w: &mut Writer<'_, '_>) -> fmt::Result {
        let ForkArgs { pid, child } = self;
        w.dec("pid", pid)?;
        w.opt_dec("child", *child)
    }
}

impl Form for MmapArgs {
    const VERB: &'static str = "mmap";
    const KEYS: &'static [&'static str] = &[
        "pid", "addr", "len", "prot", "flags", "file", "offset", "as",
    ];

    fn parse(a: &Args<'_>) -> Result<Self, Error> {
        Ok(MmapArgs {
            pid: a.req_u32("pid")?,
            addr: a.opt_addr("addr")?,
            len: a.req_number("len")?,
            prot: a.req("prot", parse_prot)?,
            flags: a.req("flags", parse_mmap_flags)?,
            file: a.string("file"),
            offset: a.opt_number("offset")?,
        })
    }

    fn print(&self, w: &mut Writer<'_, '_>) -> fmt::Result {
        let MmapArgs {
            pid,
            addr,
            len,
            prot,
            flags,
            file,
            offset,
        } = self;
        w.dec("pid", pid)?;
        w.opt_hex("addr", *addr)?;
        w.hex("len", *len)?;
        w.value("prot", prot)?;
        if *flags == MmapFlags::default() {
            w.raw(" flags=\"\"")?;
        } else {
            w.flag_list("flags", &mmap_flag_words(*flags))?;
        }
        w.opt_string("file", file.as_deref())?;
        w.opt_hex("offset", *offset)
    }
}

impl Form for MunmapArgs {
    const VERB: &'static str = "munmap";
    const KEYS: &'static [&'static str] = &["pid", "addr", "len"];

    fn parse(a: &Args<'_>) -> Result<Self, Error> {
        let (pid, addr, len) = parse_range(a)?;
        Ok(MunmapArgs { pid, addr, len })
    }

    fn print(&self, w: &mut Writer<'_, '_>) -> fmt::Result {
        let MunmapArgs { pid, addr, len } = self;
        w.range(*pid, *addr, *len)
    }
}

impl Form for MprotectArgs {
    const VERB: &'static str = "mprotect";
    const KEYS: &'static [&'static str] = &["pid", "addr", "len", "prot"];

    fn parse(a: &Args<'_>) -> Result<Self, Error> {
        let (pid, addr, len) = parse_range(a)?;
        Ok(MprotectArgs {
            pid,
            addr,
            len,
            prot: a.req("prot", parse_prot)?,
        })
    }

    fn print(&self, w: &mut Writer<'_, '_>) -> fmt::Result {
        let MprotectArgs {
            pid,
            addr,
            len,
            prot,
        } = self;
        w.range(*pid, *addr, *len)?;
        w.value("prot", prot)
    }
}

impl Form for MremapArgs {
    const VERB: &'static str = "mremap";
    const KEYS: &'static [&'static str] = &[
        "pid", "addr", "old_len", "new_len", "flags", "new_addr", "as",
    ];

    fn parse(a: &Args<'_>) -> Result<Self, Error> {
        Ok(MremapArgs {
            pid: a.req_u32("pid")?,
            addr: a.req_addr("addr")?,
            old_len: a.req_number("old_len")?,
            new_len: a.req_number("new_len")?,
            flags: a.opt("flags", parse_mremap_flags)?.unwrap_or_default(),
            new_addr: a.opt_addr("new_addr")?,
        })
    }

    fn print(&self, w: &mut Writer<'_, '_>) -> fmt::Result {
        let MremapArgs {
            pid,
            addr,
            old_len,
            new_len,
            flags,
            new_addr,
        } = self;
        w.dec("pid", pid)?;
        w.hex("addr", *addr)?;
        w.hex("old_len", *old_len)?;
        w.hex("new_len", *new_len)?;
        if *flags != MremapFlags::default() {
            w.flag_list("flags", &mremap_flag_words(*flags))?;
        }
        w.opt_hex("new_addr", *new_addr)
    }
}

impl Form for MadviseArgs {
    const VERB: &'static str = "madvise";
    const KEYS: &'static [&'static str] = &["pid", "addr", "len", "advice"];

    fn parse(a: &Args<'_>) -> Result<Self, Error> {
        let (pid, addr, len) = parse_range(a)?;
        Ok(MadviseArgs {
            pid,
            addr,
            len,
            advice: a.req("advice", parse_advice)?,
        })
    }

    fn print(&self, w: &mut Writer<'_, '_>) -> fmt::Result {
        let MadviseArgs {
            pid,
            addr,
            len,
            advice,
        } = self;
        w.range(*pid, *addr, *len)?;
        w.value("advice", advice.name())
    }
}

impl Form for MlockArgs {
    const VERB: &'static str = "mlock";
    const KEYS: &'static [&'static str] = &["pid", "addr", "len", "flags"];

    fn parse(a: &Args<'_>) -> Result<Self, Error> {
        let (pid, addr, len) = parse_range(a)?;
        Ok(MlockArgs {
            pid,
            addr,
            len,
            flags: a.opt("flags", parse_mlock_flags)?.unwrap_or_default(),
        })
    }

    fn print(&self, w: &mut Writer<'_, '_>) -> fmt::Result {
        let MlockArgs {
            pid,
            addr,
            len,
            flags,
        } = self;
        w.range(*pid, *addr, *len)?;
        if *flags != MlockFlags::default() {
            w.flag_list("flags", &mlock_flag_words(*flags))?;
        }
        Ok(())
    }
}

impl Form for MunlockArgs {
    const VERB: &'static str = "munlock";
    const KEYS: &'static [&'static str] = &["pid", "addr", "len"];

    fn parse(a: &Args<'_>) -> Result<Self, Error> {
        let (pid, addr, len) = parse_range(a)?;
        Ok(MunlockArgs { pid, addr, len })
    }

    fn print(&self, w: &mut Writer<'_, '_>) -> fmt::Result {
        let MunlockArgs { pid, addr, len } = self;
        w.range(*pid, *addr, *len)
    }
}

impl Form for MlockallArgs {
    const VERB: &'static str = "mlockall";
    const KEYS: &'static [&'static str] = &["pid", "flags"];

    fn parse(a: &Args<'_>) -> Result<Self, Error> {
        Ok(MlockallArgs {
            pid: a.req_u32("pid")?,
            flags: a.req("flags", parse_mlockall_flags)?,
        })
    }

    fn print(&self, w: &mut Writer<'_, '_>) -> fmt::Result {
        let MlockallArgs { pid, flags } = self;
        w.dec("pid", pid)?;
        if *flags == MlockallFlags::default() {
            w.raw(" flags=\"\"")
        } else {
            w.flag_list("flags", &mlockall_flag_words(*flags))
        }
    }
}

impl Form for MunlockallArgs {
    const VERB: &'static str = "munlockall";
    const KEYS: &'static [&'static str] = &["pid"];

    fn parse(a: &Args<'_>) -> Result<Self, Error> {
        Ok(MunlockallArgs {
            pid: a.req_u32("pid")?,
        })
    }

    fn print(&self, w: &mut Writer<'_, '_>) -> fmt::Result {
        let MunlockallArgs { pid } = self;
        w.dec("pid", pid)
    }
}

impl Form for ReclaimArgs {
    const VERB: &'static str = "reclaim";
    const KEYS: &'static [&'static str] = &["pid", "addr", "len"];

    fn parse(a: &Args<'_>) -> Result<Self, Error> {
        let (pid, addr, len) = parse_range(a)?;
        Ok(ReclaimArgs { pid, addr, len })
    }

    fn print(&self, w: &mut Writer<'_, '_>) -> fmt::Result {
        let ReclaimArgs { pid, addr, len } = self;
        w.range(*pid, *addr, *len)
    }
}

impl Form for MigrateArgs {
    const VERB: &'static str = "migrate";
    const KEYS: &'static [&'static str] = &["pid", "addr", "len"];

    fn parse(a: &Args<'_>) -> Result<Self, Error> {
        let (pid, addr, len) = parse_range(a)?;
        Ok(MigrateArgs { pid, addr, len })
    }

    fn print(&self, w: &mut Writer<'_, '_>) -> fmt::Result {
        let MigrateArgs { pid, addr, len } = self;
        w.range(*pid, *addr, *len)
    }
}

impl Form for BrkArgs {
    const VERB: &'static str = "brk";
    const KEYS: &'static [&'static str] = &["pid", "addr"];

    fn parse(a: &Args<'_>) -> Result<Self, Error> {
        Ok(BrkArgs {
            pid: a.req_u32("pid")?,
            addr: a.opt_addr("addr")?,
        })
    }

    fn print(&self, w: &mut Writer<'_, '_>) -> fmt::Result {
        let BrkArgs { pid, addr } = self;
        w.dec("pid", pid)?;
        w.opt_hex("addr", *addr)
    }
}

impl Form for NameArgs {
    const VERB: &'static str = "name";
    const KEYS: &'static [&'static str] = &["pid", "addr", "len", "name"];
    const FLAGS: &'static [&'static str] = &["clear"];

    fn parse(a: &Args<'_>) -> Result<Self, Error> {
        let (pid, addr, len) = parse_range(a)?;
        let name = match (a.string("name"), a.flag("clear")) {
            (Some(_), true) => {
                return Err(anonmap_abi::err!(
                    EINVAL,
                    "name: give either name=\"...\" or clear, not both"
                ))
            }
            (None, false) => {
                return Err(anonmap_abi::err!(
                    EINVAL,
                    "name: missing required key name= (or the flag clear)"
                ))
            }
            (name, _) => name,
        };
        Ok(NameArgs {
            pid,
            addr,
            len,
            name,
        })
    }

    fn print(&self, w: &mut Writer<'_, '_>) -> fmt::Result {
        let NameArgs {
            pid,
            addr,
            len,
            name,
        } = self;
        w.range(*pid, *addr, *len)?;
        match name {
            Some(name) => w.string("name", name),
            None => w.flag("clear", true),
        }
    }
}

impl Form for TouchArgs {
    const VERB: &'static str = "touch";
    const KEYS: &'static [&'static str] = &["pid", "addr", "len", "access"];

    fn parse(a: &Args<'_>) -> Result<Self, Error> {
        let (pid, addr, len) = parse_range(a)?;
        Ok(TouchArgs {
            pid,
            addr,
            len,
            access: a.req("access", parse_access)?,
        })
    }

    fn print(&self, w: &mut Writer<'_, '_>) -> fmt::Result {
        let TouchArgs {
            pid,
            addr,
            len,
            access,
        } = self;
        w.range(*pid, *addr, *len)?;
        w.value("access", access_word(*access))
    }
}

impl Form for ClearRefsArgs {
    const VERB: &'static str = "clear_refs";
    const KEYS: &'static [&'static str] = &["pid", "value"];

    fn parse(a: &Args<'_>) -> Result<Self, Error> {
        Ok(ClearRefsArgs {
            pid: a.req_u32("pid")?,
            value: a.req("value", parse_signed)?,
        })
    }

    fn print(&self, w: &mut Writer<'_, '_>) -> fmt::Result {
        let ClearRefsArgs { pid, value } = self;
        w.dec("pid", pid)?;
        w.dec("value", value)
    }
}

impl Form for OomScoreAdjArgs {
    const VERB: &'static str = "oom_score_adj";
    const KEYS: &'static [&'static str] = &["pid", "value"];
    const FLAGS: &'static [&'static str] = &["unprivileged"];

    fn parse(a: &Args<'_>) -> Result<Self, Error> {
        Ok(OomScoreAdjArgs {
            pid: a.req_u32("pid")?,
            value: a.req("value", parse_signed)?,
            unprivileged: a.flag("unprivileged"),
        })
    }

    fn print(&self, w: &mut Writer<'_, '_>) -> fmt::Result {
        let OomScoreAdjArgs {
            pid,
            value,
            unprivileged,
        } = self;
        w.dec("pid", pid)?;
        w.dec("value", value)?;
        w.flag("unprivileged", *unprivileged)
    }
}

impl Form for FileArgs {
    const VERB: &'static str = "file";
    const KEYS: &'static [&'static str] = &["path", "size"];

    fn parse(a: &Args<'_>) -> Result<Self, Error> {
        Ok(FileArgs {
            path: a.req_string("path")?,
            size: a.req_number("size")?,
        })
    }

    fn print(&self, w: &mut Writer<'_, '_>) -> fmt::Result {
        let FileArgs { path, size } = self;
        w.string("path", path)?;
        w.hex("size", *size)
    }
}
