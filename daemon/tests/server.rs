//! The control socket against the real `anonmapd` binary (`--no-mount`, a temporary socket and
//! state directory): pipelining, bad lines, `read`, crash recovery, shutdown, a second daemon,
//! and another uid's process.
//!
//! The daemon is waited for on its `listening` log line, never with sleeps.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anonmap_daemon::journal::recover::new_machine;
use anonmap_daemon::journal::Sizes;
use anonmap_daemon::server::{Session, SharedMachine};

const RAM: &str = "1G";
const SWAP: &str = "64M";
const SIZES: Sizes = Sizes {
    ram_bytes: 1 << 30,
    swap_bytes: 64 << 20,
};

/// A running daemon.
struct Daemon {
    child: Child,
    socket: PathBuf,
    /// stderr lines after the readiness line.
    log: mpsc::Receiver<String>,
}

impl Daemon {
    /// Starts `anonmapd --no-mount --socket DIR/ctl ARGS` and waits for its `listening` line.
    fn start(dir: &Path, args: &[&str]) -> Daemon {
        Daemon::start_logging(dir, args, &mut Vec::new())
    }

    /// [`Daemon::start`], keeping the log lines up to the readiness line in `log`.
    fn start_logging(dir: &Path, args: &[&str], early: &mut Vec<String>) -> Daemon {
        Daemon::start_with(dir, args, early, |_| {})
    }

    /// [`Daemon::start_logging`], with `setup` adjusting the command first.
    fn start_with(
        dir: &Path,
        args: &[&str],
        early: &mut Vec<String>,
        setup: impl FnOnce(&mut Command),
    ) -> Daemon {
        let socket = dir.join("ctl");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_anonmapd"));
        setup(&mut cmd);
        let mut child = cmd
            .arg("--no-mount")
            .arg("--socket")
            .arg(&socket)
            .args(["--ram", RAM, "--swap", SWAP])
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("anonmapd starts");
        let (tx, log) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[anonmapd] {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let d = Daemon { child, socket, log };
        loop {
            match d.log.recv_timeout(Duration::from_secs(60)) {
                Ok(line) if line.contains("listening") => return d,
                Ok(line) => early.push(line),
                Err(e) => panic!("anonmapd did not become ready: {e}"),
            }
        }
    }

    fn connect(&self) -> UnixStream {
        UnixStream::connect(&self.socket).expect("connect to anonmapd")
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the pid of our own child.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }

    fn wait(mut self) -> ExitStatus {
        self.child.wait().unwrap()
    }

    /// Every log line until the daemon exits.
    fn wait_with_log(mut self) -> (ExitStatus, Vec<String>) {
        let status = self.child.wait().unwrap();
        (status, self.log.iter().collect())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads one reply: a line, plus its body for `ok bytes=N`.
fn read_reply(r: &mut impl BufRead) -> Option<String> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    if let Some(n) = line.strip_prefix("ok bytes=") {
        let n: usize = n.trim_end().parse().unwrap();
        let mut body = vec![0; n];
        r.read_exact(&mut body).ok()?;
        line.push_str(&String::from_utf8_lossy(&body));
    }
    Some(line)
}

/// Sends every line (pipelined, from a writer thread) and reads the replies to all of them.
fn exchange(stream: UnixStream, input: Vec<u8>, replies: usize) -> Vec<String> {
    let mut w = stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&input);
    });
    let mut r = BufReader::new(stream);
    let got: Vec<String> = (0..replies).map_while(|_| read_reply(&mut r)).collect();
    writer.join().unwrap();
    got
}

fn lines_of(lines: &[String]) -> Vec<u8> {
    let mut v = lines.join("\n").into_bytes();
    v.push(b'\n');
    v
}

/// The same lines applied in-process to a fresh machine; the bodies of `reads` afterwards.
fn fresh(lines: &[String], reads: &[&str]) -> Vec<String> {
    let shared = SharedMachine::new(new_machine(SIZES), None);
    let mut session = Session::new(0);
    for l in lines {
        shared.execute(&mut session, l.as_bytes());
    }
    reads
        .iter()
        .map(|r| {
            let resp = shared.execute(&mut session, r.as_bytes()).unwrap();
            let mut reader = BufReader::new(&resp.bytes[..]);
            read_reply(&mut reader).unwrap()
        })
        .collect()
}

/// The reply bodies of `reads` from the daemon.
fn reads(d: &Daemon, reads: &[&str]) -> Vec<String> {
    let input = lines_of(&reads.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    exchange(d.connect(), input, reads.len())
}

fn tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
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
    let dir = tempdir();
    let d = Daemon::start(
        dir.path(),
        &["--state-dir", dir.path().join("state").to_str().unwrap()],
    );
    let mut lines = vec!["spawn pid=1 comm=load bare".to_string()];
    lines.extend((0..5000).map(load_op));
    let replies = exchange(d.connect(), lines_of(&lines), lines.len());
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
    assert_eq!(reads(&d, &want), fresh(&lines, &want));
}

#[test]
fn bad_lines_get_err_and_change_nothing() {
    let dir = tempdir();
    let state = dir.path().join("state");
    let d = Daemon::start(dir.path(), &["--state-dir", state.to_str().unwrap()]);
    let setup = [
        "spawn pid=1 comm=a",
        "mmap pid=1 len=64K prot=rw- flags=private,anonymous as=h",
        "touch pid=1 addr=h len=16K access=write",
    ];
    let setup: Vec<String> = setup.iter().map(|s| s.to_string()).collect();
    let got = exchange(d.connect(), lines_of(&setup), setup.len());
    assert!(got.iter().all(|r| r.starts_with("ok")), "{got:?}");
    let views = [
        "read path=1/smaps",
        "read path=names",
        "read path=meminfo",
        "read path=rmap",
    ];
    let before = reads(&d, &views);
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
    let got = exchange(d.connect(), input, 10);
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
    let mut replay = setup.clone();
    replay.push("touch pid=1 addr=0x10 len=4K access=write".into());
    assert_eq!(fresh(&replay, &views), before);
}

#[test]
fn read_returns_the_rendered_files() {
    let dir = tempdir();
    let d = Daemon::start(dir.path(), &["--ephemeral", "--demo"]);
    let demo: Vec<String> = anonmap_daemon::server::DEMO
        .lines()
        .map(String::from)
        .collect();
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
    let got = reads(&d, &files);
    assert_eq!(got, fresh(&demo, &files));
    assert!(got[0].contains("libc.so"), "{}", got[0]);
    assert!(got[8].contains("100\n101\n"), "{}", got[8]);
    assert_eq!(got[9].len(), "ok bytes=20\n".len() + 20);
    // pagemap by range: the entries of 100's first mapped pages.
    let maps = &got[0];
    let first =
        u64::from_str_radix(maps.lines().nth(1).unwrap().split('-').next().unwrap(), 16).unwrap();
    let req = format!("read path=100/pagemap offset={} len=64", first / 4096 * 8);
    let pm = reads(&d, &[&req]);
    assert_eq!(pm, fresh(&demo, &[&req]));
    assert!(pm[0].starts_with("ok bytes=64\n"), "{:?}", pm[0]);
}

#[test]
fn kill_9_mid_load_keeps_every_acknowledged_op() {
    let dir = tempdir();
    let state = dir.path().join("state");
    let args = [
        "--state-dir",
        state.to_str().unwrap(),
        "--snapshot-ops",
        "1000",
    ];
    let d = Daemon::start(dir.path(), &args);
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
                .log
                .recv_timeout(Duration::from_secs(60))
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
    drop(d);
    assert!(acked < lines.len(), "some ops were cut off ({acked})");

    let mut log = Vec::new();
    let d = Daemon::start_logging(dir.path(), &args, &mut log);
    assert!(
        log.iter().any(|l| l.contains("from_snapshot=true")),
        "recovery starts from the snapshot: {log:?}"
    );
    // How many ops the daemon made durable: the mappings in 1/maps (bare: nothing else).
    let maps = reads(&d, &["read path=1/maps"]).remove(0);
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
    assert_eq!(reads(&d, &views), fresh(&lines[..applied], &views));
}

#[test]
fn sigterm_removes_the_socket_and_exits_0() {
    let dir = tempdir();
    let state = dir.path().join("state");
    let d = Daemon::start(dir.path(), &["--state-dir", state.to_str().unwrap()]);
    let got = exchange(d.connect(), b"spawn pid=9 comm=kept\n".to_vec(), 1);
    assert_eq!(got, ["ok pid=9\n"]);
    let socket = d.socket.clone();
    assert!(socket.exists());
    d.signal(libc::SIGTERM);
    let (status, log) = d.wait_with_log();
    assert!(status.success(), "{status}");
    assert!(!socket.exists(), "the socket file is removed");
    assert!(log.iter().any(|l| l.contains("SIGTERM")), "{log:?}");
    assert!(log.iter().any(|l| l.contains("stopped")), "{log:?}");
    // The state is kept.
    let d = Daemon::start(dir.path(), &["--state-dir", state.to_str().unwrap()]);
    assert_eq!(reads(&d, &["read path=9/comm"]), ["ok bytes=5\nkept\n"]);
}

#[test]
fn a_second_daemon_on_the_same_socket_refuses() {
    let dir = tempdir();
    let first = Daemon::start(dir.path(), &["--ephemeral"]);
    let out = Command::new(env!("CARGO_BIN_EXE_anonmapd"))
        .args(["--no-mount", "--ephemeral", "--socket"])
        .arg(&first.socket)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another anonmapd is already listening on"),
        "{err}"
    );
    // The first one is untouched.
    assert_eq!(
        exchange(first.connect(), b"spawn pid=3\n".to_vec(), 1),
        ["ok pid=3\n"]
    );
    // A stale socket file (no listener) is replaced.
    first.signal(libc::SIGKILL);
    let socket = first.socket.clone();
    first.wait();
    assert!(socket.exists(), "kill -9 leaves the socket file");
    let again = Daemon::start(dir.path(), &["--ephemeral"]);
    assert_eq!(
        exchange(again.connect(), b"spawn pid=3\n".to_vec(), 1),
        ["ok pid=3\n"]
    );
}

/// Not a test of its own: when `ANONMAP_TEST_CLIENT` names a socket, this sends the lines of
/// `ANONMAP_TEST_LINES` and prints the replies. `another_uid_gets_eacces` runs it as another
/// uid.
#[test]
fn client_helper() {
    let Ok(socket) = std::env::var("ANONMAP_TEST_CLIENT") else {
        return;
    };
    let lines = std::env::var("ANONMAP_TEST_LINES").unwrap();
    let n = lines.lines().count();
    let got = exchange(UnixStream::connect(socket).unwrap(), lines.into_bytes(), n);
    for r in got {
        println!("REPLY {}", r.trim_end());
    }
}

#[test]
fn another_uid_gets_eacces() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run a client as another uid");
        return;
    }
    let dir = tempdir();
    let d = Daemon::start(dir.path(), &["--ephemeral"]);
    let root = exchange(
        d.connect(),
        b"spawn pid=1 bare\nmmap pid=1 addr=0x100000 len=8K prot=rw- flags=private,anonymous,fixed\n"
            .to_vec(),
        2,
    );
    assert_eq!(root, ["ok pid=1\n", "ok addr=0x100000\n"]);
    // The client is this test binary, copied where uid 65534 may run it (the build directory
    // may not be reachable for it).
    let helper = dir.path().join("client-helper");
    std::fs::copy(std::env::current_exe().unwrap(), &helper).unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let as_nobody = |lines: &str| -> Vec<String> {
        let out = Command::new(&helper)
            .args([
                "--exact",
                "client_helper",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("ANONMAP_TEST_CLIENT", &d.socket)
            .env("ANONMAP_TEST_LINES", lines)
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| l.find("REPLY ").map(|i| l[i + 6..].to_string()))
            .collect()
    };
    let before = reads(&d, &["read path=1/maps"]);
    let got = as_nobody(
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
    assert!(
        got[6].starts_with("err EINVAL") || got[6].starts_with("ok"),
        "{got:?}"
    );
    assert_eq!(reads(&d, &["read path=1/maps"]), before, "nothing changed");
    // The fork child inherited its parent's owner; root may change anything.
    let status = reads(&d, &["read path=3/status"]).remove(0);
    assert!(status.contains("Uid:\t65534"), "{status}");
    let root = exchange(d.connect(), b"exit pid=3\n".to_vec(), 1);
    assert_eq!(root, ["ok\n"]);
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
    let dir = tempdir();
    let d = Daemon::start(dir.path(), &["--ephemeral", "--demo"]);
    let one = reads(&d, &["read path=101/smaps"]).remove(0);
    let line = b"read path=101/smaps\n";
    let rss_before = rss_kib(d.child.id());
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
    let grown = rss_kib(d.child.id()).saturating_sub(rss_before);
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
    let dir = tempdir();
    let d = Daemon::start(
        dir.path(),
        &["--state-dir", dir.path().join("state").to_str().unwrap()],
    );
    let clients = 8u32;
    let socket = &d.socket;
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
                let stream = UnixStream::connect(socket).unwrap();
                let got = exchange(stream, lines_of(&lines), lines.len());
                assert_eq!(got.len(), lines.len());
                assert_eq!(got[0], format!("ok pid={pid}\n"));
                for (i, r) in got[1..].iter().enumerate() {
                    assert_eq!(r, &format!("ok addr={:#x}\n", BASE + i as u64 * 0x2000));
                }
            });
        }
    });
    let maps = reads(&d, &["read path=107/maps"]).remove(0);
    assert_eq!(maps.lines().count(), 1 + 1000);
}

#[test]
fn systemd_is_told_ready_and_stopping() {
    let dir = tempdir();
    let notify_path = dir.path().join("notify");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let d = Daemon::start_with(dir.path(), &["--ephemeral"], &mut Vec::new(), |c| {
        c.env("NOTIFY_SOCKET", &notify_path);
    });
    let mut buf = [0u8; 256];
    let n = notify.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"READY=1");
    d.signal(libc::SIGTERM);
    let n = notify.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"STOPPING=1");
    assert!(d.wait().success());
}
