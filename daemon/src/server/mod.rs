//! The daemon's server side: the shared machine, the control socket and its connections.
//!
//! - [`shared`]: [`SharedMachine`], the machine behind one `RwLock` with its journal appender:
//!   applying a call (ownership, apply, journal) and reading the tree.
//! - [`request`]: one request line to its reply ([`Peer`]: a connection's labels and uid).
//! - [`source`]: `impl Source for SharedMachine`, the read side the tree (FUSE and `read path=`)
//!   renders from.
//! - [`listener`]: binding the socket (refusing when another daemon listens, removing a stale
//!   file) and the accept loop with graceful shutdown (CancellationToken + TaskTracker).
//! - [`connection`]: one task per client: bounded lines in, replies out in order, each held
//!   until its op is durable, with a bounded reply buffer for backpressure.
//! - [`notify`]: systemd's `sd_notify` datagrams.

pub mod connection;
pub mod listener;
pub mod notify;
pub mod request;
pub mod shared;
pub mod source;

use std::sync::Arc;

use tokio::sync::watch;

pub use listener::{bind, serve, BindError};
pub use request::{Peer, Response};
pub use shared::SharedMachine;

/// What every connection shares.
#[derive(Debug, Clone)]
pub struct Context {
    pub machine: Arc<SharedMachine>,
    /// The last durable journal sequence number; `None` without a journal.
    pub durable: Option<watch::Receiver<u64>>,
}

/// The longest request line accepted, newline excluded; longer lines get `err EINVAL`.
pub const MAX_LINE: usize = 64 << 10;

/// Per connection, the bytes of replies waiting to be written (or waiting for durability) above
/// which the daemon stops reading that client's requests. Each reply counts at least
/// [`MIN_REPLY_COST`] bytes, so the number of waiting replies is bounded too.
pub const REPLY_BUDGET: usize = 1 << 20;
pub const MIN_REPLY_COST: usize = 64;

/// The largest byte range one `read` returns.
pub const MAX_READ: u64 = 64 << 20;
