//! The `anonmapd` binary's command line: help, version, and the errors a bad option gets
//! before anything starts. (Being an integration test of this package also makes
//! `cargo test --workspace` build `target/<profile>/anonmapd`, which the workspace's
//! end-to-end tests run.)

use std::process::Command;

fn anonmapd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_anonmapd"))
        .args(args)
        .env_remove("ANONMAP_RAM")
        .output()
        .expect("anonmapd runs")
}

#[test]
fn help_lists_every_option() {
    let out = anonmapd(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for opt in [
        "--socket",
        "--mount",
        "--no-mount",
        "--state-dir",
        "--ephemeral",
        "--ram",
        "--swap",
        "--fuse-threads",
        "--demo",
        "--snapshot-ops",
        "--snapshot-secs",
    ] {
        assert!(help.contains(opt), "{opt} missing from:\n{help}");
    }
    let out = anonmapd(&["--version"]);
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .starts_with("anonmapd "));
}

#[test]
fn bad_options_are_refused_with_the_reason() {
    for (args, want) in [
        (&["--ram", "lots"][..], "number \"lots\" is not decimal"),
        (&["--mount", "/m", "--no-mount"][..], "cannot be used with"),
        (&["--fuse-threads", "0"][..], "0 is not in 1..=256"),
    ] {
        let out = anonmapd(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
