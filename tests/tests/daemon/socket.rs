//! The control socket, without a mount (so these run as any user, but the one that needs
//! another uid): pipelining, bad lines, `read`, the journal, crash recovery, shutdown, a
//! second daemon, another uid's process, backpressure, many clients, systemd notification.
//! Most run against the real `anonmapd` binary; those that need no process of their own run
//! the daemon in-process ([`InProcess`]).

use std::io::{BufReader, Write};
use std::process::Command;
use std::time::Duration;

use anonmap_daemon::server::{Peer, SharedMachine};
use anonmap_daemon::DEMO;
use anonmap_mm::{Machine, MachineConfig};
use anonmap_testkit::daemon::{daemon_binary, Daemon, Dirs, Options};
use anonmap_testkit::inproc::InProcess;
use anonmap_testkit::skip_unless_root;
use anonmap_testkit::wire::{exchange_on, lines_of, read_reply};

use crate::as_nobody;

/// The sizes the harness's daemons have (`--ram 1G --swap 64M`).
const SIZES: MachineConfig = MachineConfig {
    ram_bytes: 1 << 30,
    swap_bytes: 64 << 20,
    soft_dirty: false,
    auto_reclaim: true,
};

/// The same lines applied in-process to a fresh machine; the replies to `reads` afterwards.
fn fresh<S: AsRef<str>>(lines: &[S], reads: &[&str]) -> Vec<String> {
    let shared = SharedMachine::new(Machine::new(SIZES));
    let mut peer = Peer::new(0);
    for l in lines {
        shared.execute(&mut peer, l.as_ref().as_bytes());
    }
    reads
        .iter()
        .map(|r| {
            let resp = shared.execute(&mut peer, r.as_bytes()).unwrap();
            read_reply(&mut BufReader::new(&resp.bytes[..])).unwrap()
        })
        .collect()
}

const BASE: u64 = 0x1000_0000;

/// Op `i` of a load: a 4 KiB fixed mapping at its own address (a gap after each, so they never
/// merge), every third one populated; `ok addr=` tells each reply apart.
fn load_op(i: u64) -> String {
    let populate = if i.is_multiple_of(3) { ",populate" } else { "" };
    format!(
        "mmap pid=1 addr={:#x} len=4K prot=rw- flags=private,anonymous,fixed{populate}",
        BASE + i * 0x2000
    )
}

#[test]
fn pipelined_lines_get_their_replies_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let d = InProcess::start_with(&["--state-dir", state.to_str().unwrap()]);
    let mut lines = vec!["spawn pid=1 comm=load bare".to_string()];
    lines.extend((0..5000).map(load_op));
    let replies = d.exchange(&lines);
    assert_eq!(replies.len(), lines.len());
    assert_eq!(replies[0], "ok pid=1\n");
    for (i, r) in replies[1..].iter().enumerate() {
        assert_eq!(r, &format!("ok addr={:#x}\n", BASE + i as u64 * 0x2000));
    }
    let want = [
        "read path=1/maps",
        "read path=1/smaps_rollup",
        "read path=meminfo",
    ];
    assert_eq!(d.exchange(&want), fresh(&lines, &want));
}

#[test]
fn bad_lines_get_err_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let d = InProcess::start_with(&["--state-dir", state.to_str().unwrap()]);
    let setup = [
        "spawn pid=1 comm=a",
        "mmap pid=1 len=64K prot=rw- flags=private,anonymous as=h",
        "touch pid=1 addr=h len=16K access=write",
    ];
    let got = d.exchange(&setup);
    assert!(got.iter().all(|r| r.starts_with("ok")), "{got:?}");
    let views = [
        "read path=1/smaps",
        "read path=names",
        "read path=meminfo",
        "read path=rmap",
    ];
    let before = d.exchange(&views);
    let journal = state.join("journal.0");
    let journal_before = std::fs::read(&journal).unwrap();
    let text = String::from_utf8_lossy(&journal_before);
    assert!(
        text.contains("mmap pid=1 len=0x10000") && !text.contains("as="),
        "labels never reach the journal: {text}"
    );

    let mut input = Vec::new();
    input.extend_from_slice(b"mmap pid=1 len=4K\n");
    input.extend_from_slice(b"frobnicate pid=1\n");
    input.extend_from_slice(b"touch pid=1 addr=nolabel len=4K access=write\n");
    input.extend_from_slice(b"touch pid=1 addr=0x10 len=4K access=write\n");
    input.extend_from_slice(b"mmap pid=1 len=4K prot=rw- flags=private,anonymous as=\xff\n");
    input.extend(std::iter::repeat_n(b'x', 100_000));
    input.extend_from_slice(b"\n");
    input.extend_from_slice(b"exit pid=77\n");
    input.extend_from_slice(b"read path=nonexistent\n");
    input.extend_from_slice(b"read path=1/pagemap offset=3 len=8\n");
    input.extend_from_slice(b"exit pid=1\n"); // after all that, the connection still works
    let got = exchange_on(d.connect(), input, 10);
    let want = [
        "err EINVAL mmap: missing required key prot=",
        "err EINVAL unknown command \"frobnicate\"",
        "err EINVAL touch: addr=nolabel",
        "err EFAULT",
        "err EINVAL line is not valid UTF-8",
        "err EINVAL line longer than 65536 bytes",
        "err ESRCH",
        "err ENOENT",
        "err EINVAL",
        "ok",
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(g.starts_with(w), "got {g:?}, want {w:?}");
    }
    // Ops that reached the machine are journaled, failed ones under an `#! err` line (a
    // failing op may have changed state first); refused lines are not.
    let journal_after = std::fs::read_to_string(&journal).unwrap();
    let added = &journal_after[journal_before.len()..];
    assert_eq!(
        added,
        "#! err EFAULT\ntouch pid=1 addr=0x10 len=0x1000 access=write\n\
         #! err ESRCH\nexit pid=77\nexit pid=1\n"
    );
    // The failed lines changed nothing: the state before the exit is what it was.
    let mut replay = setup.to_vec();
    replay.push("touch pid=1 addr=0x10 len=4K access=write");
    assert_eq!(fresh(&replay, &views), before);
}

#[test]
fn read_returns_the_rendered_files() {
    let d = InProcess::start_with(&["--demo"]);
    let demo: Vec<&str> = DEMO.lines().collect();
    let files = [
        "read path=100/maps",
        "read path=101/smaps",
        "read path=102/smaps_rollup",
        "read path=103/status",
        "read path=300/statm",
        "read path=300/comm",
        "read path=names",
        "read path=meminfo",
        "read path=/",
        "read path=101/maps offset=10 len=20",
    ];
    let got = d.exchange(&files);
    assert_eq!(got, fresh(&demo, &files));
    assert!(got[0].contains("libc.so"), "{}", got[0]);
    assert!(got[8].contains("100\n101\n"), "{}", got[8]);
    assert_eq!(got[9].len(), "ok bytes=20\n".len() + 20);
    // pagemap by range: the entries of 100's first mapped pages.
    let maps = &got[0];
    let first =
        u64::from_str_radix(maps.lines().nth(1).unwrap().split('-').next().unwrap(), 16).unwrap();
    let req = format!("read path=100/pagemap offset={} len=64", first / 4096 * 8);
    let pm = d.exchange(&[&req]);
    assert_eq!(pm, fresh(&demo, &[&req]));
    assert!(pm[0].starts_with("ok bytes=64\n"), "{:?}", pm[0]);
}

#[test]
fn kill_9_mid_load_keeps_every_acknowledged_op() {
    let opts = Options {
        persistent: true,
        extra: vec!["--snapshot-ops".into(), "1000".into()],
        ..Options::socket_only()
    };
    let d = Daemon::start(&opts);
    let total = 100_000u64;
    let mut lines = vec!["spawn pid=1 comm=load bare".to_string()];
    lines.extend((0..total).map(load_op));
    let stream = d.connect();
    let mut w = stream.try_clone().unwrap();
    let input = lines_of(&lines);
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&input);
    });
    let mut r = BufReader::new(stream);
    let mut acked = 0usize;
    let mut killed = false;
    while let Some(reply) = read_reply(&mut r) {
        assert!(reply.starts_with("ok"), "{reply}");
        acked += 1;
        if acked == 3000 {
            // Past a snapshot, so that recovery loads it and replays the journals after it.
            while !d
                .next_log_line()
                .expect("a snapshot is written")
                .contains("snapshot written")
            {}
            d.signal(libc::SIGKILL);
            killed = true;
        }
    }
    assert!(
        killed,
        "the load finished before the kill ({acked} replies)"
    );
    writer.join().unwrap();
    let dirs = d.kill9();
    assert!(acked < lines.len(), "some ops were cut off ({acked})");

    let d = Daemon::start_in(dirs, &opts);
    let log = d.early_log();
    assert!(
        log.iter().any(|l| l.contains("from_snapshot=true")),
        "recovery starts from the snapshot: {log:?}"
    );
    // How many ops the daemon made durable: the mappings in 1/maps (bare: nothing else).
    let maps = d.exchange(&["read path=1/maps"]).remove(0);
    let durable = maps.lines().count() - 1; // the status line "ok bytes=N"
    let applied = durable + 1; // with the spawn
    assert!(
        applied >= acked,
        "{acked} acknowledged, {applied} recovered"
    );
    let span = (total * 0x2000 / 4096) * 8;
    let views = [
        "read path=1/maps".to_string(),
        "read path=1/smaps".to_string(),
        "read path=meminfo".to_string(),
        "read path=rmap".to_string(),
        format!("read path=1/pagemap offset={} len={span}", BASE / 4096 * 8),
    ];
    let views: Vec<&str> = views.iter().map(String::as_str).collect();
    assert_eq!(d.exchange(&views), fresh(&lines[..applied], &views));
}

#[test]
fn sigterm_removes_the_socket_and_exits_0() {
    let opts = Options {
        persistent: true,
        ..Options::socket_only()
    };
    let d = Daemon::start(&opts);
    let dirs = d.dirs();
    assert_eq!(d.exchange(&["spawn pid=9 comm=kept"]), ["ok pid=9\n"]);
    let socket = d.socket();
    assert!(socket.exists());
    let (status, log) = d.sigterm();
    assert!(status.success(), "{status}");
    assert!(!socket.exists(), "the socket file is removed");
    assert!(log.iter().any(|l| l.contains("SIGTERM")), "{log:?}");
    assert!(log.iter().any(|l| l.contains("stopped")), "{log:?}");
    // The state is kept.
    let d = Daemon::start_in(dirs, &opts);
    assert_eq!(d.exchange(&["read path=9/comm"]), ["ok bytes=5\nkept\n"]);
}

#[test]
fn a_second_daemon_on_the_same_socket_refuses() {
    let first = Daemon::start(&Options::socket_only());
    let out = Command::new(daemon_binary())
        .args(["--no-mount", "--ephemeral", "--socket"])
        .arg(first.socket())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another anonmapd is already listening on"),
        "{err}"
    );
    // The first one is untouched.
    assert_eq!(first.exchange(&["spawn pid=3"]), ["ok pid=3\n"]);
    // A stale socket file (no listener) is replaced.
    let socket = first.socket();
    let dirs = first.kill9();
    assert!(socket.exists(), "kill -9 leaves the socket file");
    let again = Daemon::start_in(dirs, &Options::socket_only());
    assert_eq!(again.exchange(&["spawn pid=3"]), ["ok pid=3\n"]);
}

#[test]
fn another_uid_gets_eacces() {
    skip_unless_root!("runs a client as another uid");
    let d = Daemon::start(&Options::socket_only());
    let root = d.exchange(&[
        "spawn pid=1 bare",
        "mmap pid=1 addr=0x100000 len=8K prot=rw- flags=private,anonymous,fixed",
    ]);
    assert_eq!(root, ["ok pid=1\n", "ok addr=0x100000\n"]);
    let before = d.exchange(&["read path=1/maps"]);
    let got = as_nobody(
        &d.dirs(),
        &d.socket(),
        "munmap pid=1 addr=0x100000 len=4K\n\
         touch pid=1 addr=0x100000 len=4K access=write\n\
         read path=1/maps\n\
         spawn pid=2 uid=0\n\
         spawn pid=2\n\
         fork pid=2 child=3\n\
         munmap pid=3 addr=0x100000 len=4K\n",
    );
    assert_eq!(got.len(), 7, "{got:?}");
    assert!(
        got[0].starts_with("err EACCES munmap: process 1 belongs to uid 0"),
        "{got:?}"
    );
    assert!(got[1].starts_with("err EACCES touch:"), "{got:?}");
    assert!(
        got[2].starts_with("ok bytes="),
        "reading is allowed: {got:?}"
    );
    assert!(got[3].starts_with("err EACCES spawn uid=0"), "{got:?}");
    assert_eq!(got[4], "ok pid=2");
    assert_eq!(got[5], "ok pid=3");
    // Its own child's range holds nothing there: munmap of an unmapped range succeeds.
    assert_eq!(got[6], "ok", "{got:?}");
    assert_eq!(d.exchange(&["read path=1/maps"]), before, "nothing changed");
    // The fork child inherited its parent's owner; root may change anything.
    let status = d.exchange(&["read path=3/status"]).remove(0);
    assert!(status.contains("Uid:\t65534"), "{status}");
    assert_eq!(d.exchange(&["exit pid=3"]), ["ok\n"]);
}

/// The daemon's resident memory, from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_client_that_does_not_read_its_replies_is_pushed_back() {
    let d = Daemon::start(&Options {
        extra: vec!["--demo".into()],
        ..Options::socket_only()
    });
    let one = d.exchange(&["read path=101/smaps"]).remove(0);
    let line = b"read path=101/smaps\n";
    let rss_before = rss_kib(d.pid());
    // Write requests without reading a reply until the daemon stops taking them: a write that
    // makes no progress for 2 s.
    let stream = d.connect();
    stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut w = &stream;
    let mut sent = 0usize;
    let limit = 256 << 20;
    while sent < limit {
        match w.write(line) {
            Ok(n) if n == line.len() => sent += n,
            Ok(n) => {
                sent += n;
                break; // a partial write: the buffers are full
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(e) => panic!("{e}"),
        }
    }
    let lines = sent / line.len();
    let reply_bytes = lines * one.len();
    eprintln!("pushed back after {sent} request bytes ({reply_bytes} reply bytes owed)");
    assert!(
        sent < 32 << 20,
        "the daemon kept reading: {sent} bytes taken"
    );
    let grown = rss_kib(d.pid()).saturating_sub(rss_before);
    assert!(grown < 64 << 10, "the daemon grew by {grown} KiB");
    // Reading resumes the flow: every reply arrives, in order, each the same.
    stream.set_write_timeout(None).unwrap();
    let rest = line.len() - sent % line.len();
    let mut w2 = stream.try_clone().unwrap();
    let tail = line[line.len() - rest..].to_vec();
    let writer = std::thread::spawn(move || {
        if rest != line.len() {
            w2.write_all(&tail).unwrap();
        }
    });
    let mut r = BufReader::new(stream.try_clone().unwrap());
    let total = lines + usize::from(rest != line.len());
    for i in 0..total {
        let reply = read_reply(&mut r).unwrap();
        assert_eq!(reply, one, "reply {i}");
    }
    writer.join().unwrap();
}

#[test]
fn many_clients_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let d = InProcess::start_with(&["--state-dir", state.to_str().unwrap()]);
    let clients = 8u32;
    let socket = d.socket();
    std::thread::scope(|s| {
        for c in 0..clients {
            s.spawn(move || {
                let pid = 100 + c;
                let mut lines = vec![format!("spawn pid={pid} bare")];
                lines.extend((0..1000u64).map(|i| {
                    format!(
                        "mmap pid={pid} addr={:#x} len=4K prot=rw- flags=private,anonymous,fixed,populate",
                        BASE + i * 0x2000
                    )
                }));
                let stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
                let got = exchange_on(stream, lines_of(&lines), lines.len());
                assert_eq!(got.len(), lines.len());
                assert_eq!(got[0], format!("ok pid={pid}\n"));
                for (i, r) in got[1..].iter().enumerate() {
                    assert_eq!(r, &format!("ok addr={:#x}\n", BASE + i as u64 * 0x2000));
                }
            });
        }
    });
    let maps = d.exchange(&["read path=107/maps"]).remove(0);
    assert_eq!(maps.lines().count(), 1 + 1000);
}

/// The harness itself waits for `READY=1`; after SIGTERM, `STOPPING=1` follows, then exit 0.
#[test]
fn systemd_is_told_ready_and_stopping() {
    let d = Daemon::start(&Options::socket_only());
    d.signal(libc::SIGTERM);
    d.wait_for_notification("STOPPING=1");
    let (status, _) = d.wait();
    assert!(status.success(), "{status}");
}

/// A daemon that cannot start exits non-zero with the reason, and never says it is ready.
#[test]
fn a_daemon_that_cannot_start_says_why() {
    let dirs = Dirs::new();
    std::fs::write(dirs.socket(), b"not a socket").unwrap();
    let (status, log) = Daemon::start_failing(dirs, &Options::socket_only());
    assert!(!status.success());
    assert!(
        log.iter()
            .any(|l| l.contains("is not a socket; refusing to remove it")),
        "{log:?}"
    );
}
