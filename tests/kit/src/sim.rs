//! [`Sim`]: a simulated machine driven by command-language lines through the language's own
//! [`Session`], with every invariant checked after each op, read back in compact forms (layout
//! strings like `"200000001000-200000004000 rw-p [anon:foo]"`, smaps counters in kB, pagemap
//! entries, rmap views, the name table). The simulator's vector and scenario tests use it.
//!
//! Addresses in tests are written relative to the arena `C` = 0x2000_0000_0000 (the base the
//! kernel oracle cases use), in pages: `c(1)` is one page above it.

use anonmap_abi::pagemap::{PM_PFRAME_MASK, PM_PRESENT};
use anonmap_abi::{Call, Errno, Error, Outcome};
use anonmap_lang::{Command, Session};
use anonmap_mm::{Machine, MachineConfig};
use anonmap_proc::render::{render_maps, render_smaps, render_smaps_rollup};
use anonmap_proc::view::{NameObjectView, RmapView, SmapsCounters, StatusView, VmaView, PSS_SHIFT};

/// PAGE_SIZE.
pub const P: u64 = 4096;
/// The arena base the tests map into (the oracle cases' arena).
pub const C: u64 = 0x2000_0000_0000;

/// `C + n` pages.
pub fn c(n: u64) -> u64 {
    C + n * P
}

/// A machine plus the session (label bindings) of its script.
#[derive(Debug)]
pub struct Sim {
    pub m: Machine,
    pub session: Session,
}

/// Smaps counters of one VMA in kB, fixed-point fields already shifted down, as smaps prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Kb {
    pub rss: u64,
    pub pss: u64,
    pub pss_dirty: u64,
    pub shared_clean: u64,
    pub shared_dirty: u64,
    pub private_clean: u64,
    pub private_dirty: u64,
    pub referenced: u64,
    pub anonymous: u64,
}

impl Kb {
    pub fn from(c: &SmapsCounters) -> Kb {
        let fixed = |v: u64| (v >> PSS_SHIFT) >> 10;
        Kb {
            rss: c.rss >> 10,
            pss: fixed(c.pss),
            pss_dirty: fixed(c.pss_dirty),
            shared_clean: c.shared_clean >> 10,
            shared_dirty: c.shared_dirty >> 10,
            private_clean: c.private_clean >> 10,
            private_dirty: c.private_dirty >> 10,
            referenced: c.referenced >> 10,
            anonymous: c.anonymous >> 10,
        }
    }
}

impl Default for Sim {
    fn default() -> Self {
        Sim::new()
    }
}

impl Sim {
    /// A 64 MiB machine: ample for these tests, small enough that the per-op invariant check
    /// (which scans every frame) stays fast.
    pub fn new() -> Sim {
        Sim::with_ram(64 << 20)
    }

    pub fn with_ram(ram_bytes: u64) -> Sim {
        Sim::with_config(MachineConfig::with_ram(ram_bytes))
    }

    /// A machine of any configuration (swap, soft-dirty tracking).
    pub fn with_config(config: MachineConfig) -> Sim {
        Sim {
            m: Machine::new(config),
            session: Session::new(),
        }
    }

    /// Runs one command line; the invariants must hold afterwards whether it failed or not.
    pub fn run(&mut self, line: &str) -> Result<Outcome, Error> {
        let command = self
            .session
            .parse(line)
            .unwrap_or_else(|e| panic!("{line}: does not parse: {e}"))
            .unwrap_or_else(|| panic!("{line}: is not a command"));
        let Command::Call { call, bind } = command else {
            panic!("{line}: is not a call");
        };
        let out = self.apply(&call, line);
        if let Ok(outcome) = &out {
            self.session.bind(bind.as_deref(), outcome);
        }
        out
    }

    /// Applies an already built call (for values the language cannot spell, like a 0x01 byte
    /// in a name), checking invariants afterwards.
    pub fn apply(&mut self, call: &Call, what: &str) -> Result<Outcome, Error> {
        let out = self.m.apply(call);
        if let Err(e) = self.m.check_invariants() {
            panic!("{what}: invariant broken: {e}");
        }
        out
    }

    /// Runs a line that must succeed; returns the address, pid or page count it replied, else 0.
    pub fn ok(&mut self, line: &str) -> u64 {
        match self.run(line) {
            Ok(Outcome::Addr(a)) => a,
            Ok(Outcome::Pid(p)) => u64::from(p),
            Ok(Outcome::Done) => 0,
            Ok(Outcome::Pages(n)) => n,
            Err(e) => panic!("{line}: expected ok, got {e}"),
        }
    }

    /// Runs several lines that must all succeed (a `#` line is a comment).
    pub fn script(&mut self, lines: &str) {
        for l in lines.lines().map(str::trim) {
            if !l.is_empty() && !l.starts_with('#') {
                self.ok(l);
            }
        }
    }

    /// Runs a line that must fail; returns its errno.
    pub fn err(&mut self, line: &str) -> Errno {
        match self.run(line) {
            Ok(o) => panic!("{line}: expected an error, got {o:?}"),
            Err(e) => e.errno,
        }
    }

    /// The maps lines of `pid`, each as `"start-end perms label"` (label omitted when there is
    /// none), gate VMA excluded.
    pub fn layout(&self, pid: u32) -> Vec<String> {
        self.maps(pid)
            .lines()
            .filter(|l| !l.ends_with("[vsyscall]"))
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let label = f[5..].join(" ");
                if label.is_empty() {
                    format!("{} {}", f[0], f[1])
                } else {
                    format!("{} {} {label}", f[0], f[1])
                }
            })
            .collect()
    }

    /// `layout` restricted to VMAs inside `[lo, hi)`.
    pub fn layout_in(&self, pid: u32, lo: u64, hi: u64) -> Vec<String> {
        let av = self.m.address_space_view(pid).expect("live pid");
        let keep: Vec<(u64, u64)> = av
            .vmas
            .iter()
            .filter(|v| v.start >= lo && v.end <= hi)
            .map(|v| (v.start, v.end))
            .collect();
        self.layout(pid)
            .into_iter()
            .filter(|l| {
                let (s, rest) = l.split_once('-').unwrap();
                let e = rest.split(' ').next().unwrap();
                let s = u64::from_str_radix(s, 16).unwrap();
                let e = u64::from_str_radix(e, 16).unwrap();
                keep.contains(&(s, e))
            })
            .collect()
    }

    /// The rendered maps file of `pid`.
    pub fn maps(&self, pid: u32) -> String {
        let mut out = Vec::new();
        render_maps(&self.m.address_space_view(pid).expect("live pid"), &mut out);
        String::from_utf8(out).unwrap()
    }

    /// The rendered smaps file of `pid`.
    pub fn smaps(&self, pid: u32) -> String {
        let mut out = Vec::new();
        render_smaps(&self.m.address_space_view(pid).expect("live pid"), &mut out);
        String::from_utf8(out).unwrap()
    }

    /// The rendered smaps_rollup file of `pid`.
    pub fn rollup(&self, pid: u32) -> String {
        let mut out = Vec::new();
        render_smaps_rollup(&self.m.address_space_view(pid).expect("live pid"), &mut out);
        String::from_utf8(out).unwrap()
    }

    /// The view of the VMA containing `addr`, if any.
    pub fn vma_view(&self, pid: u32, addr: u64) -> Option<VmaView> {
        self.m
            .address_space_view(pid)
            .expect("live pid")
            .vmas
            .into_iter()
            .find(|v| v.start <= addr && addr < v.end)
    }

    /// `[start, end)` of the VMA containing `addr` (PROCMAP_QUERY's answer), if any.
    pub fn vma(&self, pid: u32, addr: u64) -> Option<(u64, u64)> {
        self.vma_view(pid, addr).map(|v| (v.start, v.end))
    }

    /// vm_flags of the VMA containing `addr`.
    pub fn flags(&self, pid: u32, addr: u64) -> u64 {
        self.vma_view(pid, addr).expect("mapped").flags
    }

    /// Smaps counters (kB) of the VMA containing `addr`.
    pub fn kb(&self, pid: u32, addr: u64) -> Kb {
        let v = self
            .vma_view(pid, addr)
            .unwrap_or_else(|| panic!("no VMA at {addr:#x} in pid {pid}"));
        Kb::from(&v.counters)
    }

    /// The value (kB) of smaps line `field` in the block of the VMA containing `addr`.
    pub fn smaps_field(&self, pid: u32, addr: u64, field: &str) -> String {
        let text = self.smaps(pid);
        let mut in_block = false;
        for line in text.lines() {
            if let Some((range, _)) = line.split_once(' ') {
                if let Some((s, e)) = range.split_once('-') {
                    if let (Ok(s), Ok(e)) = (u64::from_str_radix(s, 16), u64::from_str_radix(e, 16))
                    {
                        in_block = s <= addr && addr < e;
                        continue;
                    }
                }
            }
            if in_block {
                if let Some(rest) = line.strip_prefix(field) {
                    if let Some(v) = rest.strip_prefix(':') {
                        return v.trim().to_string();
                    }
                }
            }
        }
        panic!("no {field} line for {addr:#x} in pid {pid}'s smaps");
    }

    /// One pagemap entry.
    pub fn pagemap(&self, pid: u32, addr: u64) -> u64 {
        self.m.pagemap(pid, addr / P, 1).expect("live pid")[0]
    }

    /// The pfn mapped at `addr` (panics if not present).
    pub fn pfn(&self, pid: u32, addr: u64) -> u64 {
        let e = self.pagemap(pid, addr);
        assert!(e & PM_PRESENT != 0, "{addr:#x} is not present");
        e & PM_PFRAME_MASK
    }

    /// The rmap view of the page mapped at `addr`.
    pub fn rmap_at(&self, pid: u32, addr: u64) -> RmapView {
        let pfn = self.pfn(pid, addr);
        self.m.rmap_view(pfn).expect("allocated page")
    }

    /// The `mapping` of the page at `addr` (`anon_vma:N`, `file:PATH`, `shmem:INO`).
    pub fn mapping(&self, pid: u32, addr: u64) -> String {
        self.rmap_at(pid, addr).mapping
    }

    /// The name table as `(text, refcount, vmas)`, in object order.
    pub fn names(&self) -> Vec<(String, u64, u64)> {
        self.m
            .name_table_view()
            .into_iter()
            .map(|o: NameObjectView| (o.text, o.refcount, o.vmas))
            .collect()
    }

    pub fn status(&self, pid: u32) -> StatusView {
        self.m.status_view(pid).expect("live pid")
    }
}

/// `"start-end perms"` (optionally followed by ` label`) for a layout assertion.
pub fn line(start: u64, end: u64, perms: &str, label: &str) -> String {
    if label.is_empty() {
        format!("{start:x}-{end:x} {perms}")
    } else {
        format!("{start:x}-{end:x} {perms} {label}")
    }
}

/// [`line`] for pages `[c(a), c(b))` of the carve-out.
pub fn l(a: u64, b: u64, perms: &str, label: &str) -> String {
    line(c(a), c(b), perms, label)
}
