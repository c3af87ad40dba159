//! The collected data every report works from: per process, its VMAs with their smaps
//! counters (bytes), its smaps_rollup totals, and the machine's meminfo.
//!
//! # PSS and rounding
//! The kernel accumulates PSS in fixed point (`PAGE_SIZE << 12 / mapcount` per page) and prints
//! it in whole kB, truncated: per VMA in `smaps`, and once per process in `smaps_rollup` (whose
//! sum is taken in fixed point before the truncation). So:
//! - a **process's** PSS is taken from `smaps_rollup` ([`Proc::rollup`]): it is the kernel's
//!   fixed-point sum, at most 1023 bytes under the exact value;
//! - a **name's** (or a category's) PSS can only be summed from the per-VMA `Pss:` lines; each is
//!   cut below a whole kB, so a name's PSS is at most `vmas` × 1023 bytes under its exact
//!   fixed-point value ([`Counters::pss_slack`] carries that bound, reports print it);
//! - the TOTAL row of every report sums the processes' rollups, not the rows, so it is exact
//!   to 1023 bytes per process; where rows and TOTAL differ, the difference is that truncation.

use procfs_core::process::{MMapPath, MemoryMap};
use serde::{Deserialize, Serialize};

/// The smaps counters of a VMA (or a sum of VMAs), in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Virtual size (`Size:` / end - start).
    pub vss: u64,
    pub rss: u64,
    /// Proportional set size, as printed (each VMA truncated to kB).
    pub pss: u64,
    /// Unique set size: `Private_Clean + Private_Dirty`.
    pub uss: u64,
    pub shared_clean: u64,
    pub shared_dirty: u64,
    pub private_clean: u64,
    pub private_dirty: u64,
    pub anonymous: u64,
    pub swap: u64,
    pub swap_pss: u64,
    /// How many bytes the exact fixed-point PSS may exceed `pss` by (1023 per truncated value
    /// summed). Invariant: exact PSS is in `pss ..= pss + pss_slack`.
    pub pss_slack: u64,
}

impl Counters {
    /// The counters of one smaps (or smaps_rollup) entry.
    pub fn from_map(m: &MemoryMap) -> Counters {
        let g = |k: &str| m.extension.map.get(k).copied().unwrap_or(0);
        let size = g("Size");
        let vss = if size > 0 {
            size
        } else {
            m.address.1.saturating_sub(m.address.0)
        };
        Counters {
            vss,
            rss: g("Rss"),
            pss: g("Pss"),
            uss: g("Private_Clean") + g("Private_Dirty"),
            shared_clean: g("Shared_Clean"),
            shared_dirty: g("Shared_Dirty"),
            private_clean: g("Private_Clean"),
            private_dirty: g("Private_Dirty"),
            anonymous: g("Anonymous"),
            swap: g("Swap"),
            swap_pss: g("SwapPss"),
            pss_slack: 1023,
        }
    }

    /// Adds `o` field by field (slack adds up too). `o` is destructured whole, so a new field
    /// does not compile until it is summed here too.
    pub fn add(&mut self, o: &Counters) {
        let Counters {
            vss,
            rss,
            pss,
            uss,
            shared_clean,
            shared_dirty,
            private_clean,
            private_dirty,
            anonymous,
            swap,
            swap_pss,
            pss_slack,
        } = *o;
        for (total, v) in [
            (&mut self.vss, vss),
            (&mut self.rss, rss),
            (&mut self.pss, pss),
            (&mut self.uss, uss),
            (&mut self.shared_clean, shared_clean),
            (&mut self.shared_dirty, shared_dirty),
            (&mut self.private_clean, private_clean),
            (&mut self.private_dirty, private_dirty),
            (&mut self.anonymous, anonymous),
            (&mut self.swap, swap),
            (&mut self.swap_pss, swap_pss),
            (&mut self.pss_slack, pss_slack),
        ] {
            *total += v;
        }
    }

    /// Whether any page of it is private (showmap's `-t`).
    pub fn has_private(&self) -> bool {
        self.uss > 0
    }
}

impl std::iter::Sum for Counters {
    /// Adds them all up with [`Counters::add`].
    fn sum<I: Iterator<Item = Counters>>(items: I) -> Counters {
        items.fold(Counters::default(), |mut t, c| {
            t.add(&c);
            t
        })
    }
}

impl<'a> std::iter::Sum<&'a Counters> for Counters {
    fn sum<I: Iterator<Item = &'a Counters>>(items: I) -> Counters {
        items.copied().sum()
    }
}

/// What a VMA maps, from its name column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Private anonymous memory with no name (shown as `[anon]`).
    Anon,
    /// `[anon:NAME]`, named with PR_SET_VMA_ANON_NAME.
    AnonNamed,
    /// Shared anonymous memory: `[anon_shmem:NAME]` or `/dev/zero (deleted)`.
    Shmem,
    /// A file mapping (`/path`, possibly ` (deleted)`).
    File,
    /// `[heap]`
    Heap,
    /// `[stack]` or `[stack:TID]`
    Stack,
    /// `[vdso]`, `[vvar]`, `[vsyscall]` and other kernel pseudo-paths.
    Special,
}

impl Kind {
    pub fn word(self) -> &'static str {
        match self {
            Kind::Anon => "anon",
            Kind::AnonNamed => "anon_named",
            Kind::Shmem => "shmem",
            Kind::File => "file",
            Kind::Heap => "heap",
            Kind::Stack => "stack",
            Kind::Special => "special",
        }
    }

    pub fn from_word(w: &str) -> Option<Kind> {
        [
            Kind::Anon,
            Kind::AnonNamed,
            Kind::Shmem,
            Kind::File,
            Kind::Heap,
            Kind::Stack,
            Kind::Special,
        ]
        .into_iter()
        .find(|k| k.word() == w)
    }
}

/// The row label of an unnamed private anonymous VMA.
pub const ANON_LABEL: &str = "[anon]";

/// The name column of maps as the kernel printed it, rebuilt from procfs's `MMapPath`, with its
/// kind. procfs strips the brackets of `[anon:NAME]` (`Other("anon:NAME")`); they are put back,
/// so names are shown exactly as in maps. (procfs trims the line, so a name that ends in spaces
/// loses them; that is the one change.)
pub fn name_of(p: &MMapPath) -> (String, Kind) {
    match p {
        MMapPath::Path(path) => {
            let s = path.to_string_lossy().into_owned();
            let kind = if s == "/dev/zero (deleted)" || s.starts_with("/SYSV") {
                Kind::Shmem
            } else {
                Kind::File
            };
            (s, kind)
        }
        MMapPath::Heap => ("[heap]".into(), Kind::Heap),
        MMapPath::Stack => ("[stack]".into(), Kind::Stack),
        MMapPath::TStack(t) => (format!("[stack:{t}]"), Kind::Stack),
        MMapPath::Vdso => ("[vdso]".into(), Kind::Special),
        MMapPath::Vvar => ("[vvar]".into(), Kind::Special),
        MMapPath::Vsyscall => ("[vsyscall]".into(), Kind::Special),
        MMapPath::Rollup => ("[rollup]".into(), Kind::Special),
        MMapPath::Anonymous => (ANON_LABEL.into(), Kind::Anon),
        MMapPath::Vsys(key) => (format!("/SYSV{key:08x}"), Kind::Shmem),
        MMapPath::Other(s) => {
            let kind = if s.starts_with("anon:") {
                Kind::AnonNamed
            } else if s.starts_with("anon_shmem:") {
                Kind::Shmem
            } else {
                Kind::Special
            };
            (format!("[{s}]"), kind)
        }
        #[allow(unreachable_patterns)]
        _ => (format!("{p:?}"), Kind::Special),
    }
}

/// One VMA of a process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    /// maps' four permission characters, e.g. `rw-p`.
    pub perms: String,
    /// maps' name column, exactly (`[anon]` for an unnamed private anonymous VMA).
    pub name: String,
    pub kind: Kind,
    pub counters: Counters,
}

impl Vma {
    pub fn from_map(m: &MemoryMap) -> Vma {
        let (name, kind) = name_of(&m.pathname);
        Vma {
            start: m.address.0,
            end: m.address.1,
            perms: m.perms.as_str(),
            name,
            kind,
            counters: Counters::from_map(m),
        }
    }
}

/// One process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proc {
    pub pid: u32,
    /// `comm`, or the command line when the source has one.
    pub cmd: String,
    pub vmas: Vec<Vma>,
    /// The smaps_rollup totals (PSS summed in fixed point by the kernel). When a source has no
    /// smaps_rollup, the sum of `vmas` with its slack.
    pub rollup: Counters,
}

/// The machine's memory summary (from meminfo), in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemSummary {
    pub total: u64,
    pub free: u64,
    pub buffers: u64,
    pub cached: u64,
    pub shmem: u64,
    pub slab: u64,
    pub anon_pages: u64,
    pub mapped: u64,
    pub swap_total: u64,
    pub swap_free: u64,
}

impl MemSummary {
    pub fn from_meminfo(m: &procfs_core::Meminfo) -> MemSummary {
        MemSummary {
            total: m.mem_total,
            free: m.mem_free,
            buffers: m.buffers,
            cached: m.cached,
            shmem: m.shmem.unwrap_or(0),
            slab: m.slab,
            anon_pages: m.anon_pages.unwrap_or(0),
            mapped: m.mapped,
            swap_total: m.swap_total,
            swap_free: m.swap_free,
        }
    }

    /// Memory mapped into some process: anonymous pages plus mapped page cache (which includes
    /// mapped shmem). The sum of PSS over all processes should equal it.
    pub fn mapped_resident(&self) -> u64 {
        self.anon_pages + self.mapped
    }
}

/// Everything read from a source at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    pub procs: Vec<Proc>,
    pub mem: Option<MemSummary>,
    /// Pids that were listed but could not be read (permission, exited), with the reason.
    pub unreadable: Vec<(u32, String)>,
}
