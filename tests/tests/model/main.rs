//! Random op sequences against a naive reference model (the mountpoint-s3 `tests/reftests/`
//! habit): several processes (spawned bare, forked in chains, exiting in any order) map
//! private anonymous, shared anonymous (shmem) and private file memory into a 64-page arena,
//! then protect, name, advise, move, touch and discard it. After every op the simulator's
//! invariants are checked and every view (maps, smaps counters, pagemap, rmap, status, the name
//! table, the page cache) must agree, page by page, with a model that knows only what Linux
//! promises a program: which content each page holds (`reference.rs`, checks in `check.rs`,
//! generation in `gen.rs`).
//!
//! The machine has little RAM, so `touch` sometimes fails with ENOMEM; the model predicts when
//! and that nothing changed. It has a swap device (none, a few slots, or plenty): `reclaim`
//! swaps anonymous pages out of every process at once and drops file pages from the page
//! cache, and later touches swap them back in through the swap cache. The model predicts
//! exactly which pages get slots (address order in the reclaiming process, a swap-cached page
//! reusing its slot, the rest staying resident once the device is full) and checks the slot
//! and frame numbers the simulator picks for consistency: one slot per swapped content, one
//! frame per resident content, both stable while the content stays swapped or resident.
//!
//! On failure the message lists the op sequence as command lines, which replay as a script
//! (`Run::script`, whose second argument is the swap size the first line, a `# swap_bytes=`
//! comment, gives).
//! `MODEL_CASES` overrides the number of cases (each of 180 to 200 generated ops, plus the
//! prologue and the final exits).

mod check;
mod gen;
mod reference;

use std::collections::BTreeMap;

use anonmap_abi::{Call, MmapArgs, Outcome};
use anonmap_lang::{parse_call, verb};
use anonmap_mm::{Machine, MachineConfig};
use proptest::prelude::*;

use reference::{Expect, Model, PAGE};

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
        // The simulator's VMA bounds before the op, for the model's fault-around window.
        let mut bounds: BTreeMap<u32, Vec<(u64, u64)>> = BTreeMap::new();
        if matches!(call, Call::Touch(_)) {
            for pid in self.machine.pids() {
                let view = self.machine.address_space_view(pid).expect("live");
                let list = view
                    .vmas
                    .iter()
                    .map(|v| (v.start / PAGE, v.end / PAGE))
                    .collect();
                bounds.insert(pid, list);
            }
        }
        let lookup = move |pid: u32, vpn: u64| {
            bounds
                .get(&pid)?
                .iter()
                .find(|&&(s, e)| s <= vpn && vpn < e)
                .copied()
        };
        let applied = self.model.apply(&call, &lookup);
        let got = self.machine.apply(&call);
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
        .filter(|(k, _)| !k.starts_with("event: "))
        .map(|(_, n)| n)
        .sum();
    eprintln!("{} cases, {ops} ops: {outcomes:?}", cases());
    assert!(ops >= 10_000 || cases() < DEFAULT_CASES, "only {ops} ops");
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
    assert_eq!(outcomes.len(), 10, "everything else succeeds: {outcomes:?}");
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
