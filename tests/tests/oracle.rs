//! The kernel oracle cases (`fixtures/fidelity/seed-*`): each script, made by a real Linux 6.18
//! kernel from a random generator, is applied in-process, and every `expected.N.smaps` must
//! equal the arena blocks of the simulated `N/smaps`, ignoring only the machine-dependent
//! `THPeligible` and `ProtectionKey` lines (the rules of `compare.py`).

use std::path::{Path, PathBuf};

use anonmap_daemon::command::{parse_line, Labels};
use anonmap_daemon::mm::{Machine, MachineConfig, Outcome};
use anonmap_fusefs::render::render_smaps;

const ARENA: (u64, u64) = (0x2000_0000_0000, 0x2000_0010_0000);

/// The arena's smaps blocks, without the machine-dependent lines (compare.py's `arena_blocks`).
fn arena_blocks(text: &str) -> Vec<String> {
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

/// Runs a script, checking the invariants after every op.
fn run_script(path: &Path) -> Machine {
    let text = std::fs::read_to_string(path).unwrap();
    let mut m = Machine::new(MachineConfig::default());
    let mut labels = Labels::new();
    for (n, line) in text.lines().enumerate() {
        let Some(op) =
            parse_line(line).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), n + 1))
        else {
            continue;
        };
        let label = op.binds_label().map(str::to_string);
        let op = op.resolve(&labels).unwrap();
        let out = m
            .apply(&op)
            .unwrap_or_else(|e| panic!("{}:{}: {line}: {e}", path.display(), n + 1));
        if let (Some(l), Outcome::Addr(a)) = (label, out) {
            labels.bind(l, a);
        }
        if let Err(e) = m.check_invariants() {
            panic!(
                "{}:{}: {line}: invariant broken: {e}",
                path.display(),
                n + 1
            );
        }
    }
    m
}

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fidelity");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("script.anonmap").exists())
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no oracle cases found");
    v
}

#[test]
fn every_oracle_case_matches_the_kernel() {
    let mut failures = Vec::new();
    for case in cases() {
        let m = run_script(&case.join("script.anonmap"));
        for entry in std::fs::read_dir(&case).unwrap() {
            let p = entry.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let Some(pid) = name
                .strip_prefix("expected.")
                .and_then(|s| s.strip_suffix(".smaps"))
            else {
                continue;
            };
            let pid: u32 = pid.parse().unwrap();
            let mut out = Vec::new();
            render_smaps(&m.address_space_view(pid).expect("process alive"), &mut out);
            let actual = arena_blocks(&String::from_utf8(out).unwrap());
            let expected = arena_blocks(&std::fs::read_to_string(&p).unwrap());
            if actual != expected {
                let first = actual
                    .iter()
                    .zip(&expected)
                    .position(|(a, e)| a != e)
                    .unwrap_or(actual.len().min(expected.len()));
                let lo = first.saturating_sub(3);
                failures.push(format!(
                    "{}/{name}: first difference at block line {first}\n  kernel:    {:?}\n  simulated: {:?}",
                    case.display(),
                    &expected[lo..(first + 3).min(expected.len())],
                    &actual[lo..(first + 3).min(actual.len())],
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
