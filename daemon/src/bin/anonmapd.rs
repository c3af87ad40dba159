//! anonmapd: the daemon's binary. It parses the command line, sets up logging, turns SIGTERM and
//! SIGINT into the shutdown of [`anonmap_daemon::run`], and exits 0 after a clean shutdown, 1
//! after an error.
//!
//! A panic anywhere aborts the process: a call that panicked half-way under the write lock is
//! not journaled, so a restart rebuilds exactly the acknowledged state.

use std::io::IsTerminal;
use std::process::ExitCode;

use anonmap_daemon::Cli;
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
    let result = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        on_signals_cancel(shutdown.clone())?;
        anonmap_daemon::run(&config, shutdown)
            .await
            .map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Cancels `shutdown` on SIGTERM or SIGINT.
fn on_signals_cancel(shutdown: CancellationToken) -> Result<(), String> {
    let mut term =
        signal(SignalKind::terminate()).map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    let mut int =
        signal(SignalKind::interrupt()).map_err(|e| format!("cannot handle SIGINT: {e}"))?;
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
