//! The fuser [`Filesystem`] over a [`Source`]: a thin adapter that decodes inode numbers
//! ([`crate::inode`]), calls the pure tree functions (`anonmap_proc::tree`, [`crate::handles`]) and
//! turns their results into replies.
//!
//! - Attributes: files 0444 (pagemap 0400, clear_refs 0200, oom_score_adj 0644), directories
//!   0555, size 0 and no blocks (as /proc), owned by the daemon's effective user (root when the
//!   daemon runs as root) but the writable `<pid>/clear_refs` and `<pid>/oom_score_adj`, which
//!   are the process owner's ([`Source::owner`]); every time the mount time. Nodes that depend on the machine (pid directories and files, `rmap/<pfn>`)
//!   have zero entry and attribute TTLs, so a process that exits vanishes at once; the fixed
//!   nodes are cached for [`FIXED_TTL`].
//! - Permissions: the mount has `default_permissions`, so the kernel checks every access
//!   against these modes and owners. For the writable file the adapter checks them again at
//!   open and setattr ([`permits`], the kernel's DAC rule, with the request's uid), so that a
//!   call is never applied on the strength of the mount options alone. Root passes every mode
//!   check (CAP_DAC_OVERRIDE), as in Linux: it may open clear_refs for reading, and the read
//!   is EINVAL. Anyone may read oom_score_adj; only its owner and root may write it.
//! - Files are opened with `FOPEN_DIRECT_IO`, so the kernel neither caches their pages nor trusts
//!   their size: every `read(2)` reaches [`OpenFile::read`] and every `write(2)`
//!   [`OpenFile::write`]. The writable files are `<pid>/clear_refs` and `<pid>/oom_score_adj`
//!   (the mount is read-write for them): a write there is applied through [`Source::apply_as`]
//!   as the uid that opened the file; a truncation of one (`O_TRUNC`, as `echo 1 >` opens) is
//!   accepted and changes nothing, as proc's `setattr`. Opening any other file for writing fails with EROFS, and so does
//!   every other change (create, mkdir, unlink, rename, setattr, xattrs...), as when the whole
//!   mount was read-only.
//! - Open files and directories live in two `DashMap`s keyed by file handle. A handle's state is
//!   behind its own mutex, taken after the map's shard lock is released, so a long render of one
//!   file never blocks the others.

use std::ffi::OsStr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use dashmap::DashMap;
use fuser::{
    BsdFileFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation,
    INodeNo, LockOwner, OpenAccMode, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow,
    WriteFlags,
};
use tracing::{debug, trace};

use crate::handles::{DirSnapshot, OpenFile};
use crate::inode::{ino_of, node_of};
use anonmap_proc::tree::{self, Node, TreeError};
use anonmap_proc::Source;

/// How long the kernel may cache the entry and attributes of a node that never changes (the
/// root, `rmap/`, `names`, `meminfo`, `vmstat`, `kmsg`).
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

/// Whether `uid` may open a node of mode `mode` owned by `owner` for reading (`read`) and or
/// writing (`write`), by the kernel's DAC rule (`generic_permission`): root may do anything to
/// a file that is not executable (CAP_DAC_OVERRIDE), the owner has the owner bits, anyone else
/// the other bits (the tree's group bits always equal its other bits).
pub fn permits(mode: u16, owner: u32, uid: u32, read: bool, write: bool) -> bool {
    if uid == 0 {
        return true;
    }
    let bits = if uid == owner { mode >> 6 } else { mode } & 0o7;
    (!read || bits & 0o4 != 0) && (!write || bits & 0o2 != 0)
}

/// The entry and attribute TTL of `node`: zero for nodes that come and go with the machine.
pub fn ttl(node: Node) -> Duration {
    match node {
        Node::Root | Node::RmapDir | Node::Names | Node::Meminfo | Node::Vmstat | Node::Kmsg => {
            FIXED_TTL
        }
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
            uid: self.owner(node),
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

    /// The uid that owns `node`: its process's owner for the writable files (if the source
    /// knows it), else the daemon's user.
    fn owner(&self, node: Node) -> u32 {
        node.owner(&*self.source).unwrap_or(self.uid)
    }

    /// Whether `uid` may open `node` for `read` and or `write`: EROFS for a write of a file
    /// that takes none (as on a read-only mount); for the writable file, ENOENT if its process
    /// is gone and EACCES if the mode refuses. The read-only files' modes are the kernel's to
    /// check (`default_permissions`), as they always were.
    fn check_open(&self, node: Node, uid: u32, read: bool, write: bool) -> Result<(), Errno> {
        if !node.is_writable() {
            return if write { Err(Errno::EROFS) } else { Ok(()) };
        }
        if !node.exists(&*self.source) {
            return Err(Errno::ENOENT);
        }
        if permits(node.mode(), self.owner(node), uid, read, write) {
            Ok(())
        } else {
            Err(Errno::EACCES)
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

    /// Opens a file for the request's uid; `O_TRUNC` counts as writing (the kernel asks for
    /// write permission to truncate).
    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let Some(node) = node_of(ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        let (read, write) = match flags.acc_mode() {
            OpenAccMode::O_RDONLY => (true, false),
            OpenAccMode::O_WRONLY => (false, true),
            OpenAccMode::O_RDWR => (true, true),
        };
        let write = write || flags.0 & libc::O_TRUNC != 0;
        if let Err(e) = self.check_open(node, req.uid(), read, write) {
            debug!(?node, uid = req.uid(), read, write, ?e, "open refused");
            return reply.error(e);
        }
        match OpenFile::open(&*self.source, node, req.uid()) {
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

    /// A write to an open file: only a `clear_refs` or `oom_score_adj` handle takes one (the
    /// kernel refuses writes to descriptors not open for writing, and only those two open for
    /// writing). The offset does not matter, as in proc.
    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let Some(file) = self.files.get(&fh.0).map(|f| Arc::clone(&f)) else {
            return reply.error(Errno::EBADF);
        };
        let file = file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match file.write(&*self.source, data) {
            Ok(n) => {
                debug!(fh = fh.0, offset, len = data.len(), written = n, "write");
                reply.written(u32::try_from(n).unwrap_or(u32::MAX));
            }
            Err(e) => {
                debug!(fh = fh.0, offset, len = data.len(), error = %e, "write failed");
                reply.error(errno(&e));
            }
        }
    }

    /// Attribute changes: on the writable files, a truncation (what `open(O_TRUNC)` sends) or
    /// new times are accepted and change nothing, as proc's `setattr`; a new mode, owner or
    /// flags is EPERM. Everything else in the tree is read-only (EROFS).
    fn setattr(
        &self,
        req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        flags: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let node = match self.live_node(ino) {
            Ok(node) => node,
            Err(e) => return reply.error(e),
        };
        if !node.is_writable() {
            return reply.error(Errno::EROFS);
        }
        if mode.is_some() || uid.is_some() || gid.is_some() || flags.is_some() {
            return reply.error(Errno::EPERM);
        }
        if !permits(node.mode(), self.owner(node), req.uid(), false, true) {
            return reply.error(Errno::EACCES);
        }
        trace!(?node, ?size, "setattr: nothing to change");
        reply.attr(&ttl(node), &self.attr(node, ino.0));
    }

    fn mknod(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EROFS);
    }

    fn mkdir(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EROFS);
    }

    fn unlink(&self, _req: &Request, _parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EROFS);
    }

    fn rmdir(&self, _req: &Request, _parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EROFS);
    }

    fn symlink(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _link_name: &OsStr,
        _target: &Path,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EROFS);
    }

    fn rename(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _newparent: INodeNo,
        _newname: &OsStr,
        _flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::EROFS);
    }

    fn link(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _newparent: INodeNo,
        _newname: &OsStr,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EROFS);
    }

    fn create(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        reply.error(Errno::EROFS);
    }

    fn setxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::EROFS);
    }

    fn removexattr(&self, _req: &Request, _ino: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EROFS);
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _length: u64,
        _mode: i32,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::EROFS);
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

    /// close(2): nothing to write back, every write was applied when it was made (without
    /// this, fuser answers ENOSYS and logs a warning on every close).
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
            (
                Node::ProcFile(7, ProcFile::ClearRefs),
                FileType::RegularFile,
                0o200,
                1,
            ),
            (Node::Rmap(3), FileType::RegularFile, 0o444, 1),
            (
                Node::ProcFile(7, ProcFile::OomScore),
                FileType::RegularFile,
                0o444,
                1,
            ),
            (
                Node::ProcFile(7, ProcFile::OomScoreAdj),
                FileType::RegularFile,
                0o644,
                1,
            ),
            (Node::Names, FileType::RegularFile, 0o444, 1),
            (Node::Meminfo, FileType::RegularFile, 0o444, 1),
            (Node::Vmstat, FileType::RegularFile, 0o444, 1),
            (Node::Kmsg, FileType::RegularFile, 0o444, 1),
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
    fn clear_refs_belongs_to_the_process_owner() {
        let source = Arc::new(FakeSource::machine(&[(7, "seven", 1, 1)], &[]));
        source.update(|s| s.processes.get_mut(&7).unwrap().uid = 1000);
        let fs = TreeFs::new(source.clone());
        let clear_refs = Node::ProcFile(7, ProcFile::ClearRefs);
        let a = fs.attr(clear_refs, ino_of(clear_refs).unwrap());
        assert_eq!((a.uid, a.gid, a.perm), (1000, fs.gid, 0o200));
        let maps = Node::ProcFile(7, ProcFile::Maps);
        assert_eq!(fs.attr(maps, ino_of(maps).unwrap()).uid, fs.uid);
        let adj = Node::ProcFile(7, ProcFile::OomScoreAdj);
        let a = fs.attr(adj, ino_of(adj).unwrap());
        assert_eq!((a.uid, a.perm), (1000, 0o644));
        let score = Node::ProcFile(7, ProcFile::OomScore);
        assert_eq!(fs.attr(score, ino_of(score).unwrap()).uid, fs.uid);
        // A process that is gone: the tree's user's, and it cannot be opened.
        source.update(|s| s.processes.clear());
        assert_eq!(fs.attr(clear_refs, ino_of(clear_refs).unwrap()).uid, fs.uid);
        assert_eq!(
            fs.check_open(clear_refs, 0, false, true),
            Err(Errno::ENOENT)
        );
    }

    #[test]
    fn opens_follow_the_modes_and_only_clear_refs_and_oom_score_adj_are_writable() {
        let source = Arc::new(FakeSource::machine(&[(7, "seven", 1, 1)], &[]));
        source.update(|s| s.processes.get_mut(&7).unwrap().uid = 1000);
        let fs = TreeFs::new(source);
        let clear_refs = Node::ProcFile(7, ProcFile::ClearRefs);
        // (uid, read, write) -> result
        for (uid, read, write, want) in [
            (0, true, false, Ok(())),
            (0, false, true, Ok(())),
            (0, true, true, Ok(())),
            (1000, false, true, Ok(())),
            (1000, true, false, Err(Errno::EACCES)),
            (1000, true, true, Err(Errno::EACCES)),
            (65534, false, true, Err(Errno::EACCES)),
            (65534, true, false, Err(Errno::EACCES)),
        ] {
            assert_eq!(
                fs.check_open(clear_refs, uid, read, write),
                want,
                "uid {uid} read {read} write {write}"
            );
        }
        // oom_score_adj: anyone reads, the owner and root write.
        let adj = Node::ProcFile(7, ProcFile::OomScoreAdj);
        for (uid, read, write, want) in [
            (0, true, true, Ok(())),
            (0, false, true, Ok(())),
            (1000, true, false, Ok(())),
            (1000, false, true, Ok(())),
            (1000, true, true, Ok(())),
            (65534, true, false, Ok(())),
            (65534, false, true, Err(Errno::EACCES)),
            (65534, true, true, Err(Errno::EACCES)),
        ] {
            assert_eq!(
                fs.check_open(adj, uid, read, write),
                want,
                "oom_score_adj: uid {uid} read {read} write {write}"
            );
        }
        for node in [
            Node::ProcFile(7, ProcFile::Maps),
            Node::ProcFile(7, ProcFile::Pagemap),
            Node::ProcFile(7, ProcFile::OomScore),
            Node::Meminfo,
            Node::Names,
            Node::Vmstat,
            Node::Kmsg,
        ] {
            for uid in [0, 1000, 65534] {
                assert_eq!(fs.check_open(node, uid, false, true), Err(Errno::EROFS));
                assert_eq!(fs.check_open(node, uid, true, true), Err(Errno::EROFS));
            }
        }
        // Reads of the read-only files are the kernel's to check, as before.
        for node in [
            Node::ProcFile(7, ProcFile::Maps),
            Node::ProcFile(7, ProcFile::Pagemap),
        ] {
            assert_eq!(fs.check_open(node, 65534, true, false), Ok(()));
        }
    }

    #[test]
    fn permits_is_the_kernel_dac_rule() {
        assert!(permits(0o200, 5, 5, false, true));
        assert!(!permits(0o200, 5, 5, true, false));
        assert!(!permits(0o200, 5, 6, false, true));
        assert!(permits(0o200, 5, 0, true, true));
        assert!(permits(0o444, 5, 6, true, false));
        assert!(!permits(0o444, 5, 6, false, true));
        assert!(!permits(0o400, 5, 6, true, false));
        assert!(permits(0o400, 5, 5, true, false));
        assert!(permits(0o555, 0, 6, true, false));
    }

    #[test]
    fn machine_nodes_are_never_cached() {
        assert_eq!(ttl(Node::ProcDir(1)), Duration::ZERO);
        assert_eq!(ttl(Node::ProcFile(1, ProcFile::Status)), Duration::ZERO);
        assert_eq!(ttl(Node::ProcFile(1, ProcFile::ClearRefs)), Duration::ZERO);
        assert_eq!(ttl(Node::Rmap(1)), Duration::ZERO);
        assert_eq!(
            ttl(Node::ProcFile(1, ProcFile::OomScoreAdj)),
            Duration::ZERO
        );
        assert_eq!(ttl(Node::Root), FIXED_TTL);
        assert_eq!(ttl(Node::Vmstat), FIXED_TTL);
        assert_eq!(ttl(Node::Kmsg), FIXED_TTL);
    }

    #[test]
    fn live_node_follows_the_machine() {
        let source = Arc::new(FakeSource::machine(&[(7, "seven", 1, 1)], &[]));
        let fs = TreeFs::new(source.clone());
        let ino = INodeNo(ino_of(Node::ProcFile(7, ProcFile::Maps)).unwrap());
        assert_eq!(fs.live_node(ino), Ok(Node::ProcFile(7, ProcFile::Maps)));
        source.update(|s| s.processes.clear());
        assert_eq!(fs.live_node(ino), Err(Errno::ENOENT));
        assert_eq!(fs.live_node(INodeNo(5)), Ok(Node::Vmstat));
        assert_eq!(fs.live_node(INodeNo(7)), Err(Errno::ENOENT));
        assert_eq!(fs.live_node(INodeNo(1)), Ok(Node::Root));
    }

    #[test]
    fn tree_errors_keep_their_errno() {
        assert_eq!(errno(&TreeError::NotFound("x".into())), Errno::ENOENT);
        assert_eq!(errno(&TreeError::IsADirectory("x".into())), Errno::EISDIR);
        assert_eq!(errno(&TreeError::NotADirectory("x".into())), Errno::ENOTDIR);
    }
}
