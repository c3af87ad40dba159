//! The kernel oracle cases as data: finding them, running a case's script, and comparing a
//! machine's smaps with the case's expected files (the rules of `compare.py`).
//!
//! A case is a folder made by `gen.c` on a real kernel: `script.anonmap`, every call gen.c
//! attempted (a failed one after `#! err ERRNO`), and `expected.N.smaps`, the kernel's smaps of
//! process N afterwards.

use std::path::{Path, PathBuf};

use anonmap_lang::{ScriptSummary, Session};
use anonmap_mm::{Machine, MachineConfig};
use anonmap_proc::render::render_smaps;

/// gen.c's arena (`0x200000000000`, 256 pages), the only range the expected files hold.
pub const ARENA: (u64, u64) = (0x2000_0000_0000, 0x2000_0000_0000 + 256 * 4096);

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

/// The repository's `tests/fixtures` folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The case folders under `dir` (those holding a `script.anonmap`), sorted. A relative `dir` is
/// taken from `tests/fixtures`.
pub fn cases(dir: impl AsRef<Path>) -> Vec<PathBuf> {
    let dir = fixtures().join(dir);
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

/// Runs a script on a fresh 64 MiB machine (ample for the arena) with the language's session,
/// every `#! err` expectation checked and every invariant checked after every call. The error
/// names the line. With `trace`, the arena's VMAs of every process are printed after each call.
pub fn run_script(text: &str, trace: bool) -> Result<(Machine, ScriptSummary), String> {
    let mut m = Machine::new(MachineConfig::with_ram(64 << 20));
    let summary = Session::new()
        .run_script_with(&mut m, text, |m, stmt, _| {
            if trace {
                eprintln!("{}: {}", stmt.line_no, stmt.text);
                for pid in m.pids() {
                    for v in m.address_space_view(pid).into_iter().flat_map(|s| s.vmas) {
                        if v.start >= ARENA.0 && v.end <= ARENA.1 {
                            eprintln!("   {pid}: {:x}-{:x} {:#x}", v.start, v.end, v.flags);
                        }
                    }
                }
            }
            m.check_invariants()
                .map_err(|e| format!("invariant broken: {e}"))
        })
        .map_err(|e| e.to_string())?;
    Ok((m, summary))
}

/// What running a folder of cases found.
#[derive(Debug, Default)]
pub struct CasesSummary {
    pub cases: usize,
    /// Expected files compared.
    pub files: usize,
    /// Calls run, and of those the calls that failed as their `#! err` said.
    pub calls: usize,
    pub expected_failures: usize,
    /// One message per case whose script stopped, or per expected file that differs.
    pub failures: Vec<String>,
}

/// Runs every case under `dir` (absolute, or relative to `tests/fixtures`) and compares every
/// expected file. `ORACLE_TRACE=seed-001` traces the cases whose path contains `seed-001`.
pub fn run_cases(dir: impl AsRef<Path>) -> CasesSummary {
    let trace = std::env::var("ORACLE_TRACE").ok();
    let mut s = CasesSummary::default();
    for case in cases(dir) {
        s.cases += 1;
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(case.join("script.anonmap")).unwrap();
        let traced = trace
            .as_deref()
            .is_some_and(|t| case.to_string_lossy().contains(t));
        let m = match run_script(&text, traced) {
            Ok((m, summary)) => {
                s.calls += summary.calls;
                s.expected_failures += summary.expected_failures;
                m
            }
            Err(e) => {
                s.failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        for (_, verdict) in compare_case(&case, &m) {
            s.files += 1;
            if let Err(diff) = verdict {
                s.failures.push(diff);
            }
        }
    }
    s
}
