//! A harness for end-to-end tests against the real `anonmapd` binary with a real FUSE mount.
//!
//! [`Daemon::start`] runs `anonmapd` in a temporary directory (socket `ctl`, mount `fs`, state
//! `state`) and waits for its `listening` log line (the tree is mounted before it is logged), so
//! no test sleeps. Writes go through the socket ([`Daemon::exchange`], pipelined from a writer
//! thread); reads go through the mount with plain `std::fs` ([`Daemon::mount_dir`]).
//!
//! Dropping a [`Daemon`] kills it (if still running) and lazily unmounts the mount directory
//! (`umount2(MNT_DETACH)`), so a failing test leaves neither a process nor a mount behind.

use std::ffi::CString;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a daemon may take to become ready or to exit before a test gives up.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The `anonmapd` binary next to the test executable (`target/<profile>/anonmapd`; the test is
/// `target/<profile>/deps/<test>`).
pub fn daemon_binary() -> PathBuf {
    workspace_binary("anonmapd", "anonmap-daemon")
}

/// The `anonmap` client binary, found the same way.
pub fn client_binary() -> PathBuf {
    workspace_binary("anonmap", "anonmap")
}

/// The workspace binary `name` of package `package`, next to the test executable.
fn workspace_binary(name: &str, package: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps");
    let bin = profile_dir.join(name);
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo test --workspace` (which builds it) or \
         `cargo build -p {package} --bin {name}` first",
        bin.display()
    );
    bin
}

/// How a daemon is started.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--ram`.
    pub ram: String,
    /// `--swap`.
    pub swap: String,
    /// `--state-dir DIR/state` if set, else `--ephemeral`.
    pub persistent: bool,
    /// `--fuse-threads`.
    pub fuse_threads: u32,
    /// More arguments, appended last.
    pub extra: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            ram: "1G".into(),
            swap: "64M".into(),
            persistent: false,
            fuse_threads: 4,
            extra: Vec::new(),
        }
    }
}

/// The temporary directory a daemon runs in; shared by a daemon and its restart.
#[derive(Debug)]
pub struct Dirs {
    /// Held for its Drop: removed last, after every daemon using it is gone.
    _root: tempfile::TempDir,
    /// `root`'s path, canonical (as the daemon and /proc/self/mountinfo spell it).
    path: PathBuf,
}

impl Dirs {
    /// A fresh directory, mode 0755 so that another uid can reach the socket and the mount.
    pub fn new() -> Arc<Dirs> {
        let root = tempfile::Builder::new()
            .prefix("anonmap-e2e-")
            .tempdir()
            .expect("a temporary directory");
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = root.path().canonicalize().unwrap();
        Arc::new(Dirs { _root: root, path })
    }

    pub fn root(&self) -> &Path {
        &self.path
    }

    pub fn socket(&self) -> PathBuf {
        self.root().join("ctl")
    }

    pub fn mount(&self) -> PathBuf {
        self.root().join("fs")
    }

    pub fn state(&self) -> PathBuf {
        self.root().join("state")
    }
}

impl Drop for Dirs {
    fn drop(&mut self) {
        // Never let the directory removal walk into a mount.
        lazy_unmount(&self.mount());
    }
}

/// `umount2(dir, MNT_DETACH)`; errors (not a mount point, no such directory) are ignored.
pub fn lazy_unmount(dir: &Path) {
    let Ok(c) = CString::new(dir.as_os_str().as_bytes()) else {
        return;
    };
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    unsafe {
        libc::umount2(c.as_ptr(), libc::MNT_DETACH);
    }
}

/// `statfs(2)` of `dir`: the errno it fails with, if any. Unlike `stat`, FUSE always asks the
/// daemon for STATFS, so a dead daemon's mount answers ENOTCONN even while attributes are
/// cached.
pub fn statfs_errno(dir: &Path) -> Option<i32> {
    let c = CString::new(dir.as_os_str().as_bytes()).unwrap();
    // SAFETY: an all-zero statfs is a valid value of this plain C struct.
    let mut buf: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and `buf` is writable; both outlive the call.
    if unsafe { libc::statfs(c.as_ptr(), &mut buf) } == 0 {
        None
    } else {
        std::io::Error::last_os_error().raw_os_error()
    }
}

/// Whether `dir` is a mount point now, from /proc/self/mountinfo (field 5).
pub fn is_mount_point(dir: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let want = dir.to_str().unwrap();
    info.lines().any(|l| l.split(' ').nth(4) == Some(want))
}

/// A running `anonmapd`.
#[derive(Debug)]
pub struct Daemon {
    /// `None` once waited for.
    child: Option<Child>,
    dirs: Arc<Dirs>,
    /// stderr lines after the readiness line.
    log: mpsc::Receiver<String>,
    /// stderr lines up to and including the readiness line.
    early_log: Vec<String>,
    /// From spawning the process to its `listening` line.
    startup: Duration,
}

impl Daemon {
    /// Starts a daemon with `opts` in a fresh temporary directory.
    pub fn start(opts: &Options) -> Daemon {
        Daemon::start_in(Dirs::new(), opts)
    }

    /// Starts a daemon with `opts` in `dirs` (socket, mount and state directory of an earlier
    /// daemon, for a restart), and waits for its `listening` line.
    pub fn start_in(dirs: Arc<Dirs>, opts: &Options) -> Daemon {
        let mut cmd = Command::new(daemon_binary());
        cmd.arg("--socket")
            .arg(dirs.socket())
            .arg("--mount")
            .arg(dirs.mount())
            .args(["--ram", &opts.ram, "--swap", &opts.swap])
            .arg("--fuse-threads")
            .arg(opts.fuse_threads.to_string());
        if opts.persistent {
            cmd.arg("--state-dir").arg(dirs.state());
        } else {
            cmd.arg("--ephemeral");
        }
        cmd.args(&opts.extra)
            .env("RUST_LOG", "info,fuser=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd.spawn().expect("anonmapd starts");
        let log = forward_lines(child.stderr.take().unwrap());
        let mut d = Daemon {
            child: Some(child),
            dirs,
            log,
            early_log: Vec::new(),
            startup: Duration::ZERO,
        };
        loop {
            match d.log.recv_timeout(TIMEOUT) {
                Ok(line) => {
                    let ready = line.contains("listening");
                    d.early_log.push(line);
                    if ready {
                        break;
                    }
                }
                Err(e) => panic!(
                    "anonmapd did not become ready ({e}); its log:\n{}",
                    d.early_log.join("\n")
                ),
            }
        }
        d.startup = started.elapsed();
        d
    }

    pub fn dirs(&self) -> Arc<Dirs> {
        Arc::clone(&self.dirs)
    }

    pub fn mount_dir(&self) -> PathBuf {
        self.dirs.mount()
    }

    pub fn socket(&self) -> PathBuf {
        self.dirs.socket()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the daemon runs").id()
    }

    /// The log lines up to the readiness line.
    pub fn early_log(&self) -> &[String] {
        &self.early_log
    }

    /// From spawning the process to its `listening` line.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The next log line, waiting up to [`TIMEOUT`]; `None` once the daemon's stderr is closed.
    pub fn next_log_line(&self) -> Option<String> {
        match self.log.recv_timeout(TIMEOUT) {
            Ok(l) => Some(l),
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("anonmapd logged nothing for {TIMEOUT:?}")
            }
        }
    }

    /// Waits for a log line containing `text`; panics if the daemon exits first.
    pub fn wait_for_log(&self, text: &str) -> String {
        loop {
            match self.next_log_line() {
                Some(l) if l.contains(text) => return l,
                Some(_) => {}
                None => panic!("anonmapd exited before logging {text:?}"),
            }
        }
    }

    pub fn connect(&self) -> UnixStream {
        UnixStream::connect(self.socket()).expect("connect to anonmapd")
    }

    /// Sends `lines` pipelined on a new connection and returns one reply per line.
    pub fn exchange<S: AsRef<str>>(&self, lines: &[S]) -> Vec<String> {
        let mut input = Vec::new();
        for l in lines {
            input.extend_from_slice(l.as_ref().as_bytes());
            input.push(b'\n');
        }
        self.exchange_bytes(input, lines.len())
    }

    /// Sends raw `input` on a new connection (from a writer thread) and reads `replies` replies.
    pub fn exchange_bytes(&self, input: Vec<u8>, replies: usize) -> Vec<String> {
        exchange_on(self.connect(), input, replies)
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the pid of our own child, which has not been waited for.
        assert_eq!(unsafe { libc::kill(self.pid() as i32, sig) }, 0);
    }

    /// Sends SIGTERM and waits for the exit; returns its status and the log lines after the
    /// readiness line.
    pub fn sigterm(mut self) -> (ExitStatus, Vec<String>) {
        self.signal(libc::SIGTERM);
        // stderr closes when the process exits: the log reader ends then.
        let mut log = Vec::new();
        while let Some(l) = self.next_log_line() {
            log.push(l);
        }
        let status = self.child.take().unwrap().wait().unwrap();
        (status, log)
    }

    /// `kill -9` and reap. The mount is left stale (as a crash leaves it); the directories
    /// stay for a restart.
    pub fn kill9(mut self) -> Arc<Dirs> {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        Arc::clone(&self.dirs)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            lazy_unmount(&self.dirs.mount());
        }
    }
}

/// Forwards the lines of `r` to a channel (and to the test's stderr, which the harness
/// captures).
fn forward_lines(r: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            eprintln!("[anonmapd] {line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Reads one reply: a line, plus its body for `ok bytes=N` (appended, lossily decoded).
pub fn read_reply(r: &mut impl BufRead) -> Option<String> {
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

/// Sends `input` on `stream` from a writer thread and reads `replies` replies (fewer if the
/// connection ends first).
pub fn exchange_on(stream: UnixStream, input: Vec<u8>, replies: usize) -> Vec<String> {
    let mut w = stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&input);
    });
    let mut r = BufReader::new(stream);
    let got: Vec<String> = (0..replies).map_while(|_| read_reply(&mut r)).collect();
    writer.join().unwrap();
    got
}

/// Runs `cmd` to completion with its output captured, killing it after [`TIMEOUT`].
pub fn output_within_timeout(cmd: &mut Command) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        let _ = tx.send((0, v));
    });
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        let _ = tx2.send((1, v));
    });
    let mut outs = [Vec::new(), Vec::new()];
    for _ in 0..2 {
        match rx.recv_timeout(TIMEOUT) {
            Ok((i, v)) => outs[i] = v,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{cmd:?} did not finish within {TIMEOUT:?}");
            }
        }
    }
    let status = child.wait().unwrap();
    let [stdout, stderr] = outs;
    std::process::Output {
        status,
        stdout,
        stderr,
    }
}

/// Every readable file of the tree under `mount` (pagemap excluded: it is read by range), by
/// path relative to the mount, read with plain `std::fs::read`.
pub fn read_tree(mount: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![mount.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else if p.file_name().unwrap() != "pagemap" {
                let rel = p.strip_prefix(mount).unwrap().to_string_lossy().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}
