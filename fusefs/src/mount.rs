//! Mounting the tree: [`mount`] and the [`MountHandle`] that unmounts it.
//!
//! The one path in: recover a stale mount at the directory (a daemon that crashed leaves the
//! mount in place but disconnected: `stat` fails with ENOTCONN; it is detached with
//! `umount2(MNT_DETACH)`), create the directory if missing, mount with `mount(2)` on `/dev/fuse`
//! directly (root needs no fusermount; fuser falls back to `fusermount3` only when `mount(2)`
//! gives EPERM), finish the FUSE handshake, then run the session on a fixed number of threads.
//!
//! Threads: fuser 0.18 runs a session on `Config::n_threads` event-loop threads; with
//! `clone_fd` each thread reads its own `/dev/fuse` descriptor cloned with
//! `FUSE_DEV_IOC_CLONE`, so the kernel hands requests to the threads in parallel. [`mount`]
//! starts one supervisor thread (`anonmap-fuse`) that runs the session, and the session starts
//! the `threads` workers (`fuser-0`, ...) and joins them when the connection ends.
//!
//! The one path out: [`MountHandle::unmount`] (or dropping the handle) unmounts with
//! `umount(2)`. If the tree is busy (a process holds a file open: EBUSY) it is detached instead
//! (`MNT_DETACH`) and, if the fusectl filesystem is mounted, the connection is aborted through
//! `/sys/fs/fuse/connections/<dev>/abort` so that the session ends now rather than when the
//! last file is closed. The session threads are joined before `unmount` returns, except in that
//! last case without fusectl: then they are left to end by themselves when the last open file
//! of the detached tree is closed (waiting could take forever; process exit ends them anyway).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use fuser::{Config, MountOption, Session, SessionACL, SessionUnmounter};
use tracing::{debug, info, warn};

use crate::fuse::TreeFs;
use anonmap_proc::Source;

/// The filesystem name shown in /proc/mounts (`anonmap /run/anonmap/fs fuse.anonmap ...`).
pub const FS_NAME: &str = "anonmap";

/// The fuser configuration of the mount: nosuid, nodev, noexec, noatime, permissions checked by
/// the kernel from the modes, `allow_other` when mounting as root, `threads` event loops (at
/// least one) on cloned descriptors. No `auto_unmount`: it needs fusermount.
///
/// The mount is read-write, as /proc is, because `<pid>/clear_refs` and `<pid>/oom_score_adj`
/// take writes: the adapter refuses every other write, open for writing or change with EROFS
/// ([`crate::fuse`]).
pub fn mount_config(threads: usize, as_root: bool) -> Config {
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName(FS_NAME.to_string()),
        MountOption::Subtype(FS_NAME.to_string()),
        MountOption::NoSuid,
        MountOption::NoDev,
        MountOption::NoExec,
        MountOption::NoAtime,
        MountOption::DefaultPermissions,
    ];
    if as_root {
        // fuser passes `Subtype` to fusermount only; the kernel takes it as a mount option, which
        // makes the type `fuse.anonmap` when root mounts with mount(2).
        config
            .mount_options
            .push(MountOption::CUSTOM(format!("subtype={FS_NAME}")));
        config.acl = SessionACL::All;
    } else {
        config.acl = SessionACL::Owner;
    }
    config.n_threads = Some(threads.max(1));
    config.clone_fd = true;
    config
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

fn umount2(path: &Path, flags: libc::c_int) -> io::Result<()> {
    let c = c_path(path)?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    if unsafe { libc::umount2(c.as_ptr(), flags) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `umount2(dir, MNT_DETACH)`: a lazy unmount of whatever is mounted at `dir`.
pub fn detach(dir: &Path) -> io::Result<()> {
    umount2(dir, libc::MNT_DETACH)
}

/// Detaches a stale mount at `dir`: one whose daemon died, so that the kernel answers ENOTCONN.
/// Returns whether there was one. Anything else at `dir` (nothing, a directory, a live mount) is
/// left alone.
///
/// The probe is `statfs(2)`, not only `stat(2)`: FUSE always sends STATFS to the daemon, while a
/// `stat` of the mount root is answered from the attribute cache for as long as its TTL runs,
/// so a daemon restarted at once after a crash would not see the stale mount with `stat`.
pub fn detach_stale_mount(dir: &Path) -> io::Result<bool> {
    let stale = match statfs(dir) {
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => true,
        _ => matches!(std::fs::metadata(dir), Err(e) if e.raw_os_error() == Some(libc::ENOTCONN)),
    };
    if stale {
        umount2(dir, libc::MNT_DETACH)?;
        info!(dir = %dir.display(), "detached the stale mount of a crashed daemon");
    }
    Ok(stale)
}

/// `statfs(2)` of `dir`. Unlike `stat`, FUSE always asks the daemon for STATFS, so a dead
/// daemon's mount answers ENOTCONN even while attributes are cached.
pub fn statfs(dir: &Path) -> io::Result<()> {
    let c = c_path(dir)?;
    // SAFETY: an all-zero statfs is a valid value of this plain C struct.
    let mut buf: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and `buf` is a valid, writable statfs; both outlive the call.
    if unsafe { libc::statfs(c.as_ptr(), &mut buf) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether `dir` is a mount point right now, from /proc/self/mountinfo (field 5 is the mount
/// point, with spaces and the like escaped as octal).
pub fn is_mount_point(dir: &Path) -> io::Result<bool> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    let want = escape_mountinfo(dir.as_os_str().as_bytes());
    Ok(info
        .lines()
        .any(|line| line.split(' ').nth(4) == Some(want.as_str())))
}

/// A path as mountinfo spells it: space, tab, newline and backslash as `\ooo`.
fn escape_mountinfo(path: &[u8]) -> String {
    let mut out = String::new();
    for &b in path {
        match b {
            b' ' | b'\t' | b'\n' | b'\\' => out.push_str(&format!("\\{b:03o}")),
            _ => out.push_str(&String::from_utf8_lossy(&[b])),
        }
    }
    out
}

/// A mounted tree. Dropping it unmounts and joins, as [`MountHandle::unmount`] does but logging
/// errors instead of returning them.
#[derive(Debug)]
pub struct MountHandle {
    /// The mount point, canonical.
    dir: PathBuf,
    /// The device number of the mounted filesystem (names its fusectl directory).
    dev: u64,
    /// Unmounts through fuser (which skips the unmount if the connection is already gone).
    /// Invariant: `Some` until the first unmount.
    unmounter: Option<SessionUnmounter>,
    /// The supervisor thread running the session; it ends when the connection ends.
    /// Invariant: `Some` until joined.
    session: Option<JoinHandle<io::Result<()>>>,
}

/// Mounts the tree of `source` at `dir` with `threads` FUSE threads (at least one), after
/// detaching a stale mount there and creating `dir` if it is missing. The tree is live when this
/// returns.
pub fn mount(source: Arc<dyn Source>, dir: &Path, threads: usize) -> io::Result<MountHandle> {
    detach_stale_mount(dir)?;
    std::fs::create_dir_all(dir)?;
    let dir = dir.canonicalize()?;
    // SAFETY: geteuid has no preconditions.
    let as_root = unsafe { libc::geteuid() } == 0;
    let config = mount_config(threads, as_root);
    // Session::new mounts and completes the FUSE handshake before returning.
    let mut session = Session::new(TreeFs::new(source), &dir, &config)?;
    let unmounter = session.unmount_callable();
    let session = std::thread::Builder::new()
        .name("anonmap-fuse".to_string())
        .spawn(move || session.run())?;
    let mut handle = MountHandle {
        dir,
        dev: 0,
        unmounter: Some(unmounter),
        session: Some(session),
    };
    // The session serves requests now, so stat of the root is answered.
    handle.dev = std::fs::metadata(&handle.dir)?.dev();
    debug!(dir = %handle.dir.display(), threads = threads.max(1), "mounted the tree");
    Ok(handle)
}

impl MountHandle {
    /// The mount point.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Unmounts (detaching if busy), waits for the session threads to finish and returns the
    /// session's error if it ended with one.
    pub fn unmount(mut self) -> io::Result<()> {
        self.unmount_and_join()
    }

    fn unmount_and_join(&mut self) -> io::Result<()> {
        if let Some(mut unmounter) = self.unmounter.take() {
            match unmounter.unmount() {
                Ok(()) => debug!(dir = %self.dir.display(), "unmounted the tree"),
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    warn!(dir = %self.dir.display(), "tree busy: detaching it");
                    if let Err(e) = umount2(&self.dir, libc::MNT_DETACH) {
                        self.session = None;
                        return Err(e);
                    }
                    if !self.abort_connection() {
                        // The session ends when the last open file of the detached tree is
                        // closed; waiting for that could take forever, so leave it running.
                        self.session = None;
                    }
                }
                Err(e) => {
                    // Still mounted: joining would wait for a session that does not end, now
                    // or in Drop; the thread is left to end with the connection.
                    self.session = None;
                    return Err(e);
                }
            }
        }
        match self.session.take().map(JoinHandle::join) {
            None => Ok(()),
            Some(Ok(session_result)) => session_result,
            Some(Err(_)) => Err(io::Error::other("the FUSE session thread panicked")),
        }
    }

    /// Aborts the FUSE connection through fusectl, if it is mounted, so that a detached but busy
    /// tree stops being served now. Returns whether it did.
    fn abort_connection(&self) -> bool {
        let minor = libc::minor(self.dev);
        let abort = format!("/sys/fs/fuse/connections/{minor}/abort");
        match std::fs::write(&abort, b"1") {
            Ok(()) => {
                info!(%abort, "aborted the FUSE connection");
                true
            }
            Err(e) => {
                warn!(
                    %abort, error = %e,
                    "cannot abort the FUSE connection (fusectl not mounted?); the session \
                     threads end when the last open file of the detached tree is closed"
                );
                false
            }
        }
    }
}

impl Drop for MountHandle {
    fn drop(&mut self) {
        if let Err(e) = self.unmount_and_join() {
            warn!(dir = %self.dir.display(), error = %e, "unmounting the tree failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_as_root_allows_others_and_sets_the_subtype() {
        let c = mount_config(4, true);
        assert_eq!(c.n_threads, Some(4));
        assert!(c.clone_fd);
        assert_eq!(c.acl, SessionACL::All);
        for o in [
            MountOption::DefaultPermissions,
            MountOption::NoSuid,
            MountOption::NoExec,
            MountOption::FSName("anonmap".into()),
            MountOption::CUSTOM("subtype=anonmap".into()),
        ] {
            assert!(c.mount_options.contains(&o), "{o:?}");
        }
        assert!(!c.mount_options.contains(&MountOption::AutoUnmount));
        // clear_refs and oom_score_adj are writable; the adapter refuses every other write.
        assert!(!c.mount_options.contains(&MountOption::RO));
    }

    #[test]
    fn config_as_user_is_owner_only_and_has_a_thread() {
        let c = mount_config(0, false);
        assert_eq!(c.n_threads, Some(1));
        assert_eq!(c.acl, SessionACL::Owner);
        assert!(!c
            .mount_options
            .iter()
            .any(|o| matches!(o, MountOption::CUSTOM(_))));
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(escape_mountinfo(b"/run/anonmap/fs"), "/run/anonmap/fs");
        assert_eq!(escape_mountinfo(b"/tmp/a b\\c"), "/tmp/a\\040b\\134c");
    }

    #[test]
    fn a_missing_or_plain_directory_is_not_stale() {
        let dir = std::env::temp_dir().join(format!("anonmap-stale-{}", std::process::id()));
        assert!(!detach_stale_mount(&dir).unwrap());
        std::fs::create_dir_all(&dir).unwrap();
        assert!(!detach_stale_mount(&dir).unwrap());
        assert!(!is_mount_point(&dir).unwrap());
        std::fs::remove_dir(&dir).unwrap();
    }
}
