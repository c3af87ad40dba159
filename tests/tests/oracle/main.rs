//! Kernel oracles: the simulator against what a real Linux 6.18 kernel did.
//!
//! - This file: the oracle cases (`fixtures/fidelity`, 10 cases, and `fixtures/kernel-6.18`, 50
//!   more made by the same generator on this project's 6.18 machine). Each script lists every
//!   call the generator attempted, a failed one after `#! err ERRNO` (some calls change state
//!   before they fail); it is run in-process with the language's session, every expectation and
//!   every invariant checked after each call, and every `expected.N.smaps` must equal the arena
//!   blocks of the simulated `N/smaps`, ignoring only the machine-dependent `THPeligible` and
//!   `ProtectionKey` lines (the rules of `compare.py`).
//!   `fixtures/manage-6.18` (125 cases of the project's `gen_manage.c`, run with a swap file
//!   on) adds the calls that manage memory (MADV_FREE, COLD, PAGEOUT, POPULATE_*, WILLNEED,
//!   DONTNEED_LOCKED, the mlock family, MAP_LOCKED/POPULATE, MREMAP_DONTUNMAP, clear_refs) over
//!   three processes (a child and a grandchild), and also compares `expected.N.pagemap`, the
//!   pagemap flags of every arena page.
//! - [`swap`]: `fixtures/swap-6.18`, swap-out, swap-in and fork of swap entries.
//! - [`procfs_roundtrip`]: every text file of the demo parsed back by the `procfs` crate.
//!
//! To see where a case diverges, run with `ORACLE_TRACE=seed-001`: the arena's maps lines of
//! every process are printed after each call of the matching script.

mod procfs_roundtrip;
mod swap;

use anonmap_lang::Session;
use anonmap_mm::{Machine, MachineConfig};
use anonmap_testkit::oracle::{cases, run_cases};

/// Runs every case under `dir` and asserts that every expected file matches.
fn assert_cases_match(dir: &str) {
    let r = run_cases(dir);
    eprintln!(
        "oracle {dir}: {} cases, {} calls ({} failed as the kernel's did), {} expected files, {} \
         differ",
        r.cases,
        r.calls,
        r.expected_failures,
        r.files,
        r.failures.len()
    );
    assert!(r.files > 0, "no expected files under {dir}");
    assert!(r.failures.is_empty(), "{}", r.failures.join("\n"));
}

#[test]
fn every_fidelity_case_matches_the_kernel() {
    assert_cases_match("fidelity");
}

#[test]
fn every_locally_generated_kernel_case_matches() {
    assert_cases_match("kernel-6.18");
}

#[test]
fn every_memory_management_case_matches_the_kernel() {
    assert_cases_match("manage-6.18");
}

#[test]
fn a_wrong_expectation_is_caught() {
    // The checker itself: a case whose `#! err` is dropped must stop at that call.
    let case = cases("fidelity")
        .into_iter()
        .find(|c| {
            std::fs::read_to_string(c.join("script.anonmap"))
                .unwrap()
                .contains("#! err ")
        })
        .expect("a case with a failed call");
    let text = std::fs::read_to_string(case.join("script.anonmap"))
        .unwrap()
        .replacen("#! err ", "# was: err ", 1);
    let mut m = Machine::new(MachineConfig::with_ram(64 << 20));
    let e = Session::new().run_script(&mut m, &text).unwrap_err();
    assert!(e.message.starts_with("failed: "), "{e}");
}
