//! An `anonmapd` in the test's own process: [`InProcess::start`] runs the daemon's library
//! ([`anonmap_daemon::Daemon`]) on a tokio runtime of its own thread, with a socket in a
//! temporary directory, no mount and no journal unless asked. It is ready when `start`
//! returns (the daemon's `start` returned: the socket listens). Dropping it shuts it down.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use anonmap_daemon::server::SharedMachine;
use anonmap_daemon::{Cli, Config, Daemon, DaemonError};
use clap::Parser;
use tokio_util::sync::CancellationToken;

use crate::wire::{exchange_on, lines_of};

/// A daemon served from a thread of this process.
#[derive(Debug)]
pub struct InProcess {
    shutdown: CancellationToken,
    thread: Option<JoinHandle<Result<(), DaemonError>>>,
    socket: PathBuf,
    machine: Arc<SharedMachine>,
    _dir: tempfile::TempDir,
}

impl InProcess {
    /// A daemon with `anonmapd`'s defaults but `--no-mount --ephemeral --ram 1G --swap 64M`.
    pub fn start() -> InProcess {
        InProcess::start_with(&[])
    }

    /// The same with more command-line arguments (`--demo`, `--state-dir DIR`, ...).
    pub fn start_with(args: &[&str]) -> InProcess {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let socket = dir.path().join("ctl");
        let mut argv = vec!["anonmapd", "--no-mount", "--ram", "1G", "--swap", "64M"];
        if !args.contains(&"--state-dir") {
            argv.push("--ephemeral");
        }
        argv.extend_from_slice(args);
        let mut cli = Cli::try_parse_from(argv).expect("valid arguments");
        cli.socket = Some(socket.clone());
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        let config: Config = cli.resolve(euid, |_| None);
        let shutdown = CancellationToken::new();
        let (ready_tx, ready) = mpsc::channel();
        let token = shutdown.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime");
            runtime.block_on(async move {
                let daemon = match Daemon::start(&config, token).await {
                    Ok(d) => d,
                    Err(e) => {
                        let message = e.to_string();
                        let _ = ready_tx.send(Err(message));
                        return Err(e);
                    }
                };
                let _ = ready_tx.send(Ok(Arc::clone(daemon.machine())));
                daemon.serve().await
            })
        });
        let machine = match ready.recv() {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => panic!("the in-process daemon did not start: {e}"),
            Err(_) => panic!("the in-process daemon's thread died before it was ready"),
        };
        InProcess {
            shutdown,
            thread: Some(thread),
            socket,
            machine,
            _dir: dir,
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The daemon's machine, for reading it directly.
    pub fn machine(&self) -> &SharedMachine {
        &self.machine
    }

    pub fn connect(&self) -> UnixStream {
        UnixStream::connect(&self.socket).expect("connect to the in-process daemon")
    }

    /// Sends `lines` pipelined on a new connection and returns one reply per line.
    pub fn exchange<S: AsRef<str>>(&self, lines: &[S]) -> Vec<String> {
        exchange_on(self.connect(), lines_of(lines), lines.len())
    }

    /// Shuts the daemon down and returns how its `serve` ended.
    pub fn stop(mut self) -> Result<(), DaemonError> {
        self.shutdown.cancel();
        self.thread
            .take()
            .expect("not stopped yet")
            .join()
            .expect("the daemon's thread does not panic")
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
