//! anonmapd: the daemon. Parses the command line, binds the control socket (refusing when
//! another daemon listens on it), locks and recovers the state directory, loads the demo into
//! an empty machine if asked, mounts the tree, tells systemd it is ready, and serves until
//! SIGTERM or SIGINT.
//!
//! Shutdown is one path: the signal cancels the token; the accept loop stops and the
//! connections finish the requests they have read (their replies are written once durable);
//! the journal thread syncs what is left and stops; the tree is unmounted; the socket file is
//! removed; exit 0. A journal failure cancels the same token and ends with exit 1.
//!
//! A panic anywhere aborts the process: an op that panicked half-way under the write lock is
//! not journaled, so a restart rebuilds exactly the acknowledged state.

use std::fs::File;
use std::io::IsTerminal;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anonmap_daemon::journal::{self, recover::new_machine, Journal};
use anonmap_daemon::server::listener::Context;
use anonmap_daemon::server::notify::notify;
use anonmap_daemon::server::{self, Cli, Config, Session, SharedMachine};
use anonmap_fusefs::source::Source;
use anyhow::{bail, Context as _};
use clap::Parser;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        // fuser logs its own mount and unmount lines at info; anonmapd logs both itself.
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,fuser=warn")),
        )
        .init();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        tracing::error!("panic: {info}; aborting (the journal holds every acknowledged op)");
        std::process::abort();
    }));
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    let config = cli.resolve(euid, |k| std::env::var(k).ok());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("anonmapd")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let started = Instant::now();
    tracing::info!(
        socket = %config.socket.display(),
        mount = %config.mount.as_deref().map_or("none".into(), |m| m.display().to_string()),
        state_dir = %config.state_dir.as_deref().map_or("none (ephemeral)".into(), |d| d.display().to_string()),
        ram = config.sizes.ram_bytes,
        swap = config.sizes.swap_bytes,
        "anonmapd starting"
    );
    let shutdown = CancellationToken::new();

    // The socket first: a second daemon stops here, before touching any state.
    let listener = server::bind(&config.socket)?;
    let socket = SocketFile(config.socket.clone());

    // Recovery.
    let (machine, recovered, _lock) = match &config.state_dir {
        Some(dir) => {
            let lock = lock_state_dir(dir)?;
            let r = journal::recover(dir, config.sizes)
                .with_context(|| format!("cannot recover the state in {}", dir.display()))?;
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
            let state = (dir.clone(), r.gen, r.valid_len, r.sizes);
            (r.machine, Some(state), Some(lock))
        }
        None => (new_machine(config.sizes), None, None),
    };
    let shared = Arc::new(SharedMachine::new(machine, None));
    let journal = match recovered {
        Some((dir, gen, valid_len, sizes)) => {
            let for_snapshots = Arc::clone(&shared);
            let (journal, appender) = Journal::start(
                &dir,
                gen,
                valid_len,
                sizes,
                config.journal,
                Arc::new(move |f| f(&for_snapshots.read().machine)),
                shutdown.clone(),
            )?;
            shared.attach_journal(appender);
            Some(journal)
        }
        None => None,
    };
    let durable = journal.as_ref().map(Journal::durable);

    if config.demo {
        load_demo(&shared, durable.clone()).await?;
    }

    let mount = start_mount(&config, Arc::clone(&shared) as Arc<dyn Source>)?;

    spawn_signal_handler(shutdown.clone())?;
    if let Err(e) = notify("READY=1") {
        tracing::warn!("cannot notify systemd: {e}");
    }
    tracing::info!(
        socket = %config.socket.display(),
        ms = started.elapsed().as_millis() as u64,
        "listening"
    );
    let ctx = Context {
        machine: Arc::clone(&shared),
        durable,
    };
    let stopping = shutdown.clone();
    tokio::spawn(async move {
        stopping.cancelled().await;
        let _ = notify("STOPPING=1");
    });
    server::serve(listener, ctx, shutdown.clone()).await;

    // Shutdown: the connections are done (or given up on); sync and stop the journal.
    let journal_result = match journal {
        Some(j) => tokio::task::spawn_blocking(move || j.stop()).await?,
        None => Ok(()),
    };
    if let Some(m) = mount {
        let dir = m.dir().to_path_buf();
        match m.unmount() {
            Ok(()) => tracing::info!(mount = %dir.display(), "unmounted"),
            Err(e) => tracing::warn!(mount = %dir.display(), "unmount: {e}"),
        }
    }
    drop(socket);
    journal_result.context("the journal failed")?;
    tracing::info!("anonmapd stopped");
    Ok(())
}

/// Mounts the tree of `source` at `config.mount` with `config.fuse_threads` threads, after
/// detaching a stale mount that a crashed daemon left there (ENOTCONN). `None` with
/// `--no-mount`. Dropping the handle unmounts.
fn start_mount(
    config: &Config,
    source: Arc<dyn Source>,
) -> anyhow::Result<Option<anonmap_fusefs::MountHandle>> {
    let Some(dir) = &config.mount else {
        return Ok(None);
    };
    let started = Instant::now();
    let handle = anonmap_fusefs::mount(source, dir, config.fuse_threads as usize)
        .with_context(|| format!("cannot mount the tree at {}", dir.display()))?;
    tracing::info!(
        mount = %handle.dir().display(),
        threads = config.fuse_threads,
        ms = started.elapsed().as_millis() as u64,
        "mounted"
    );
    Ok(Some(handle))
}

/// The socket file, removed when the daemon stops.
struct SocketFile(std::path::PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.0) {
            tracing::warn!(socket = %self.0.display(), "cannot remove the socket: {e}");
        }
    }
}

/// An exclusive lock on `dir/lock`, held while the daemon runs: two daemons never share a
/// state directory, whatever their sockets.
fn lock_state_dir(dir: &Path) -> anyhow::Result<File> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
    let path = dir.join("lock");
    let file = File::create(&path).with_context(|| format!("cannot open {}", path.display()))?;
    // SAFETY: flock on an fd we own; no memory is involved.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        bail!(
            "the state directory {} is in use by another anonmapd ({})",
            dir.display(),
            std::io::Error::last_os_error()
        );
    }
    Ok(file)
}

/// Cancels `shutdown` on SIGTERM or SIGINT.
fn spawn_signal_handler(shutdown: CancellationToken) -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    tokio::spawn(async move {
        let sig = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
            _ = shutdown.cancelled() => return,
        };
        tracing::info!("{sig}: shutting down");
        shutdown.cancel();
    });
    Ok(())
}

/// Runs the built-in demo into an empty machine, as root, through the journal; waits until it
/// is durable.
async fn load_demo(
    shared: &SharedMachine,
    durable: Option<tokio::sync::watch::Receiver<u64>>,
) -> anyhow::Result<()> {
    if !shared.read().machine.pids().is_empty() {
        tracing::info!("--demo: the machine is not empty; the demo is not loaded again");
        return Ok(());
    }
    let mut session = Session::new(0);
    let mut last_seq = None;
    let mut ops = 0;
    for (n, line) in server::DEMO.lines().enumerate() {
        let Some(reply) = shared.execute(&mut session, line.as_bytes()) else {
            continue;
        };
        if !reply.bytes.starts_with(b"ok") {
            bail!(
                "the demo failed at daemon/scenarios/demo.anonmap:{}: {}: {}",
                n + 1,
                line,
                String::from_utf8_lossy(&reply.bytes).trim_end()
            );
        }
        last_seq = reply.seq.or(last_seq);
        ops += 1;
    }
    if let (Some(seq), Some(mut durable)) = (last_seq, durable) {
        durable
            .wait_for(|d| *d >= seq)
            .await
            .context("the journal stopped while the demo was being written")?;
    }
    tracing::info!(ops, pids = ?shared.read().machine.pids(), "demo loaded");
    Ok(())
}
