//! End to end: the real `anonmap` client against the real `anonmapd`, its socket and its mount.
//!
//! - The reports read through the mount and through the socket (`--via-socket`) agree.
//! - `run` applies a script, stops at the first error with `file:line`, the line and the errno,
//!   and `--keep-going` goes on.
//! - `replay --strace` drives the daemon from a real capture; the replayed process has the
//!   traced mappings at the traced addresses, read back through the mount.
//! - `rmap --pid --addr` finds every process that maps a page shared after fork.
//!
//! Needs root and /dev/fuse (the daemon mounts its tree): each test says so and skips itself
//! otherwise.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use anonmap_testkit::daemon::{client_binary, Daemon, Options};
use anonmap_testkit::skip_unless_root;

const TRACE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../client/tests/fixtures/tracee.strace"
);

/// Runs `anonmap ARGS` against `d`, with `stdin` fed in if given.
fn anonmap(d: &Daemon, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(client_binary());
    cmd.arg("--socket")
        .arg(d.socket())
        .arg("--mount")
        .arg(d.mount_dir())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("anonmap runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn stdout_ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The row of `anonmap map PID --bytes` whose name is `name`.
fn map_row(d: &Daemon, pid: u32, name: &str) -> String {
    let pid = pid.to_string();
    let map = stdout_ok(&anonmap(d, &["map", &pid, "--bytes"], None), "map");
    map.lines()
        .find(|l| l.contains(name))
        .unwrap_or_else(|| panic!("no {name} row in:\n{map}"))
        .to_string()
}

fn demo() -> Daemon {
    Daemon::start(&Options {
        extra: vec!["--demo".into()],
        ..Options::default()
    })
}

#[test]
fn reports_through_the_mount_and_the_socket_agree() {
    skip_unless_root!(fuse, "the daemon mounts its tree");
    let d = demo();
    for report in [
        &["procs", "--json"][..],
        &["names", "-v", "--json"],
        &["map", "101", "--json"],
        &["categories", "--json"],
    ] {
        let mount = stdout_ok(&anonmap(&d, report, None), &format!("{report:?}"));
        let mut via = vec!["--via-socket"];
        via.extend_from_slice(report);
        let socket = stdout_ok(&anonmap(&d, &via, None), &format!("{via:?}"));
        let a: serde_json::Value = serde_json::from_str(&mount).unwrap();
        let b: serde_json::Value = serde_json::from_str(&socket).unwrap();
        assert_eq!(a, b, "{report:?}: mount and socket disagree");
    }
    let names = stdout_ok(&anonmap(&d, &["names"], None), "names");
    for name in [
        "[anon:dalvik-main space]",
        "[anon:stack_and_tls:1234]",
        "[anon: glibc: malloc arena]",
    ] {
        assert!(names.contains(name), "{name} missing from:\n{names}");
    }
}

#[test]
fn run_stops_at_the_first_error_and_keep_going_continues() {
    skip_unless_root!(fuse, "the daemon mounts its tree");
    let d = demo();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.anonmap");
    std::fs::write(
        &script,
        "# a process with one named region\n\
         spawn pid=700 comm=e2e\n\
         mmap pid=700 len=256K prot=rw- flags=private,anonymous as=r\n\
         name pid=700 addr=r len=256K name=\"e2e: region/one\"\n\
         touch pid=700 addr=r+1 len=64K access=write\n\
         munmap pid=700 addr=r+3 len=4K\n\
         touch pid=700 addr=r+64K len=64K access=write\n",
    )
    .unwrap();
    let s = script.to_str().unwrap();
    let out = anonmap(&d, &["run", "--window", "1", s], None);
    assert_eq!(out.status.code(), Some(1));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("{s}:6: munmap pid=700 addr=r+3 len=4K")),
        "{text}"
    );
    assert!(text.contains("EINVAL"), "{text}");
    let row = map_row(&d, 700, "[anon:e2e: region/one]");
    // The touch from r+1 covers 17 pages (64 KiB from an unaligned start); the run stopped
    // before the second touch.
    assert!(row.contains(&(17 * 4096).to_string()), "{row}");

    // --keep-going reports the error and applies the lines after it.
    let script2 = dir.path().join("t.anonmap");
    std::fs::write(
        &script2,
        "munmap pid=700 addr=0x3 len=4K\n\
         mmap pid=700 len=64K prot=rw- flags=private,anonymous as=q\n\
         name pid=700 addr=q len=64K name=\"e2e: second\"\n\
         touch pid=700 addr=q len=64K access=write\n",
    )
    .unwrap();
    let out = anonmap(
        &d,
        &["run", "--keep-going", script2.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("3 lines applied, 1 failed"), "{text}");
    let row = map_row(&d, 700, "[anon:e2e: second]");
    assert!(row.contains("65536"), "{row}");
}

#[test]
fn strace_replay_drives_the_daemon_to_the_traced_layout() {
    skip_unless_root!(fuse, "the daemon mounts its tree");
    let d = Daemon::start(&Options::default());
    // The whole capture: nothing unsupported, and the replayed processes exit at the end.
    let out = anonmap(
        &d,
        &["replay", "--strace", TRACE, "--base-pid", "30000"],
        None,
    );
    let summary = stdout_ok(&out, "replay");
    assert!(summary.contains("0 unsupported"), "{summary}");
    assert!(!d.mount_dir().join("30000").exists());

    // The same commands without the final exit, to look at the replayed process.
    let printed = stdout_ok(
        &anonmap(&d, &["replay", "--print", "--strace", TRACE], None),
        "replay --print",
    );
    // The files exist since the first replay (`file` would fail with EEXIST).
    let lines: Vec<&str> = printed
        .lines()
        .take_while(|l| !l.starts_with("strace:"))
        .filter(|l| *l != "exit pid=20000" && !l.starts_with("file "))
        .collect();
    stdout_ok(
        &anonmap(&d, &["run", "-"], Some(&(lines.join("\n") + "\n"))),
        "run -",
    );
    let maps = std::fs::read_to_string(d.mount_dir().join("20000/maps")).unwrap();
    for line in [
        "7f9ab2598000-7f9ab259a000 rw-p 00000000 00:00 0 ",
        "7f9ab239a000-7f9ab23a6000 rw-p 00000000 00:00 0 ",
        "7f9ab2582000-7f9ab258f000 rw-p 00000000 00:00 0 ",
    ] {
        assert!(
            maps.lines().any(|l| l == line),
            "{line:?} missing from:\n{maps}"
        );
    }
    assert!(
        maps.contains(" /usr/lib/x86_64-linux-gnu/libc.so.6\n"),
        "{maps}"
    );
}

#[test]
fn rmap_finds_every_process_mapping_a_shared_page() {
    skip_unless_root!(fuse, "the daemon mounts its tree");
    let d = demo();
    let maps = std::fs::read_to_string(d.mount_dir().join("100/maps")).unwrap();
    let heap = maps
        .lines()
        .find(|l| l.ends_with("[anon:dalvik-main space]"))
        .and_then(|l| l.split('-').next())
        .map(|a| u64::from_str_radix(a, 16).unwrap())
        .expect("the zygote's heap");
    // heap+3M: written by the zygote, kept by 101 and 102 (103 dropped it with MADV_DONTNEED).
    let addr = format!("{:#x}", heap + (3 << 20));
    let out = stdout_ok(
        &anonmap(&d, &["rmap", "--pid", "100", "--addr", &addr], None),
        "rmap",
    );
    for pid in ["100", "101", "102"] {
        assert!(
            out.lines()
                .any(|l| l.split_whitespace().next() == Some(pid)),
            "pid {pid} missing from:\n{out}"
        );
    }
    assert!(
        !out.lines()
            .any(|l| l.split_whitespace().next() == Some("103")),
        "{out}"
    );
}
