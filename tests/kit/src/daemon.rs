//! A harness for the real `anonmapd` binary: [`Daemon::start`] runs it in a temporary directory
//! (socket `ctl`, mount `fs`, state `state`) with `NOTIFY_SOCKET` pointing at a datagram socket
//! of the harness, and returns once the daemon has sent systemd's `READY=1` (it does so after
//! the socket listens and the tree is mounted), so no test sleeps or reads log text to
//! synchronise. Writes go through the socket ([`Daemon::exchange`], pipelined from a writer
//! thread); reads go through the mount with plain `std::fs` ([`Daemon::mount_dir`]).
//!
//! Dropping a [`Daemon`] kills it (if still running) and lazily unmounts the mount directory, so
//! a failing test leaves neither a process nor a mount behind.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anonmap_fusefs::mount::detach;

use crate::wire::{exchange_on, lines_of};

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
    /// `--mount DIR/fs` if set (needs root, or fusermount3), else `--no-mount`.
    pub mount: bool,
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
            mount: true,
            fuse_threads: 4,
            extra: Vec::new(),
        }
    }
}

impl Options {
    /// The defaults without a mount: what the socket tests use, root or not.
    pub fn socket_only() -> Options {
        Options {
            mount: false,
            ..Options::default()
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
            .prefix("anonmap-test-")
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
        let _ = detach(&self.mount());
    }
}

/// What the harness hears from a daemon: a log line, a systemd notification, or the end of its
/// stderr (it exited).
#[derive(Debug)]
enum Heard {
    Log(String),
    Notify(String),
    Exited,
}

/// A running `anonmapd`.
#[derive(Debug)]
pub struct Daemon {
    /// `None` once waited for.
    child: Option<Child>,
    dirs: Arc<Dirs>,
    heard: mpsc::Receiver<Heard>,
    /// stderr lines up to readiness.
    early_log: Vec<String>,
    /// From spawning the process to its `READY=1`.
    startup: Duration,
    /// Held so the notification socket file lives as long as the daemon.
    _notify_dir: tempfile::TempDir,
}

impl Daemon {
    /// Starts a daemon with `opts` in a fresh temporary directory.
    pub fn start(opts: &Options) -> Daemon {
        Daemon::start_in(Dirs::new(), opts)
    }

    /// Starts a daemon with `opts` in `dirs` (socket, mount and state directory of an earlier
    /// daemon, for a restart), and waits until it is ready.
    pub fn start_in(dirs: Arc<Dirs>, opts: &Options) -> Daemon {
        Daemon::start_with(dirs, opts, |_| {})
    }

    /// [`Daemon::start_in`], with `setup` adjusting the command first (a uid, say).
    pub fn start_with(dirs: Arc<Dirs>, opts: &Options, setup: impl FnOnce(&mut Command)) -> Daemon {
        Daemon::try_start_with(dirs, opts, setup).unwrap_or_else(|(status, log)| {
            panic!(
                "anonmapd exited before it was ready ({status:?}); its log:\n{}",
                log.join("\n")
            )
        })
    }

    /// Starts a daemon that is expected to refuse to start: its exit status and log.
    pub fn start_failing(dirs: Arc<Dirs>, opts: &Options) -> (ExitStatus, Vec<String>) {
        match Daemon::try_start_with(dirs, opts, |_| {}) {
            Ok(_) => panic!("anonmapd started, but it was expected to refuse"),
            Err((status, log)) => (status.expect("it exited"), log),
        }
    }

    /// Starts and waits for `READY=1`; if the daemon exits first, its status and log.
    #[allow(clippy::type_complexity)]
    fn try_start_with(
        dirs: Arc<Dirs>,
        opts: &Options,
        setup: impl FnOnce(&mut Command),
    ) -> Result<Daemon, (Option<ExitStatus>, Vec<String>)> {
        let notify_dir = tempfile::Builder::new()
            .prefix("anonmap-notify-")
            .tempdir()
            .expect("a temporary directory");
        std::fs::set_permissions(notify_dir.path(), std::fs::Permissions::from_mode(0o777))
            .unwrap();
        let notify_path = notify_dir.path().join("notify");
        let notify = UnixDatagram::bind(&notify_path).expect("the notification socket");
        std::fs::set_permissions(&notify_path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let mut cmd = Command::new(daemon_binary());
        setup(&mut cmd);
        cmd.arg("--socket").arg(dirs.socket());
        if opts.mount {
            cmd.arg("--mount").arg(dirs.mount());
        } else {
            cmd.arg("--no-mount");
        }
        cmd.args(["--ram", &opts.ram, "--swap", &opts.swap])
            .arg("--fuse-threads")
            .arg(opts.fuse_threads.to_string());
        if opts.persistent {
            cmd.arg("--state-dir").arg(dirs.state());
        } else {
            cmd.arg("--ephemeral");
        }
        cmd.args(&opts.extra)
            .env("RUST_LOG", "info,fuser=warn")
            .env("NOTIFY_SOCKET", &notify_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd.spawn().expect("anonmapd starts");
        let (tx, heard) = mpsc::channel();
        forward_log(child.stderr.take().unwrap(), tx.clone());
        forward_notifications(notify, tx);
        let mut early_log = Vec::new();
        loop {
            match heard.recv_timeout(TIMEOUT) {
                Ok(Heard::Notify(n)) if n == "READY=1" => break,
                Ok(Heard::Notify(_)) => {}
                Ok(Heard::Log(line)) => early_log.push(line),
                Ok(Heard::Exited) => {
                    let status = child.wait().ok();
                    return Err((status, early_log));
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "anonmapd was not ready within {TIMEOUT:?} ({e}); its log:\n{}",
                        early_log.join("\n")
                    )
                }
            }
        }
        Ok(Daemon {
            child: Some(child),
            dirs,
            heard,
            early_log,
            startup: started.elapsed(),
            _notify_dir: notify_dir,
        })
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

    /// The log lines up to readiness.
    pub fn early_log(&self) -> &[String] {
        &self.early_log
    }

    /// From spawning the process to its `READY=1`.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The next log line, waiting up to [`TIMEOUT`]; `None` once the daemon's stderr is closed.
    pub fn next_log_line(&self) -> Option<String> {
        loop {
            match self.heard.recv_timeout(TIMEOUT) {
                Ok(Heard::Log(l)) => return Some(l),
                Ok(Heard::Notify(_)) => {}
                Ok(Heard::Exited) | Err(mpsc::RecvTimeoutError::Disconnected) => return None,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("anonmapd logged nothing for {TIMEOUT:?}")
                }
            }
        }
    }

    /// Waits for the systemd notification `state` (`STOPPING=1`); panics if the daemon exits
    /// first. Log lines seen on the way are dropped.
    pub fn wait_for_notification(&self, state: &str) {
        loop {
            match self.heard.recv_timeout(TIMEOUT) {
                Ok(Heard::Notify(n)) if n == state => return,
                Ok(Heard::Notify(_)) | Ok(Heard::Log(_)) => {}
                Ok(Heard::Exited) | Err(_) => panic!("anonmapd did not notify {state:?}"),
            }
        }
    }

    pub fn connect(&self) -> UnixStream {
        UnixStream::connect(self.socket()).expect("connect to anonmapd")
    }

    /// Sends `lines` pipelined on a new connection and returns one reply per line.
    pub fn exchange<S: AsRef<str>>(&self, lines: &[S]) -> Vec<String> {
        self.exchange_bytes(lines_of(lines), lines.len())
    }

    /// Sends raw `input` on a new connection (from a writer thread) and reads `replies` replies.
    pub fn exchange_bytes(&self, input: Vec<u8>, replies: usize) -> Vec<String> {
        exchange_on(self.connect(), input, replies)
    }

    /// Sends `sig` to the daemon.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the pid of our own child, which has not been waited for.
        assert_eq!(unsafe { libc::kill(self.pid() as i32, sig) }, 0);
    }

    /// Sends SIGTERM and waits for the exit; returns its status and the log lines after
    /// readiness.
    pub fn sigterm(self) -> (ExitStatus, Vec<String>) {
        self.signal(libc::SIGTERM);
        self.wait()
    }

    /// Waits for the daemon to exit (after a signal, say); its status and the log lines not
    /// read yet.
    pub fn wait(mut self) -> (ExitStatus, Vec<String>) {
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
            let _ = detach(&self.dirs.mount());
        }
    }
}

/// Forwards the lines of `r` as [`Heard::Log`] (and to the test's stderr, which the harness
/// captures), then [`Heard::Exited`] at its end.
fn forward_log(r: impl Read + Send + 'static, tx: mpsc::Sender<Heard>) {
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            eprintln!("[anonmapd] {line}");
            if tx.send(Heard::Log(line)).is_err() {
                return;
            }
        }
        let _ = tx.send(Heard::Exited);
    });
}

/// Forwards every datagram on `sock` as [`Heard::Notify`] until the receiver is gone.
fn forward_notifications(sock: UnixDatagram, tx: mpsc::Sender<Heard>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = sock.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).trim().to_string();
            if tx.send(Heard::Notify(text)).is_err() {
                return;
            }
        }
    });
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

/// Every readable file of the tree under `mount` (pagemap excluded: it is read by range; and
/// clear_refs: it is write-only), by path relative to the mount, read with plain
/// `std::fs::read`.
pub fn read_tree(mount: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![mount.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else if !matches!(
                p.file_name().unwrap().to_str(),
                Some("pagemap" | "clear_refs")
            ) {
                let rel = p.strip_prefix(mount).unwrap().to_string_lossy().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}
