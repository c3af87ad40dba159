//! The reports on this machine's real /proc (`--proc /proc`), run through the `anonmap` binary:
//! `procs` and `names -v` must list the test's own process, and the JSON of `procs` must carry
//! its pid with a non-zero RSS and PSS.

use std::process::Command;

fn anonmap(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_anonmap"))
        .args(args)
        .output()
        .expect("run anonmap");
    assert!(
        out.status.success(),
        "anonmap {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn procs_and_names_on_real_proc_include_this_process() {
    let me = std::process::id();
    let v: serde_json::Value =
        serde_json::from_str(&anonmap(&["--proc", "/proc", "procs", "--json"])).unwrap();
    let row = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["pid"] == me)
        .unwrap_or_else(|| panic!("pid {me} not in procs"));
    assert!(row["rss"].as_u64().unwrap() > 0);
    assert!(row["pss"].as_u64().unwrap() > 0);
    assert!(v["total"]["pss"].as_u64().unwrap() >= row["pss"].as_u64().unwrap());

    let text = anonmap(&["--proc", "/proc", "procs"]);
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with(&format!("{me} "))),
        "{text}"
    );
    assert!(
        text.contains("RAM: ") && text.contains("PSS check:"),
        "{text}"
    );

    // names -v: this process maps its own executable; a detail row names it by pid.
    let v: serde_json::Value = serde_json::from_str(&anonmap(&[
        "--proc",
        "/proc",
        "names",
        "-v",
        "--pid",
        &me.to_string(),
        "--json",
    ]))
    .unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    let exe = std::env::current_exe().unwrap();
    let exe = exe.to_string_lossy();
    let r = rows
        .iter()
        .find(|r| r["name"].as_str() == Some(&exe))
        .unwrap_or_else(|| panic!("{exe} not among the names"));
    assert_eq!(r["detail"][0]["pid"], me);
    assert!(rows
        .iter()
        .any(|r| r["kind"] == "heap" || r["kind"] == "anon"));
}

#[test]
fn bad_input_gets_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_anonmap"))
        .args(["--proc", "/nonexistent-dir", "names"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent-dir"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_anonmap"))
        .args(["--proc", "/proc", "names", "--kind", "bogus"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown kind"));
    let out = Command::new(env!("CARGO_BIN_EXE_anonmap"))
        .args(["--socket", "/nonexistent.sock", "do", "spawn pid=1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.sock"));
}
