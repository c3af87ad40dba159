//! The kernel oracle cases as data: finding them, running a case's script, and comparing a
//! machine's smaps with the case's expected files (the rules of `compare.py`).
//!
//! A case is a folder made by a generator (`gen.c`, `gen_manage.c`) on a real kernel:
//! `script.anonmap`, every call it attempted (a failed one after `#! err ERRNO`),
//! `expected.N.smaps`, the kernel's smaps of process N afterwards, and (from `gen_manage.c`)
//! `expected.N.pagemap`, the pagemap flags of every arena page whose entry is not zero.
//!
//! Shmem objects get inode numbers the simulation cannot share with the kernel, so the smaps
//! comparison renumbers the inodes of both sides in order of first appearance over the case's
//! processes: the same VMAs must map the same objects, whatever they are numbered.

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

/// Renumbers the inode column of every VMA header line, in order of first appearance over
/// `files` taken in turn (non-zero inodes only), and drops the padding after it, whose width
/// follows the inode's.
fn renumber_inodes(files: &mut [Vec<String>]) {
    let mut seen: Vec<String> = Vec::new();
    for lines in files.iter_mut() {
        for line in lines.iter_mut() {
            let fields: Vec<&str> = line.splitn(6, ' ').collect();
            if fields.len() < 5 || !fields[0].contains('-') || fields[4] == "0" {
                continue;
            }
            let Ok(ino) = fields[4].trim().parse::<u64>() else {
                continue;
            };
            let ino = ino.to_string();
            let n = match seen.iter().position(|s| *s == ino) {
                Some(i) => i,
                None => {
                    seen.push(ino.clone());
                    seen.len() - 1
                }
            };
            // The padding before the path depends on the inode's width: drop it too.
            let at = fields[..4].iter().map(|f| f.len() + 1).sum::<usize>();
            let path = line[at + ino.len()..].trim_start();
            *line = format!("{}ino#{n} {path}", &line[..at]);
        }
    }
}

/// The pagemap flags of every arena page of `pid` whose entry is not zero, one line each as
/// `gen_manage.c` writes them: the address and `P` present, `S` swapped, `F` file page or
/// shared anonymous, `X` exclusively mapped, `D` soft-dirty.
pub fn arena_pagemap(m: &Machine, pid: u32) -> Option<Vec<String>> {
    use anonmap_abi::pagemap::{PM_FILE, PM_MMAP_EXCLUSIVE, PM_PRESENT, PM_SOFT_DIRTY, PM_SWAP};
    let first = ARENA.0 >> 12;
    let entries = m.pagemap(pid, first, (ARENA.1 - ARENA.0) >> 12)?;
    let lines = entries
        .iter()
        .enumerate()
        .filter(|(_, &e)| e != 0)
        .map(|(i, &e)| {
            let mut flags = String::new();
            for (bit, c) in [
                (PM_PRESENT, 'P'),
                (PM_SWAP, 'S'),
                (PM_FILE, 'F'),
                (PM_MMAP_EXCLUSIVE, 'X'),
                (PM_SOFT_DIRTY, 'D'),
            ] {
                if e & bit != 0 {
                    flags.push(c);
                }
            }
            format!("{:#x} {flags}", (first + i as u64) << 12)
        })
        .collect();
    Some(lines)
}

/// The first difference of two line lists, with three lines of context from each side.
fn first_difference(key: &str, expected: &[String], actual: &[String]) -> Result<(), String> {
    if actual == expected {
        return Ok(());
    }
    let first = actual
        .iter()
        .zip(expected)
        .position(|(a, e)| a != e)
        .unwrap_or(actual.len().min(expected.len()));
    let lo = first.saturating_sub(3);
    Err(format!(
        "{key}: first difference at line {first}\n  kernel:    {:?}\n  simulated: {:?}",
        &expected[lo..(first + 3).min(expected.len())],
        &actual[lo..(first + 3).min(actual.len())],
    ))
}

/// Compares every `expected.N.smaps` and `expected.N.pagemap` of `case` with the simulated
/// `N/smaps` and `N/pagemap` of `m`; returns, per file, `case/file` and whether it matched
/// (with a readable diff when not).
pub fn compare_case(case: &Path, m: &Machine) -> Vec<(String, Result<(), String>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(case)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let case_name = case.file_name().unwrap().to_string_lossy().to_string();
    // (key, pid, is_smaps, expected lines); smaps blocks are renumbered together below.
    let mut wanted: Vec<(String, u32, bool, Vec<String>)> = Vec::new();
    for p in files {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let Some(rest) = name.strip_prefix("expected.") else {
            continue;
        };
        let (pid, smaps) = match (rest.strip_suffix(".smaps"), rest.strip_suffix(".pagemap")) {
            (Some(pid), _) => (pid, true),
            (_, Some(pid)) => (pid, false),
            _ => continue,
        };
        let pid: u32 = pid.parse().unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let lines = if smaps {
            arena_blocks(&text)
        } else {
            text.lines().map(str::to_string).collect()
        };
        wanted.push((format!("{case_name}/{name}"), pid, smaps, lines));
    }
    let mut actual: Vec<Option<Vec<String>>> = wanted
        .iter()
        .map(|(_, pid, smaps, _)| {
            if *smaps {
                let space = m.address_space_view(*pid)?;
                let mut out = Vec::new();
                render_smaps(&space, &mut out);
                Some(arena_blocks(&String::from_utf8(out).unwrap()))
            } else {
                arena_pagemap(m, *pid)
            }
        })
        .collect();
    let mut expected_smaps: Vec<Vec<String>> =
        wanted.iter().filter(|w| w.2).map(|w| w.3.clone()).collect();
    renumber_inodes(&mut expected_smaps);
    let mut actual_smaps: Vec<Vec<String>> = wanted
        .iter()
        .zip(&actual)
        .filter(|(w, _)| w.2)
        .map(|(_, a)| a.clone().unwrap_or_default())
        .collect();
    renumber_inodes(&mut actual_smaps);
    let (mut e_iter, mut a_iter) = (expected_smaps.into_iter(), actual_smaps.into_iter());
    let mut results = Vec::new();
    for ((key, pid, smaps, lines), got) in wanted.into_iter().zip(actual.iter_mut()) {
        let (expected, got) = if smaps {
            let (e, a) = (e_iter.next().unwrap(), a_iter.next().unwrap());
            (e, got.as_ref().map(|_| a))
        } else {
            (lines, got.take())
        };
        let verdict = match got {
            None => Err(format!("{key}: pid {pid} is not alive")),
            Some(a) => first_difference(&key, &expected, &a),
        };
        results.push((key, verdict));
    }
    results
}

/// Runs a script on a fresh machine of 64 MiB of RAM (ample for the arena) and 256 MiB of swap
/// (the oracle machine's swap file) with the language's session,
/// every `#! err` expectation checked and every invariant checked after every call. The error
/// names the line. With `trace`, the arena's VMAs of every process are printed after each call.
pub fn run_script(text: &str, trace: bool) -> Result<(Machine, ScriptSummary), String> {
    let mut m = Machine::new(MachineConfig {
        ram_bytes: 64 << 20,
        swap_bytes: 256 << 20,
        soft_dirty: false,
        auto_reclaim: true,
    });
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
