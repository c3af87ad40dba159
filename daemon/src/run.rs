//! The daemon's life, as a library: [`Daemon::start`] does everything up to serving, and
//! [`Daemon::serve`] serves until the shutdown token is cancelled and then shuts down. The
//! binary and the tests' in-process daemon both go through here.
//!
//! Start, in order: bind the control socket (a second daemon stops here, before touching any
//! state), lock and recover the state directory, start the journal, load the demo into an empty
//! machine if asked, mount the tree. When `start` returns, the socket accepts and the tree is
//! mounted: the daemon is ready ([`run`] then tells systemd `READY=1`).
//!
//! Shutdown is one path: the token is cancelled (by a signal in the binary, by a journal
//! failure, by a test); the accept loop stops and the connections finish the requests they
//! have read (their replies are written once durable); the tree is unmounted (a write to
//! `<pid>/clear_refs` or `<pid>/oom_score_adj` in flight is a call too, and it finishes once
//! durable); the journal thread syncs what is left and stops; the socket file is removed.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anonmap_abi::{Call, Error, Kernel, Outcome};
use anonmap_lang::Session;
use anonmap_mm::Machine;
use anonmap_proc::Source;
use tokio::net::UnixListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::journal::{self, Journal, JournalError};
use crate::server::notify::notify;
use crate::server::{self, BindError, Context, SharedMachine};
use crate::DEMO;

/// Why the daemon could not start, or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error("cannot use the state directory {dir}: {source}")]
    StateDir { dir: PathBuf, source: io::Error },
    #[error("the state directory {dir} is in use by another anonmapd ({source})")]
    Locked { dir: PathBuf, source: io::Error },
    #[error("cannot recover the state in {dir}: {source}")]
    Recover { dir: PathBuf, source: JournalError },
    #[error("cannot start the journal: {0}")]
    JournalStart(JournalError),
    #[error("the demo failed at daemon/scenarios/demo.anonmap:{line_no}: {line}: {message}")]
    Demo {
        line_no: usize,
        line: String,
        message: String,
    },
    #[error("the journal stopped while the demo was being written")]
    DemoNotDurable,
    #[error("cannot mount the tree at {dir}: {source}")]
    Mount { dir: PathBuf, source: io::Error },
    #[error("the journal failed: {0}")]
    Journal(JournalError),
}

/// A started daemon: bound, recovered, mounted, not yet serving.
#[derive(Debug)]
pub struct Daemon {
    listener: UnixListener,
    socket: SocketFile,
    shared: Arc<SharedMachine>,
    journal: Option<Journal>,
    mount: Option<anonmap_fusefs::MountHandle>,
    /// Held for its lock on the state directory.
    _lock: Option<File>,
    shutdown: CancellationToken,
}

impl Daemon {
    /// Starts the daemon of `config`; a journal failure later cancels `shutdown`.
    pub async fn start(
        config: &Config,
        shutdown: CancellationToken,
    ) -> Result<Daemon, DaemonError> {
        let started = Instant::now();
        tracing::info!(
            socket = %config.socket.display(),
            mount = %config.mount.as_deref().map_or("none".into(), |m| m.display().to_string()),
            state_dir = %config.state_dir.as_deref().map_or("none (ephemeral)".into(), |d| d.display().to_string()),
            ram = config.sizes.ram_bytes,
            swap = config.sizes.swap_bytes,
            "anonmapd starting"
        );
        let listener = server::bind(&config.socket)?;
        let socket = SocketFile(config.socket.clone());
        let (shared, journal, lock) = match &config.state_dir {
            Some(dir) => {
                let lock = lock_state_dir(dir)?;
                let (shared, journal) = recover(dir, config, shutdown.clone())?;
                (shared, Some(journal), Some(lock))
            }
            None => (
                Arc::new(SharedMachine::new(Machine::new(config.sizes))),
                None,
                None,
            ),
        };
        let durable = journal.as_ref().map(Journal::durable);
        if config.demo {
            load_demo(&shared, durable).await?;
        }
        let mount = match &config.mount {
            Some(dir) => Some(mount(dir, config, Arc::clone(&shared) as Arc<dyn Source>)?),
            None => None,
        };
        tracing::info!(
            socket = %config.socket.display(),
            ms = started.elapsed().as_millis() as u64,
            "listening"
        );
        Ok(Daemon {
            listener,
            socket,
            shared,
            journal,
            mount,
            _lock: lock,
            shutdown,
        })
    }

    /// The shared machine (tests read it in-process).
    pub fn machine(&self) -> &Arc<SharedMachine> {
        &self.shared
    }

    /// Serves until the shutdown token is cancelled, then shuts down (see the module doc).
    pub async fn serve(self) -> Result<(), DaemonError> {
        let Daemon {
            listener,
            socket,
            shared,
            journal,
            mount,
            _lock,
            shutdown,
        } = self;
        let ctx = Context {
            machine: shared,
            durable: journal.as_ref().map(Journal::durable),
        };
        server::serve(listener, ctx, shutdown).await;
        // The tree first: its writes are journaled calls, and the FUSE threads making them
        // wait for the journal, which must still run. Unmounting joins those threads.
        if let Some(m) = mount {
            let dir = m.dir().to_path_buf();
            let unmounted = tokio::task::spawn_blocking(move || m.unmount())
                .await
                .expect("unmounting does not panic");
            match unmounted {
                Ok(()) => tracing::info!(mount = %dir.display(), "unmounted"),
                Err(e) => tracing::warn!(mount = %dir.display(), "unmount: {e}"),
            }
        }
        let journal_result = match journal {
            Some(j) => tokio::task::spawn_blocking(move || j.stop())
                .await
                .expect("the journal's stop does not panic"),
            None => Ok(()),
        };
        drop(socket);
        journal_result.map_err(DaemonError::Journal)?;
        tracing::info!("anonmapd stopped");
        Ok(())
    }
}

/// Starts the daemon, tells systemd it is ready, and serves until `shutdown`; `STOPPING=1` is
/// sent when shutdown begins.
pub async fn run(config: &Config, shutdown: CancellationToken) -> Result<(), DaemonError> {
    let daemon = Daemon::start(config, shutdown.clone()).await?;
    if let Err(e) = notify("READY=1") {
        tracing::warn!("cannot notify systemd: {e}");
    }
    let stopping = shutdown.clone();
    tokio::spawn(async move {
        stopping.cancelled().await;
        let _ = notify("STOPPING=1");
    });
    daemon.serve().await
}

/// The machine kept in `dir`, and its journal started.
fn recover(
    dir: &Path,
    config: &Config,
    failed: CancellationToken,
) -> Result<(Arc<SharedMachine>, Journal), DaemonError> {
    let r = journal::recover(dir, config.sizes).map_err(|source| DaemonError::Recover {
        dir: dir.to_path_buf(),
        source,
    })?;
    tracing::info!(
        ops_replayed = r.ops_replayed,
        from_snapshot = r.from_snapshot,
        torn_line_dropped = r.torn_dropped,
        generation = r.gen,
        ms = r.elapsed.as_millis() as u64,
        "recovered the machine from {}",
        dir.display()
    );
    if r.sizes != config.sizes {
        tracing::warn!(
            ram = r.sizes.ram_bytes,
            swap = r.sizes.swap_bytes,
            "the state directory keeps the sizes it was created with; --ram/--swap ignored"
        );
    }
    SharedMachine::with_journal(dir, r, config.journal, failed).map_err(DaemonError::JournalStart)
}

/// Mounts the tree of `source` at `dir` with `config.fuse_threads` threads, after detaching a
/// stale mount that a crashed daemon left there (ENOTCONN). Dropping the handle unmounts.
fn mount(
    dir: &Path,
    config: &Config,
    source: Arc<dyn Source>,
) -> Result<anonmap_fusefs::MountHandle, DaemonError> {
    let started = Instant::now();
    let handle =
        anonmap_fusefs::mount(source, dir, config.fuse_threads as usize).map_err(|source| {
            DaemonError::Mount {
                dir: dir.to_path_buf(),
                source,
            }
        })?;
    tracing::info!(
        mount = %handle.dir().display(),
        threads = config.fuse_threads,
        ms = started.elapsed().as_millis() as u64,
        "mounted"
    );
    Ok(handle)
}

/// The socket file, removed when the daemon stops.
#[derive(Debug)]
struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.0) {
            tracing::warn!(socket = %self.0.display(), "cannot remove the socket: {e}");
        }
    }
}

/// An exclusive lock on `dir/lock`, held while the daemon runs: two daemons never share a
/// state directory, whatever their sockets.
fn lock_state_dir(dir: &Path) -> Result<File, DaemonError> {
    let state_dir = |source| DaemonError::StateDir {
        dir: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(state_dir)?;
    let file = File::create(dir.join("lock")).map_err(state_dir)?;
    // SAFETY: flock on an fd we own; no memory is involved.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(DaemonError::Locked {
            dir: dir.to_path_buf(),
            source: io::Error::last_os_error(),
        });
    }
    Ok(file)
}

/// The shared machine as root's [`Kernel`]: each call applied and journaled, the last journal
/// sequence number kept to wait for.
struct AsRoot<'a> {
    shared: &'a SharedMachine,
    last_seq: Option<u64>,
}

impl Kernel for AsRoot<'_> {
    fn apply(&mut self, call: &Call) -> Result<Outcome, Error> {
        let applied = self.shared.apply(0, call.clone())?;
        self.last_seq = applied.seq.or(self.last_seq);
        applied.result
    }
}

/// Runs the built-in demo into an empty machine, as root, through the journal; waits until it
/// is durable.
async fn load_demo(
    shared: &SharedMachine,
    durable: Option<watch::Receiver<u64>>,
) -> Result<(), DaemonError> {
    if !shared.read().machine.pids().is_empty() {
        tracing::info!("--demo: the machine is not empty; the demo is not loaded again");
        return Ok(());
    }
    let mut root = AsRoot {
        shared,
        last_seq: None,
    };
    let summary = Session::new()
        .run_script(&mut root, DEMO)
        .map_err(|e| DaemonError::Demo {
            line_no: e.line_no,
            line: e.line,
            message: e.message,
        })?;
    let (last_seq, ops) = (root.last_seq, summary.calls);
    if let (Some(seq), Some(mut durable)) = (last_seq, durable) {
        durable
            .wait_for(|d| *d >= seq)
            .await
            .map_err(|_| DaemonError::DemoNotDurable)?;
    }
    tracing::info!(ops, pids = ?shared.read().machine.pids(), "demo loaded");
    Ok(())
}
