//! The kernel oracle cases (`fixtures/fidelity/seed-*`): each script, made by a real Linux 6.18
//! kernel from a random generator, is applied in-process, and every `expected.N.smaps` must
//! equal the arena blocks of the simulated `N/smaps`, ignoring only the machine-dependent
//! `THPeligible` and `ProtectionKey` lines (the rules of `compare.py`).
//!
//! Each case is also replayed from its seed (`anonmap_tests::kernel_gen`), which restores the
//! failed calls the scripts leave out; replayed, every case must match exactly, the simulator
//! must accept exactly the script's calls, and a case may differ from its script alone only if
//! one of its mprotect or madvise calls failed. `fixtures/kernel-6.18` holds 50 more cases made
//! by the same generator on a 6.18 kernel.
//!
//! To see where a case diverges, run with `ORACLE_TRACE=seed-001`: the arena's maps lines of
//! every process are printed after each op of the matching script.

use std::path::Path;

use anonmap_daemon::mm::{Machine, MachineConfig};
use anonmap_tests::oracle::{apply_script, cases, compare_case, replay_all};

/// Runs a script, checking the invariants after every op.
fn run_script(path: &Path) -> Machine {
    let text = std::fs::read_to_string(path).unwrap();
    let trace = std::env::var("ORACLE_TRACE").is_ok_and(|t| path.to_string_lossy().contains(&t));
    let mut m = Machine::new(MachineConfig::with_ram(64 << 20));
    apply_script(&mut m, &text, |m, n, line| {
        if trace {
            eprintln!("{n}: {line}");
            for pid in m.pids() {
                let mut out = Vec::new();
                anonmap_fusefs::render::render_maps(&m.address_space_view(pid).unwrap(), &mut out);
                for l in String::from_utf8(out)
                    .unwrap()
                    .lines()
                    .filter(|l| l.starts_with("2000000"))
                {
                    eprintln!("   {pid}: {l}");
                }
            }
        }
        m.check_invariants()
            .map_err(|e| format!("invariant broken: {e}"))
    })
    .unwrap_or_else(|e| panic!("{}:{e}", path.display()));
    m
}

/// Expected files whose kernel state includes the effect of an op that failed and so is not
/// in the script: gen.c writes only ops that returned 0, yet mprotect (stopping at a hole)
/// and madvise(MADV_DONTNEED) (over a hole) change the mapped parts before returning ENOMEM.
/// Each entry names the divergence seen; `reconstructed/` holds cases whose missing op was
/// restored and which then match exactly.
const KNOWN_GENERATOR_GAPS: &[(&str, &str)] = &[
    ("seed-001/expected.1.smaps", "200000092000-200000094000 is r--p in the kernel; no recorded op makes it so (see reconstructed/seed-001)"),
    ("seed-003/expected.1.smaps", "the kernel keeps 2000000cb000-2000000d0000 separate from its neighbour"),
    ("seed-003/expected.2.smaps", "2000000c0000-2000000c4000 is r--p in the child's kernel state; no recorded op makes it so"),
    ("seed-009/expected.1.smaps", "one page of 20000007d000-200000086000 is unshared in the kernel (the child lost its mapping)"),
    ("seed-009/expected.2.smaps", "the child maps one page fewer of 20000007d000-200000086000 than its recorded ops leave"),
];

/// Runs every case's script under `dir` and compares its expected files.
fn compare_all(dir: &str) -> Vec<(String, Result<(), String>)> {
    cases(dir)
        .iter()
        .flat_map(|case| compare_case(case, &run_script(&case.join("script.anonmap"))))
        .collect()
}

#[test]
fn every_faithful_oracle_case_matches_the_kernel() {
    let results = compare_all("fixtures/fidelity");
    let mut failures = Vec::new();
    for (key, verdict) in &results {
        let known = KNOWN_GENERATOR_GAPS.iter().any(|(k, _)| k == key);
        match (verdict, known) {
            (Err(diff), false) => failures.push(diff.clone()),
            // A listed gap that starts matching means the list is stale: say so.
            (Ok(()), true) => failures.push(format!(
                "{key} now matches; remove it from KNOWN_GENERATOR_GAPS"
            )),
            _ => {}
        }
    }
    let exact = results.iter().filter(|(_, v)| v.is_ok()).count();
    eprintln!(
        "oracle: {exact} of {} expected files match byte for byte",
        results.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn reconstructed_cases_match_the_kernel() {
    let failures: Vec<String> = compare_all("fixtures/reconstructed")
        .into_iter()
        .filter_map(|(_, v)| v.err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Replays every case under `dir` from its seed and asserts that nothing diverges.
fn assert_replay_matches(dir: &str) {
    let r = replay_all(dir);
    eprintln!(
        "oracle replay of {dir}: {} cases, {} expected files compared, {} differ; {} failed calls replayed; from the scripts alone {} files match",
        r.cases,
        r.files,
        r.failures.len(),
        r.failed_calls,
        r.script_only_matches
    );
    assert!(r.failures.is_empty(), "{}", r.failures.join("\n"));
    assert!(
        r.script_only_unexplained.is_empty(),
        "differ from their scripts alone with no failed call to explain it: {:?}",
        r.script_only_unexplained
    );
}

#[test]
fn every_oracle_case_replayed_from_its_seed_matches_the_kernel() {
    assert_replay_matches("fixtures/fidelity");
}

#[test]
fn every_locally_generated_kernel_case_replayed_from_its_seed_matches() {
    assert_replay_matches("fixtures/kernel-6.18");
}
