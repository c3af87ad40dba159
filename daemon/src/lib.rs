//! anonmap-daemon: `anonmapd`, the daemon that hosts the simulated machine, serves its control
//! socket, journals every call and mounts its /proc tree.
//!
//! The parts:
//! - [`config`]: the command line (clap, every option with an `ANONMAP_*` environment variable)
//!   and the defaults for root and for other users.
//! - [`run`]: the daemon's life as a library ([`Daemon::start`], [`Daemon::serve`], [`run()`]),
//!   which the thin binary and the tests' in-process daemon call.
//! - [`server`]: the shared machine, request execution, the control socket and its
//!   connections, systemd notification.
//! - [`journal`]: the journal of applied calls, its group commit, snapshots and recovery.
//!
//! The simulator (`anonmap-mm`), the language (`anonmap-lang`) and the tree (`anonmap-proc`,
//! `anonmap-fusefs`) are crates of their own; the daemon joins them.

pub mod config;
pub mod journal;
pub mod run;
pub mod server;

pub use config::{Cli, Config};
pub use run::{run, Daemon, DaemonError};

/// The demo scenario `--demo` loads into an empty machine.
pub const DEMO: &str = include_str!("../scenarios/demo.anonmap");
