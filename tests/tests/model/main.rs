//! Random op sequences against a naive reference model (the mountpoint-s3 `tests/reftests/`
//! habit): several processes (spawned bare, forked in chains, exiting in any order) map
//! private anonymous, shared anonymous (shmem) and private file memory into a 64-page arena
//! (now and then with MAP_POPULATE or MAP_LOCKED), then protect, name, move, grow in place,
//! touch and discard it, advise it (DONTNEED and DONTNEED_LOCKED, the fork advices, FREE,
//! COLD, PAGEOUT, WILLNEED, POPULATE_READ and POPULATE_WRITE), lock and unlock it (mlock with
//! and without MLOCK_ONFAULT, munlock, every mlockall flag set, munlockall), move it with
//! MREMAP_DONTUNMAP (fixed or to a free hint), and clear its reference bits. After every op
//! the simulator's invariants are checked and every view (maps and VmFlags, smaps counters,
//! pagemap, rmap and page flags, status, the name table, the page cache) must agree, page by
//! page, with a model that knows only what Linux promises a program: which content each page
//! holds (`reference.rs`, checks in `check.rs`, generation in `gen.rs`).
//!
//! The machine has little RAM, so `touch` and population sometimes fail with ENOMEM; the model
//! predicts when, and that a touch changed nothing while a population keeps what it did before
//! the failure. It has a swap device (none, a few slots, or plenty): `reclaim` swaps anonymous
//! pages out of every process at once, discards lazyfree ones, drops file pages from the page
//! cache and leaves mlocked ones alone, and later touches swap them back in through the swap
//! cache. The model predicts exactly which pages get slots (address order in the reclaiming
//! process, a swap-cached page reusing its slot, the rest staying resident once the device is
//! full) and checks the slot and frame numbers the simulator picks for consistency: one slot
//! per swapped content, one frame per resident content, both stable while the content stays
//! swapped or resident. Two corners depend on the rmap walk's order, which a page model cannot
//! know (a reclaim that a locked mapping stops after others, a lazyfree page with clean and
//! dirty mappings), and one on whether a copy merges with its unfaulted source VMA (a
//! MREMAP_DONTUNMAP next to a locked source): the generator steers around them and counts how
//! often (`avoided: ...`).
//!
//! On failure the message lists the op sequence as command lines, which replay as a script
//! (`Run::script`, whose second argument is the swap size the first line, a `# swap_bytes=`
//! comment, gives; `replay_a_script` runs one from a file).
//! `MODEL_CASES` overrides the number of cases (each of 180 to 200 generated ops, plus the
//! prologue and the final exits).

mod check;
mod gen;
mod reference;

use std::cell::RefCell;
use std::collections::BTreeMap;

use anonmap_abi::{Call, MmapArgs, Outcome};
use anonmap_lang::{parse_call, verb};
use anonmap_mm::{Machine, MachineConfig};
use proptest::prelude::*;

use reference::{Bounds, Expect, Model, PAGE};

/// Small RAM: 48 frames (the zero page is one); the arena alone is 64 pages, so writers run out.
const RAM: u64 = 48 * PAGE;
const DEFAULT_CASES: u32 = 256;

/// One simulator and its model, fed the same lines.
struct Run {
    machine: Machine,
    model: Model,
    lines: Vec<String>,
    /// How often each verb returned each result (`touch ok`, `touch ENOMEM`), for the summary.
    outcomes: BTreeMap<String, u64>,
}

impl Run {
    fn new(swap_bytes: u64) -> Run {
        Run {
            machine: Machine::new(MachineConfig {
                ram_bytes: RAM,
                swap_bytes,
                soft_dirty: false,
                auto_reclaim: false,
            }),
            model: Model::new(RAM, swap_bytes),
            lines: Vec::new(),
            outcomes: BTreeMap::new(),
        }
    }

    /// Applies one line to both and checks everything; the error carries the whole sequence.
    fn step(&mut self, line: String) -> Result<(), String> {
        self.lines.push(line);
        self.step_inner()
            .map_err(|e| format!("{e}\nop sequence (replayable):\n{}", self.lines.join("\n")))
    }

    fn step_inner(&mut self) -> Result<(), String> {
        let line = self.lines.last().expect("just pushed");
        let call = parse_call(line).map_err(|e| format!("parse {line:?}: {e:?}"))?;
        // The simulator's VMA bounds before the op, for the ops that act on their source VMAs
        // whole (mprotect's population, mremap's growth and MREMAP_DONTUNMAP).
        let before = if matches!(call, Call::Mprotect(_) | Call::Mremap(_)) {
            vma_bounds(&self.machine)
        } else {
            BTreeMap::new()
        };
        let got = self.machine.apply(&call);
        // And after it, read only when the model asks (fault-around, population).
        let after: RefCell<Option<VmaMap>> = RefCell::new(None);
        let machine = &self.machine;
        let after_lookup = |pid: u32, vpn: u64| {
            let mut after = after.borrow_mut();
            let map = after.get_or_insert_with(|| vma_bounds(machine));
            find_vma(map, pid, vpn)
        };
        let before_lookup = |pid: u32, vpn: u64| find_vma(&before, pid, vpn);
        let bounds = Bounds {
            before: &before_lookup,
            after: &after_lookup,
        };
        let applied = self.model.apply(&call, &bounds);
        let agree = match (&applied.expect, &got) {
            (Expect::Ok(a), Ok(b)) => a == b,
            (Expect::Err(a), Err(b)) => *a == b.errno,
            _ => false,
        };
        if !agree {
            return Err(format!(
                "{line}: simulator returned {got:?}, model expected {:?}",
                applied.expect
            ));
        }
        if let (Call::Mmap(MmapArgs { pid, flags, .. }), Ok(Outcome::Addr(at))) = (&call, &got) {
            if flags.shared {
                // Learn the new shmem object's inode (numbering is the simulator's choice).
                let view = self.machine.address_space_view(*pid).expect("live");
                let v = view.vmas.iter().find(|v| v.start <= *at && *at < v.end);
                let file = self.model.files.last_mut().expect("just created");
                file.inode = v.map(|v| v.inode);
            }
        }
        let result = match &got {
            Ok(_) => "ok",
            Err(e) => e.errno.name(),
        };
        *self
            .outcomes
            .entry(format!("{} {result}", verb(&call)))
            .or_default() += 1;
        if let Some(form) = form(&call) {
            *self
                .outcomes
                .entry(format!("form: {form} {result}"))
                .or_default() += 1;
        }
        self.machine
            .check_invariants()
            .map_err(|e| format!("{line}: check_invariants: {e}"))?;
        check::resolve_uncertain(&self.machine, &mut self.model, &applied.uncertain)
            .map_err(|e| format!("{line}: {e}"))?;
        check::check_all(&self.machine, &mut self.model).map_err(|e| format!("after {line}: {e}"))
    }

    /// Runs a script (one command per line) through every check; returns how often each verb
    /// had each result.
    fn script(script: &str, swap_bytes: u64) -> Result<BTreeMap<String, u64>, String> {
        let mut run = Run::new(swap_bytes);
        for line in script
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            run.step(line.to_string())?;
        }
        Ok(run.finish())
    }

    /// The outcomes, with the model's events (`event: ...`) added.
    fn finish(mut self) -> BTreeMap<String, u64> {
        for (what, n) in &self.model.events {
            *self.outcomes.entry(format!("event: {what}")).or_default() += n;
        }
        self.outcomes
    }
}

/// Per process, its VMAs' bounds in pages.
type VmaMap = BTreeMap<u32, Vec<(u64, u64)>>;

/// Every process's VMA bounds in pages, from the simulator's maps.
fn vma_bounds(m: &Machine) -> VmaMap {
    m.pids()
        .into_iter()
        .map(|pid| {
            let view = m.address_space_view(pid).expect("live");
            let list = view
                .vmas
                .iter()
                .map(|v| (v.start / PAGE, v.end / PAGE))
                .collect();
            (pid, list)
        })
        .collect()
}

fn find_vma(map: &VmaMap, pid: u32, vpn: u64) -> Option<(u64, u64)> {
    map.get(&pid)?
        .iter()
        .find(|&&(s, e)| s <= vpn && vpn < e)
        .copied()
}

/// The form of an op worth counting apart from its verb (an advice, a kind of mremap, the lock
/// flags), so that the coverage test proves each form ran.
fn form(call: &Call) -> Option<String> {
    Some(match call {
        Call::Madvise(a) => format!("madvise {}", a.advice.name()),
        Call::Mremap(a) if a.flags.dontunmap && a.flags.fixed => "mremap dontunmap,fixed".into(),
        Call::Mremap(a) if a.flags.dontunmap => "mremap dontunmap".into(),
        Call::Mremap(a) if a.new_len > a.old_len => "mremap grow".into(),
        Call::Mlock(a) if a.flags.onfault => "mlock onfault".into(),
        Call::Mlockall(a) => {
            let f = a.flags;
            let words = [
                (f.current, "current"),
                (f.future, "future"),
                (f.onfault, "onfault"),
            ];
            let set: Vec<&str> = words.iter().filter(|w| w.0).map(|w| w.1).collect();
            format!("mlockall {}", set.join(","))
        }
        Call::Mmap(a) if a.flags.locked => "mmap locked".into(),
        Call::Mmap(a) if a.flags.populate => "mmap populate".into(),
        _ => return None,
    })
}

/// Whether an outcome key counts an op (not an event, a form, or an avoided corner).
fn is_op(key: &str) -> bool {
    !["event: ", "form: ", "avoided: "]
        .iter()
        .any(|p| key.starts_with(p))
}

/// Runs a prologue and the case's seeds; returns how often each verb had each result.
fn run_case(case: &gen::Case) -> Result<BTreeMap<String, u64>, String> {
    let mut run = Run::new(case.swap_bytes);
    run.lines
        .push(format!("# swap_bytes={:#x}", case.swap_bytes));
    for line in gen::prologue() {
        run.step(line)?;
    }
    for s in case.seeds.iter().flatten() {
        for line in gen::lines(s, &run.model) {
            // A comment: the generator steered away from a corner (see `gen::lines`).
            if let Some(what) = line.strip_prefix("# avoided: ") {
                *run.outcomes.entry(format!("avoided: {what}")).or_default() += 1;
                run.lines.push(line);
                continue;
            }
            run.step(line)?;
        }
    }
    // The end of a case: every process exits, parents before children where they are
    // ordered so, and everything must be freed but the page cache.
    let pids: Vec<u32> = run.model.procs.keys().copied().collect();
    for pid in pids {
        run.step(format!("exit pid={pid}"))?;
    }
    Ok(run.finish())
}

fn cases() -> u32 {
    std::env::var("MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 4096,
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::Direct(
            "tests/model/proptest-regressions"
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_ops_agree_with_the_reference_model(
        case in gen::case()
    ) {
        if let Err(e) = run_case(&case) {
            return Err(TestCaseError::fail(e));
        }
    }
}

/// Not a property: the total of the property's run must reach 10,000 ops and hit ENOMEM. It
/// runs the same generator with a fixed seed, so it is deterministic.
#[test]
fn a_default_run_covers_ten_thousand_ops_and_enomem() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = gen::case();
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    for _ in 0..cases() {
        let case = strategy.new_tree(&mut runner).expect("tree").current();
        for (k, n) in run_case(&case).unwrap_or_else(|e| panic!("{e}")) {
            *outcomes.entry(k).or_default() += n;
        }
    }
    let ops: u64 = outcomes
        .iter()
        .filter(|(k, _)| is_op(k))
        .map(|(_, n)| n)
        .sum();
    eprintln!("{} cases, {ops} ops: {outcomes:?}", cases());
    assert!(ops >= 10_000 || cases() < DEFAULT_CASES, "only {ops} ops");
    // The corners the generator steers away from stay rare.
    let avoided: u64 = outcomes
        .iter()
        .filter(|(k, _)| k.starts_with("avoided: "))
        .map(|(_, n)| n)
        .sum();
    assert!(avoided * 200 < ops, "{avoided} ops avoided of {ops}");
    for needed in [
        "touch ENOMEM",
        "touch EFAULT",
        "touch ok",
        "fork ok",
        "exit ok",
        "mremap ok",
        "mprotect ENOMEM",
        "name ENOMEM",
        "name EBADF",
        "name EINVAL",
        "madvise ok",
        "reclaim ok",
        "clear_refs ok",
        "clear_refs EINVAL",
        "reclaim ENOMEM",
        "reclaim EINVAL",
        "event: swap-in",
        "event: swap-in from the swap cache",
        "event: swap-in for a write that copies",
        "event: swap full: a page stays resident",
        "event: swap-out of a page mapped more than once",
        "event: file page dropped",
        "event: an unmapped frame in the swap cache",
        "event: fork of swap entries",
        "event: swap entries zapped",
        "event: mremap of swap entries",
        "event: swap-in for a write in place",
        "event: swap-out of a swap-cache page (its own slot)",
        // The calls that manage memory, each form.
        "form: madvise free ok",
        "form: madvise free EINVAL",
        "form: madvise populate_read ok",
        "form: madvise populate_write ok",
        "form: madvise populate_read ENOMEM",
        "form: madvise populate_write EINVAL",
        "form: madvise populate_read EFAULT",
        "form: madvise willneed ok",
        "form: madvise dontneed_locked ok",
        "form: madvise dontneed EINVAL",
        "form: madvise pageout EINVAL",
        "form: madvise cold EINVAL",
        "mlock ok",
        "mlock ENOMEM",
        "mlock EAGAIN",
        "form: mlock onfault ok",
        "munlock ok",
        "munlock ENOMEM",
        "mlockall ok",
        "mlockall EINVAL",
        "form: mlockall current ok",
        "form: mlockall future ok",
        "form: mlockall current,future,onfault ok",
        "munlockall ok",
        "form: mmap locked ok",
        "form: mmap populate ok",
        "form: mremap dontunmap ok",
        "form: mremap dontunmap,fixed ok",
        "form: mremap grow ok",
        "event: page made lazyfree",
        "event: lazyfree page discarded",
        "event: lazyfree page redirtied kept",
        "event: swap entry freed by MADV_FREE",
        "event: swap-in by willneed",
        "event: swap-in of a page willneed read",
        "event: locked page not reclaimed",
        "event: swap-in into a locked VMA leaves the page unmlocked",
        "event: swap-in into a locked VMA frees the swap",
        "event: COW in a locked VMA",
        "event: dontneed_locked zapped a locked page",
        "event: a locked VMA grew",
        "event: mprotect populates a locked VMA",
        "event: dontunmap unlocked its source",
        "event: a write GUP dirtied a page through a clean PTE",
        "event: page activated by a second touch",
        "event: population stopped by an error",
    ] {
        assert!(outcomes.contains_key(needed), "the run never had {needed}");
    }
}

/// A fixed scenario through the same checks: a fork chain sharing COW pages, a move of shared
/// pages (the rmap must find them at the new address in one process and the old one in the
/// others), names with spaces and ':', the parent exiting before its children, file pages
/// shared through the page cache, and a touch that runs out of RAM and changes nothing.
#[test]
fn scripted_fork_chain_move_and_exit() {
    let outcomes = Run::script(
        "
        file path=/data/app.odex size=81920
        spawn pid=1 bare
        mmap pid=1 addr=0x3ffe8000 len=0x40000 prot=rw- flags=private,anonymous,fixed
        touch pid=1 addr=0x3ffe8000 len=0x8000 access=write
        name pid=1 addr=0x3ffe8000 len=0x4000 name=\"dalvik-main space: a\"
        mmap pid=1 addr=0x40000000 len=0x8000 prot=r-- flags=private,fixed file=/data/app.odex offset=0x2000
        touch pid=1 addr=0x40001000 len=0x1000 access=read
        fork pid=1 child=2
        fork pid=2 child=3
        touch pid=2 addr=0x3ffe9000 len=0x1000 access=write
        mremap pid=3 addr=0x3ffe8000 old_len=0x4000 new_len=0x4000 flags=maymove,fixed new_addr=0x40010000
        touch pid=3 addr=0x40000000 len=0x8000 access=read
        exit pid=1
        touch pid=3 addr=0x40011000 len=0x2000 access=write
        madvise pid=2 addr=0x3ffe8000 len=0x8000 advice=dontneed
        touch pid=3 addr=0x3fff0000 len=0x10000 access=write
        touch pid=3 addr=0x40014000 len=0x14000 access=write
        touch pid=3 addr=0x40014000 len=0x4000 access=write
        exit pid=2
        exit pid=3
        ",
        0,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcomes.get("touch ENOMEM"), Some(&1), "{outcomes:?}");
    let ops = outcomes.keys().filter(|k| is_op(k)).count();
    assert_eq!(ops, 10, "everything else succeeds: {outcomes:?}");
}

/// A fixed swap scenario through the same checks: a fork chain whose shared pages are reclaimed
/// into a 4-slot device (the first four get slots in address order, the rest stay resident),
/// file pages dropped from the page cache, swap-in through the swap cache (the second process
/// maps the first one's frame), a write that copies a swapped-in page, a swap-cache frame left
/// unmapped, a second reclaim reusing a swap-cache page's slot, and the exits freeing it all.
#[test]
fn scripted_reclaim_swap_full_and_swap_in() {
    let outcomes = Run::script(
        "
        file path=/data/app.odex size=81920
        spawn pid=1 bare
        mmap pid=1 addr=0x40000000 len=0x8000 prot=rw- flags=private,anonymous,fixed
        touch pid=1 addr=0x40000000 len=0x8000 access=write
        mmap pid=1 addr=0x40010000 len=0x4000 prot=r-- flags=private,fixed file=/data/app.odex
        touch pid=1 addr=0x40010000 len=0x4000 access=read
        fork pid=1 child=2
        fork pid=2 child=3
        reclaim pid=2 addr=0x40000000 len=0x8000
        reclaim pid=1 addr=0x40010000 len=0x4000
        touch pid=3 addr=0x40000000 len=0x2000 access=read
        touch pid=1 addr=0x40000000 len=0x1000 access=read
        touch pid=2 addr=0x40001000 len=0x1000 access=write
        madvise pid=3 addr=0x40001000 len=0x1000 advice=dontneed
        reclaim pid=1 addr=0x40000000 len=0x8000
        reclaim pid=1 addr=0x3fff0000 len=0x20000
        exit pid=1
        touch pid=3 addr=0x40000000 len=0x8000 access=write
        touch pid=2 addr=0x40010000 len=0x4000 access=read
        exit pid=2
        exit pid=3
        ",
        5 * PAGE,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for needed in [
        "reclaim ok",
        "reclaim ENOMEM",
        "event: swap full: a page stays resident",
        "event: file page dropped",
        "event: swap-in from the swap cache",
        "event: swap-in for a write that copies",
        "event: an unmapped frame in the swap cache",
        "event: swap-out of a swap-cache page (its own slot)",
    ] {
        assert!(outcomes.contains_key(needed), "no {needed}: {outcomes:?}");
    }
}

/// A fixed scenario of the calls that manage memory through the same checks: MADV_FREE of
/// pages one of which is written again (reclaim discards the clean one, reads zeroes there, and
/// keeps the written one), a lazyfree page shared with a child (both mappings clean: discarded
/// in both), MADV_WILLNEED reading a swapped page back into the swap cache and a fault mapping
/// it from there, mlock on fault of swapped pages (swapped in afresh, not mlocked) and
/// populated mlock (mlocked, never reclaimed, madvise refusing it), mlockall's future flag
/// locking a later mmap, a locked VMA grown in place and made writable, MREMAP_DONTUNMAP of a
/// locked VMA (the source stays, empty and unlocked, locked_vm not uncharged), and
/// MADV_POPULATE errors (a hole, a missing permission, a page past the end of the file).
#[test]
fn scripted_lazyfree_mlock_and_dontunmap() {
    let outcomes = Run::script(
        "
        file path=/data/app.odex size=81920
        spawn pid=1 bare
        mmap pid=1 addr=0x40000000 len=0x8000 prot=rw- flags=private,anonymous,fixed
        touch pid=1 addr=0x40000000 len=0x4000 access=write
        madvise pid=1 addr=0x40000000 len=0x4000 advice=free
        touch pid=1 addr=0x40001000 len=0x1000 access=write
        fork pid=1 child=2
        reclaim pid=1 addr=0x40000000 len=0x4000
        touch pid=1 addr=0x40000000 len=0x2000 access=read
        touch pid=1 addr=0x40004000 len=0x2000 access=write
        reclaim pid=1 addr=0x40004000 len=0x2000
        madvise pid=1 addr=0x40004000 len=0x2000 advice=willneed
        touch pid=1 addr=0x40004000 len=0x1000 access=read
        mlock pid=1 addr=0x40004000 len=0x2000 flags=onfault
        touch pid=1 addr=0x40005000 len=0x1000 access=write
        reclaim pid=1 addr=0x40004000 len=0x2000
        madvise pid=1 addr=0x40004000 len=0x2000 advice=dontneed
        madvise pid=1 addr=0x40004000 len=0x1000 advice=dontneed_locked
        mlockall pid=1 flags=future
        mmap pid=1 addr=0x40010000 len=0x2000 prot=r-- flags=private,anonymous,fixed
        mremap pid=1 addr=0x40010000 old_len=0x2000 new_len=0x4000
        mprotect pid=1 addr=0x40010000 len=0x4000 prot=rw-
        reclaim pid=1 addr=0x40010000 len=0x4000
        mremap pid=1 addr=0x40010000 old_len=0x2000 new_len=0x2000 flags=maymove,fixed,dontunmap new_addr=0x40018000
        munlockall pid=1
        madvise pid=1 addr=0x40008000 len=0x2000 advice=populate_read
        madvise pid=1 addr=0x40000000 len=0x2000 advice=populate_write
        mmap pid=1 addr=0x40024000 len=0x2000 prot=r-- flags=private,fixed file=/data/app.odex offset=0x13000
        madvise pid=1 addr=0x40024000 len=0x2000 advice=populate_write
        madvise pid=1 addr=0x40024000 len=0x2000 advice=populate_read
        exit pid=1
        exit pid=2
        ",
        9 * PAGE,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for needed in [
        "event: page made lazyfree",
        "event: lazyfree page discarded",
        "event: lazyfree page redirtied kept",
        "event: swap-in by willneed",
        "event: swap-in of a page willneed read",
        "event: swap-in into a locked VMA leaves the page unmlocked",
        "event: locked page not reclaimed",
        "event: a locked VMA grew",
        "event: mprotect populates a locked VMA",
        "event: dontunmap unlocked its source",
        "event: dontneed_locked zapped a locked page",
        "form: madvise dontneed EINVAL",
        "form: madvise populate_read ENOMEM",
        "form: madvise populate_write EINVAL",
        "form: madvise populate_read EFAULT",
        "form: mremap dontunmap,fixed ok",
    ] {
        assert!(outcomes.contains_key(needed), "no {needed}: {outcomes:?}");
    }
}

/// Not run by default: replays the op sequence of a failure (as its message prints it) from the
/// file `MODEL_SCRIPT` names, through every check.
#[test]
#[ignore = "a debugging aid: MODEL_SCRIPT=FILE cargo test --test model replay -- --ignored"]
fn replay_a_script() {
    let path = std::env::var("MODEL_SCRIPT").expect("MODEL_SCRIPT names a script");
    let script = std::fs::read_to_string(path).expect("readable");
    let swap_bytes = script
        .lines()
        .find_map(|l| l.trim().strip_prefix("# swap_bytes="))
        .map_or(0, |v| {
            u64::from_str_radix(v.trim_start_matches("0x"), 16).expect("hex")
        });
    // MODEL_TRACE=N: after each of the last N lines, the model's free frames and the
    // simulator's VMAs (start, end, flags) of every process.
    let trace: usize = std::env::var("MODEL_TRACE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let lines: Vec<&str> = script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let mut run = Run::new(swap_bytes);
    for (i, line) in lines.iter().enumerate() {
        let result = run.step(line.to_string());
        if i + trace >= lines.len() {
            eprintln!("{line}\n  free frames (model): {}", run.model.free_frames());
            for pid in run.machine.pids() {
                let view = run.machine.address_space_view(pid).expect("live");
                let vmas: Vec<String> = view
                    .vmas
                    .iter()
                    .map(|v| format!("{:x}-{:x}:{:x}", v.start, v.end, v.flags))
                    .collect();
                eprintln!("  pid {pid}: {}", vmas.join(" "));
            }
        }
        if let Err(e) = result {
            panic!("{e}");
        }
    }
    eprintln!("{:?}", run.finish());
}
