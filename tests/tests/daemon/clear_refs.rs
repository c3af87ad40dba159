//! `MOUNT/<pid>/clear_refs` on the real `anonmapd` with a real mount: a write of 1 to 5 is the
//! call `clear_refs pid value`, made as the writer, journaled (it survives a `kill -9` and the
//! restart), refused as the kernel refuses it; the file is 0200 and the process owner's.
//!
//! Needs root and /dev/fuse (and, for the other-uid checks, root's power to run a shell as uid
//! 65534): each test says so and skips itself otherwise.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

use anonmap_testkit::daemon::{output_within_timeout, Daemon, Options};
use anonmap_testkit::skip_unless_root;

/// The VMA the tests touch.
const VMA: &str = "00100000-00110000";

pub(crate) fn errno_of<T: std::fmt::Debug>(r: io::Result<T>) -> i32 {
    r.unwrap_err()
        .raw_os_error()
        .expect("an error with an errno")
}

/// Each write of `data` to `path` is refused with its errno (the kernel's, for a /proc file).
#[track_caller]
pub(crate) fn assert_writes_refused(path: &Path, cases: &[(&[u8], i32)]) {
    for &(data, errno) in cases {
        assert_eq!(
            errno_of(fs::write(path, data)),
            errno,
            "{:?}",
            String::from_utf8_lossy(data)
        );
    }
}

/// The value (kB) of field `field` (`Referenced`, `Rss`) in the smaps block of the VMA `VMA`
/// of `pid`, read through the mount. Every block has each field once, before the next block.
fn smaps_kb(mount: &Path, pid: u32, field: &str) -> u64 {
    let smaps = fs::read_to_string(mount.join(format!("{pid}/smaps"))).unwrap();
    let prefix = format!("{field}:");
    let line = smaps
        .lines()
        .skip_while(|l| !l.starts_with(VMA))
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {field}: line for {VMA} in {pid}/smaps:\n{smaps}"));
    line[prefix.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap()
}

fn referenced_kb(mount: &Path, pid: u32) -> u64 {
    smaps_kb(mount, pid, "Referenced")
}

fn rss_kb(mount: &Path, pid: u32) -> u64 {
    smaps_kb(mount, pid, "Rss")
}

/// The journal files of the state directory `dir`, concatenated.
pub(crate) fn journal_text(dir: &Path) -> String {
    let mut paths: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("journal."))
        })
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| fs::read_to_string(p).unwrap())
        .collect()
}

/// Spawns `pid` (owned by `uid`) with the VMA `VMA` and 16 KiB of it written.
fn spawn_and_touch(d: &Daemon, pid: u32, uid: u32) {
    let setup = [
        format!("spawn pid={pid} comm=refs uid={uid}"),
        format!("mmap pid={pid} addr=0x100000 len=64K prot=rw- flags=private,anonymous,fixed"),
        format!("touch pid={pid} addr=0x100000 len=16K access=write"),
    ];
    let got = d.exchange(&setup);
    assert!(got.iter().all(|r| r.starts_with("ok")), "{got:?}");
    assert_eq!(referenced_kb(&d.mount_dir(), pid), 16);
}

/// Runs `sh -c script` as uid and gid 65534.
pub(crate) fn sh_as_nobody(script: &str) -> Output {
    output_within_timeout(
        Command::new("sh")
            .args(["-c", script])
            .uid(65534)
            .gid(65534),
    )
}

/// Runs `sh -c script` as ourselves (root).
pub(crate) fn sh(script: &str) -> Output {
    output_within_timeout(Command::new("sh").args(["-c", script]))
}

pub(crate) fn assert_sh_ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what}: {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) fn assert_sh_fails_with(what: &str, out: &Output, message: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains(message),
        "{what}: expected a failure with {message:?}, got {:?}: {stderr}",
        out.status
    );
}

#[test]
fn clear_refs_clears_referenced_and_survives_a_crash() {
    skip_unless_root!(fuse, "mounts the tree");
    let opts = Options {
        persistent: true,
        ..Options::default()
    };
    let d = Daemon::start(&opts);
    let mount = d.mount_dir();
    spawn_and_touch(&d, 101, 0);
    spawn_and_touch(&d, 102, 0);
    let path = mount.join("101/clear_refs");

    // The file: 0200, a regular file of size 0, in the listing, root's (the process's owner).
    let md = fs::metadata(&path).unwrap();
    assert!(md.is_file());
    assert_eq!(md.permissions().mode() & 0o7777, 0o200);
    assert_eq!((md.uid(), md.len()), (0, 0));
    let names: Vec<String> = fs::read_dir(mount.join("101"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.contains(&"clear_refs".to_string()), "{names:?}");

    // `echo 1 > clear_refs` as std::fs does it (open O_WRONLY|O_CREAT|O_TRUNC, write "1\n").
    fs::write(&path, "1\n").unwrap();
    assert_eq!(referenced_kb(&mount, 101), 0, "clear_refs 1 cleared it");
    assert_eq!(rss_kb(&mount, 101), 16, "the pages stay resident");
    assert_eq!(
        referenced_kb(&mount, 102),
        16,
        "another process is untouched"
    );

    // The same through a shell's redirection.
    let script = format!("echo 1 > {}", mount.join("102/clear_refs").display());
    assert_sh_ok("echo 1 > 102/clear_refs", &sh(&script));
    assert_eq!(referenced_kb(&mount, 102), 0);

    // Touch again, clear again with white space around the value, at an offset, in one open.
    let touch = ["touch pid=101 addr=0x100000 len=8K access=read"];
    assert_eq!(d.exchange(&touch), ["ok\n"]);
    assert_eq!(referenced_kb(&mount, 101), 8);
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    assert_eq!(f.write_at(b"  2  \n", 4096).unwrap(), 6);
    assert_eq!(referenced_kb(&mount, 101), 0);
    // The kernel looks at 12 bytes at most and reports that many written.
    let mut long = b"5".to_vec();
    long.extend([b' '; 20]);
    assert_eq!((&f).write(&long).unwrap(), 12);
    // A truncation of the open file changes nothing and succeeds.
    f.set_len(0).unwrap();
    drop(f);

    // Refused writes: the kernel's errnos, nothing applied.
    assert_eq!(d.exchange(&touch), ["ok\n"]);
    assert_writes_refused(
        &path,
        &[
            (b"7", libc::EINVAL),
            (b"7\n", libc::EINVAL),
            (b"x", libc::EINVAL),
            (b"0", libc::EINVAL),
            (b"-1", libc::EINVAL),
            (b"abc", libc::EINVAL),
            (b"99999999999", libc::ERANGE),
        ],
    );
    // (dash reports any failed write of echo as an "I/O error"; dd names the errno.)
    assert_sh_fails_with(
        "echo 7 > clear_refs",
        &sh(&format!("echo 7 > {}", path.display())),
        "",
    );
    assert_sh_fails_with(
        "printf 7 | dd of=clear_refs",
        &sh(&format!("printf 7 | dd of={} status=none", path.display())),
        "Invalid argument",
    );
    assert_eq!(referenced_kb(&mount, 101), 8, "no refused write changed it");

    // Reading: root may open it (DAC override), the read is EINVAL (no read operation).
    let mut f = File::open(&path).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(errno_of(f.read(&mut buf)), libc::EINVAL);
    assert_eq!(errno_of(fs::read(&path)), libc::EINVAL);
    // The socket's read of it fails the same way.
    let got = d.exchange(&["read path=101/clear_refs"]);
    assert!(got[0].starts_with("err EINVAL"), "{got:?}");

    // A write to a process that exited while the file was open: ESRCH; a new open: ENOENT.
    let f = OpenOptions::new()
        .write(true)
        .open(mount.join("102/clear_refs"))
        .unwrap();
    assert_eq!(d.exchange(&["exit pid=102"]), ["ok\n"]);
    assert_eq!(errno_of((&f).write(b"1\n")), libc::ESRCH);
    drop(f);
    assert_eq!(
        errno_of(fs::write(mount.join("102/clear_refs"), "1\n")),
        libc::ENOENT
    );

    // Every other file stays read-only, for root too.
    for rel in ["101/maps", "101/smaps", "101/pagemap", "meminfo", "names"] {
        let e = errno_of(OpenOptions::new().write(true).open(mount.join(rel)));
        assert_eq!(e, libc::EROFS, "{rel}");
    }
    assert_eq!(errno_of(fs::create_dir(mount.join("x"))), libc::EROFS);
    assert_eq!(errno_of(File::create(mount.join("101/x"))), libc::EROFS);

    // A write is durable when it returns: its call is in the journal file already. Then the
    // daemon crashes, and the restarted one replays it.
    assert_eq!(d.exchange(&["clear_refs pid=101 value=1"]), ["ok\n"]);
    let touch_2 = ["touch pid=101 addr=0x100000 len=4K access=read"];
    assert_eq!(d.exchange(&touch_2), ["ok\n"]);
    assert_eq!(referenced_kb(&mount, 101), 4);
    let calls_before = journal_text(&d.dirs().state())
        .matches("clear_refs pid=101 value=1\n")
        .count();
    fs::write(&path, "1\n").unwrap();
    let journal = journal_text(&d.dirs().state());
    assert_eq!(
        journal.matches("clear_refs pid=101 value=1\n").count(),
        calls_before + 1,
        "the write's call is journaled before the write returns:\n{journal}"
    );
    for line in [
        "clear_refs pid=102 value=1\n",
        "clear_refs pid=101 value=2\n",
        "clear_refs pid=101 value=5\n",
        "#! err ESRCH\nclear_refs pid=102 value=1\n",
    ] {
        assert!(journal.contains(line), "{line:?} not journaled:\n{journal}");
    }
    assert!(
        !journal.contains("value=7") && !journal.contains("value=0"),
        "refused writes make no call:\n{journal}"
    );
    assert_eq!(referenced_kb(&mount, 101), 0);
    let dirs = d.kill9();
    let d = Daemon::start_in(dirs, &opts);
    let mount = d.mount_dir();
    assert_eq!(referenced_kb(&mount, 101), 0, "the write was replayed");
    assert_eq!(rss_kb(&mount, 101), 16);
    assert!(!mount.join("102").exists());
    // And it still takes writes after the restart.
    assert_eq!(d.exchange(&touch_2), ["ok\n"]);
    fs::write(mount.join("101/clear_refs"), "3\n").unwrap();
    assert_eq!(referenced_kb(&mount, 101), 4, "3 clears file pages only");
    fs::write(mount.join("101/clear_refs"), "2\n").unwrap();
    assert_eq!(referenced_kb(&mount, 101), 0);
}

#[test]
fn only_the_owner_or_root_may_write_clear_refs() {
    skip_unless_root!(fuse, "mounts the tree and runs a shell as uid 65534");
    let d = Daemon::start(&Options::default());
    let mount = d.mount_dir();
    spawn_and_touch(&d, 201, 0);
    spawn_and_touch(&d, 202, 65534);
    let root_file = mount.join("201/clear_refs");
    let nobody_file = mount.join("202/clear_refs");
    assert_eq!(fs::metadata(&root_file).unwrap().uid(), 0);
    let md = fs::metadata(&nobody_file).unwrap();
    assert_eq!((md.uid(), md.permissions().mode() & 0o7777), (65534, 0o200));

    // uid 65534 may not write root's process's file, nor read its own.
    assert_sh_fails_with(
        "nobody: echo 1 > 201/clear_refs",
        &sh_as_nobody(&format!("echo 1 > {}", root_file.display())),
        "Permission denied",
    );
    assert_eq!(referenced_kb(&mount, 201), 16);
    assert_sh_fails_with(
        "nobody: cat 202/clear_refs",
        &sh_as_nobody(&format!("cat {}", nobody_file.display())),
        "Permission denied",
    );
    // Its own process's file it may write, and the write is applied as uid 65534.
    assert_sh_ok(
        "nobody: echo 1 > 202/clear_refs",
        &sh_as_nobody(&format!("echo 1 > {}", nobody_file.display())),
    );
    assert_eq!(referenced_kb(&mount, 202), 0);
    assert_sh_fails_with(
        "nobody: printf 9 | dd of=202/clear_refs",
        &sh_as_nobody(&format!(
            "printf 9 | dd of={} status=none",
            nobody_file.display()
        )),
        "Invalid argument",
    );
    // Root may write anyone's.
    assert_eq!(
        d.exchange(&["touch pid=202 addr=0x100000 len=4K access=read"]),
        ["ok\n"]
    );
    fs::write(&nobody_file, "1").unwrap();
    assert_eq!(referenced_kb(&mount, 202), 0);
    fs::write(&root_file, "1").unwrap();
    assert_eq!(referenced_kb(&mount, 201), 0);
}
