//! Generated op sequences: abstract op seeds (what proptest generates and shrinks) and their
//! resolution, against the model's current state, into command lines. Resolution picks the
//! acting process among the live ones, so a shrunk sequence still acts on live processes.

use proptest::prelude::*;

use super::reference::{Model, ARENA_PAGES, ARENA_VPN, PAGE};

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
    MmapAnon {
        who: usize,
        page: u64,
        len: u64,
        prot: usize,
    },
    MmapFile {
        who: usize,
        page: u64,
        len: u64,
        prot: usize,
        file: usize,
        off: u64,
    },
    MmapShared {
        who: usize,
        page: u64,
        len: u64,
        prot: usize,
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
        4 => (who, page(), len(), 0..PROTS.len())
            .prop_map(|(who, page, len, prot)| Seed::MmapAnon { who, page, len, prot }),
        2 => (who, page(), len(), 0..2usize, 0..FILES.len(), 0..12u64).prop_map(
            |(who, page, len, prot, file, off)| Seed::MmapFile { who, page, len, prot, file, off }
        ),
        2 => (who, page(), len(), 0..PROTS.len())
            .prop_map(|(who, page, len, prot)| Seed::MmapShared { who, page, len, prot }),
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
/// pid, the spawn and an mmap of the whole arena (a bare process has nothing mapped).
pub fn lines(seed: &Seed, model: &Model) -> Vec<String> {
    match *seed {
        Seed::Spawn { pid } if !model.procs.contains_key(&pid) => {
            vec![format!("spawn pid={pid} bare"), map_arena(pid)]
        }
        _ => vec![line(seed, model)],
    }
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
        | Seed::Reclaim { who, .. } => *who,
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
            page, len, prot, ..
        } => {
            let args = format!(" prot={} flags=private,anonymous,fixed", PROTS[prot]);
            ranged("mmap", page, len, &args)
        }
        Seed::MmapFile {
            page,
            len,
            prot,
            file,
            off,
            ..
        } => {
            let args = format!(
                " prot={} flags=private,fixed file={} offset={:#x}",
                ["r--", "rw-"][prot],
                FILES[file].0,
                off * PAGE
            );
            ranged("mmap", page, len, &args)
        }
        Seed::MmapShared {
            page, len, prot, ..
        } => {
            let args = format!(" prot={} flags=shared,anonymous,fixed", PROTS[prot]);
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
    }
}
