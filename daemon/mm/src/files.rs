//! Simulated files: regular files created by the `file` op and shmem objects (one per
//! MAP_SHARED|MAP_ANONYMOUS mmap), each with a page cache and an i_mmap index of the VMAs that
//! map it.

use std::collections::{BTreeMap, BTreeSet};

use super::types::{FileId, Pfn, VmaId};
use super::Machine;
use anonmap_abi::{Error, FileArgs};

/// Device numbers shown in maps for regular files (a block device, like `fe:00` on a host).
pub const REGULAR_DEV: (u32, u32) = (0xfe, 0x00);
/// Device numbers of the internal shm mount (`00:01`).
pub const SHMEM_DEV: (u32, u32) = (0x00, 0x01);

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FileKind {
    /// A regular file on a disk-backed filesystem: pages come from "disk" clean.
    Regular,
    /// The shmem object behind a shared anonymous mapping (`/dev/zero (deleted)`): pages are
    /// swap-backed and new ones are zero-filled.
    Shmem,
}

/// One file.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct File {
    pub kind: FileKind,
    /// The path maps prints (`/dev/zero` for shmem objects, shown with ` (deleted)`).
    pub path: String,
    /// Size in bytes; pages at or beyond `size` rounded up do not exist (access is SIGBUS).
    pub size: u64,
    pub dev: (u32, u32),
    pub inode: u64,
    /// The page cache: file page index -> frame. Invariant: each frame listed has the CACHE
    /// flag, mapping `File(this id)` and index equal to its key, and one reference held by the
    /// cache.
    pub cache: BTreeMap<u64, Pfn>,
    /// Shmem pages written out to swap (`shmem_writeout`): page index -> swap slot, in the
    /// page cache's place. Invariant: no index is both cached and swapped; each slot counts
    /// this entry once in the swap map.
    #[serde(default)]
    pub swapped: BTreeMap<u64, u32>,
    /// i_mmap: every VMA mapping this file, keyed by its page-offset range
    /// `(vm_pgoff, last pgoff, vma)`. Invariant: exactly the VMAs whose `file` is this one.
    pub i_mmap: BTreeSet<(u64, u64, VmaId)>,
    /// Whether the file was opened with MAP_NORESERVE accounting (shmem only).
    pub noreserve: bool,
}

impl File {
    /// Pages in the file (`size` rounded up).
    pub fn pages(&self) -> u64 {
        self.size.div_ceil(super::types::PAGE_SIZE)
    }

    /// Swapped-out pages of the object in `[first, end)` (`shmem_partial_swap_usage`).
    pub fn swapped_in(&self, first: u64, end: u64) -> u64 {
        self.swapped.range(first..end).count() as u64
    }

    /// VMAs whose pgoff range contains `index`, as the i_mmap interval query returns them.
    pub fn mappers_of(&self, index: u64) -> impl Iterator<Item = VmaId> + '_ {
        self.i_mmap
            .range(..=(index, u64::MAX, VmaId(u32::MAX)))
            .filter(move |&&(_, last, _)| last >= index)
            .map(|&(_, _, v)| v)
    }
}

impl Machine {
    /// `file path=PATH size=L`: creates a regular file that mmap can map.
    pub(super) fn create_file(&mut self, args: &FileArgs) -> Result<FileId, Error> {
        let FileArgs { ref path, size } = *args;
        if !path.starts_with('/') {
            return Err(anonmap_abi::err!(
                EINVAL,
                "file path {path:?} is not absolute (it must start with /)"
            ));
        }
        if path.contains('\n') || path.contains('\0') {
            return Err(anonmap_abi::err!(
                EINVAL,
                "file path {path:?} contains a newline or NUL"
            ));
        }
        if self.file_paths.contains_key(path) {
            return Err(anonmap_abi::err!(EEXIST, "file {path} already exists"));
        }
        let inode = self.next_file_ino;
        self.next_file_ino += 1;
        let id = FileId(self.files.insert(File {
            kind: FileKind::Regular,
            path: path.to_string(),
            size,
            dev: REGULAR_DEV,
            inode,
            cache: BTreeMap::new(),
            swapped: BTreeMap::new(),
            i_mmap: BTreeSet::new(),
            noreserve: false,
        }));
        self.file_paths.insert(path.to_string(), id);
        Ok(id)
    }

    /// `shmem_zero_setup`: a new shmem object for a shared anonymous mapping of `len` bytes.
    pub(super) fn create_shmem(&mut self, len: u64, noreserve: bool) -> FileId {
        let inode = self.next_shmem_ino;
        self.next_shmem_ino += 1;
        FileId(self.files.insert(File {
            kind: FileKind::Shmem,
            path: "/dev/zero".to_string(),
            size: len,
            dev: SHMEM_DEV,
            inode,
            cache: BTreeMap::new(),
            swapped: BTreeMap::new(),
            i_mmap: BTreeSet::new(),
            noreserve,
        }))
    }

    /// Drops a shmem object once no VMA maps it: its pages go back to the allocator. Regular
    /// files stay (they live in the filesystem, with their page cache).
    pub(super) fn release_file_if_unused(&mut self, id: FileId) {
        let f = &self.files[id.0];
        if f.kind != FileKind::Shmem || !f.i_mmap.is_empty() {
            return;
        }
        let f = self.files.remove(id.0);
        for (_, pfn) in f.cache {
            debug_assert_eq!(self.frames[pfn].mapcount, 0);
            self.frames.put(pfn);
        }
        for (_, slot) in f.swapped {
            self.swap_free(slot);
        }
    }
}
