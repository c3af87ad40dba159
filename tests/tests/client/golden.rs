//! Golden tests of the `anonmap` client's reports on the demo machine
//! (`daemon/scenarios/demo.anonmap`), dumped as a /proc-like directory and read with `--proc DIR`:
//! every report in text, JSON and CSV is compared with `client/tests/golden/<case>`.
//! `UPDATE_GOLDEN=1 cargo test -p anonmap-tests --test client golden` rewrites the files.
//!
//! The numbers are also checked against the tree itself: the names report's PSS per name equals
//! the sum of the `Pss:` lines of that name's VMAs in every smaps, its TOTAL equals the sum of
//! the smaps_rollup `Pss:` lines, and the rows are within 1023 bytes per VMA of that total.

use std::path::{Path, PathBuf};

use anonmap::cli::Cli;
use anonmap_daemon::DEMO;
use anonmap_lang::{parse_call, Session};
use anonmap_mm::{Machine, MachineConfig};
use anonmap_testkit::tree_dump::dump_tree;
use clap::Parser;
use serde_json::Value;

fn demo_machine() -> Machine {
    let mut m = Machine::new(MachineConfig::default());
    Session::new()
        .run_script(&mut m, DEMO)
        .unwrap_or_else(|e| panic!("demo: {e}"));
    m
}

fn demo_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    dump_tree(&demo_machine(), dir.path()).unwrap();
    dir
}

/// Runs `anonmap --proc DIR ARGS...` in-process and returns its output.
fn run(dir: &Path, args: &[&str]) -> String {
    let mut argv = vec!["anonmap", "--proc", dir.to_str().unwrap()];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let mut out = Vec::new();
    anonmap::app::execute(&cli, &mut out).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    String::from_utf8(out).unwrap()
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../client/tests/golden")
}

fn check_golden(name: &str, got: &str) {
    let path = golden_dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    if want != got {
        let diff: Vec<String> = want
            .lines()
            .zip(got.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(5)
            .map(|(i, (a, b))| format!("line {}:\n  want {a}\n  got  {b}", i + 1))
            .collect();
        panic!(
            "{name} differs from {} ({} vs {} lines):\n{}",
            path.display(),
            want.lines().count(),
            got.lines().count(),
            diff.join("\n")
        );
    }
}

/// Every report, in every format, on the demo tree.
#[test]
fn every_report_matches_its_golden_file() {
    let dir = demo_dir();
    let d = dir.path();
    let cases: &[(&str, &[&str])] = &[
        ("names", &["names"]),
        ("names-v", &["names", "-v"]),
        (
            "names-anon-only",
            &["names", "--kind", "anon,anon_named,shmem", "--sort", "name"],
        ),
        ("procs", &["procs"]),
        ("map-102", &["map", "102"]),
        ("map-102-a", &["map", "102", "-a"]),
        ("map-100-vt", &["map", "100", "-v", "-t", "--sort", "rss"]),
        ("categories", &["categories", "-v"]),
    ];
    for (name, args) in cases {
        for (ext, extra) in [
            ("txt", None),
            ("json", Some("--json")),
            ("csv", Some("--csv")),
        ] {
            let mut a = args.to_vec();
            a.extend(extra);
            check_golden(&format!("{name}.{ext}"), &run(d, &a));
        }
    }
    check_golden("names-bytes.txt", &run(d, &["names", "--bytes"]));
}

/// The names report against the tree's own smaps and smaps_rollup, read here without the client.
#[test]
fn names_pss_equals_the_smaps_sums_and_total_equals_smaps_rollup() {
    let dir = demo_dir();
    let d = dir.path();
    let v: Value = serde_json::from_str(&run(d, &["names", "--json"])).unwrap();
    // Sum Pss: per name over every smaps, and Pss: of every smaps_rollup, straight from the text.
    let mut per_name: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    let mut rollup_sum = 0u64;
    for e in std::fs::read_dir(d).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_str().unwrap().parse::<u32>().is_err() {
            continue;
        }
        let smaps = std::fs::read_to_string(e.path().join("smaps")).unwrap();
        let mut name = String::new();
        for line in smaps.lines() {
            if let Some(rest) = line.strip_prefix("Pss:") {
                let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().unwrap();
                let slot = per_name.entry(name.clone()).or_default();
                slot.0 += kb * 1024;
                slot.1 += 1;
            } else if line.contains('-') && !line.contains(':')
                || line.split_whitespace().count() >= 5
                    && !line.ends_with("kB")
                    && line.as_bytes()[0].is_ascii_hexdigit()
                    && line.split_whitespace().next().unwrap().contains('-')
            {
                // A VMA header: the name is everything from column 73 on (or none).
                name = line.get(73..).map(str::to_string).unwrap_or_default();
                if name.is_empty() {
                    name = "[anon]".into();
                }
            }
        }
        let rollup = std::fs::read_to_string(e.path().join("smaps_rollup")).unwrap();
        let pss_line = rollup.lines().find(|l| l.starts_with("Pss:")).unwrap();
        rollup_sum += pss_line[4..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .unwrap()
            * 1024;
    }
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), per_name.len(), "one row per name");
    let mut row_sum = 0;
    let mut vmas = 0;
    for r in rows {
        let name = r["name"].as_str().unwrap();
        let (pss, n) = per_name[name];
        assert_eq!(r["pss"].as_u64().unwrap(), pss, "PSS of {name}");
        assert_eq!(r["vmas"].as_u64().unwrap(), n, "VMAs of {name}");
        assert_eq!(
            r["pss_slack"].as_u64().unwrap(),
            n * 1023,
            "slack of {name}"
        );
        row_sum += pss;
        vmas += n;
    }
    assert_eq!(
        v["total"]["pss"].as_u64().unwrap(),
        rollup_sum,
        "TOTAL = sum of smaps_rollup Pss"
    );
    assert!(
        rollup_sum >= row_sum && rollup_sum - row_sum <= vmas * 1023,
        "rows {row_sum} vs rollups {rollup_sum}"
    );
    // Names with spaces, slashes and colons are whole.
    for want in [
        "[anon:dalvik-main space]",
        "[anon: glibc: malloc arena]",
        "[anon:app:decode buffer]",
        "[anon:ril:parcel pool]",
        "[anon_shmem:GraphicBuffer]",
        "/system/framework/framework.jar",
    ] {
        assert!(rows.iter().any(|r| r["name"] == want), "{want} missing");
    }
}

/// The PSS check in procs: the demo machine's PSS sum equals AnonPages + Mapped within the
/// truncation bound.
#[test]
fn procs_pss_check_agrees_on_the_demo() {
    let dir = demo_dir();
    let v: Value = serde_json::from_str(&run(dir.path(), &["procs", "--json"])).unwrap();
    let c = &v["pss_check"];
    assert_eq!(c["agrees"], true, "{c}");
    assert_eq!(v["total"]["pss"], c["sum_pss"]);
    let text = run(dir.path(), &["procs"]);
    assert!(text.contains("RAM: "), "{text}");
    assert!(text.contains("PSS check: equal within"), "{text}");
}

/// Names with spaces, `/` and `:` survive the text, CSV and JSON of every report.
#[test]
fn odd_names_survive_every_format() {
    let dir = demo_dir();
    let d = dir.path();
    for args in [
        &["names"][..],
        &["names", "-v"],
        &["map", "102"],
        &["map", "300", "-a"],
        &["categories", "-v"],
    ] {
        for extra in [None, Some("--csv"), Some("--json")] {
            let mut a = args.to_vec();
            a.extend(extra);
            let out = run(d, &a);
            let names: &[&str] = if args[0] == "map" && args[1] == "300" {
                &["[anon: glibc: malloc arena]", "[anon: glibc: malloc]"]
            } else {
                &["[anon:dalvik-main space]", "[anon:app:decode buffer]"]
            };
            for n in names {
                assert!(out.contains(n), "{a:?}: {n} not found whole");
            }
        }
    }
}

/// snapshot then diff against a changed machine.
#[test]
fn snapshot_and_diff_show_growth_and_appearance() {
    let a = demo_dir();
    let mut m = demo_machine();
    // A new named region in process 300, 1 MiB of it written.
    for line in [
        "mmap pid=300 addr=0x100000000 len=2M prot=rw- flags=private,anonymous,fixed",
        "name pid=300 addr=0x100000000 len=2M name=\"new: cache/x\"",
        "touch pid=300 addr=0x100000000 len=1M access=write",
    ] {
        m.apply(&parse_call(line).unwrap()).unwrap();
    }
    let b = tempfile::tempdir().unwrap();
    dump_tree(&m, b.path()).unwrap();
    let snaps = tempfile::tempdir().unwrap();
    let sa = snaps.path().join("a.json");
    let sb = snaps.path().join("b.json");
    std::fs::write(&sa, run(a.path(), &["snapshot"])).unwrap();
    std::fs::write(&sb, run(b.path(), &["snapshot"])).unwrap();
    let v: Value = serde_json::from_str(&run(
        a.path(),
        &["diff", sa.to_str().unwrap(), sb.to_str().unwrap(), "--json"],
    ))
    .unwrap();
    let rows = v["rows"].as_array().unwrap();
    let find = |by: &str, key: &str| {
        rows.iter()
            .find(|r| r["by"] == by && r["key"] == key)
            .cloned()
    };
    let r = find("name", "[anon:new: cache/x]").expect("appeared name");
    assert_eq!(r["change"], "appeared");
    assert_eq!(r["pss_delta"], 1 << 20);
    let p = find("process", "netd-glibc [300]").expect("process 300");
    assert_eq!(p["change"], "grew");
    assert_eq!(p["rss_delta"], 1 << 20);
    assert_eq!(v["total"]["pss_delta"], 1 << 20);
    let same = run(
        a.path(),
        &["diff", sa.to_str().unwrap(), sa.to_str().unwrap(), "--json"],
    );
    let same: Value = serde_json::from_str(&same).unwrap();
    assert_eq!(same["rows"].as_array().unwrap().len(), 0);
}
