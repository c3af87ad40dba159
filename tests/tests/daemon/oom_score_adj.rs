//! `MOUNT/<pid>/oom_score_adj`, `MOUNT/<pid>/oom_score`, `MOUNT/vmstat` and `MOUNT/kmsg` on the
//! real `anonmapd` with a real mount: a write of -1000 to 1000 to oom_score_adj is the call
//! `oom_score_adj pid value`, made as the writer, journaled (it survives a `kill -9` and the
//! restart), refused as the kernel refuses it; oom_score follows it by the kernel's formula;
//! the OOM killer chooses by it, logs to kmsg and counts in vmstat.
//!
//! Needs root and /dev/fuse (and, for the other-uid checks, root's power to run a shell as uid
//! 65534): each test says so and skips itself otherwise.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::Path;

use anonmap_testkit::daemon::{Daemon, Options};
use anonmap_testkit::skip_unless_root;
use procfs_core::{FromBufRead, VmStat};

use crate::clear_refs::{
    assert_sh_fails_with, assert_sh_ok, assert_writes_refused, errno_of, journal_text, sh,
    sh_as_nobody,
};

/// The number (kB) of line `field:` of a `Key: value kB` file (status, meminfo).
fn kb_field(text: &str, field: &str) -> i64 {
    let prefix = format!("{field}:");
    let line = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {field}: line in:\n{text}"));
    line[prefix.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap()
}

/// What `<pid>/oom_score` must show for `oom_score_adj` `adj`, computed as the kernel computes
/// it (`proc_oom_score` over `oom_badness`) from what the mount itself shows: badness = RSS +
/// swap entries + page-table pages + adj * (totalpages / 1000), totalpages = RAM + swap pages;
/// the score is `(1000 + badness * 1000 / totalpages) * 2 / 3`, and 0 at -1000.
fn expected_score(mount: &Path, pid: u32, adj: i64) -> u64 {
    if adj == -1000 {
        return 0;
    }
    let meminfo = fs::read_to_string(mount.join("meminfo")).unwrap();
    let status = fs::read_to_string(mount.join(format!("{pid}/status"))).unwrap();
    let total = (kb_field(&meminfo, "MemTotal") + kb_field(&meminfo, "SwapTotal")) / 4;
    let points =
        (kb_field(&status, "VmRSS") + kb_field(&status, "VmSwap") + kb_field(&status, "VmPTE")) / 4;
    let badness = points + adj * (total / 1000);
    ((1000 + badness * 1000 / total) * 2 / 3).max(0) as u64
}

fn read_number(path: &Path) -> i64 {
    let text = fs::read_to_string(path).unwrap();
    assert!(text.ends_with('\n'), "{text:?}");
    text.trim_end().parse().unwrap()
}

fn adj_of(mount: &Path, pid: u32) -> i64 {
    read_number(&mount.join(format!("{pid}/oom_score_adj")))
}

fn score_of(mount: &Path, pid: u32) -> u64 {
    read_number(&mount.join(format!("{pid}/oom_score"))) as u64
}

/// Spawns `pid` (owned by `uid`) with `mib` MiB of anonymous memory written.
fn spawn_with(d: &Daemon, pid: u32, uid: u32, comm: &str, mib: u32) {
    let setup = [
        format!("spawn pid={pid} comm={comm} uid={uid}"),
        format!("mmap pid={pid} addr=0x10000000 len={mib}M prot=rw- flags=private,anonymous,fixed"),
        format!("touch pid={pid} addr=0x10000000 len={mib}M access=write"),
    ];
    let got = d.exchange(&setup);
    assert!(got.iter().all(|r| r.starts_with("ok")), "{got:?}");
}

#[test]
fn oom_score_adj_is_written_refused_journaled_and_replayed() {
    skip_unless_root!(fuse, "mounts the tree and runs a shell as uid 65534");
    let opts = Options {
        persistent: true,
        ..Options::default()
    };
    let d = Daemon::start(&opts);
    let mount = d.mount_dir();
    spawn_with(&d, 301, 0, "rooted", 8);
    spawn_with(&d, 302, 65534, "nobodys", 4);
    let adj_path = mount.join("301/oom_score_adj");
    let nobody_path = mount.join("302/oom_score_adj");

    // The files: oom_score 0444, oom_score_adj 0644 and the process owner's, in the listing.
    let md = fs::metadata(&adj_path).unwrap();
    assert!(md.is_file());
    assert_eq!(md.permissions().mode() & 0o7777, 0o644);
    assert_eq!((md.uid(), md.len()), (0, 0));
    let md = fs::metadata(&nobody_path).unwrap();
    assert_eq!((md.uid(), md.permissions().mode() & 0o7777), (65534, 0o644));
    let md = fs::metadata(mount.join("301/oom_score")).unwrap();
    assert_eq!(md.permissions().mode() & 0o7777, 0o444);
    let names: Vec<String> = fs::read_dir(mount.join("301"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    for name in ["oom_score", "oom_score_adj"] {
        assert!(names.contains(&name.to_string()), "{names:?}");
    }

    // Before any write: 0, and the score is the kernel's formula of the process's memory.
    assert_eq!(fs::read(&adj_path).unwrap(), b"0\n");
    let score_0 = score_of(&mount, 301);
    assert_eq!(score_0, expected_score(&mount, 301, 0));
    assert!(score_0 > 0 && score_of(&mount, 301) > score_of(&mount, 302));

    // `echo -500 > oom_score_adj`, read back; the score drops as the formula says.
    assert_sh_ok(
        "echo -500 > 301/oom_score_adj",
        &sh(&format!("echo -500 > {}", adj_path.display())),
    );
    assert_eq!(fs::read(&adj_path).unwrap(), b"-500\n");
    let score_500 = score_of(&mount, 301);
    assert_eq!(score_500, expected_score(&mount, 301, -500));
    assert!(score_500 < score_0, "{score_500} < {score_0}");
    // The socket's read shows the same bytes.
    let got = d.exchange(&["read path=301/oom_score_adj", "read path=301/oom_score"]);
    assert_eq!(got[0], "ok bytes=5\n-500\n", "{got:?}");
    assert_eq!(
        got[1],
        format!(
            "ok bytes={}\n{score_500}\n",
            score_500.to_string().len() + 1
        )
    );

    // The kernel's parse: base 0, a sign, white space, at most 12 bytes; one open, many writes.
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&adj_path)
        .unwrap();
    assert_eq!(f.write_at(b"0x3e8\n", 0).unwrap(), 6);
    assert_eq!(adj_of(&mount, 301), 1000);
    let mut buf = [0u8; 16];
    assert_eq!(
        f.read_at(&mut buf, 0).unwrap(),
        5,
        "a read sees the write at once"
    );
    assert_eq!(&buf[..5], b"1000\n");
    assert_eq!(score_of(&mount, 301), expected_score(&mount, 301, 1000));
    assert_eq!(
        f.write_at(b"  -010  ", 4096).unwrap(),
        8,
        "octal, at any offset"
    );
    assert_eq!(adj_of(&mount, 301), -8);
    let mut long = b"+7".to_vec();
    long.extend([b' '; 20]);
    assert_eq!(
        (&f).write(&long).unwrap(),
        12,
        "the kernel's truncated count"
    );
    assert_eq!(adj_of(&mount, 301), 7);
    f.set_len(0).unwrap();
    drop(f);

    // Refused writes: the kernel's errnos, nothing applied.
    assert_writes_refused(
        &adj_path,
        &[
            (b"1001", libc::EINVAL),
            (b"-1001\n", libc::EINVAL),
            (b"0x3e9", libc::EINVAL),
            (b"abc", libc::EINVAL),
            (b"08", libc::EINVAL),
            (b"\n", libc::EINVAL),
            (b"2147483648", libc::ERANGE),
            (b"-99999999999", libc::ERANGE),
        ],
    );
    assert_sh_fails_with(
        "printf 1001 | dd of=301/oom_score_adj",
        &sh(&format!(
            "printf 1001 | dd of={} status=none",
            adj_path.display()
        )),
        "Invalid argument",
    );
    assert_eq!(adj_of(&mount, 301), 7, "no refused write changed it");
    // The op on the socket: out of range is the machine's EINVAL (journaled as a failed op).
    let got = d.exchange(&["oom_score_adj pid=301 value=-1001"]);
    assert!(
        got[0].starts_with("err EINVAL oom_score_adj: -1001"),
        "{got:?}"
    );
    assert_eq!(d.exchange(&["oom_score_adj pid=301 value=250"]), ["ok\n"]);
    assert_eq!(adj_of(&mount, 301), 250);
    fs::write(&adj_path, "-500\n").unwrap();
    assert_eq!(adj_of(&mount, 301), -500);

    // Another uid: it may read root's process's file, not write it; its own process's file it
    // may write down to the floor root set, and no lower (EACCES).
    let cat = sh_as_nobody(&format!("cat {}", adj_path.display()));
    assert_sh_ok("nobody: cat 301/oom_score_adj", &cat);
    assert_eq!(cat.stdout, b"-500\n");
    assert_sh_fails_with(
        "nobody: echo 0 > 301/oom_score_adj",
        &sh_as_nobody(&format!("echo 0 > {}", adj_path.display())),
        "Permission denied",
    );
    assert_eq!(adj_of(&mount, 301), -500);
    fs::write(&nobody_path, "-200").unwrap();
    assert_eq!(adj_of(&mount, 302), -200, "root set the floor of 302 too");
    for value in ["-201", "-1000"] {
        assert_sh_fails_with(
            &format!("nobody: printf {value} | dd of=302/oom_score_adj"),
            &sh_as_nobody(&format!(
                "printf -- {value} | dd of={} status=none",
                nobody_path.display()
            )),
            "Permission denied",
        );
    }
    assert_eq!(adj_of(&mount, 302), -200, "below the floor: refused");
    assert_sh_ok(
        "nobody: echo -200 > 302/oom_score_adj",
        &sh_as_nobody(&format!("echo -200 > {}", nobody_path.display())),
    );
    assert_sh_ok(
        "nobody: echo 100 > 302/oom_score_adj",
        &sh_as_nobody(&format!("echo 100 > {}", nobody_path.display())),
    );
    assert_eq!(adj_of(&mount, 302), 100);
    assert_eq!(score_of(&mount, 302), expected_score(&mount, 302, 100));
    // Its writes were unprivileged: the floor is still root's -200, so it may come back down.
    assert_sh_ok(
        "nobody: echo -150 > 302/oom_score_adj",
        &sh_as_nobody(&format!("echo -150 > {}", nobody_path.display())),
    );
    assert_eq!(adj_of(&mount, 302), -150);
    assert_sh_ok(
        "nobody: echo 100 > 302/oom_score_adj",
        &sh_as_nobody(&format!("echo 100 > {}", nobody_path.display())),
    );

    // A write is durable when it returns: its call is in the journal already; refused writes
    // made no call. Then the daemon crashes, and the restarted one replays them.
    let journal = journal_text(&d.dirs().state());
    for line in [
        "oom_score_adj pid=301 value=-500\n",
        "oom_score_adj pid=301 value=1000\n",
        "oom_score_adj pid=301 value=-8\n",
        "oom_score_adj pid=301 value=7\n",
        "#! err EINVAL\noom_score_adj pid=301 value=-1001\n",
        "oom_score_adj pid=301 value=250\n",
        "oom_score_adj pid=302 value=-200\n",
        "oom_score_adj pid=302 value=-200 unprivileged\n",
        "oom_score_adj pid=302 value=100 unprivileged\n",
        "oom_score_adj pid=302 value=-150 unprivileged\n",
    ] {
        assert!(journal.contains(line), "{line:?} not journaled:\n{journal}");
    }
    for refused in ["value=1001\n", "value=-201\n", "value=0\n", "value=-1000\n"] {
        assert!(
            !journal.contains(refused),
            "a refused write made a call ({refused:?}):\n{journal}"
        );
    }
    let scores = (score_of(&mount, 301), score_of(&mount, 302));
    let dirs = d.kill9();
    let d = Daemon::start_in(dirs, &opts);
    let mount = d.mount_dir();
    assert_eq!(adj_of(&mount, 301), -500, "the writes were replayed");
    assert_eq!(adj_of(&mount, 302), 100);
    assert_eq!((score_of(&mount, 301), score_of(&mount, 302)), scores);
    // The floor came back with them: 302's owner still may not go below -200.
    assert_sh_fails_with(
        "nobody after the restart: printf -201 | dd of=302/oom_score_adj",
        &sh_as_nobody(&format!(
            "printf -- -201 | dd of={} status=none",
            mount.join("302/oom_score_adj").display()
        )),
        "Permission denied",
    );
    // And the file still takes writes after the restart.
    fs::write(mount.join("301/oom_score_adj"), "0\n").unwrap();
    assert_eq!(adj_of(&mount, 301), 0);
    assert_eq!(score_of(&mount, 301), score_0);

    // A process that exits while its file is open: reads and writes fail (ESRCH), a new open
    // is ENOENT.
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(mount.join("302/oom_score_adj"))
        .unwrap();
    assert_eq!(d.exchange(&["exit pid=302"]), ["ok\n"]);
    assert_eq!(errno_of((&f).write(b"1\n")), libc::ESRCH);
    assert_eq!(errno_of(f.read(&mut buf)), libc::ESRCH);
    drop(f);
    assert_eq!(
        errno_of(File::open(mount.join("302/oom_score_adj"))),
        libc::ENOENT
    );
    // oom_score takes no write, not even root's.
    let e = errno_of(
        OpenOptions::new()
            .write(true)
            .open(mount.join("301/oom_score")),
    );
    assert_eq!(e, libc::EROFS);
}

#[test]
fn the_oom_killer_follows_oom_score_adj_and_logs_to_kmsg() {
    skip_unless_root!(fuse, "mounts the tree");
    let opts = Options {
        ram: "64M".into(),
        swap: "16M".into(),
        persistent: true,
        ..Options::default()
    };
    let d = Daemon::start(&opts);
    let mount = d.mount_dir();
    spawn_with(&d, 401, 0, "exempt", 8);
    spawn_with(&d, 402, 0, "small", 2);
    spawn_with(&d, 403, 0, "big", 16);
    assert_eq!(fs::read(mount.join("kmsg")).unwrap(), b"", "no message yet");
    fs::write(mount.join("401/oom_score_adj"), "-1000\n").unwrap();
    fs::write(mount.join("402/oom_score_adj"), "1000\n").unwrap();
    assert_eq!(score_of(&mount, 401), 0, "never chosen");
    let small = score_of(&mount, 402);
    assert_eq!(small, expected_score(&mount, 402, 1000));
    assert!(
        small > score_of(&mount, 403),
        "the adjustment outweighs 16 MiB"
    );
    let status = fs::read_to_string(mount.join("402/status")).unwrap();
    let small_vm = kb_field(&status, "VmSize");

    // A hog asks for more than RAM and swap hold: the OOM killer takes the small process with
    // the highest score first, then the hog itself, whose touch fails; the exempt one lives.
    let got = d.exchange(&[
        "spawn pid=404 comm=hog",
        "mmap pid=404 addr=0x10000000 len=128M prot=rw- flags=private,anonymous,fixed",
        "touch pid=404 addr=0x10000000 len=128M access=write",
    ]);
    assert!(got[2].starts_with("err EINTR"), "{got:?}");
    let pids: Vec<String> = fs::read_dir(&mount)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    assert!(pids.contains(&"401".to_string()), "{pids:?}");
    assert!(!pids.contains(&"402".to_string()) && !pids.contains(&"404".to_string()));

    let kmsg = fs::read_to_string(mount.join("kmsg")).unwrap();
    let lines: Vec<&str> = kmsg.lines().collect();
    assert!(kmsg.ends_with('\n'), "{kmsg:?}");
    assert_eq!(lines.len(), 2, "{kmsg}");
    let killed = format!("Out of memory: Killed process 402 (small) total-vm:{small_vm}kB, ");
    assert!(lines[0].starts_with(&killed), "{kmsg}");
    assert!(lines[0].ends_with(" oom_score_adj:1000"), "{kmsg}");
    assert!(
        lines[1].starts_with("Out of memory: Killed process 404 (hog) total-vm:"),
        "{kmsg}"
    );
    assert!(lines[1].contains(" UID:0 pgtables:"), "{kmsg}");
    assert!(lines[1].ends_with(" oom_score_adj:0"), "{kmsg}");

    // vmstat: the kernel's layout, procfs parses it, and its numbers are the machine's.
    let text = fs::read(mount.join("vmstat")).unwrap();
    let vmstat = VmStat::from_buf_read(&text[..]).unwrap().0;
    assert_eq!(vmstat.len(), 192);
    let meminfo = fs::read_to_string(mount.join("meminfo")).unwrap();
    assert_eq!(vmstat["nr_free_pages"], kb_field(&meminfo, "MemFree") / 4);
    assert_eq!(
        vmstat["nr_inactive_anon"] + vmstat["nr_active_anon"],
        (kb_field(&meminfo, "Inactive(anon)") + kb_field(&meminfo, "Active(anon)")) / 4
    );
    assert_eq!(vmstat["nr_zone_active_anon"], vmstat["nr_active_anon"]);
    assert_eq!(vmstat["nr_anon_pages"], kb_field(&meminfo, "AnonPages") / 4);
    assert_eq!(
        vmstat["nr_page_table_pages"],
        kb_field(&meminfo, "PageTables") / 4
    );
    assert_eq!(vmstat["oom_kill"], 2);
    assert!(
        vmstat["pgfault"] >= (8 + 2 + 16) * 256,
        "{}",
        vmstat["pgfault"]
    );
    assert!(
        vmstat["pswpout"] > 0,
        "reclaim swapped before the OOM killer ran"
    );
    assert!(vmstat["pgscan_kswapd"] + vmstat["pgscan_direct"] > 0);
    assert_eq!(vmstat["nr_unstable"], 0);

    // The log and the counters survive a crash: the restarted daemon replays the same calls.
    let before = (kmsg.clone(), text.clone());
    let dirs = d.kill9();
    let d = Daemon::start_in(dirs, &opts);
    let mount = d.mount_dir();
    assert_eq!(fs::read_to_string(mount.join("kmsg")).unwrap(), before.0);
    assert_eq!(fs::read(mount.join("vmstat")).unwrap(), before.1);
    assert_eq!(adj_of(&mount, 401), -1000);
}
