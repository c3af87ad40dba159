//! `anonmap replay --strace FILE`: turns the output of
//! `strace -f -y -s 100 -e trace=memory,process,prctl [-o FILE]` into typed calls
//! ([`anonmap_abi::Call`]), printed as command-language lines by [`anonmap_lang::line`].
//!
//! # What is read
//! - Lines prefixed by the pid (`1234 mmap(...)` as `-o FILE -f` writes them, or `[pid 1234]
//!   mmap(...)` on stderr; an unprefixed line belongs to the first process).
//! - `<unfinished ...>` / `<... NAME resumed>` pairs, joined per pid before parsing.
//! - `-y` fd paths (`3</usr/lib/libc.so.6>`): file mappings map that path. Every path becomes a
//!   simulated file declared first (`file path=P size=S`), S being the largest `offset + len`
//!   the trace maps of it, rounded up to a page (the trace does not show file sizes).
//! - Return values: every mmap/mremap is replayed with `fixed` at the address the traced call
//!   returned, so the simulated maps have the traced addresses; `clone`/`fork`/`vfork` give the
//!   child's pid; failed calls (`= -1 ERRNO`) change nothing and are only counted.
//!
//! # Mapping
//! Each command is a typed [`anonmap_abi::Call`], printed through the command language
//! ([`anonmap_lang::line`]: canonical key order, hex numbers, strings quoted only when they must
//! be).
//!
//! | strace | command |
//! |---|---|
//! | first line of a pid not created by a traced fork | `spawn pid=S [brk=B] bare` (`comm=` from execve) |
//! | `execve(...) = 0` | `exit` of the old image, then `spawn pid=S comm=BASENAME [brk=B] bare` |
//! | `mmap(A, L, P, F, FD, O) = R` | `mmap pid=S addr=R len=L prot=P flags=...(with fixed) [file=PATH offset=O]` |
//! | `munmap`, `mprotect`, `madvise` | the same verb (advice: any of the command language's, by its `MADV_` name) |
//! | `mlock`, `mlock2(A, L, MLOCK_ONFAULT)`, `munlock` | `mlock [flags=onfault]`, `munlock` |
//! | `mlockall(MCL_...)`, `munlockall()` | `mlockall flags=...`, `munlockall` |
//! | `mremap(A, OL, NL, F[, NA]) = R` | `mremap ... flags=maymove,fixed[,dontunmap] new_addr=R` when R moved, else in place |
//! | `brk(A) = R` | `brk pid=S addr=R` (nothing for `brk(NULL)`); see below for `brk=B` |
//! | `prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, A, L, "N")` | `name pid=S addr=A len=L name=N` (`NULL`: `clear`) |
//! | `clone`/`clone3` without CLONE_VM, `fork`, `vfork` | `fork pid=S child=C` (vfork is replayed as fork) |
//! | `clone` with CLONE_VM (a thread) | the new tid is mapped to the same process |
//! | `exit_group`, the leader's `+++ exited` | `exit pid=S` |
//!
//! Traced pids are mapped to simulated pids `base, base+1, ...` in order of appearance.
//! **brk:** the traced heap starts at a randomised address, the traced initial break B: the
//! return of the image's first brk call (normally ld.so's `brk(NULL)`). The spawn of an image
//! is emitted before that call is seen, so when it is, the already emitted spawn (the
//! translation is a list, applied only after it is complete) gets `brk=B`, the simulated
//! process's `start_brk` ([`SpawnArgs::start_brk`]); brk calls are then replayed at the
//! traced addresses, and `[heap]` lies where the traced process had it. A forked child shares
//! its parent's image (fork copies the mm): the first brk of either sets the image's spawn's
//! `start_brk`, once. An image that never calls brk keeps the simulator's default heap base. (A first return that is not page aligned,
//! which an initial break never is, is rounded down to a page.)
//!
//! Lines that have no memory effect (`wait4`, `kill`, `exit`, `arch_prctl`, `set_tid_address`,
//! other `prctl`s, signals) are counted as *ignored*; anything else this module cannot replay
//! (an unknown syscall, an unknown flag or advice, an mmap of an fd with no `-y` path, a name
//! strace cut short) is counted as *unsupported*; both are listed in the summary, never dropped.

use std::collections::{BTreeMap, HashMap};

use anonmap_abi::page::PAGE_SIZE;
use anonmap_abi::{
    Advice, BrkArgs, Call, ExitArgs, FileArgs, ForkArgs, MadviseArgs, MlockArgs, MlockFlags,
    MlockallArgs, MlockallFlags, MmapArgs, MmapFlags, MprotectArgs, MremapArgs, MremapFlags,
    MunlockArgs, MunlockallArgs, MunmapArgs, NameArgs, Prot, SpawnArgs,
};

/// One traced syscall, joined from its unfinished/resumed halves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syscall {
    /// Line number (1-based) of the line that completed the call.
    pub line: usize,
    pub pid: u32,
    pub name: String,
    pub args: Vec<String>,
    /// The text after ` = `: `0x7f...`, `0`, `-1 ENOMEM (...)`, `?`.
    pub ret: String,
}

/// A parsed trace line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Syscall(Syscall),
    /// `+++ exited with N +++` or `+++ killed by SIG +++`.
    Exited {
        line: usize,
        pid: u32,
    },
    /// A line with nothing to replay (signal, strace message, unfinished half).
    Nothing,
}

/// A line that could not be replayed, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub line: usize,
    pub text: String,
    pub reason: String,
}

/// The result of translating a trace.
#[derive(Debug, Clone, Default)]
pub struct Translation {
    /// (trace line number, command), in order; `anonmap_lang::line` prints a command.
    pub commands: Vec<(usize, Call)>,
    pub unsupported: Vec<Skipped>,
    /// Count of ignored lines by syscall (or `signal`, `strace`).
    pub ignored: BTreeMap<String, usize>,
    /// Failed calls, by syscall.
    pub failed: BTreeMap<String, usize>,
    /// Traced pid -> simulated pid.
    pub pids: BTreeMap<u32, u32>,
    pub syscalls: usize,
}

impl Translation {
    /// A readable summary: counts, then every unsupported line.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "strace: {} syscalls, {} commands, {} unsupported, {} ignored, {} failed calls\n",
            self.syscalls,
            self.commands.len(),
            self.unsupported.len(),
            self.ignored.values().sum::<usize>(),
            self.failed.values().sum::<usize>()
        );
        let pids: Vec<String> = self.pids.iter().map(|(t, s)| format!("{t}->{s}")).collect();
        s.push_str(&format!("pids (traced->simulated): {}\n", pids.join(" ")));
        if !self.ignored.is_empty() {
            let v: Vec<String> = self
                .ignored
                .iter()
                .map(|(k, n)| format!("{k}={n}"))
                .collect();
            s.push_str(&format!("ignored (no memory effect): {}\n", v.join(" ")));
        }
        if !self.failed.is_empty() {
            let v: Vec<String> = self
                .failed
                .iter()
                .map(|(k, n)| format!("{k}={n}"))
                .collect();
            s.push_str(&format!(
                "failed in the trace (not replayed): {}\n",
                v.join(" ")
            ));
        }
        for u in &self.unsupported {
            s.push_str(&format!(
                "unsupported line {}: {}: {}\n",
                u.line, u.reason, u.text
            ));
        }
        s
    }
}

/// Splits `[pid N] ` / `N ` off a line. Returns (pid, rest).
fn split_pid(line: &str) -> (Option<u32>, &str) {
    let t = line.trim_start();
    if let Some(rest) = t.strip_prefix("[pid") {
        if let Some((n, rest)) = rest.split_once(']') {
            if let Ok(p) = n.trim().parse() {
                return (Some(p), rest.trim_start());
            }
        }
    }
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && t[digits..].starts_with(' ') {
        if let Ok(p) = t[..digits].parse() {
            return (Some(p), t[digits..].trim_start());
        }
    }
    (None, t)
}

/// Splits an argument list at top-level commas (outside quotes, (), [], {} and `-y` `<...>`).
pub fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    let mut angle = false;
    let mut quote = false;
    let mut esc = false;
    let mut prev = ' ';
    for c in s.chars() {
        if quote {
            cur.push(c);
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                quote = false;
            }
        } else if angle {
            cur.push(c);
            if c == '>' {
                angle = false;
            }
        } else {
            match c {
                '"' => quote = true,
                '<' if prev.is_ascii_digit() => angle = true,
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(cur.trim().to_string());
                    cur.clear();
                    prev = c;
                    continue;
                }
                _ => {}
            }
            cur.push(c);
        }
        prev = c;
    }
    if !cur.trim().is_empty() || !out.is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// Parses `NAME(ARGS) = RET` (a complete call text).
fn parse_call(text: &str) -> Option<(String, Vec<String>, String)> {
    let open = text.find('(')?;
    let name = text[..open].trim().to_string();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    // The args end at the `)` that closes `(`: scan with the same rules as split_args.
    let body = &text[open + 1..];
    let mut depth = 0i32;
    let (mut quote, mut esc, mut angle) = (false, false, false);
    let mut prev = ' ';
    let mut end = None;
    for (i, c) in body.char_indices() {
        if quote {
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                quote = false;
            }
        } else if angle {
            if c == '>' {
                angle = false;
            }
        } else {
            match c {
                '"' => quote = true,
                '<' if prev.is_ascii_digit() => angle = true,
                '(' | '[' | '{' => depth += 1,
                ')' if depth == 0 => {
                    end = Some(i);
                    break;
                }
                ')' | ']' | '}' => depth -= 1,
                _ => {}
            }
        }
        prev = c;
    }
    let end = end?;
    let args = split_args(&body[..end]);
    let rest = body[end + 1..].trim_start();
    let ret = rest.strip_prefix('=')?.trim().to_string();
    Some((name, args, ret))
}

/// Parses a whole trace into events, joining unfinished/resumed halves per pid.
pub fn parse_trace(text: &str) -> (Vec<Event>, Vec<Skipped>) {
    let mut events = Vec::new();
    let mut bad = Vec::new();
    let mut pending: HashMap<u32, String> = HashMap::new();
    let mut first_pid = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let (pid, rest) = split_pid(raw);
        // No pid at all: a single-process trace without -f; it is pid 1.
        let pid = pid.or(first_pid).unwrap_or(1);
        first_pid.get_or_insert(pid);
        if rest.starts_with("+++") {
            events.push(Event::Exited { line: n, pid });
            continue;
        }
        if rest.starts_with("---") || rest.starts_with("strace:") {
            events.push(Event::Nothing);
            continue;
        }
        let text = if let Some(head) = rest.strip_suffix("<unfinished ...>") {
            pending.insert(pid, head.trim_end().to_string());
            events.push(Event::Nothing);
            continue;
        } else if let Some(r) = rest.strip_prefix("<... ") {
            let Some((name, tail)) = r.split_once(" resumed>") else {
                bad.push(Skipped {
                    line: n,
                    text: raw.into(),
                    reason: "malformed resumed line".into(),
                });
                continue;
            };
            match pending.remove(&pid) {
                Some(head) if head.starts_with(name) => {
                    let sep = if head.ends_with('(')
                        || head.ends_with(',')
                        || tail.trim_start().starts_with(')')
                        || tail.trim_start().starts_with(',')
                    {
                        ""
                    } else {
                        ", "
                    };
                    format!("{head}{sep}{}", tail.trim_start())
                }
                _ => {
                    bad.push(Skipped {
                        line: n,
                        text: raw.into(),
                        reason: format!("resumed {name} without its unfinished half"),
                    });
                    continue;
                }
            }
        } else {
            rest.to_string()
        };
        match parse_call(&text) {
            Some((name, args, ret)) => events.push(Event::Syscall(Syscall {
                line: n,
                pid,
                name,
                args,
                ret,
            })),
            None => bad.push(Skipped {
                line: n,
                text: raw.into(),
                reason: "not a syscall line".into(),
            }),
        }
    }
    for (pid, head) in pending {
        bad.push(Skipped {
            line: 0,
            text: format!("{pid} {head}"),
            reason: "unfinished call never resumed".into(),
        });
    }
    (events, bad)
}

/// A number argument: decimal, hex, `NULL`.
fn num(s: &str) -> Option<u64> {
    let s = s.trim();
    if s == "NULL" {
        return Some(0);
    }
    let s = s.split_whitespace().next()?;
    if let Some(h) = s.strip_prefix("0x") {
        u64::from_str_radix(h, 16).ok()
    } else {
        s.parse().ok()
    }
}

/// `PROT_READ|PROT_WRITE` -> read and write.
fn prot(s: &str) -> Result<Prot, String> {
    let mut p = Prot::NONE;
    for f in s.split('|').map(str::trim) {
        match f {
            "PROT_NONE" | "0" => {}
            "PROT_READ" => p.read = true,
            "PROT_WRITE" => p.write = true,
            "PROT_EXEC" => p.exec = true,
            _ => return Err(format!("unsupported prot flag {f}")),
        }
    }
    Ok(p)
}

/// The mmap flags of a replayed mmap: always with `fixed`, since the traced address is used
/// (MAP_FIXED_NOREPLACE is replayed as MAP_FIXED: the traced call succeeded there).
fn mmap_flags(s: &str) -> Result<MmapFlags, String> {
    let mut flags = MmapFlags {
        fixed: true,
        ..MmapFlags::default()
    };
    for f in s.split('|').map(str::trim) {
        match f {
            "MAP_PRIVATE" => flags.private = true,
            "MAP_SHARED" | "MAP_SHARED_VALIDATE" => flags.shared = true,
            "MAP_ANONYMOUS" | "MAP_ANON" => flags.anonymous = true,
            "MAP_FIXED" | "MAP_FIXED_NOREPLACE" => {}
            "MAP_POPULATE" => flags.populate = true,
            "MAP_NORESERVE" => flags.noreserve = true,
            "MAP_GROWSDOWN" => flags.growsdown = true,
            // No effect on the address space layout in Linux 6.x.
            "MAP_LOCKED" => flags.locked = true,
            "MAP_DENYWRITE" | "MAP_EXECUTABLE" | "MAP_STACK" | "MAP_NONBLOCK" => {}
            _ => return Err(format!("unsupported mmap flag {f}")),
        }
    }
    Ok(flags)
}

/// mremap flags: MREMAP_MAYMOVE, MREMAP_FIXED and MREMAP_DONTUNMAP.
fn mremap_flags(s: &str) -> Result<MremapFlags, String> {
    let mut flags = MremapFlags::default();
    for f in s.split('|').map(str::trim) {
        match f {
            "0" => {}
            "MREMAP_MAYMOVE" => flags.maymove = true,
            "MREMAP_FIXED" => flags.fixed = true,
            "MREMAP_DONTUNMAP" => flags.dontunmap = true,
            _ => return Err(format!("unsupported mremap flag {f}")),
        }
    }
    Ok(flags)
}

/// `MADV_DONTNEED` -> [`Advice::DontNeed`]: the advice whose name is the constant's without
/// `MADV_`, in lowercase.
fn advice(s: &str) -> Result<Advice, String> {
    let s = s.trim();
    s.strip_prefix("MADV_")
        .and_then(|name| {
            Advice::ALL
                .into_iter()
                .find(|a| a.name().to_ascii_uppercase() == name)
        })
        .ok_or_else(|| format!("unsupported madvise advice {s}"))
}

/// Unescapes a strace string literal (`"..."`); `None` if strace cut it (`"..."...`).
fn c_string(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.ends_with("...") {
        return Err("string cut short by strace (record with -s 100)".into());
    }
    let inner = s
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .ok_or_else(|| format!("not a string: {s}"))?;
    let mut out = Vec::new();
    let b = inner.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        i += 1;
        let c = *b.get(i).ok_or("dangling backslash")?;
        i += 1;
        match c {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'v' => out.push(0x0b),
            b'f' => out.push(0x0c),
            b'x' => {
                let h = inner.get(i..i + 2).ok_or("bad \\x escape")?;
                out.push(u8::from_str_radix(h, 16).map_err(|_| "bad \\x escape")?);
                i += 2;
            }
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                let mut k = 0;
                while k < 2 && i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                    v = v * 8 + u32::from(b[i] - b'0');
                    i += 1;
                    k += 1;
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).map_err(|_| "name is not UTF-8".into())
}

/// The `-y` path of an fd argument (`3</usr/lib/libc.so.6>`), if any.
fn fd_path(s: &str) -> Option<String> {
    let open = s.find('<')?;
    let inner = s[open + 1..].strip_suffix('>')?;
    Some(inner.to_string())
}

fn page_up(v: u64) -> u64 {
    v.div_ceil(PAGE_SIZE) * PAGE_SIZE
}

/// Options of the translation.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The first simulated pid.
    pub base_pid: u32,
}

#[derive(Debug, Default)]
struct ProcState {
    sim: u32,
    spawned: bool,
    exited: bool,
    /// Index in `Translation::commands` of the spawn of this process's image, until the
    /// image's initial break is known (its first brk return) and set as that spawn's
    /// `start_brk`. A forked child carries its parent's: they share the image.
    spawn_at: Option<usize>,
    /// Every range the trace mapped in this image (never shrunk: a superset of what is mapped).
    /// A munmap/mprotect/madvise/name that touches none of it acts on a mapping the kernel made
    /// at execve (the executable, ld.so, vdso, stack), which the simulator does not have.
    ranges: Vec<(u64, u64)>,
}

struct Tr {
    out: Translation,
    /// traced tid -> traced thread-group leader
    tgid: HashMap<u32, u32>,
    procs: HashMap<u32, ProcState>,
    next: u32,
}

impl Tr {
    fn leader(&self, tid: u32) -> u32 {
        *self.tgid.get(&tid).unwrap_or(&tid)
    }

    fn sim_of(&mut self, tgid: u32) -> u32 {
        if let Some(p) = self.procs.get(&tgid) {
            return p.sim;
        }
        let sim = self.next;
        self.next += 1;
        self.out.pids.insert(tgid, sim);
        self.procs.insert(
            tgid,
            ProcState {
                sim,
                ..Default::default()
            },
        );
        sim
    }

    /// Ensures the process of `tid` exists in the simulator; returns its sim pid.
    fn ensure(&mut self, line: usize, tid: u32) -> u32 {
        let tg = self.leader(tid);
        let sim = self.sim_of(tg);
        let st = self.procs.get_mut(&tg).expect("just made");
        if !st.spawned {
            st.spawned = true;
            st.exited = false;
            st.spawn_at = Some(self.out.commands.len());
            self.out.commands.push((line, spawn(sim, None)));
        }
        sim
    }

    /// Gives the spawn of `tid`'s image the traced initial break `initial` as its `start_brk`,
    /// if it has none yet (the first brk return of the image, in any of its processes).
    fn set_start_brk(&mut self, tid: u32, initial: u64) {
        let tg = self.leader(tid);
        let Some(st) = self.procs.get_mut(&tg) else {
            return;
        };
        let Some(at) = st.spawn_at.take() else {
            return;
        };
        if let (_, Call::Spawn(spawn)) = &mut self.out.commands[at] {
            spawn
                .start_brk
                .get_or_insert(initial / PAGE_SIZE * PAGE_SIZE);
        }
    }

    fn add_range(&mut self, tid: u32, start: u64, len: u64) {
        let tg = self.leader(tid);
        if let Some(st) = self.procs.get_mut(&tg) {
            st.ranges.push((start, start.saturating_add(page_up(len))));
        }
    }

    /// Whether `[start, start+len)` touches a range the trace mapped; if not, the call is
    /// counted as ignored (it acts on a mapping made by execve) and `false` is returned.
    fn traced(&mut self, c: &Syscall, start: u64, len: u64) -> bool {
        let tg = self.leader(c.pid);
        let end = start.saturating_add(page_up(len.max(1)));
        let hit = self
            .procs
            .get(&tg)
            .is_some_and(|st| st.ranges.iter().any(|&(s, e)| s < end && start < e));
        if !hit {
            *self
                .out
                .ignored
                .entry(format!("{} on a mapping made by execve", c.name))
                .or_default() += 1;
        }
        hit
    }

    fn emit(&mut self, line: usize, call: impl Into<Call>) {
        self.out.commands.push((line, call.into()));
    }

    fn unsupported(&mut self, c: &Syscall, reason: impl Into<String>) {
        self.out.unsupported.push(Skipped {
            line: c.line,
            text: format!("{}({}) = {}", c.name, c.args.join(", "), c.ret),
            reason: reason.into(),
        });
    }

    fn arg(&self, c: &Syscall, i: usize) -> Result<u64, String> {
        c.args
            .get(i)
            .and_then(|a| num(a))
            .ok_or_else(|| format!("argument {} is not a number", i + 1))
    }

    /// The common start of a call on a range (munmap, mprotect, madvise, the anon-name prctl):
    /// ensures the process, reads the range's address and length from arguments `at` and
    /// `at + 1`, then the rest of the arguments with `rest`; `None` if the range is not one the
    /// trace mapped (see [`Tr::traced`]). Returns (sim pid, address, length, rest).
    fn traced_range<T>(
        &mut self,
        c: &Syscall,
        at: usize,
        rest: impl FnOnce() -> Result<T, String>,
    ) -> Result<Option<(u32, u64, u64, T)>, String> {
        let sim = self.ensure(c.line, c.pid);
        let (addr, len) = (self.arg(c, at)?, self.arg(c, at + 1)?);
        let rest = rest()?;
        Ok(self.traced(c, addr, len).then_some((sim, addr, len, rest)))
    }

    fn call(&mut self, c: &Syscall) -> Result<(), String> {
        let ret = c.ret.split_whitespace().next().unwrap_or("");
        let failed = ret.starts_with('-');
        let ignored = matches!(
            c.name.as_str(),
            "wait4"
                | "waitid"
                | "kill"
                | "tkill"
                | "tgkill"
                | "exit"
                | "arch_prctl"
                | "set_tid_address"
                | "getpid"
                | "gettid"
                | "pidfd_open"
                | "pidfd_send_signal"
                | "rt_sigreturn"
                | "pause"
                | "getppid"
                | "setpgid"
                | "setsid"
                | "unshare"
                | "execveat_"
        );
        if ignored || (c.name == "prctl" && !is_set_vma(c)) {
            *self.out.ignored.entry(c.name.clone()).or_default() += 1;
            return Ok(());
        }
        if failed {
            *self.out.failed.entry(c.name.clone()).or_default() += 1;
            return Ok(());
        }
        let retv = num(ret);
        match c.name.as_str() {
            "execve" | "execveat" => {
                let tg = self.leader(c.pid);
                let sim = self.sim_of(tg);
                if self.procs[&tg].spawned {
                    self.emit(c.line, ExitArgs { pid: sim });
                }
                let path = if c.name == "execve" {
                    c.args.first()
                } else {
                    c.args.get(1)
                };
                let comm = path
                    .and_then(|p| c_string(p).ok())
                    .map(|p| {
                        p.rsplit('/')
                            .next()
                            .unwrap_or("")
                            .chars()
                            .take(15)
                            .collect::<String>()
                    })
                    .unwrap_or_default();
                let st = self.procs.get_mut(&tg).expect("made");
                st.spawned = true;
                st.exited = false;
                st.spawn_at = Some(self.out.commands.len());
                st.ranges.clear();
                let comm = (!comm.is_empty()).then_some(comm);
                self.emit(c.line, spawn(sim, comm));
            }
            "mmap" | "mmap2" => {
                let sim = self.ensure(c.line, c.pid);
                let addr = retv.ok_or("mmap return value is not an address")?;
                let len = self.arg(c, 1)?;
                let prot = prot(c.args.get(2).ok_or("no prot")?)?;
                let flags = mmap_flags(c.args.get(3).ok_or("no flags")?)?;
                let mut mmap = MmapArgs {
                    pid: sim,
                    addr: Some(addr),
                    len,
                    prot,
                    flags,
                    file: None,
                    offset: None,
                };
                if !flags.anonymous {
                    let fd = c.args.get(4).ok_or("no fd")?;
                    let path = fd_path(fd).ok_or_else(|| {
                        format!("mmap of fd {fd} without a -y path (record with strace -y)")
                    })?;
                    mmap.file = Some(path);
                    mmap.offset = Some(self.arg(c, 5)?);
                }
                self.add_range(c.pid, addr, len);
                self.emit(c.line, mmap);
            }
            "munmap" => {
                if let Some((pid, addr, len, ())) = self.traced_range(c, 0, || Ok(()))? {
                    self.emit(c.line, MunmapArgs { pid, addr, len });
                }
            }
            "mprotect" => {
                let range = self.traced_range(c, 0, || prot(c.args.get(2).ok_or("no prot")?))?;
                if let Some((pid, addr, len, prot)) = range {
                    self.emit(
                        c.line,
                        MprotectArgs {
                            pid,
                            addr,
                            len,
                            prot,
                        },
                    );
                }
            }
            "madvise" => {
                let range =
                    self.traced_range(c, 0, || advice(c.args.get(2).ok_or("no advice")?))?;
                if let Some((pid, addr, len, advice)) = range {
                    self.emit(
                        c.line,
                        MadviseArgs {
                            pid,
                            addr,
                            len,
                            advice,
                        },
                    );
                }
            }
            "mlock" | "mlock2" => {
                let onfault = c.name == "mlock2"
                    && c.args.get(2).is_some_and(|f| f.contains("MLOCK_ONFAULT"));
                if let Some((pid, addr, len, ())) = self.traced_range(c, 0, || Ok(()))? {
                    let flags = MlockFlags { onfault };
                    self.emit(
                        c.line,
                        MlockArgs {
                            pid,
                            addr,
                            len,
                            flags,
                        },
                    );
                }
            }
            "munlock" => {
                if let Some((pid, addr, len, ())) = self.traced_range(c, 0, || Ok(()))? {
                    self.emit(c.line, MunlockArgs { pid, addr, len });
                }
            }
            "mlockall" => {
                let pid = self.ensure(c.line, c.pid);
                let f = c.args.first().map(String::as_str).unwrap_or("");
                let flags = MlockallFlags {
                    current: f.contains("MCL_CURRENT"),
                    future: f.contains("MCL_FUTURE"),
                    onfault: f.contains("MCL_ONFAULT"),
                };
                self.emit(c.line, MlockallArgs { pid, flags });
            }
            "munlockall" => {
                let pid = self.ensure(c.line, c.pid);
                self.emit(c.line, MunlockallArgs { pid });
            }
            "mremap" => {
                let sim = self.ensure(c.line, c.pid);
                let (a, ol, nl) = (self.arg(c, 0)?, self.arg(c, 1)?, self.arg(c, 2)?);
                let r = retv.ok_or("mremap return value is not an address")?;
                // The replay moves to the traced result, or stays in place; DONTUNMAP keeps
                // the source mapped.
                let traced_flags = mremap_flags(c.args.get(3).map(String::as_str).unwrap_or("0"))?;
                if !self.traced(c, a, ol) {
                    return Ok(());
                }
                self.add_range(c.pid, r, nl);
                let (flags, new_addr) = if r != a {
                    let moved = MremapFlags {
                        maymove: true,
                        fixed: true,
                        dontunmap: traced_flags.dontunmap,
                    };
                    (moved, Some(r))
                } else {
                    (MremapFlags::default(), None)
                };
                self.emit(
                    c.line,
                    MremapArgs {
                        pid: sim,
                        addr: a,
                        old_len: ol,
                        new_len: nl,
                        flags,
                        new_addr,
                    },
                );
            }
            "brk" => {
                let sim = self.ensure(c.line, c.pid);
                let r = retv.ok_or("brk return value is not an address")?;
                let want = self.arg(c, 0)?;
                self.set_start_brk(c.pid, r);
                if want != 0 {
                    self.emit(
                        c.line,
                        BrkArgs {
                            pid: sim,
                            addr: Some(r),
                        },
                    );
                }
            }
            "prctl" => {
                let range = self.traced_range(c, 2, || Ok(c.args.get(4).ok_or("no name")?))?;
                let Some((pid, addr, len, n)) = range else {
                    return Ok(());
                };
                let name = if n.trim() == "NULL" || n.trim() == "0" {
                    None
                } else {
                    Some(c_string(n)?)
                };
                self.emit(
                    c.line,
                    NameArgs {
                        pid,
                        addr,
                        len,
                        name,
                    },
                );
            }
            "clone" | "clone3" | "fork" | "vfork" => {
                let child = retv.ok_or("no child pid in the return value")? as u32;
                let flags = c
                    .args
                    .iter()
                    .find(|a| a.contains("CLONE_") || a.starts_with("flags="))
                    .cloned()
                    .unwrap_or_default();
                let tg = self.leader(c.pid);
                if flags.contains("CLONE_VM") && !flags.contains("CLONE_VFORK") {
                    // A thread (or a process sharing the mm): same address space.
                    self.tgid.insert(child, tg);
                    if !flags.contains("CLONE_THREAD") {
                        *self
                            .out
                            .ignored
                            .entry("clone(CLONE_VM) as thread".into())
                            .or_default() += 1;
                    }
                    return Ok(());
                }
                let sim = self.ensure(c.line, c.pid);
                self.tgid.insert(child, child);
                let csim = self.sim_of(child);
                let parent_spawn = self.procs[&tg].spawn_at;
                let parent_ranges = self.procs[&tg].ranges.clone();
                let st = self.procs.get_mut(&child).expect("made");
                st.spawned = true;
                st.spawn_at = parent_spawn;
                st.ranges = parent_ranges;
                self.emit(
                    c.line,
                    ForkArgs {
                        pid: sim,
                        child: Some(csim),
                    },
                );
            }
            "exit_group" => {
                let tg = self.leader(c.pid);
                self.exit(c.line, tg);
            }
            _ => return Err(format!("unsupported syscall {}", c.name)),
        }
        Ok(())
    }

    fn exit(&mut self, line: usize, tg: u32) {
        let sim = self.sim_of(tg);
        let st = self.procs.get_mut(&tg).expect("made");
        if st.spawned && !st.exited {
            st.exited = true;
            self.emit(line, ExitArgs { pid: sim });
        }
    }
}

/// The spawn of a new image of simulated process `sim`: bare (the trace shows the mappings
/// execve made only as they are changed), with its `start_brk` set later (see the module docs).
fn spawn(sim: u32, comm: Option<String>) -> Call {
    Call::Spawn(SpawnArgs {
        pid: Some(sim),
        comm,
        uid: None,
        start_brk: None,
        bare: true,
    })
}

fn is_set_vma(c: &Syscall) -> bool {
    let a0 = c.args.first().map(|s| s.trim()).unwrap_or("");
    let a1 = c.args.get(1).map(|s| s.trim()).unwrap_or("");
    (a0 == "PR_SET_VMA" || a0.starts_with("0x53564d41"))
        && (a1 == "PR_SET_VMA_ANON_NAME" || a1 == "0")
}

/// Translates a whole trace.
pub fn translate(text: &str, o: Options) -> Translation {
    let (events, bad) = parse_trace(text);
    let mut t = Tr {
        out: Translation::default(),
        tgid: HashMap::new(),
        procs: HashMap::new(),
        next: o.base_pid,
    };
    t.out.unsupported.extend(bad);
    // Files first: each -y path with the largest offset + len mapped from it.
    let mut files: BTreeMap<String, u64> = BTreeMap::new();
    for e in &events {
        if let Event::Syscall(c) = e {
            if (c.name == "mmap" || c.name == "mmap2") && !c.ret.starts_with('-') {
                if let (Some(path), Some(len), Some(off)) = (
                    c.args.get(4).and_then(|f| fd_path(f)),
                    c.args.get(1).and_then(|a| num(a)),
                    c.args.get(5).and_then(|a| num(a)),
                ) {
                    let e = files.entry(path).or_default();
                    *e = (*e).max(page_up(off + len));
                }
            }
        }
    }
    for (path, size) in files {
        t.out
            .commands
            .push((0, Call::File(FileArgs { path, size })));
    }
    for e in &events {
        match e {
            Event::Syscall(c) => {
                t.out.syscalls += 1;
                if let Err(reason) = t.call(c) {
                    t.unsupported(c, reason);
                }
            }
            Event::Exited { line, pid } => {
                // Only the thread-group leader's exit ends the process.
                if t.leader(*pid) == *pid && t.procs.contains_key(pid) {
                    t.exit(*line, *pid);
                } else {
                    *t.out.ignored.entry("thread exit".into()).or_default() += 1;
                }
            }
            Event::Nothing => {}
        }
    }
    t.out
}

#[cfg(test)]
mod tests {
    use super::*;

    const O: Options = Options { base_pid: 500 };

    fn cmds(text: &str) -> Vec<String> {
        let t = translate(text, O);
        assert!(t.unsupported.is_empty(), "{}", t.summary());
        t.commands
            .iter()
            .map(|(_, call)| anonmap_lang::line(call).to_string())
            .collect()
    }

    #[test]
    fn args_split_at_top_level_only() {
        assert_eq!(
            split_args(r#"NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0"#),
            [
                "NULL",
                "8192",
                "PROT_READ|PROT_WRITE",
                "MAP_PRIVATE|MAP_ANONYMOUS",
                "-1",
                "0"
            ]
        );
        assert_eq!(
            split_args(r#"{flags=CLONE_VM|CLONE_VFORK, exit_signal=SIGCHLD}, 88"#),
            ["{flags=CLONE_VM|CLONE_VFORK, exit_signal=SIGCHLD}", "88"]
        );
        assert_eq!(
            split_args(r#"3</a, b (x).so>, "x, \"y\"""#),
            ["3</a, b (x).so>", r#""x, \"y\"""#]
        );
    }

    #[test]
    fn mmap_anon_and_file_with_y_path_and_fixed() {
        let c = cmds(
            "100 mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000\n\
             100 mmap(NULL, 163840, PROT_READ, MAP_PRIVATE|MAP_DENYWRITE, 3</usr/lib/x86_64-linux-gnu/libc.so.6>, 0) = 0x7f1000000000\n\
             100 mmap(0x7f1000028000, 4096, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3</usr/lib/x86_64-linux-gnu/libc.so.6>, 0x28000) = 0x7f1000028000\n",
        );
        assert_eq!(
            c,
            [
                "file path=/usr/lib/x86_64-linux-gnu/libc.so.6 size=0x29000",
                "spawn pid=500 bare",
                "mmap pid=500 addr=0x7f0000000000 len=0x2000 prot=rw- flags=private,anonymous,fixed",
                "mmap pid=500 addr=0x7f1000000000 len=0x28000 prot=r-- flags=private,fixed file=/usr/lib/x86_64-linux-gnu/libc.so.6 offset=0x0",
                "mmap pid=500 addr=0x7f1000028000 len=0x1000 prot=r-x flags=private,fixed file=/usr/lib/x86_64-linux-gnu/libc.so.6 offset=0x28000",
            ]
        );
    }

    #[test]
    fn unfinished_and_resumed_are_joined_per_pid() {
        let c = cmds(
            "100 mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000\n\
             100 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD <unfinished ...>\n\
             101 munmap(0x7f0000000000, 4096 <unfinished ...>\n\
             100 <... clone resumed>, child_tidptr=0x7f00000a10) = 101\n\
             101 <... munmap resumed>) = 0\n\
             [pid 101] exit_group(0) = ?\n\
             101 +++ exited with 0 +++\n",
        );
        // the child's munmap completes after the fork line, so it comes after fork
        assert_eq!(
            c,
            [
                "spawn pid=500 bare",
                "mmap pid=500 addr=0x7f0000000000 len=0x1000 prot=rw- flags=private,anonymous,fixed",
                "fork pid=500 child=501",
                "munmap pid=501 addr=0x7f0000000000 len=0x1000",
                "exit pid=501",
            ]
        );
    }

    #[test]
    fn mlock_family() {
        let c = cmds(
            "7 mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_LOCKED, -1, 0) = 0x7f0000000000\n\
             7 mlock(0x7f0000000000, 4096) = 0\n\
             7 mlock2(0x7f0000001000, 4096, MLOCK_ONFAULT) = 0\n\
             7 munlock(0x7f0000000000, 8192) = 0\n\
             7 mlockall(MCL_CURRENT|MCL_FUTURE) = 0\n\
             7 munlockall() = 0\n",
        );
        assert_eq!(
            c,
            [
                "spawn pid=500 bare",
                "mmap pid=500 addr=0x7f0000000000 len=0x2000 prot=rw- flags=private,anonymous,fixed,locked",
                "mlock pid=500 addr=0x7f0000000000 len=0x1000",
                "mlock pid=500 addr=0x7f0000001000 len=0x1000 flags=onfault",
                "munlock pid=500 addr=0x7f0000000000 len=0x2000",
                "mlockall pid=500 flags=current,future",
                "munlockall pid=500",
            ]
        );
    }

    #[test]
    fn mremap_brk_prctl_madvise_mprotect() {
        let c = cmds(
            "7 brk(NULL) = 0x5600aa000000\n\
             7 brk(0x5600aa021000) = 0x5600aa021000\n\
             7 mmap(NULL, 65536, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0) = 0x7f0000000000\n\
             7 mprotect(0x7f0000000000, 4096, PROT_READ|PROT_WRITE) = 0\n\
             7 prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, 0x7f0000000000, 4096, \" glibc: malloc \\\"x\\\"\") = 0\n\
             7 prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, 0x7f0000000000, 4096, NULL) = 0\n\
             7 madvise(0x7f0000000000, 4096, MADV_DONTNEED) = 0\n\
             7 mremap(0x7f0000000000, 4096, 8192, MREMAP_MAYMOVE) = 0x7f0000100000\n\
             7 mremap(0x7f0000100000, 8192, 4096, 0) = 0x7f0000100000\n\
             7 prctl(PR_SET_NAME, \"worker\") = 0\n\
             7 munmap(0x7f0000100000, 4096) = -1 EINVAL (Invalid argument)\n",
        );
        assert_eq!(
            c,
            [
                "spawn pid=500 brk=0x5600aa000000 bare",
                "brk pid=500 addr=0x5600aa021000",
                "mmap pid=500 addr=0x7f0000000000 len=0x10000 prot=--- flags=private,anonymous,fixed,noreserve",
                "mprotect pid=500 addr=0x7f0000000000 len=0x1000 prot=rw-",
                "name pid=500 addr=0x7f0000000000 len=0x1000 name=\" glibc: malloc \\\"x\\\"\"",
                "name pid=500 addr=0x7f0000000000 len=0x1000 clear",
                "madvise pid=500 addr=0x7f0000000000 len=0x1000 advice=dontneed",
                "mremap pid=500 addr=0x7f0000000000 old_len=0x1000 new_len=0x2000 flags=maymove,fixed new_addr=0x7f0000100000",
                "mremap pid=500 addr=0x7f0000100000 old_len=0x2000 new_len=0x1000",
            ]
        );
        // a name (or comm, or path) that needs no quotes gets none
        let c = cmds(
            "8 execve(\"/usr/bin/my app\", [\"app\"], 0x7ffd /* 3 vars */) = 0\n\
             8 mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS|MAP_POPULATE, -1, 0) = 0x7f0000000000\n\
             8 prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, 0x7f0000000000, 4096, \"dalvik-heap\") = 0\n",
        );
        assert_eq!(
            c,
            [
                "spawn pid=500 comm=\"my app\" bare",
                "mmap pid=500 addr=0x7f0000000000 len=0x1000 prot=rw- flags=shared,anonymous,fixed,populate",
                "name pid=500 addr=0x7f0000000000 len=0x1000 name=dalvik-heap",
            ]
        );
        let t = translate("7 prctl(PR_SET_NAME, \"worker\") = 0\n7 munmap(0x1000, 4096) = -1 EINVAL (Invalid argument)\n", O);
        assert_eq!(t.ignored.get("prctl"), Some(&1));
        assert_eq!(t.failed.get("munmap"), Some(&1));
    }

    #[test]
    fn the_first_brk_of_an_image_sets_its_spawn_brk_once() {
        let c = cmds(
            "20 execve(\"/usr/bin/app\", [\"app\"], 0x7ffd /* 3 vars */) = 0\n\
             20 mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000\n\
             20 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f00) = 21\n\
             21 brk(NULL) = 0x5611f0a3c000\n\
             21 brk(0x5611f0a5d000) = 0x5611f0a5d000\n\
             20 brk(NULL) = 0x5611f0a3c000\n\
             20 brk(0x5611f0a4d000) = 0x5611f0a4d000\n\
             21 execve(\"/bin/sh\", [\"sh\"], 0x7ffd /* 3 vars */) = 0\n\
             21 brk(NULL) = 0x563a12345000\n\
             21 brk(0x563a12366000) = 0x563a12366000\n\
             21 exit_group(0) = ?\n\
             21 +++ exited with 0 +++\n\
             22 brk(NULL) = 0x55d000001000\n",
        );
        assert_eq!(
            c,
            [
                // the child's first brk patched the image's spawn, which precedes the fork
                "spawn pid=500 comm=app brk=0x5611f0a3c000 bare",
                "mmap pid=500 addr=0x7f0000000000 len=0x1000 prot=rw- flags=private,anonymous,fixed",
                "fork pid=500 child=501",
                "brk pid=501 addr=0x5611f0a5d000",
                "brk pid=500 addr=0x5611f0a4d000",
                "exit pid=501",
                // a new image: its own initial break
                "spawn pid=501 comm=sh brk=0x563a12345000 bare",
                "brk pid=501 addr=0x563a12366000",
                "exit pid=501",
                // a process first seen at its brk(NULL)
                "spawn pid=502 brk=0x55d000001000 bare",
            ]
        );
    }

    #[test]
    fn threads_vfork_execve_and_exit_group() {
        let c = cmds(
            "10 execve(\"/usr/bin/app\", [\"app\"], 0x7ffd /* 3 vars */) = 0\n\
             10 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM, child_tid=0x7f00, parent_tid=0x7f00, exit_signal=0, stack=0x7e00, stack_size=0x7fff00, tls=0x7f00} => {parent_tid=[11]}, 88) = 11\n\
             11 mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000\n\
             10 vfork() = 12\n\
             12 execve(\"/bin/sh\", [\"sh\"], 0x7ffd /* 3 vars */) = 0\n\
             12 exit_group(0) = ?\n\
             12 +++ exited with 0 +++\n\
             11 exit(0) = ?\n\
             11 +++ exited with 0 +++\n\
             10 exit_group(0) = ?\n\
             10 +++ exited with 0 +++\n",
        );
        assert_eq!(
            c,
            [
                "spawn pid=500 comm=app bare",
                "mmap pid=500 addr=0x7f0000000000 len=0x1000 prot=rw- flags=private,anonymous,fixed",
                "fork pid=500 child=501",
                "exit pid=501",
                "spawn pid=501 comm=sh bare",
                "exit pid=501",
                "exit pid=500",
            ]
        );
    }

    #[test]
    fn unsupported_lines_are_counted_and_listed() {
        let t = translate(
            "5 mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000\n\
             5 mbind(0x7f0000000000, 4096, MPOL_BIND, [0x1], 2, 0) = 0\n\
             5 madvise(0x7f0000000000, 4096, MADV_HUGEPAGE) = 0\n\
             5 mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 3, 0) = 0x7f0000000000\n\
             5 prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, 0x7f0000000000, 4096, \"a very long name that strace\"...) = 0\n\
             this is not strace\n\
             5 <... mmap resumed>) = 0\n",
            O,
        );
        let reasons: Vec<&str> = t.unsupported.iter().map(|u| u.reason.as_str()).collect();
        assert_eq!(t.unsupported.len(), 6, "{reasons:?}");
        assert!(reasons
            .iter()
            .any(|r| r.contains("unsupported syscall mbind")));
        assert!(reasons.iter().any(|r| r.contains("MADV_HUGEPAGE")));
        assert!(reasons.iter().any(|r| r.contains("without a -y path")));
        assert!(reasons.iter().any(|r| r.contains("cut short")));
        assert!(reasons.iter().any(|r| r.contains("not a syscall line")));
        assert!(reasons
            .iter()
            .any(|r| r.contains("without its unfinished half")));
        let s = t.summary();
        assert!(s.contains("6 unsupported"), "{s}");
        assert!(
            s.contains("unsupported line 2: unsupported syscall mbind"),
            "{s}"
        );
        // a call on a range the trace never mapped (made by execve) is ignored, and says so
        let t = translate("5 mprotect(0x555555554000, 4096, PROT_READ) = 0\n", O);
        assert_eq!(
            t.ignored.get("mprotect on a mapping made by execve"),
            Some(&1)
        );
        assert!(t
            .summary()
            .contains("mprotect on a mapping made by execve=1"));
    }
}
