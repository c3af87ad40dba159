//! End to end against the real `anonmapd` binary with a real FUSE mount: writes go through the
//! control socket, reads through the mount with plain `std::fs`. The harness is
//! `anonmap_testkit::daemon`; the daemon is waited for on its sd_notify readiness and on its
//! exit, never with sleeps.
//!
//! Needs root and /dev/fuse (the daemon mounts with mount(2) directly): each test says so and
//! skips itself otherwise.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use anonmap_daemon::server::{Peer, SharedMachine};
use anonmap_fusefs::mount::{is_mount_point, statfs};
use anonmap_lang::script::{check, statements};
use anonmap_lang::Reply;
use anonmap_mm::{Machine, MachineConfig};
use anonmap_testkit::daemon::{
    daemon_binary, output_within_timeout, read_tree, Daemon, Dirs, Options,
};
use anonmap_testkit::oracle;
use anonmap_testkit::skip_unless_root;
use anonmap_testkit::wire::read_reply;

use crate::as_nobody;

/// Whether `dir` is mounted now.
fn mounted(dir: &Path) -> bool {
    is_mount_point(dir).expect("/proc/self/mountinfo")
}
use procfs_core::process::MemoryMaps;
use procfs_core::FromBufRead;

/// Asserts `a == b` for file contents without printing megabytes: the first difference only.
fn assert_same(what: &str, actual: &[u8], expected: &[u8]) {
    if actual == expected {
        return;
    }
    let at = actual
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(actual.len().min(expected.len()));
    let lo = at.saturating_sub(120);
    panic!(
        "{what}: {} bytes, expected {}; first difference at byte {at}\n  got:      {:?}\n  expected: {:?}",
        actual.len(),
        expected.len(),
        String::from_utf8_lossy(&actual[lo..(at + 120).min(actual.len())]),
        String::from_utf8_lossy(&expected[lo..(at + 120).min(expected.len())]),
    );
}

/// Pid directories in the mount's root.
fn pid_dirs(mount: &Path) -> Vec<u32> {
    let mut v: Vec<u32> = std::fs::read_dir(mount)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str()?.parse().ok())
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------------
// a. The kernel oracle cases through the socket, read back through the mount.

#[test]
fn oracle_cases_through_the_socket_match_the_kernel_through_the_mount() {
    skip_unless_root!(fuse, "mounts the tree");
    let started = Instant::now();
    // The oracle machine: 64 MiB of RAM as in `oracle::run_script`, no swap.
    let d = Daemon::start(&Options {
        ram: "64M".into(),
        swap: "0".into(),
        ..Options::default()
    });
    let mount = d.mount_dir();
    let mut failures = Vec::new();
    let (mut cases, mut files, mut lines_sent, mut errs) = (0, 0, 0, 0);
    for folder in ["fidelity", "kernel-6.18"] {
        for case in oracle::cases(folder) {
            let name = case.file_name().unwrap().to_string_lossy().to_string();
            let text = std::fs::read_to_string(case.join("script.anonmap")).unwrap();
            // Every call the kernel was asked for, a failed one after its `#! err ERRNO`: the
            // daemon must give each the kernel's result.
            let stmts: Vec<_> = statements(&text).map(Result::unwrap).collect();
            let lines: Vec<&str> = stmts.iter().map(|s| s.text).collect();
            let replies = d.exchange(&lines);
            assert_eq!(replies.len(), lines.len(), "{name}: a reply per line");
            for (stmt, reply) in stmts.iter().zip(&replies) {
                let got = match Reply::read_from(&mut reply.as_bytes()).unwrap() {
                    Some(Reply::Ok(o)) => Ok(o),
                    Some(Reply::Err(e)) => Err(e),
                    other => panic!("{name}: {}: {other:?}", stmt.text),
                };
                if let Err(why) = check(stmt.expect, &got) {
                    failures.push(format!(
                        "{name}: line {}: {}: {why}",
                        stmt.line_no, stmt.text
                    ));
                }
            }
            lines_sent += lines.len();
            errs += replies.iter().filter(|r| r.starts_with("err")).count();

            let mut expected: Vec<_> = std::fs::read_dir(&case)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter_map(|p| {
                    let f = p.file_name()?.to_str()?.to_string();
                    let pid: u32 = f
                        .strip_prefix("expected.")?
                        .strip_suffix(".smaps")?
                        .parse()
                        .ok()?;
                    Some((pid, p))
                })
                .collect();
            expected.sort();
            assert!(!expected.is_empty(), "{name}: no expected files");
            for (pid, path) in expected {
                files += 1;
                let file = mount.join(pid.to_string()).join("smaps");
                let actual = match std::fs::read(&file) {
                    Ok(b) => String::from_utf8(b).unwrap(),
                    Err(e) => {
                        failures.push(format!("{name}: {}: {e}", file.display()));
                        continue;
                    }
                };
                let actual = oracle::arena_blocks(&actual);
                let kernel = oracle::arena_blocks(&std::fs::read_to_string(&path).unwrap());
                if actual != kernel {
                    let at = actual
                        .iter()
                        .zip(&kernel)
                        .position(|(a, k)| a != k)
                        .unwrap_or(actual.len().min(kernel.len()));
                    failures.push(format!(
                        "{name}/expected.{pid}.smaps: first difference at block line {at}\n  kernel:  {:?}\n  mounted: {:?}",
                        kernel.get(at),
                        actual.get(at)
                    ));
                }
            }

            // Free pids 1 and 2 for the next case: `exit` tears the processes down.
            let exits: Vec<String> = pid_dirs(&mount)
                .iter()
                .map(|p| format!("exit pid={p}"))
                .collect();
            let replies = d.exchange(&exits);
            assert!(replies.iter().all(|r| r == "ok\n"), "{name}: {replies:?}");
            assert_eq!(
                pid_dirs(&mount),
                Vec::<u32>::new(),
                "{name}: exited pids vanish"
            );
            cases += 1;
        }
    }
    // Every frame was freed by the exits.
    let meminfo = std::fs::read_to_string(mount.join("meminfo")).unwrap();
    assert!(meminfo.contains("AnonPages:             0 kB"), "{meminfo}");
    eprintln!(
        "oracle through the daemon: {cases} cases, {lines_sent} lines sent ({errs} failed calls \
         replied err), {files} expected files compared through the mount, {:.1?}",
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// b. Chunked reads of a large smaps while a writer changes the process.

const BIG_BASE: u64 = 0x10_0000_0000;

/// Reads `path` whole through one open file, `chunk` bytes per read(2).
fn read_chunked(path: &Path, chunk: usize) -> Vec<u8> {
    let mut f = std::fs::File::open(path).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0; chunk];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// The VMA blocks of an smaps text (each starts at a header line `start-end perms ...`).
fn smaps_blocks(text: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut pos = 0;
    for line in text.split_inclusive(|b| *b == b'\n') {
        let first = line.split(|b| *b == b' ').next().unwrap();
        if first.contains(&b'-') && first.iter().all(|b| b.is_ascii_hexdigit() || *b == b'-') {
            starts.push(pos);
        }
        pos += line.len();
    }
    starts.push(text.len());
    starts.windows(2).map(|w| &text[w[0]..w[1]]).collect()
}

/// A process with `vmas` adjacent one-page VMAs, alternately rw- and rwx so that none merge;
/// one touch (state A: every page dirty) or one madvise (state B: no page) changes every block
/// of its smaps at once, so a read mixing the two is never equal to either.
struct Big {
    pid: u32,
    vmas: u64,
    smaps: std::path::PathBuf,
    to_a: String,
    to_b: String,
    /// Its smaps in state A and B, each read once while nothing changes.
    a: Vec<u8>,
    b: Vec<u8>,
}

impl Big {
    fn new(d: &Daemon, pid: u32, vmas: u64) -> Big {
        let base = BIG_BASE * u64::from(pid);
        let mut setup = vec![format!("spawn pid={pid} comm=big bare")];
        setup.extend((0..vmas).map(|i| {
            let prot = if i % 2 == 0 { "rw-" } else { "rwx" };
            format!(
                "mmap pid={pid} addr={:#x} len=4K prot={prot} flags=private,anonymous,fixed",
                base + i * 4096
            )
        }));
        let got = d.exchange(&setup);
        assert!(got.iter().all(|r| r.starts_with("ok")), "setup failed");
        let len = vmas * 4096;
        let mut big = Big {
            pid,
            vmas,
            smaps: d.mount_dir().join(format!("{pid}/smaps")),
            to_a: format!("touch pid={pid} addr={base:#x} len={len:#x} access=write"),
            to_b: format!("madvise pid={pid} addr={base:#x} len={len:#x} advice=dontneed"),
            a: Vec::new(),
            b: Vec::new(),
        };
        assert_eq!(d.exchange(&[&big.to_a]), ["ok\n"]);
        big.a = std::fs::read(&big.smaps).unwrap();
        assert_eq!(d.exchange(&[&big.to_b]), ["ok\n"]);
        big.b = std::fs::read(&big.smaps).unwrap();
        big.check_well_formed("state A", &big.a);
        big.check_well_formed("state B", &big.b);
        let (ba, bb) = (smaps_blocks(&big.a), smaps_blocks(&big.b));
        assert!(
            ba.iter().zip(&bb).all(|(x, y)| x != y),
            "A and B differ in every block"
        );
        big
    }

    /// A well-formed smaps with one block per VMA.
    fn check_well_formed(&self, what: &str, text: &[u8]) {
        let what = format!("{}: {what}", self.smaps.display());
        let maps = MemoryMaps::from_buf_read(text).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(maps.len(), self.vmas as usize, "{what}: VMA count");
        assert_eq!(
            smaps_blocks(text).len(),
            self.vmas as usize,
            "{what}: block count"
        );
    }

    /// Reads the smaps in `chunk`-byte reads; it must be exactly state A or state B. Returns
    /// whether it was A.
    fn read_one_state(&self, chunk: usize, what: &str) -> bool {
        let got = read_chunked(&self.smaps, chunk);
        self.check_well_formed(what, &got);
        if got == self.a {
            return true;
        }
        if got == self.b {
            return false;
        }
        let common = |x: &[u8]| got.iter().zip(x).take_while(|(p, q)| p == q).count();
        let nearer = if common(&self.a) > common(&self.b) {
            &self.a
        } else {
            &self.b
        };
        assert_same(&format!("{what}: a mix of two states"), &got, nearer);
        unreachable!()
    }
}

#[test]
fn chunked_reads_of_a_large_smaps_never_mix_two_states() {
    skip_unless_root!(fuse, "mounts the tree");
    let d = Daemon::start(&Options::default());
    // pid 1 is read in 128 KiB and 4 KiB chunks; pid 2, smaller, in 1-byte chunks too (each
    // byte is one FUSE request).
    let large = Big::new(&d, 1, 3000);
    let small = Big::new(&d, 2, 400);
    assert!(large.a.len() > 1 << 20, "{} bytes", large.a.len());
    assert!(small.a.len() > 256 << 10, "{} bytes", small.a.len());

    // One open handle keeps the state it was opened in, whatever happens after its first read;
    // a read at offset 0 renders afresh (seq_file).
    {
        let mut f = std::fs::File::open(&large.smaps).unwrap();
        let mut first = vec![0; 4096];
        f.read_exact(&mut first).unwrap();
        assert_eq!(d.exchange(&[&large.to_a]), ["ok\n"]);
        let mut rest = Vec::new();
        f.read_to_end(&mut rest).unwrap();
        first.extend_from_slice(&rest);
        assert_same("an open handle across a change", &first, &large.b);
        f.seek(SeekFrom::Start(0)).unwrap();
        let mut again = Vec::new();
        f.read_to_end(&mut again).unwrap();
        assert_same("a re-read from offset 0", &again, &large.a);
    }

    // A writer flips both processes A <-> B as fast as the daemon takes it while reads run.
    let stop = AtomicBool::new(false);
    let flips = AtomicU64::new(0);
    let (mut seen_a, mut seen_b) = (0, 0);
    let mut report = Vec::new();
    let writer_conn = d.connect();
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut conn = std::io::BufReader::new(writer_conn);
            let mut w = conn.get_ref().try_clone().unwrap();
            while !stop.load(Ordering::Relaxed) {
                for line in [&large.to_b, &small.to_b, &large.to_a, &small.to_a] {
                    std::io::Write::write_all(&mut w, format!("{line}\n").as_bytes()).unwrap();
                    let reply = read_reply(&mut conn).unwrap();
                    assert_eq!(reply, "ok\n");
                    flips.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for (big, chunk, reads) in [
                (&large, 128 << 10, 10),
                (&large, 4096, 10),
                (&small, 128 << 10, 10),
                (&small, 4096, 10),
                (&small, 1, 1),
            ] {
                let t = Instant::now();
                let flips_before = flips.load(Ordering::Relaxed);
                for i in 0..reads {
                    let what = format!("read {i} in {chunk}-byte chunks");
                    if big.read_one_state(chunk, &what) {
                        seen_a += 1;
                    } else {
                        seen_b += 1;
                    }
                }
                report.push(format!(
                    "pid {}, {chunk}-byte chunks: {reads} reads in {:.1?} during {} writer ops",
                    big.pid,
                    t.elapsed(),
                    flips.load(Ordering::Relaxed) - flips_before
                ));
            }
        }));
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        if let Err(p) = result {
            std::panic::resume_unwind(p);
        }
    });
    eprintln!(
        "large smaps: pid 1 {} VMAs, {} bytes; pid 2 {} VMAs, {} bytes; {seen_a} reads saw \
         state A, {seen_b} state B, none mixed; {} writer ops in all; {}",
        large.vmas,
        large.a.len(),
        small.vmas,
        small.a.len(),
        flips.load(Ordering::Relaxed),
        report.join("; ")
    );
    assert!(seen_a > 0 && seen_b > 0, "the reads saw both states");
}

// ---------------------------------------------------------------------------------------------
// c. kill -9 in the middle of a pipelined load, restart on the same directories.

const LOAD_BASE: u64 = 0x1000_0000;
const LOAD_OPS: u64 = 50_000;
const KILL_AT: usize = 20_000;
const LOAD_SIZES: MachineConfig = MachineConfig {
    ram_bytes: 1 << 30,
    swap_bytes: 64 << 20,
    soft_dirty: false,
    auto_reclaim: true,
};

/// Op `i` of the load: per slot of three ops, an 8 KiB mapping, a write to its first page, an
/// munmap of its second page. The slots have gaps between them, so their VMAs never merge.
fn load_op(i: u64) -> String {
    let a = LOAD_BASE + (i / 3) * 0x4000;
    match i % 3 {
        0 => format!("mmap pid=1 addr={a:#x} len=8K prot=rw- flags=private,anonymous,fixed"),
        1 => format!("touch pid=1 addr={a:#x} len=4K access=write"),
        _ => format!("munmap pid=1 addr={:#x} len=4K", a + 0x1000),
    }
}

/// How many lines of the load (the spawn included) a state holds, from its maps and smaps.
fn applied_lines(maps: &str, smaps: &str) -> usize {
    let k = maps.lines().count() as u64;
    assert!(k > 0, "no mapping recovered");
    let last = maps.lines().last().unwrap();
    let (s, e) = last.split(' ').next().unwrap().split_once('-').unwrap();
    let size = u64::from_str_radix(e, 16).unwrap() - u64::from_str_radix(s, 16).unwrap();
    let ops = if size == 0x1000 {
        3 * k
    } else {
        let rss = smaps
            .rsplit("\nRss:")
            .next()
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        if rss == "0" {
            3 * k - 2
        } else {
            3 * k - 1
        }
    };
    1 + ops as usize
}

#[test]
fn kill_9_mid_load_then_restart_keeps_every_acknowledged_op() {
    skip_unless_root!(fuse, "mounts the tree");
    let opts = Options {
        ram: "1G".into(),
        swap: "64M".into(),
        persistent: true,
        extra: vec!["--snapshot-ops".into(), "5000".into()],
        ..Options::default()
    };
    let d = Daemon::start(&opts);
    let mut lines = vec!["spawn pid=1 comm=load bare".to_string()];
    lines.extend((0..LOAD_OPS).map(load_op));
    let mut input = lines.join("\n").into_bytes();
    input.push(b'\n');

    let stream = d.connect();
    let mut w = stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = std::io::Write::write_all(&mut w, &input);
    });
    let mut r = std::io::BufReader::new(stream);
    let mut acked = 0usize;
    let mut at_kill = None;
    let mut d = Some(d);
    while let Some(reply) = read_reply(&mut r) {
        assert!(reply.starts_with("ok"), "line {}: {reply}", acked + 1);
        acked += 1;
        if acked == KILL_AT {
            let daemon = d.take().unwrap();
            // Past a snapshot, so that recovery loads one and replays the journal after it.
            while !daemon
                .next_log_line()
                .expect("a snapshot is written")
                .contains("snapshot written")
            {}
            at_kill = Some((acked, daemon.kill9()));
        }
    }
    writer.join().unwrap();
    let (acked_at_kill, dirs) = at_kill.expect("the load finished before the kill");
    assert!(
        acked < lines.len(),
        "the kill cut the load short ({acked} replies)"
    );
    let mount = dirs.mount();

    // The killed daemon's mount is stale: the kernel answers ENOTCONN.
    assert_eq!(
        statfs(&mount).err().and_then(|e| e.raw_os_error()),
        Some(libc::ENOTCONN),
        "statfs of a dead daemon's mount"
    );
    let stat = std::fs::metadata(&mount)
        .map(|_| ())
        .map_err(|e| e.raw_os_error());

    let d = Daemon::start_in(dirs, &opts);
    let restart = d.startup_time();
    let log = d.early_log().join("\n");
    assert!(log.contains("detached the stale mount"), "{log}");
    assert!(log.contains("from_snapshot=true"), "{log}");
    assert!(mounted(&mount));

    let read = |p: &str| std::fs::read(mount.join(p)).unwrap();
    let maps = read("1/maps");
    let smaps = read("1/smaps");
    let applied = applied_lines(
        std::str::from_utf8(&maps).unwrap(),
        std::str::from_utf8(&smaps).unwrap(),
    );
    assert!(
        applied >= acked,
        "{acked} acknowledged, only {applied} recovered"
    );
    // The same lines, in process.
    let fresh = SharedMachine::new(Machine::new(LOAD_SIZES));
    let mut peer = Peer::new(0);
    for l in &lines[..applied] {
        let reply = fresh.execute(&mut peer, l.as_bytes()).unwrap();
        assert!(reply.bytes.starts_with(b"ok"), "{l}");
    }
    let render = |p: &str| fresh.read_tree(p, None, None).unwrap();
    assert_same("1/maps", &maps, &render("1/maps"));
    assert_same("1/smaps", &smaps, &render("1/smaps"));
    for p in ["1/smaps_rollup", "1/status", "names", "meminfo"] {
        assert_same(p, &read(p), &render(p));
    }
    eprintln!(
        "kill -9 after {acked_at_kill} replies read; {acked} replies in all (of {} lines); \
         recovered {applied} lines ({} durable but unacknowledged); stat of the stale mount: \
         {stat:?}; restart to READY=1 (stale mount detached, snapshot + journal replayed, \
         mounted) in {restart:.1?}",
        lines.len(),
        applied - acked
    );
    // The restarted daemon takes writes again.
    assert_eq!(d.exchange(&["spawn pid=2 comm=after"]), ["ok pid=2\n"]);
    assert_eq!(read("2/comm"), b"after\n");
}

// ---------------------------------------------------------------------------------------------
// d. SIGTERM unmounts and removes the socket; a second daemon on the same socket refuses.

#[test]
fn sigterm_unmounts_and_a_second_daemon_refuses_the_socket() {
    skip_unless_root!(fuse, "mounts the tree");
    let d = Daemon::start(&Options {
        persistent: true,
        ..Options::default()
    });
    let mount = d.mount_dir();
    let socket = d.socket();
    // Keeps the temporary directory past the daemon.
    let _dirs = d.dirs();
    assert_eq!(d.exchange(&["spawn pid=9 comm=kept"]), ["ok pid=9\n"]);
    assert_eq!(std::fs::read(mount.join("9/comm")).unwrap(), b"kept\n");
    assert!(mounted(&mount));

    // A second daemon on the same socket (its own mount dir and no state) refuses to start.
    let other = Dirs::new();
    let out = output_within_timeout(
        Command::new(daemon_binary())
            .arg("--socket")
            .arg(&socket)
            .arg("--mount")
            .arg(other.mount())
            .arg("--ephemeral"),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the second daemon exits non-zero: {err}"
    );
    assert!(
        err.contains("already listening") && err.contains(socket.to_str().unwrap()),
        "the message names the socket: {err}"
    );
    assert!(
        !mounted(&other.mount()),
        "the second daemon mounted nothing"
    );
    // The first is untouched.
    assert_eq!(d.exchange(&["spawn pid=10"]), ["ok pid=10\n"]);
    assert_eq!(pid_dirs(&mount), [9, 10]);

    let (status, log) = d.sigterm();
    assert_eq!(status.code(), Some(0), "{log:?}");
    assert!(!socket.exists(), "the socket file is removed");
    assert!(!mounted(&mount), "no longer in mountinfo");
    let dev = std::fs::metadata(&mount).unwrap().dev();
    let parent_dev = std::fs::metadata(mount.parent().unwrap()).unwrap().dev();
    assert_eq!(dev, parent_dev, "the mount dir is a plain directory again");
    assert!(log.iter().any(|l| l.contains("unmounted")), "{log:?}");
    eprintln!(
        "SIGTERM: exit 0, unmounted, socket removed; second daemon: {}",
        err.lines().last().unwrap_or("").trim()
    );
}

// ---------------------------------------------------------------------------------------------
// e. Bad lines and another uid's requests: the documented err, and nothing changes.

/// The files that differ between two reads of the tree.
fn changed(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let keys: std::collections::BTreeSet<_> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

#[test]
fn bad_lines_and_another_uid_change_nothing() {
    skip_unless_root!(fuse, "mounts the tree and runs a client as another uid");
    let d = Daemon::start(&Options::default());
    let mount = d.mount_dir();
    let setup = [
        "spawn pid=1 comm=owned",
        "mmap pid=1 addr=0x100000 len=64K prot=rw- flags=private,anonymous,fixed",
        "touch pid=1 addr=0x100000 len=16K access=write",
        "name pid=1 addr=0x100000 len=64K name=\"e2e heap\"",
    ];
    let got = d.exchange(&setup);
    assert!(got.iter().all(|r| r.starts_with("ok")), "{got:?}");
    let before = read_tree(&mount);
    assert!(before.contains_key("1/smaps") && before.contains_key("names"));
    assert!(
        before.keys().any(|k| k.starts_with("rmap/")),
        "{:?}",
        before.keys()
    );

    // Malformed, oversized and non-UTF-8 lines, each of which would change state if it were
    // taken; then a line showing the connection is still up.
    let mut input = Vec::new();
    let mut want = Vec::new();
    let mut bad = |line: &[u8], reply: &str| {
        input.extend_from_slice(line);
        input.push(b'\n');
        want.push(reply.to_string());
    };
    bad(
        b"mmap pid=1 len=4K",
        "err EINVAL mmap: missing required key prot=",
    );
    bad(b"frobnicate pid=1", "err EINVAL unknown command");
    bad(b"munmap pid=1 addr=0x100000 len=4K len=8K", "err EINVAL");
    bad(
        b"munmap pid=1 addr=0x100000 len=4K colour=red",
        "err EINVAL",
    );
    bad(
        b"mprotect pid=1 addr=0x100000 len=4K prot=rwq",
        "err EINVAL",
    );
    bad(
        b"name pid=1 addr=0x100000 len=4K name=\"unterminated",
        "err EINVAL",
    );
    bad(
        b"touch pid=1 addr=nolabel len=4K access=write",
        "err EINVAL",
    );
    bad(
        b"madvise pid=1 addr=0x100000 len=16K advice=dontneed \xff",
        "err EINVAL line is not valid UTF-8",
    );
    bad(
        b"exit pid=1 comm=\xc3\x28",
        "err EINVAL line is not valid UTF-8",
    );
    let mut long = b"munmap pid=1 addr=0x100000 len=64K".to_vec();
    long.resize(70_000, b' ');
    bad(&long, "err EINVAL line longer than 65536 bytes");
    bad(
        &vec![b'x'; 200_000],
        "err EINVAL line longer than 65536 bytes",
    );
    bad(b"exit pid=999", "err ESRCH");
    let got = d.exchange_bytes(input, want.len());
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (g, w) in got.iter().zip(&want) {
        assert!(g.starts_with(w.as_str()), "got {g:?}, want {w:?}");
    }
    let after = read_tree(&mount);
    assert!(
        before == after,
        "bad lines changed {:?}",
        changed(&before, &after)
    );

    // Another uid's requests against root's process: EACCES, nothing changed.
    let lines = [
        "munmap pid=1 addr=0x100000 len=4K",
        "touch pid=1 addr=0x108000 len=4K access=write",
        "mprotect pid=1 addr=0x100000 len=4K prot=r--",
        "madvise pid=1 addr=0x100000 len=16K advice=dontneed",
        "name pid=1 addr=0x100000 len=64K clear",
        "mmap pid=1 len=4K prot=rw- flags=private,anonymous",
        "fork pid=1 child=5",
        "oom_score_adj pid=1 value=500",
        "exit pid=1",
    ];
    let replies = as_nobody(&d.dirs(), &d.socket(), &(lines.join("\n") + "\n"));
    assert_eq!(replies.len(), lines.len(), "{replies:?}");
    for (l, r) in lines.iter().zip(&replies) {
        assert!(r.starts_with("err EACCES"), "as uid 65534, {l}: {r}");
    }
    let after_uid = read_tree(&mount);
    assert!(
        before == after_uid,
        "another uid changed {:?}",
        changed(&before, &after_uid)
    );
    eprintln!(
        "{} bad lines and {} requests of uid 65534 refused; {} files of the tree byte-identical",
        want.len() - 1,
        lines.len(),
        before.len()
    );
}
