//! Generated op sequences: abstract op seeds (what proptest generates and shrinks) and their
//! resolution, against the model's current state, into command lines. Resolution picks the
//! acting process among the live ones, so a shrunk sequence still acts on live processes, and
//! steers away from the corners the page model cannot predict: a `reclaim` whose outcome
//! depends on the rmap walk's order becomes MADV_COLD of the same range (with a `# avoided:`
//! comment line), and a hinted MREMAP_DONTUNMAP gets a hint that is free (else it is fixed).

use proptest::prelude::*;

use super::reference::{Model, PageModel, ARENA_PAGES, ARENA_VPN, PAGE};

/// The pid pool for spawn and fork children.
const PIDS: u32 = 8;
/// Files created at the start of every case: (path, size in bytes). The second ends in a
/// partial page; mappings may extend past either end of file (touching there is SIGBUS).
pub const FILES: [(&str, u64); 2] = [
    ("/data/app.odex", 20 * PAGE),
    ("/lib/libz.so", 7 * PAGE + 100),
];
/// Names: spaces, ':' characters and the empty name are all valid; the last one is refused
/// (`[` is forbidden) with EINVAL.
const NAMES: [&str; 6] = [
    "dalvik-main space",
    "libc_malloc",
    "scudo:primary",
    "a: b:c",
    "",
    "bad[name",
];
const FORK_ADVICE: [&str; 4] = ["dontfork", "dofork", "wipeonfork", "keeponfork"];
const PROTS: [&str; 8] = ["rw-", "r--", "---", "rwx", "r-x", "rw-", "rw-", "-w-"];
/// Extra mmap flags: mostly none, sometimes MAP_POPULATE or MAP_LOCKED.
const MMAP_EXTRA: [&str; 6] = ["", "", "", "", ",populate", ",locked"];
/// mlockall flag sets: every non-empty combination of current, future and onfault (`onfault`
/// alone is EINVAL).
const MLOCKALL: [&str; 7] = [
    "current",
    "future",
    "current,future",
    "current,onfault",
    "future,onfault",
    "current,future,onfault",
    "onfault",
];

/// One generated step, before it is bound to the model's state.
#[derive(Debug, Clone)]
pub enum Seed {
    Spawn {
        pid: u32,
    },
    Exit {
        who: usize,
    },
    Fork {
        who: usize,
        child: u32,
    },
    /// The mmaps: `extra` indexes [`MMAP_EXTRA`].
    MmapAnon {
        who: usize,
        page: u64,
        len: u64,
        prot: usize,
        extra: usize,
    },
    MmapFile {
        who: usize,
        page: u64,
        len: u64,
        prot: usize,
        file: usize,
        off: u64,
        extra: usize,
    },
    MmapShared {
        who: usize,
        page: u64,
        len: u64,
        prot: usize,
        extra: usize,
    },
    Munmap {
        who: usize,
        page: u64,
        len: u64,
    },
    Mprotect {
        who: usize,
        page: u64,
        len: u64,
        prot: usize,
    },
    DontNeed {
        who: usize,
        page: u64,
        len: u64,
    },
    Advise {
        who: usize,
        page: u64,
        len: u64,
        advice: usize,
    },
    Touch {
        who: usize,
        page: u64,
        len: u64,
        write: bool,
    },
    Name {
        who: usize,
        page: u64,
        len: u64,
        name: Option<usize>,
    },
    Move {
        who: usize,
        page: u64,
        len: u64,
        dest: u64,
    },
    Shrink {
        who: usize,
        page: u64,
        len: u64,
        keep: u64,
    },
    /// `clear_refs` with one of 1-5 or an invalid value (EINVAL).
    ClearRefs {
        who: usize,
        value: i64,
    },
    /// MADV_COLD (`pageout: false`) or MADV_PAGEOUT.
    ColdOrPageout {
        who: usize,
        page: u64,
        len: u64,
        pageout: bool,
    },
    /// `reclaim`; one in twenty at an unaligned address (EINVAL).
    Reclaim {
        who: usize,
        page: u64,
        len: u64,
        unaligned: bool,
    },
    /// MADV_FREE.
    Free {
        who: usize,
        page: u64,
        len: u64,
    },
    /// MADV_POPULATE_WRITE (`write`) or MADV_POPULATE_READ.
    Populate {
        who: usize,
        page: u64,
        len: u64,
        write: bool,
    },
    /// MADV_WILLNEED.
    WillNeed {
        who: usize,
        page: u64,
        len: u64,
    },
    /// MADV_DONTNEED_LOCKED.
    DontNeedLocked {
        who: usize,
        page: u64,
        len: u64,
    },
    /// mlock (mlock2 with MLOCK_ONFAULT when `onfault`).
    Mlock {
        who: usize,
        page: u64,
        len: u64,
        onfault: bool,
    },
    Munlock {
        who: usize,
        page: u64,
        len: u64,
    },
    /// mlockall with [`MLOCKALL`]`[flags]`.
    Mlockall {
        who: usize,
        flags: usize,
    },
    Munlockall {
        who: usize,
    },
    /// MREMAP_DONTUNMAP of `[page, page+len)` to `dest`, with MREMAP_FIXED or as a hint.
    DontUnmap {
        who: usize,
        page: u64,
        len: u64,
        dest: u64,
        fixed: bool,
    },
    /// mremap growing `[page, page+len)` in place by `extra` pages.
    Grow {
        who: usize,
        page: u64,
        len: u64,
        extra: u64,
    },
}

/// One case: the machine's swap size and the steps.
#[derive(Debug, Clone)]
pub struct Case {
    pub swap_bytes: u64,
    pub seeds: Vec<Option<Seed>>,
}

fn page() -> impl Strategy<Value = u64> {
    0..ARENA_PAGES
}

fn len() -> impl Strategy<Value = u64> {
    prop_oneof![3 => 1..=4u64, 1 => 1..=16u64]
}

pub fn seed() -> impl Strategy<Value = Seed> {
    let who = any::<usize>();
    prop_oneof![
        1 => (0..PIDS).prop_map(|p| Seed::Spawn { pid: p + 1 }),
        1 => who.prop_map(|who| Seed::Exit { who }),
        3 => (who, 0..PIDS).prop_map(|(who, c)| Seed::Fork { who, child: c + 1 }),
        4 => (who, page(), len(), 0..PROTS.len(), 0..MMAP_EXTRA.len()).prop_map(
            |(who, page, len, prot, extra)| Seed::MmapAnon { who, page, len, prot, extra }
        ),
        2 => (who, page(), len(), 0..2usize, (0..FILES.len(), 0..12u64, 0..MMAP_EXTRA.len()))
            .prop_map(|(who, page, len, prot, (file, off, extra))| Seed::MmapFile {
                who, page, len, prot, file, off, extra
            }),
        2 => (who, page(), len(), 0..PROTS.len(), 0..MMAP_EXTRA.len()).prop_map(
            |(who, page, len, prot, extra)| Seed::MmapShared { who, page, len, prot, extra }
        ),
        2 => (who, page(), len()).prop_map(|(who, page, len)| Seed::Munmap { who, page, len }),
        3 => (who, page(), len(), 0..PROTS.len())
            .prop_map(|(who, page, len, prot)| Seed::Mprotect { who, page, len, prot }),
        2 => (who, page(), len()).prop_map(|(who, page, len)| Seed::DontNeed { who, page, len }),
        2 => (who, page(), len(), 0..FORK_ADVICE.len())
            .prop_map(|(who, page, len, advice)| Seed::Advise { who, page, len, advice }),
        16 => (who, page(), len(), proptest::bool::weighted(0.7))
            .prop_map(|(who, page, len, write)| Seed::Touch { who, page, len, write }),
        4 => (who, page(), len(), proptest::option::weighted(0.8, 0..NAMES.len()))
            .prop_map(|(who, page, len, name)| Seed::Name { who, page, len, name }),
        3 => (who, page(), len(), page())
            .prop_map(|(who, page, len, dest)| Seed::Move { who, page, len, dest }),
        1 => (who, page(), 2..=8u64, 1..8u64)
            .prop_map(|(who, page, len, keep)| Seed::Shrink { who, page, len, keep }),
        2 => (who, prop_oneof![4 => 1..=5i64, 1 => -1..=7i64])
            .prop_map(|(who, value)| Seed::ClearRefs { who, value }),
        3 => (who, page(), prop_oneof![1 => len(), 1 => 1..=ARENA_PAGES], any::<bool>())
            .prop_map(|(who, page, len, pageout)| Seed::ColdOrPageout { who, page, len, pageout }),
        5 => (who, page(), prop_oneof![1 => len(), 1 => 1..=ARENA_PAGES], proptest::bool::weighted(0.05))
            .prop_map(|(who, page, len, unaligned)| Seed::Reclaim { who, page, len, unaligned }),
        3 => (who, page(), len()).prop_map(|(who, page, len)| Seed::Free { who, page, len }),
        3 => (who, page(), len(), any::<bool>())
            .prop_map(|(who, page, len, write)| Seed::Populate { who, page, len, write }),
        2 => (who, page(), len()).prop_map(|(who, page, len)| Seed::WillNeed { who, page, len }),
        1 => (who, page(), len())
            .prop_map(|(who, page, len)| Seed::DontNeedLocked { who, page, len }),
        3 => (who, page(), len(), proptest::bool::weighted(0.3))
            .prop_map(|(who, page, len, onfault)| Seed::Mlock { who, page, len, onfault }),
        2 => (who, page(), len()).prop_map(|(who, page, len)| Seed::Munlock { who, page, len }),
        1 => (who, 0..MLOCKALL.len()).prop_map(|(who, flags)| Seed::Mlockall { who, flags }),
        1 => who.prop_map(|who| Seed::Munlockall { who }),
        2 => (who, page(), len(), page(), any::<bool>()).prop_map(
            |(who, page, len, dest, fixed)| Seed::DontUnmap { who, page, len, dest, fixed }
        ),
        2 => (who, page(), len(), 1..=8u64)
            .prop_map(|(who, page, len, extra)| Seed::Grow { who, page, len, extra }),
    ]
}

/// A case: a swap device (none, a few slots so that it fills up, or plenty) and a
/// [`sequence`].
pub fn case() -> impl Strategy<Value = Case> {
    let swap_pages = prop_oneof![1 => Just(0u64), 3 => 2..=9u64, 6 => Just(257u64)];
    (swap_pages, sequence()).prop_map(|(pages, seeds)| Case {
        swap_bytes: pages * PAGE,
        seeds,
    })
}

/// A case: 180 to 200 steps. Each step is `Some` but for one in a thousand; a step shrinks
/// to `None` (skipped) first, so a failing sequence shrinks to the few steps that matter
/// although the vector's length cannot go below 180.
pub fn sequence() -> impl Strategy<Value = Vec<Option<Seed>>> {
    proptest::collection::vec(proptest::option::weighted(0.999, seed()), 180..=200)
}

/// The lines every case starts with: the files, and one process with the whole arena mapped.
pub fn prologue() -> Vec<String> {
    let mut lines: Vec<String> = FILES
        .iter()
        .map(|(p, s)| format!("file path={p} size={s}"))
        .collect();
    lines.push("spawn pid=1 bare".into());
    lines.push(map_arena(1));
    lines
}

/// `[page, page+len)` clipped to the arena, as (addr, len) in bytes.
fn range(page: u64, len: u64) -> (u64, u64) {
    let len = len.min(ARENA_PAGES - page).max(1);
    ((ARENA_VPN + page) * PAGE, len * PAGE)
}

/// The command lines for `seed` in the model's current state: one, or for a spawn of a new
/// pid, the spawn and an mmap of the whole arena (a bare process has nothing mapped), or for
/// an op the model cannot predict, a `# avoided: ...` comment and the op made instead.
pub fn lines(seed: &Seed, model: &Model) -> Vec<String> {
    match *seed {
        Seed::Spawn { pid } if !model.procs.contains_key(&pid) => {
            vec![format!("spawn pid={pid} bare"), map_arena(pid)]
        }
        Seed::Reclaim {
            who,
            page,
            len,
            unaligned: false,
        } => {
            let line = line(seed, model);
            let live: Vec<u32> = model.procs.keys().copied().collect();
            let Some(&pid) = live.get(who % live.len().max(1)) else {
                return vec![line];
            };
            let (a, l) = range(page, len);
            if !model.reclaim_depends_on_walk_order(pid, a, l) {
                return vec![line];
            }
            vec![
                "# avoided: reclaim whose outcome depends on the rmap walk order".into(),
                format!("madvise pid={pid} addr={a:#x} len={l:#x} advice=cold"),
            ]
        }
        // A line may come after a `# avoided:` comment.
        _ => line(seed, model).split('\n').map(String::from).collect(),
    }
}

/// The end (an arena page index) of the run of pages from `page` that one VMA could hold: mapped,
/// with the same attributes and consecutive file pages; `page + 1` if `page` is not mapped.
fn run_end(model: &Model, pid: u32, page: u64) -> u64 {
    let pages = &model.procs[&pid];
    let Some(first) = pages.get(&(ARENA_VPN + page)) else {
        return page + 1;
    };
    let like = |q: &PageModel, d: u64| {
        q.prot == first.prot
            && q.shared == first.shared
            && q.file == first.file.map(|(f, i)| (f, i + d))
            && q.name == first.name
            && (q.locked, q.onfault) == (first.locked, first.onfault)
            && (q.dontfork, q.wipeonfork) == (first.dontfork, first.wipeonfork)
    };
    let mut end = page + 1;
    while end < ARENA_PAGES
        && pages
            .get(&(ARENA_VPN + end))
            .is_some_and(|q| like(q, end - page))
    {
        end += 1;
    }
    end
}

/// The start of the run of like pages holding `page` (see [`run_end`]).
fn run_start(model: &Model, pid: u32, page: u64) -> u64 {
    let mut start = page;
    while start > 0 && run_end(model, pid, start - 1) > page {
        start -= 1;
    }
    start
}

fn map_arena(pid: u32) -> String {
    format!(
        "mmap pid={pid} addr={:#x} len={:#x} prot=rw- flags=private,anonymous,fixed",
        ARENA_VPN * PAGE,
        ARENA_PAGES * PAGE
    )
}

/// The command line for `seed` in the model's current state.
fn line(seed: &Seed, model: &Model) -> String {
    let live: Vec<u32> = model.procs.keys().copied().collect();
    let pick = |who: usize| live.get(who % live.len().max(1)).copied();
    let who = match seed {
        Seed::Spawn { pid } => return format!("spawn pid={pid} bare"),
        Seed::Exit { who }
        | Seed::Fork { who, .. }
        | Seed::MmapAnon { who, .. }
        | Seed::MmapFile { who, .. }
        | Seed::MmapShared { who, .. }
        | Seed::Munmap { who, .. }
        | Seed::Mprotect { who, .. }
        | Seed::DontNeed { who, .. }
        | Seed::Advise { who, .. }
        | Seed::Touch { who, .. }
        | Seed::Name { who, .. }
        | Seed::Move { who, .. }
        | Seed::Shrink { who, .. }
        | Seed::ClearRefs { who, .. }
        | Seed::ColdOrPageout { who, .. }
        | Seed::Reclaim { who, .. }
        | Seed::Free { who, .. }
        | Seed::Populate { who, .. }
        | Seed::WillNeed { who, .. }
        | Seed::DontNeedLocked { who, .. }
        | Seed::Mlock { who, .. }
        | Seed::Munlock { who, .. }
        | Seed::Mlockall { who, .. }
        | Seed::Munlockall { who }
        | Seed::DontUnmap { who, .. }
        | Seed::Grow { who, .. } => *who,
    };
    let Some(pid) = pick(who) else {
        // Nobody is alive: start someone (pid 1 may have exited; reuse it).
        return "spawn pid=1 bare".into();
    };
    // An op on a range: `VERB pid=… addr=… len=…`, then the op's own arguments.
    let ranged = |verb: &str, page: u64, len: u64, args: &str| {
        let (a, l) = range(page, len);
        format!("{verb} pid={pid} addr={a:#x} len={l:#x}{args}")
    };
    match *seed {
        Seed::Spawn { .. } => unreachable!(),
        Seed::Exit { .. } => format!("exit pid={pid}"),
        Seed::Fork { child, .. } => format!("fork pid={pid} child={child}"),
        Seed::MmapAnon {
            page,
            len,
            prot,
            extra,
            ..
        } => {
            let args = format!(
                " prot={} flags=private,anonymous,fixed{}",
                PROTS[prot], MMAP_EXTRA[extra]
            );
            ranged("mmap", page, len, &args)
        }
        Seed::MmapFile {
            page,
            len,
            prot,
            file,
            off,
            extra,
            ..
        } => {
            let args = format!(
                " prot={} flags=private,fixed{} file={} offset={:#x}",
                ["r--", "rw-"][prot],
                MMAP_EXTRA[extra],
                FILES[file].0,
                off * PAGE
            );
            ranged("mmap", page, len, &args)
        }
        Seed::MmapShared {
            page,
            len,
            prot,
            extra,
            ..
        } => {
            let args = format!(
                " prot={} flags=shared,anonymous,fixed{}",
                PROTS[prot], MMAP_EXTRA[extra]
            );
            ranged("mmap", page, len, &args)
        }
        Seed::Munmap { page, len, .. } => ranged("munmap", page, len, ""),
        Seed::Mprotect {
            page, len, prot, ..
        } => ranged("mprotect", page, len, &format!(" prot={}", PROTS[prot])),
        Seed::DontNeed { page, len, .. } => ranged("madvise", page, len, " advice=dontneed"),
        Seed::Advise {
            page, len, advice, ..
        } => {
            let args = format!(" advice={}", FORK_ADVICE[advice]);
            ranged("madvise", page, len, &args)
        }
        Seed::Touch {
            page, len, write, ..
        } => {
            let access = if write { "write" } else { "read" };
            ranged("touch", page, len, &format!(" access={access}"))
        }
        Seed::Name {
            page, len, name, ..
        } => match name {
            Some(n) => ranged("name", page, len, &format!(" name=\"{}\"", NAMES[n])),
            None => ranged("name", page, len, " clear"),
        },
        Seed::Move {
            page, len, dest, ..
        } => {
            let (a, l) = range(page, len);
            let d = (ARENA_VPN + dest.min(ARENA_PAGES - l / PAGE)) * PAGE;
            format!(
                "mremap pid={pid} addr={a:#x} old_len={l:#x} new_len={l:#x} \
                 flags=maymove,fixed new_addr={d:#x}"
            )
        }
        Seed::Shrink {
            page, len, keep, ..
        } => {
            let (a, l) = range(page, len.max(2));
            let keep = keep.min(l / PAGE - 1).max(1) * PAGE;
            if keep >= l {
                return format!("munmap pid={pid} addr={a:#x} len={l:#x}");
            }
            format!("mremap pid={pid} addr={a:#x} old_len={l:#x} new_len={keep:#x}")
        }
        Seed::ClearRefs { value, .. } => format!("clear_refs pid={pid} value={value}"),
        Seed::ColdOrPageout {
            page, len, pageout, ..
        } => {
            let advice = if pageout { "pageout" } else { "cold" };
            ranged("madvise", page, len, &format!(" advice={advice}"))
        }
        Seed::Reclaim {
            page,
            len,
            unaligned,
            ..
        } => {
            let (a, l) = range(page, len);
            let a = if unaligned { a + 0x800 } else { a };
            format!("reclaim pid={pid} addr={a:#x} len={l:#x}")
        }
        Seed::Free { page, len, .. } => ranged("madvise", page, len, " advice=free"),
        Seed::Populate {
            page, len, write, ..
        } => {
            let advice = if write {
                "populate_write"
            } else {
                "populate_read"
            };
            ranged("madvise", page, len, &format!(" advice={advice}"))
        }
        Seed::WillNeed { page, len, .. } => ranged("madvise", page, len, " advice=willneed"),
        Seed::DontNeedLocked { page, len, .. } => {
            ranged("madvise", page, len, " advice=dontneed_locked")
        }
        Seed::Mlock {
            page, len, onfault, ..
        } => ranged(
            "mlock",
            page,
            len,
            if onfault { " flags=onfault" } else { "" },
        ),
        Seed::Munlock { page, len, .. } => ranged("munlock", page, len, ""),
        Seed::Mlockall { flags, .. } => format!("mlockall pid={pid} flags={}", MLOCKALL[flags]),
        Seed::Munlockall { .. } => format!("munlockall pid={pid}"),
        Seed::DontUnmap {
            page,
            len,
            dest,
            fixed,
            ..
        } => {
            // A hinted move takes one VMA: keep to the page's run of like pages.
            let len = if fixed {
                len
            } else {
                len.min(run_end(model, pid, page) - page)
            };
            let (a, l) = range(page, len);
            let n = l / PAGE;
            let d = dest.min(ARENA_PAGES - n);
            // A hint is used only where it is free: elsewhere the kernel would place the copy
            // top-down, far from the arena, where the model has no say. And it must not
            // overlap the source (EINVAL either way, but the fixed form says so).
            let pages = &model.procs[&pid];
            let free = (d..d + n).all(|p| !pages.contains_key(&(ARENA_VPN + p)));
            // A copy next to (or inside) an unfaulted locked source VMA may merge with it,
            // and dontunmap_complete then unlocks the copy too: whether it merges depends on
            // the anon_vma, which the page model does not know. Keep such a target a page
            // away from every locked source run, else move without MREMAP_DONTUNMAP.
            let near_locked = (page..page + n).any(|p| {
                pages.get(&(ARENA_VPN + p)).is_some_and(|q| q.locked)
                    && d <= run_end(model, pid, p)
                    && run_start(model, pid, p) <= d + n
            });
            let avoided = if near_locked {
                "# avoided: dontunmap next to a locked source VMA it may merge with\n"
            } else {
                ""
            };
            let flags = if near_locked {
                "maymove,fixed"
            } else if fixed || !free {
                "maymove,fixed,dontunmap"
            } else {
                "maymove,dontunmap"
            };
            // Now and then a resize, which MREMAP_DONTUNMAP refuses (EINVAL).
            let new_len = if dest == 0 && !near_locked {
                l + PAGE
            } else {
                l
            };
            format!(
                "{avoided}mremap pid={pid} addr={a:#x} old_len={l:#x} new_len={new_len:#x} \
                 flags={flags} new_addr={:#x}",
                (ARENA_VPN + d) * PAGE
            )
        }
        Seed::Grow {
            page, len, extra, ..
        } => {
            // Growth in place needs the old range to end at its VMA's end: mostly take the
            // page's run of like pages, whose end is the VMA's unless the simulator kept two
            // VMAs apart that the page model cannot tell apart.
            let len = if len % 4 == 0 {
                len
            } else {
                run_end(model, pid, page) - page
            };
            let (a, l) = range(page, len);
            // Within the arena: the pages above may be free there.
            let room = ARENA_PAGES - page - l / PAGE;
            let grown = l + extra.min(room) * PAGE;
            if grown == l {
                return ranged("touch", page, len, " access=read");
            }
            format!("mremap pid={pid} addr={a:#x} old_len={l:#x} new_len={grown:#x}")
        }
    }
}
