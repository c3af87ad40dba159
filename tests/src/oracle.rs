//! The kernel oracle cases as data: finding them, comparing a machine's smaps with a case's
//! expected files (the rules of `compare.py`), and replaying a case from its seed.

use std::path::{Path, PathBuf};

use anonmap_daemon::command::{parse_line, Labels};
use anonmap_daemon::mm::{Machine, MachineConfig, Outcome};
use anonmap_fusefs::render::render_smaps;

use crate::kernel_gen;

/// gen.c's arena, the only range the expected files hold.
pub const ARENA: (u64, u64) = (
    kernel_gen::ARENA,
    kernel_gen::ARENA + kernel_gen::ARENA_PAGES * 4096,
);

/// The arena's smaps blocks, without the machine-dependent lines (compare.py's `arena_blocks`).
pub fn arena_blocks(text: &str) -> Vec<String> {
    let mut keep = false;
    let mut out = Vec::new();
    for line in text.split_inclusive('\n') {
        if let Some((range, _)) = line.split_once(' ') {
            if let Some((s, e)) = range.split_once('-') {
                if let (Ok(s), Ok(e)) = (u64::from_str_radix(s, 16), u64::from_str_radix(e, 16)) {
                    keep = s >= ARENA.0 && e <= ARENA.1;
                }
            }
        }
        if keep && !line.starts_with("THPeligible:") && !line.starts_with("ProtectionKey:") {
            out.push(line.to_string());
        }
    }
    out
}

/// The case folders under `dir` (those holding a `script.anonmap`), sorted. A relative `dir` is
/// taken from the tests crate's folder.
pub fn cases(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("script.anonmap").exists())
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no oracle cases found");
    v
}

/// Compares every `expected.N.smaps` of `case` with the simulated `N/smaps` of `m`; returns,
/// per file, `case/file` and whether it matched (with a readable diff when not).
pub fn compare_case(case: &Path, m: &Machine) -> Vec<(String, Result<(), String>)> {
    let mut results = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(case)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for p in files {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let Some(pid) = name
            .strip_prefix("expected.")
            .and_then(|s| s.strip_suffix(".smaps"))
        else {
            continue;
        };
        let pid: u32 = pid.parse().unwrap();
        let key = format!("{}/{name}", case.file_name().unwrap().to_string_lossy());
        let Some(space) = m.address_space_view(pid) else {
            results.push((key.clone(), Err(format!("{key}: pid {pid} is not alive"))));
            continue;
        };
        let mut out = Vec::new();
        render_smaps(&space, &mut out);
        let actual = arena_blocks(&String::from_utf8(out).unwrap());
        let expected = arena_blocks(&std::fs::read_to_string(&p).unwrap());
        let verdict = if actual == expected {
            Ok(())
        } else {
            let first = actual
                .iter()
                .zip(&expected)
                .position(|(a, e)| a != e)
                .unwrap_or(actual.len().min(expected.len()));
            let lo = first.saturating_sub(3);
            Err(format!(
                "{key}: first difference at block line {first}\n  kernel:    {:?}\n  simulated: {:?}",
                &expected[lo..(first + 3).min(expected.len())],
                &actual[lo..(first + 3).min(actual.len())],
            ))
        };
        results.push((key, verdict));
    }
    results
}

/// What replaying a folder of cases from their seeds found.
#[derive(Debug, Default)]
pub struct ReplaySummary {
    /// One message per divergence: a call the kernel and the simulator decided differently, or
    /// an expected file that differs.
    pub failures: Vec<String>,
    pub cases: usize,
    /// Expected files compared.
    pub files: usize,
    /// Calls that failed (in both the kernel and the simulator) and were replayed anyway.
    pub failed_calls: usize,
    /// Expected files that the script alone (without the failed calls) also reproduces.
    pub script_only_matches: usize,
    /// Expected files the script alone does not reproduce although no mprotect or madvise call
    /// of the case failed: such a file would be a simulator fault, not a generator gap.
    pub script_only_unexplained: Vec<String>,
}

/// Applies a script's lines to `m` in order, resolving `as=` labels; `after_op(machine, line
/// number, line)` runs after every applied line. The first error (parse, label, the op itself,
/// or `after_op`'s) is returned as `N: LINE: error`.
pub fn apply_script(
    m: &mut Machine,
    text: &str,
    mut after_op: impl FnMut(&Machine, usize, &str) -> Result<(), String>,
) -> Result<(), String> {
    let mut labels = Labels::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let at = |e: &dyn std::fmt::Display| format!("{n}: {}: {e}", line.trim());
        let Some(op) = parse_line(line).map_err(|e| at(&e))? else {
            continue;
        };
        let label = op.binds_label().map(str::to_string);
        let op = op.resolve(&labels).map_err(|e| at(&e))?;
        let out = m.apply(&op).map_err(|e| at(&e))?;
        if let (Some(l), Outcome::Addr(a)) = (label, out) {
            labels.bind(l, a);
        }
        after_op(m, n, line).map_err(|e| at(&e))?;
    }
    Ok(())
}

/// A case's script applied to a fresh 64 MiB machine (ample for the arena).
pub fn run_script_text(text: &str) -> Result<Machine, String> {
    let mut m = Machine::new(MachineConfig::with_ram(64 << 20));
    apply_script(&mut m, text, |_, _, _| Ok(()))?;
    Ok(m)
}

/// Replays every case under `dir` from its seed (see `anonmap_tests::kernel_gen`): the lines the
/// simulator accepts must be the kernel's script exactly, every expected file must match, and
/// the invariants must hold after every call.
pub fn replay_all(dir: &str) -> ReplaySummary {
    let mut failures = Vec::new();
    let (mut files, mut failed_calls, mut script_only_matches) = (0, 0, 0);
    let mut script_only_unexplained = Vec::new();
    let cases = cases(dir);
    for case in &cases {
        let text = std::fs::read_to_string(case.join("script.anonmap")).unwrap();
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let seed = kernel_gen::seed_of_script(&text)
            .unwrap_or_else(|| panic!("{name}: no seed in the script's first line"));
        let machine = Machine::new(MachineConfig::with_ram(64 << 20));
        let replay = match kernel_gen::replay(seed, machine, |m, line| {
            m.check_invariants()
                .map_err(|e| format!("{line}: invariant broken: {e}"))
        }) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        failed_calls += replay.attempts.iter().filter(|a| a.result.is_err()).count();
        let kernel = kernel_gen::op_lines(&text);
        if replay.script != kernel {
            let k = replay
                .script
                .iter()
                .zip(&kernel)
                .position(|(a, b)| a != b)
                .unwrap_or(replay.script.len().min(kernel.len()));
            failures.push(format!(
                "{name}: the simulator's successful calls differ from the kernel's at script op {}:\n  kernel:    {:?}\n  simulated: {:?}",
                k + 1,
                kernel.get(k),
                replay.script.get(k)
            ));
            continue;
        }
        for (_, verdict) in compare_case(case, &replay.machine) {
            files += 1;
            if let Err(diff) = verdict {
                failures.push(diff);
            }
        }
        // The same case from its script alone: it can differ only where a failed call that
        // changes state before failing (mprotect, madvise) is missing from the script.
        let gap = replay.attempts.iter().any(|a| {
            a.result.is_err() && (a.line.starts_with("mprotect") || a.line.starts_with("madvise"))
        });
        match run_script_text(&text) {
            Ok(m) => {
                for (key, verdict) in compare_case(case, &m) {
                    match verdict {
                        Ok(()) => script_only_matches += 1,
                        Err(_) if !gap => script_only_unexplained.push(key),
                        Err(_) => {}
                    }
                }
            }
            Err(e) if !gap => failures.push(format!("{name}: its script fails: {e}")),
            // The missing call made a later recorded call fail (e.g. a write touch of a page
            // that the failed mprotect had made read-only): a generator gap too.
            Err(_) => {}
        }
    }
    ReplaySummary {
        failures,
        cases: cases.len(),
        files,
        failed_calls,
        script_only_matches,
        script_only_unexplained,
    }
}
