//! Binding the control socket and the accept loop.
//!
//! [`bind`] refuses to start when another daemon answers on the socket path, and removes a stale
//! socket file left by a daemon that died. [`serve`] accepts clients until the shutdown token
//! is cancelled, runs each in its own task on a [`TaskTracker`], then waits (bounded) for the
//! connections to finish the requests they have read: the graceful-shutdown shape of
//! mini-redis's `server.rs`.

use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{connection, Context};

/// Why the socket could not be bound.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error(
        "another anonmapd is already listening on {0} (stop it first, or pick another --socket)"
    )]
    AlreadyRunning(PathBuf),
    #[error("{0} exists and is not a socket; refusing to remove it")]
    NotASocket(PathBuf),
    #[error("cannot bind the control socket {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Binds the control socket at `path` (mode 0666: who may change what is decided per request
/// by the peer's uid). The parent directory is created if missing.
pub fn bind(path: &Path) -> Result<UnixListener, BindError> {
    let io_err = |source| BindError::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            if !meta.file_type().is_socket() {
                return Err(BindError::NotASocket(path.to_path_buf()));
            }
            match std::os::unix::net::UnixStream::connect(path) {
                Ok(_) => return Err(BindError::AlreadyRunning(path.to_path_buf())),
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    tracing::warn!(socket = %path.display(), "removing a stale socket (no daemon listens on it)");
                    std::fs::remove_file(path).map_err(io_err)?;
                }
                Err(e) => return Err(io_err(e)),
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(e)),
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_err)?;
    }
    let listener = UnixListener::bind(path).map_err(io_err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).map_err(io_err)?;
    Ok(listener)
}

/// How long shutdown waits for connections to write their last replies.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts clients until `shutdown` is cancelled, then waits for the connections to finish.
pub async fn serve(listener: UnixListener, ctx: Context, shutdown: CancellationToken) {
    let tracker = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                let ctx = ctx.clone();
                let shutdown = shutdown.clone();
                tracker.spawn(connection::run(stream, ctx, shutdown));
            }
            Err(e) => {
                // EMFILE and the like: log, breathe, keep serving the others.
                tracing::error!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    drop(listener);
    tracker.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = tracker.len(),
            "connections still busy after {DRAIN_TIMEOUT:?} (clients not reading their replies); \
             closing them"
        );
    }
}
