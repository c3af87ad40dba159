//! The fuser [`Filesystem`] over a [`Source`]: a thin adapter that decodes inode numbers
//! ([`crate::inode`]), calls the pure tree functions (`anonmap_proc::tree`, [`crate::handles`]) and
//! turns their results into replies.
//!
//! - Attributes: files 0444 (pagemap 0400), directories 0555, size 0 and no blocks (as /proc),
//!   owned by the daemon's effective user (root when the daemon runs as root), every time the
//!   mount time. Nodes that depend on the machine (pid directories and files, `rmap/<pfn>`) have
//!   zero entry and attribute TTLs, so a process that exits vanishes at once; the fixed nodes are
//!   cached for [`FIXED_TTL`].
//! - Files are opened with `FOPEN_DIRECT_IO`, so the kernel neither caches their pages nor trusts
//!   their size: every `read(2)` reaches [`OpenFile::read`]. Write opens fail with EROFS (the
//!   mount is read-only, so the kernel normally refuses them before they get here).
//! - Open files and directories live in two `DashMap`s keyed by file handle. A handle's state is
//!   behind its own mutex, taken after the map's shard lock is released, so a long render of one
//!   file never blocks the others.

use std::ffi::OsStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use dashmap::DashMap;
use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    OpenAccMode, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry,
    ReplyOpen, ReplyStatfs, Request,
};
use tracing::{debug, trace};

use crate::handles::{DirSnapshot, OpenFile};
use crate::inode::{ino_of, node_of};
use anonmap_proc::tree::{self, Node, TreeError};
use anonmap_proc::Source;

/// How long the kernel may cache the entry and attributes of a node that never changes (the
/// root, `rmap/`, `names`, `meminfo`).
pub const FIXED_TTL: Duration = Duration::from_secs(1);

/// The tree as a FUSE filesystem.
pub struct TreeFs {
    source: Arc<dyn Source>,
    /// Open files by handle. Invariant: a handle is in `files` from its `open` to its `release`,
    /// and never in `dirs`.
    files: DashMap<u64, Arc<Mutex<OpenFile>>>,
    /// Open directories by handle, each with the listing taken at `opendir`. Invariant: a handle
    /// is in `dirs` from its `opendir` to its `releasedir`, and never in `files`.
    dirs: DashMap<u64, Arc<DirSnapshot>>,
    /// The next handle to give out. Invariant: strictly greater than every handle given so far
    /// (handles are never reused while the filesystem lives).
    next_fh: AtomicU64,
    /// The time every node reports (atime, mtime, ctime).
    mount_time: SystemTime,
    /// Owner of every node: the daemon's effective uid and gid.
    uid: u32,
    gid: u32,
}

impl std::fmt::Debug for TreeFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeFs")
            .field("open_files", &self.files.len())
            .field("open_dirs", &self.dirs.len())
            .field("mount_time", &self.mount_time)
            .finish_non_exhaustive()
    }
}

/// The errno a tree error is reported with.
fn errno(e: &TreeError) -> Errno {
    Errno::from_i32(e.errno().code())
}

/// The entry and attribute TTL of `node`: zero for nodes that come and go with the machine.
pub fn ttl(node: Node) -> Duration {
    match node {
        Node::Root | Node::RmapDir | Node::Names | Node::Meminfo => FIXED_TTL,
        Node::ProcDir(_) | Node::ProcFile(..) | Node::Rmap(_) => Duration::ZERO,
    }
}

impl TreeFs {
    /// A filesystem over `source`; nodes report the current time and the effective user.
    pub fn new(source: Arc<dyn Source>) -> TreeFs {
        // SAFETY: geteuid and getegid have no preconditions and cannot fail.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        TreeFs {
            source,
            files: DashMap::new(),
            dirs: DashMap::new(),
            next_fh: AtomicU64::new(1),
            mount_time: SystemTime::now(),
            uid,
            gid,
        }
    }

    /// The attributes of `node` (which must have an inode number).
    pub fn attr(&self, node: Node, ino: u64) -> FileAttr {
        FileAttr {
            ino: INodeNo(ino),
            size: 0,
            blocks: 0,
            atime: self.mount_time,
            mtime: self.mount_time,
            ctime: self.mount_time,
            crtime: self.mount_time,
            kind: if node.is_dir() {
                FileType::Directory
            } else {
                FileType::RegularFile
            },
            perm: node.mode(),
            nlink: if node.is_dir() { 2 } else { 1 },
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    /// The live node of inode `ino`, or ENOENT (unknown number, exited process, freed pfn).
    fn live_node(&self, ino: INodeNo) -> Result<Node, Errno> {
        let node = node_of(ino.0).ok_or(Errno::ENOENT)?;
        if node.exists(&*self.source) {
            Ok(node)
        } else {
            Err(Errno::ENOENT)
        }
    }

    fn new_fh(&self) -> u64 {
        self.next_fh.fetch_add(1, Ordering::Relaxed)
    }

    /// The number of open file and directory handles (for tests and logs).
    pub fn open_handles(&self) -> usize {
        self.files.len() + self.dirs.len()
    }
}

impl Filesystem for TreeFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let result = (|| {
            let parent = node_of(parent.0).ok_or(Errno::ENOENT)?;
            let name = name.to_str().ok_or(Errno::ENOENT)?;
            let node = tree::lookup_child(&*self.source, parent, name).map_err(|e| errno(&e))?;
            let ino = ino_of(node).ok_or(Errno::ENOENT)?;
            Ok((node, ino))
        })();
        match result {
            Ok((node, ino)) => {
                trace!(?node, ino, "lookup");
                reply.entry(&ttl(node), &self.attr(node, ino), Generation(0));
            }
            Err(e) => {
                trace!(?parent, ?name, ?e, "lookup failed");
                reply.error(e);
            }
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.live_node(ino) {
            Ok(node) => reply.attr(&ttl(node), &self.attr(node, ino.0)),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if flags.acc_mode() != OpenAccMode::O_RDONLY || flags.0 & libc::O_TRUNC != 0 {
            return reply.error(Errno::EROFS);
        }
        let Some(node) = node_of(ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        match OpenFile::open(&*self.source, node) {
            Ok(file) => {
                let fh = self.new_fh();
                self.files.insert(fh, Arc::new(Mutex::new(file)));
                debug!(?node, fh, "open");
                reply.opened(FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO);
            }
            Err(e) => {
                debug!(?node, error = %e, "open failed");
                reply.error(errno(&e));
            }
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        // Clone the handle out so the shard lock is not held while rendering.
        let Some(file) = self.files.get(&fh.0).map(|f| Arc::clone(&f)) else {
            return reply.error(Errno::EBADF);
        };
        let mut file = file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match file.read(&*self.source, offset, size) {
            Ok(bytes) => reply.data(&bytes),
            Err(e) => {
                trace!(fh = fh.0, offset, size, error = %e, "read failed");
                reply.error(errno(&e));
            }
        }
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.files.remove(&fh.0);
        reply.ok();
    }

    /// close(2) of a read-only file: nothing to write back (without this, fuser answers ENOSYS
    /// and logs a warning on every close).
    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let Some(node) = node_of(ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        match DirSnapshot::open(&*self.source, node) {
            Ok(snapshot) => {
                let fh = self.new_fh();
                debug!(?node, fh, entries = snapshot.len(), "opendir");
                self.dirs.insert(fh, Arc::new(snapshot));
                reply.opened(FileHandle(fh), FopenFlags::empty());
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let Some(snapshot) = self.dirs.get(&fh.0).map(|d| Arc::clone(&d)) else {
            return reply.error(Errno::EBADF);
        };
        let mut buf = itoa::Buffer::new();
        for entry in snapshot.entries_from(offset) {
            // Every node in a listing has an inode number: rmap pfns beyond 2^60 (which no
            // source gives) are skipped rather than shown with a wrong number.
            let Some(ino) = ino_of(entry.node) else {
                continue;
            };
            let kind = if entry.node.is_dir() {
                FileType::Directory
            } else {
                FileType::RegularFile
            };
            let name = match entry.special_name {
                Some(name) => name,
                None => entry.node.name_in(&mut buf),
            };
            if reply.add(INodeNo(ino), entry.next_offset, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.dirs.remove(&fh.0);
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        // Like procfs: no blocks, no free inodes, 4 KiB blocks, 255-byte names.
        reply.statfs(0, 0, 0, 0, 0, 4096, 255, 4096);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anonmap_proc::fake::FakeSource;
    use anonmap_proc::tree::ProcFile;

    #[test]
    fn attributes_are_procs() {
        let fs = TreeFs::new(Arc::new(FakeSource::default()));
        let cases = [
            (Node::Root, FileType::Directory, 0o555, 2),
            (Node::ProcDir(7), FileType::Directory, 0o555, 2),
            (Node::RmapDir, FileType::Directory, 0o555, 2),
            (
                Node::ProcFile(7, ProcFile::Maps),
                FileType::RegularFile,
                0o444,
                1,
            ),
            (
                Node::ProcFile(7, ProcFile::Pagemap),
                FileType::RegularFile,
                0o400,
                1,
            ),
            (Node::Rmap(3), FileType::RegularFile, 0o444, 1),
            (Node::Names, FileType::RegularFile, 0o444, 1),
            (Node::Meminfo, FileType::RegularFile, 0o444, 1),
        ];
        for (node, kind, perm, nlink) in cases {
            let ino = ino_of(node).unwrap();
            let a = fs.attr(node, ino);
            assert_eq!(
                (a.ino, a.kind, a.perm, a.nlink),
                (INodeNo(ino), kind, perm, nlink)
            );
            assert_eq!((a.size, a.blocks), (0, 0), "{node:?}");
            assert_eq!(a.mtime, fs.mount_time);
        }
    }

    #[test]
    fn machine_nodes_are_never_cached() {
        assert_eq!(ttl(Node::ProcDir(1)), Duration::ZERO);
        assert_eq!(ttl(Node::ProcFile(1, ProcFile::Status)), Duration::ZERO);
        assert_eq!(ttl(Node::Rmap(1)), Duration::ZERO);
        assert_eq!(ttl(Node::Root), FIXED_TTL);
    }

    #[test]
    fn live_node_follows_the_machine() {
        let source = Arc::new(FakeSource::machine(&[(7, "seven", 1, 1)], &[]));
        let fs = TreeFs::new(source.clone());
        let ino = INodeNo(ino_of(Node::ProcFile(7, ProcFile::Maps)).unwrap());
        assert_eq!(fs.live_node(ino), Ok(Node::ProcFile(7, ProcFile::Maps)));
        source.update(|s| s.processes.clear());
        assert_eq!(fs.live_node(ino), Err(Errno::ENOENT));
        assert_eq!(fs.live_node(INodeNo(5)), Err(Errno::ENOENT));
        assert_eq!(fs.live_node(INodeNo(1)), Ok(Node::Root));
    }

    #[test]
    fn tree_errors_keep_their_errno() {
        assert_eq!(errno(&TreeError::NotFound("x".into())), Errno::ENOENT);
        assert_eq!(errno(&TreeError::IsADirectory("x".into())), Errno::EISDIR);
        assert_eq!(errno(&TreeError::NotADirectory("x".into())), Errno::ENOTDIR);
    }
}
