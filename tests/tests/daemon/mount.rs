//! The tree mounted for real: a fake machine ([`FakeSource`]) mounted with [`mount`] in a
//! temporary directory, read back with plain `std::fs` calls.
//!
//! Needs root and /dev/fuse; without them every test says why it is skipped.
//! Each test mounts its own directory, so the tests run in parallel. No test sleeps: every step
//! waits on a kernel event (a syscall returning, a child's pipe, a child's exit).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use anonmap_fusefs::mount::{detach_stale_mount, is_mount_point};
use anonmap_fusefs::{mount, MountHandle};
use anonmap_proc::fake::{fake_frame, fake_process, FakeSource, FakeState};
use anonmap_proc::render;
use anonmap_proc::tree::{self, Node, ProcFile};
use anonmap_proc::view::{MeminfoView, NameObjectView, OomView};
use anonmap_proc::Source;

/// Set in the child process of [`stale_mount_of_a_crashed_daemon_is_detached`]: the directory
/// [`crash_child`] mounts before it is killed.
const CRASH_DIR_ENV: &str = "ANONMAP_FUSEFS_CRASH_DIR";
/// What [`crash_child`] prints once mounted (libtest may print on the same line before it).
const CHILD_MOUNTED: &str = "anonmap-fusefs: child mounted";

/// Returns from the test, saying why, unless it can mount: root and a usable /dev/fuse.
macro_rules! skip_unless_mountable {
    () => {
        anonmap_testkit::skip_unless_root!(fuse, "mounts a fake tree");
        if let Err(e) = OpenOptions::new().read(true).write(true).open("/dev/fuse") {
            anonmap_testkit::privilege::report_skip(
                module_path!(),
                &format!("/dev/fuse unusable: {e}"),
            );
            return;
        }
    };
}

/// A fresh, empty directory for one test.
fn test_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("anonmap-fusefs-{}-{name}", std::process::id()));
    let _ = detach_stale_mount(&dir);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// The fake machine: pid 1 (`init`, 3 VMAs) and pid 7 (`app`, 200 VMAs, about 180 KiB of
/// smaps), frames 5, 9 and 0x1f, two names, meminfo.
fn machine() -> FakeState {
    let mut s = FakeState::default();
    s.processes.insert(1, fake_process(1, "init", 3, 1));
    s.processes.insert(7, fake_process(7, "app", 200, 2));
    for pfn in [5, 9, 0x1f] {
        s.frames
            .insert(pfn, fake_frame(pfn, 7, 0x1000_0000 + pfn * 4096));
    }
    s.names = vec![
        NameObjectView {
            id: 1,
            text: "fake 0".to_string(),
            refcount: 1,
            vmas: 1,
            pids: vec![7],
        },
        NameObjectView {
            id: 2,
            text: "libc_malloc".to_string(),
            refcount: 2,
            vmas: 2,
            pids: vec![1, 7],
        },
    ];
    s.meminfo = MeminfoView {
        mem_total_kb: 1 << 20,
        mem_free_kb: 1 << 19,
        mem_available_kb: 1 << 19,
        anon_pages_kb: 972,
        ..MeminfoView::default()
    };
    s.processes.get_mut(&7).unwrap().oom = OomView {
        score: 667,
        score_adj: -500,
        score_adj_min: -500,
    };
    s.vmstat.nr_free_pages = 1 << 17;
    s.vmstat.pgfault = 4242;
    s.kmsg = vec![
        "Out of memory: Killed process 9 (hog) total-vm:4096kB, anon-rss:4096kB, file-rss:0kB, \
         shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0"
            .to_string(),
    ];
    s
}

/// A mounted fake machine; unmounts and removes its directory when dropped.
struct Mounted {
    source: Arc<FakeSource>,
    handle: Option<MountHandle>,
    dir: PathBuf,
}

impl Mounted {
    fn new(name: &str, threads: usize) -> Mounted {
        let source = Arc::new(FakeSource::new(machine()));
        let dir = test_dir(name);
        let handle = mount(source.clone(), &dir, threads).unwrap();
        Mounted {
            source,
            handle: Some(handle),
            dir,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    fn read(&self, rel: &str) -> Vec<u8> {
        fs::read(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    fn ls(&self, rel: &str) -> Vec<String> {
        fs::read_dir(self.path(rel))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect()
    }

    /// What the tree's own renderer gives for `node` now.
    fn expected(&self, node: Node) -> Vec<u8> {
        tree::render(&*self.source, node).unwrap()
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.unmount().unwrap();
        }
        let _ = fs::remove_dir(&self.dir);
    }
}

fn errno_of<T: std::fmt::Debug>(r: io::Result<T>) -> i32 {
    r.unwrap_err().raw_os_error().unwrap()
}

/// Reads `file` to the end in reads of at most `chunk` bytes.
fn read_in_chunks(file: &mut File, chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; chunk];
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            return out;
        }
        assert!(n <= chunk);
        out.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn listings_of_root_pid_and_rmap() {
    skip_unless_mountable!();
    let m = Mounted::new("ls", 2);
    assert_eq!(
        m.ls(""),
        ["1", "7", "rmap", "names", "meminfo", "vmstat", "kmsg"]
    );
    let files: Vec<&str> = ProcFile::ALL.iter().map(|f| f.name()).collect();
    assert_eq!(m.ls("7"), files);
    assert_eq!(m.ls("rmap"), ["5", "9", "31"]);
}

#[test]
fn modes_sizes_and_types() {
    skip_unless_mountable!();
    let m = Mounted::new("modes", 2);
    for (rel, dir, mode) in [
        ("", true, 0o555),
        ("7", true, 0o555),
        ("rmap", true, 0o555),
        ("7/maps", false, 0o444),
        ("7/smaps", false, 0o444),
        ("7/smaps_rollup", false, 0o444),
        ("7/status", false, 0o444),
        ("7/statm", false, 0o444),
        ("7/comm", false, 0o444),
        ("7/pagemap", false, 0o400),
        ("7/clear_refs", false, 0o200),
        ("7/oom_score", false, 0o444),
        ("7/oom_score_adj", false, 0o644),
        ("rmap/9", false, 0o444),
        ("names", false, 0o444),
        ("meminfo", false, 0o444),
        ("vmstat", false, 0o444),
        ("kmsg", false, 0o444),
    ] {
        let md = fs::metadata(m.path(rel)).unwrap();
        assert_eq!(md.is_dir(), dir, "{rel}");
        assert_eq!(md.is_file(), !dir, "{rel}");
        assert_eq!(md.permissions().mode() & 0o7777, mode, "{rel}");
        assert_eq!((md.uid(), md.gid()), (0, 0), "{rel}");
        if !dir {
            assert_eq!(md.len(), 0, "{rel}");
        }
    }
    let st = fs::metadata(m.path("")).unwrap();
    assert_ne!(st.dev(), fs::metadata(std::env::temp_dir()).unwrap().dev());
}

#[test]
fn text_files_equal_the_renderers() {
    skip_unless_mountable!();
    let m = Mounted::new("text", 2);
    let space = m.source.address_space(7).unwrap();
    let mut maps = Vec::new();
    render::render_maps(&space, &mut maps);
    assert_eq!(m.read("7/maps"), maps);
    let mut smaps = Vec::new();
    render::render_smaps(&space, &mut smaps);
    assert_eq!(m.read("7/smaps"), smaps);
    assert!(smaps.len() > 128 << 10, "smaps is {} bytes", smaps.len());
    for (rel, node) in [
        ("7/smaps_rollup", Node::ProcFile(7, ProcFile::SmapsRollup)),
        ("7/status", Node::ProcFile(7, ProcFile::Status)),
        ("7/statm", Node::ProcFile(7, ProcFile::Statm)),
        ("1/maps", Node::ProcFile(1, ProcFile::Maps)),
        ("rmap/9", Node::Rmap(9)),
        ("rmap/0x1f", Node::Rmap(0x1f)),
        ("rmap/31", Node::Rmap(31)),
        ("names", Node::Names),
        ("meminfo", Node::Meminfo),
        ("vmstat", Node::Vmstat),
        ("kmsg", Node::Kmsg),
        ("7/oom_score", Node::ProcFile(7, ProcFile::OomScore)),
        ("7/oom_score_adj", Node::ProcFile(7, ProcFile::OomScoreAdj)),
    ] {
        assert_eq!(m.read(rel), m.expected(node), "{rel}");
    }
    assert_eq!(m.read("7/comm"), b"app\n");
    assert_eq!(m.read("7/oom_score"), b"667\n");
    assert_eq!(m.read("7/oom_score_adj"), b"-500\n");
    assert_eq!(m.read("1/oom_score_adj"), b"0\n");
    let vmstat = String::from_utf8(m.read("vmstat")).unwrap();
    assert!(vmstat.starts_with("nr_free_pages 131072\n"), "{vmstat}");
    assert!(vmstat.contains("\npgfault 4242\n"), "{vmstat}");
    assert!(m
        .read("kmsg")
        .starts_with(b"Out of memory: Killed process 9 (hog)"));
}

#[test]
fn chunked_reads_equal_one_read() {
    skip_unless_mountable!();
    let m = Mounted::new("chunks", 2);
    let whole = m.read("7/smaps");
    for chunk in [1, 4096, 128 << 10] {
        let mut f = File::open(m.path("7/smaps")).unwrap();
        assert_eq!(read_in_chunks(&mut f, chunk), whole, "chunk {chunk}");
    }
}

#[test]
fn chunks_of_one_open_never_mix_two_states() {
    skip_unless_mountable!();
    let m = Mounted::new("mix", 2);
    let before = m.read("7/smaps");
    let mut f = File::open(m.path("7/smaps")).unwrap();
    let mut got = vec![0u8; 4096];
    f.read_exact(&mut got).unwrap();
    m.source.update(|s| {
        let p = s.processes.get_mut(&7).unwrap();
        p.space.vmas.truncate(10);
        p.space.vmas[0].counters.rss = 0;
    });
    got.extend(read_in_chunks(&mut f, 4096));
    assert_eq!(got, before);
    assert_ne!(m.read("7/smaps"), before, "a new open sees the new state");
}

#[test]
fn a_read_at_offset_zero_after_reads_renders_afresh() {
    skip_unless_mountable!();
    let m = Mounted::new("reread", 2);
    let mut f = File::open(m.path("7/comm")).unwrap();
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "app\n");
    m.source
        .update(|st| st.processes.get_mut(&7).unwrap().status.comm = "renamed".into());
    s.clear();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "", "reading on past the end does not re-render");
    f.seek(SeekFrom::Start(0)).unwrap();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "renamed\n");
    let mut buf = [0u8; 3];
    assert_eq!(f.read_at(&mut buf, 0).unwrap(), 3);
    assert_eq!(&buf, b"ren");
}

#[test]
fn pagemap_reads_are_ranged_and_aligned() {
    skip_unless_mountable!();
    let m = Mounted::new("pagemap", 2);
    let f = File::open(m.path("7/pagemap")).unwrap();
    let vpn = 0x1000_0000u64 / 4096;
    let mut buf = [0u8; 64];
    assert_eq!(f.read_at(&mut buf, vpn * 8).unwrap(), 64);
    let expected: Vec<u8> = m.source.update(|s| {
        let map: &BTreeMap<u64, u64> = &s.processes[&7].pagemap;
        (vpn..vpn + 8)
            .flat_map(|v| map.get(&v).copied().unwrap_or(0).to_le_bytes())
            .collect()
    });
    assert_eq!(buf.to_vec(), expected);
    assert_eq!(m.source.pagemap_requests().last(), Some(&(7, vpn, 8)));
    let requests = m.source.pagemap_requests().len();
    assert_eq!(errno_of(f.read_at(&mut buf, vpn * 8 + 4)), libc::EINVAL);
    assert_eq!(errno_of(f.read_at(&mut buf[..12], vpn * 8)), libc::EINVAL);
    assert_eq!(m.source.pagemap_requests().len(), requests);
    // Past the last user page: end of file.
    assert_eq!(f.read_at(&mut buf, 0x7fff_ffff_f000 / 4096 * 8).unwrap(), 0);
}

#[test]
fn unknown_names_and_vanished_pids_are_enoent() {
    skip_unless_mountable!();
    let m = Mounted::new("enoent", 2);
    for (rel, want) in [
        ("nope", libc::ENOENT),
        ("99", libc::ENOENT),
        ("007", libc::ENOENT),
        ("7/nope", libc::ENOENT),
        ("7/maps/x", libc::ENOTDIR),
        ("rmap/6", libc::ENOENT),
        ("rmap/0x", libc::ENOENT),
        ("rmap/-1", libc::ENOENT),
        ("1/7", libc::ENOENT),
    ] {
        assert_eq!(errno_of(fs::metadata(m.path(rel))), want, "{rel}");
    }
    assert_eq!(errno_of(fs::metadata(m.path("nope"))), libc::ENOENT);
    assert!(m.ls("").contains(&"7".to_string()));
    let maps = m.path("7/maps");
    assert!(fs::metadata(&maps).is_ok());
    m.source.update(|s| s.processes.remove(&7));
    assert_eq!(errno_of(fs::metadata(m.path("7"))), libc::ENOENT);
    assert_eq!(errno_of(File::open(&maps)), libc::ENOENT);
    assert_eq!(
        m.ls(""),
        ["1", "rmap", "names", "meminfo", "vmstat", "kmsg"]
    );
    m.source
        .update(|s| s.processes.insert(8, fake_process(8, "late", 1, 1)));
    assert_eq!(m.read("8/comm"), b"late\n", "a new process appears at once");
}

#[test]
fn a_listing_is_stable_within_one_open_directory() {
    skip_unless_mountable!();
    let m = Mounted::new("readdir", 2);
    m.source.update(|s| {
        for pfn in 100..3100 {
            s.frames.insert(pfn, fake_frame(pfn, 7, 0x1000_0000));
        }
    });
    let expected = m.ls("rmap");
    assert_eq!(expected.len(), 3003);
    // opendir takes the snapshot; the entries are read (in several readdir calls) after the
    // machine changed.
    let dir = fs::read_dir(m.path("rmap")).unwrap();
    m.source.update(|s| {
        s.frames.retain(|pfn, _| pfn % 2 == 0);
        s.frames
            .insert(1 << 40, fake_frame(1 << 40, 7, 0x1000_0000));
    });
    let got: Vec<String> = dir
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(got, expected);
    assert_eq!(
        m.ls("rmap").len(),
        1501,
        "the even pfns of 100..3100 and 1 << 40"
    );
}

#[test]
fn write_opens_fail() {
    skip_unless_mountable!();
    let m = Mounted::new("write", 2);
    // Root passes the mode check (0444), so the adapter's own refusal is what it sees.
    for rel in [
        "7/maps",
        "7/pagemap",
        "7/oom_score",
        "rmap/9",
        "names",
        "meminfo",
        "vmstat",
        "kmsg",
    ] {
        let e = errno_of(OpenOptions::new().write(true).open(m.path(rel)));
        assert_eq!(e, libc::EROFS, "{rel}");
        let e = errno_of(OpenOptions::new().read(true).write(true).open(m.path(rel)));
        assert_eq!(e, libc::EROFS, "{rel}");
    }
    assert_eq!(errno_of(fs::create_dir(m.path("x"))), libc::EROFS);
    assert_eq!(errno_of(File::create(m.path("7/x"))), libc::EROFS);
    assert_eq!(errno_of(fs::remove_file(m.path("7/maps"))), libc::EROFS);
    assert_eq!(
        errno_of(fs::rename(m.path("7/maps"), m.path("7/maps2"))),
        libc::EROFS
    );
    assert_eq!(
        errno_of(fs::set_permissions(
            m.path("meminfo"),
            fs::Permissions::from_mode(0o644)
        )),
        libc::EROFS
    );
    assert_eq!(
        errno_of(fs::set_permissions(
            m.path("7/clear_refs"),
            fs::Permissions::from_mode(0o600)
        )),
        libc::EPERM,
        "proc's setattr refuses a new mode"
    );
    assert_eq!(
        errno_of(fs::set_permissions(
            m.path("7/oom_score_adj"),
            fs::Permissions::from_mode(0o600)
        )),
        libc::EPERM,
        "proc's setattr refuses a new mode"
    );
    assert!(m.source.calls().is_empty());
}

#[test]
fn oom_score_adj_writes_become_calls_of_the_opener() {
    skip_unless_mountable!();
    let m = Mounted::new("oom_score_adj", 2);
    let path = m.path("7/oom_score_adj");
    // `echo -500 > oom_score_adj` as std::fs does it: open O_WRONLY|O_CREAT|O_TRUNC, write.
    fs::write(&path, "-500\n").unwrap();
    // One descriptor read and written: writes at any offset, reads of the fresh value.
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    assert_eq!(
        f.write_at(b"0x10", 1 << 20).unwrap(),
        4,
        "any offset, base 0"
    );
    let mut buf = [0u8; 16];
    assert_eq!(f.read_at(&mut buf, 0).unwrap(), 5);
    assert_eq!(&buf[..5], b"-500\n", "the fake machine does not change");
    assert_eq!(f.read_at(&mut buf, 3).unwrap(), 2);
    assert_eq!(&buf[..2], b"0\n");
    f.set_len(0).unwrap();
    assert_eq!(errno_of(f.write_at(b"1001", 0)), libc::EINVAL);
    assert_eq!(errno_of(f.write_at(b"08", 0)), libc::EINVAL);
    assert_eq!(errno_of(f.write_at(b"2147483648", 0)), libc::ERANGE);
    drop(f);
    let calls = pid7_values(&m, |c| match c {
        anonmap_abi::Call::OomScoreAdj(a) => Some((a.pid, a.value)),
        _ => None,
    });
    assert_eq!(calls, [(0, -500), (0, 16)]);
    // The process goes: an open descriptor's read and write are ESRCH, a new open ENOENT.
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    m.source.update(|s| s.processes.remove(&7));
    assert_eq!(errno_of(f.write_at(b"1", 0)), libc::ESRCH);
    assert_eq!(errno_of(f.read_at(&mut buf, 0)), libc::ESRCH);
    assert_eq!(errno_of(fs::write(&path, "1")), libc::ENOENT);
}

/// The (uid, value) of every call the fake machine got, each of the kind `value` picks (its
/// pid and value) and for pid 7.
#[track_caller]
fn pid7_values(
    m: &Mounted,
    value: impl Fn(&anonmap_abi::Call) -> Option<(u32, i64)>,
) -> Vec<(u32, i64)> {
    m.source
        .calls()
        .into_iter()
        .map(|(uid, call)| {
            let (pid, v) = value(&call).unwrap_or_else(|| panic!("{call:?}"));
            assert_eq!(pid, 7);
            (uid, v)
        })
        .collect()
}

#[test]
fn clear_refs_writes_become_calls_of_the_opener() {
    skip_unless_mountable!();
    let m = Mounted::new("clear_refs", 2);
    let path = m.path("7/clear_refs");
    fs::write(&path, "1\n").unwrap();
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    assert_eq!(f.write_at(b" 4 ", 1 << 20).unwrap(), 3, "any offset");
    f.set_len(0).unwrap();
    assert_eq!(errno_of(f.write_at(b"6", 0)), libc::EINVAL);
    assert_eq!(errno_of(f.write_at(b"2147483648", 0)), libc::ERANGE);
    drop(f);
    let calls = pid7_values(&m, |c| match c {
        anonmap_abi::Call::ClearRefs(a) => Some((a.pid, a.value)),
        _ => None,
    });
    assert_eq!(calls, [(0, 1), (0, 4)]);
    assert_eq!(errno_of(fs::read(&path)), libc::EINVAL);
    // The process goes: an open descriptor's write is the call's ESRCH, a new open ENOENT.
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    m.source.update(|s| s.processes.remove(&7));
    assert_eq!(errno_of(f.write_at(b"1", 0)), libc::ESRCH);
    assert_eq!(errno_of(fs::write(&path, "1")), libc::ENOENT);
}

#[test]
fn many_threads_serve_parallel_readers() {
    skip_unless_mountable!();
    let m = Mounted::new("parallel", 4);
    let expected = m.read("7/smaps");
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..5 {
                    assert_eq!(m.read("7/smaps"), expected);
                }
            });
        }
    });
}

#[test]
fn unmount_and_drop_leave_the_directory_unmounted() {
    skip_unless_mountable!();
    let dir = test_dir("unmount");
    let source = Arc::new(FakeSource::new(machine()));
    let h = mount(source.clone(), &dir, 2).unwrap();
    assert!(is_mount_point(h.dir()).unwrap());
    h.unmount().unwrap();
    assert!(!is_mount_point(&dir).unwrap());
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);

    let h = mount(source, &dir, 1).unwrap();
    assert!(is_mount_point(&dir).unwrap());
    drop(h);
    assert!(!is_mount_point(&dir).unwrap());
    fs::remove_dir(&dir).unwrap();
}

#[test]
fn a_busy_tree_is_detached() {
    skip_unless_mountable!();
    let dir = test_dir("busy");
    let h = mount(Arc::new(FakeSource::new(machine())), &dir, 2).unwrap();
    let open = File::open(dir.join("meminfo")).unwrap();
    h.unmount().unwrap();
    assert!(!is_mount_point(&dir).unwrap());
    drop(open);
    fs::remove_dir(&dir).unwrap();
}

/// Not a test on its own: in the child process of the stale-mount test it mounts the tree at
/// `$ANONMAP_FUSEFS_CRASH_DIR`, says so on stdout and waits to be killed.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CRASH_DIR_ENV) else {
        return;
    };
    let handle = mount(Arc::new(FakeSource::new(machine())), Path::new(&dir), 2).unwrap();
    println!("{CHILD_MOUNTED}");
    std::mem::forget(handle);
    loop {
        std::thread::park();
    }
}

#[test]
fn stale_mount_of_a_crashed_daemon_is_detached() {
    skip_unless_mountable!();
    let dir = test_dir("stale");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "mount::crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_DIR_ENV, &dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mounted = stdout
        .lines()
        .map(Result::unwrap)
        .any(|line| line.contains(CHILD_MOUNTED));
    assert!(mounted, "the child did not mount");
    child.kill().unwrap(); // SIGKILL: the daemon "crashes" without unmounting
    child.wait().unwrap();
    // The child's /dev/fuse descriptors closed when it exited: the mount is left disconnected.
    // (statfs always asks the daemon; a stat of the root could still be answered from the
    // attribute cache for a moment.)
    assert!(is_mount_point(&dir).unwrap());
    assert_eq!(errno_of(fs::read(dir.join("meminfo"))), libc::ENOTCONN);

    let source = Arc::new(FakeSource::new(machine()));
    let h = mount(source.clone(), &dir, 2).unwrap();
    assert_eq!(
        fs::read(dir.join("meminfo")).unwrap(),
        tree::render(&*source, Node::Meminfo).unwrap()
    );
    h.unmount().unwrap();
    assert!(!is_mount_point(&dir).unwrap());
    fs::remove_dir(&dir).unwrap();
}
