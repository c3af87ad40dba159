//! Page frames: the `struct page` analogue, one small record per pfn, and the frame allocator.
//!
//! The frame table is a vector indexed by pfn (32 bytes a frame, well under the 64 bytes of the
//! kernel's struct page). Pfn 0 is the shared zero page: it is never allocated, never counted
//! in Rss, and carries no mapcount. Free frames sit on a LIFO stack, so a freed frame is the
//! next one handed out, as with the kernel's per-cpu free lists; the order is deterministic.

use super::lru::Lists;
use super::types::{AnonVmaId, FileId, Pfn, PAGE_SIZE};

/// The shared zero page.
pub const ZERO_PFN: Pfn = Pfn(0);

/// Page flags (a subset of the kernel's PG_* and folio flags).
pub mod page_flags {
    /// PageAnon: `mapping` is an anon_vma.
    pub const ANON: u32 = 1 << 0;
    /// PG_dirty.
    pub const DIRTY: u32 = 1 << 1;
    /// PG_referenced: set by `folio_mark_accessed` (GUP's FOLL_TOUCH, the zap of a young
    /// file PTE), cleared by clear_refs, MADV_COLD, MADV_FREE and activation.
    pub const REFERENCED: u32 = 1 << 2;
    /// PG_swapbacked: anon and shmem pages. An anonymous page without it is lazyfree
    /// (MADV_FREE): reclaim may discard it unless it was written again.
    pub const SWAPBACKED: u32 = 1 << 3;
    /// PageAnonExclusive: the page is certainly mapped by exactly one PTE and may be written
    /// without a COW copy.
    pub const EXCLUSIVE: u32 = 1 << 4;
    /// The frame is on the free stack.
    pub const FREE: u32 = 1 << 5;
    /// The frame sits in a file's (or shmem object's) page cache.
    pub const CACHE: u32 = 1 << 6;
    /// PG_swapcache: the frame holds a swap slot's data and the swap cache holds a reference.
    pub const SWAPCACHE: u32 = 1 << 7;
    /// PG_active: on the active LRU list. New pages start inactive; `folio_mark_accessed` of a
    /// referenced inactive page activates it; MADV_COLD, MADV_FREE and mlock deactivate.
    pub const ACTIVE: u32 = 1 << 8;
    /// PG_mlocked: a VM_LOCKED VMA has locked the page (`mlock_folio`, `mlock_new_folio`);
    /// cleared when the last such lock goes (`munlock_folio`).
    pub const MLOCKED: u32 = 1 << 9;
    /// PG_unevictable: on the unevictable LRU list, where mlocked pages live; reclaim and
    /// LRU aging leave it alone.
    pub const UNEVICTABLE: u32 = 1 << 10;
    /// PG_lru: on one of the LRU lists (`lru::LruList`); clear while the page waits in a batch
    /// (a new page until the next drain) and while reclaim has it isolated.
    pub const LRU: u32 = 1 << 11;
    /// PG_workingset: deactivated from the active list once (`shrink_active_list`), so a
    /// refault of it is a working-set refault.
    pub const WORKINGSET: u32 = 1 << 12;

    /// Flag names in display order, for the rmap view.
    pub const NAMES: [(u32, &str); 13] = [
        (ANON, "anon"),
        (CACHE, "pagecache"),
        (SWAPCACHE, "swapcache"),
        (SWAPBACKED, "swapbacked"),
        (DIRTY, "dirty"),
        (REFERENCED, "referenced"),
        (ACTIVE, "active"),
        (MLOCKED, "mlocked"),
        (UNEVICTABLE, "unevictable"),
        (LRU, "lru"),
        (WORKINGSET, "workingset"),
        (EXCLUSIVE, "exclusive"),
        (FREE, "free"),
    ];
}

/// What a page belongs to: `page->mapping`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Mapping {
    None,
    /// An anonymous page: the anon_vma its rmap walk starts from.
    Anon(AnonVmaId),
    /// A page-cache page of a file or shmem object.
    File(FileId),
}

/// One page frame.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Frame {
    /// Invariant: equals the number of present PTEs, over all page tables, that map this pfn
    /// (0 for free frames and for the zero page).
    pub mapcount: u32,
    /// Invariant: mapcount + 1 if the frame is in a page cache or the swap cache (the cache's
    /// reference); 0 exactly when the frame is free.
    pub refcount: u32,
    /// `page_flags` bits.
    pub flags: u32,
    /// page->mapping.
    pub mapping: Mapping,
    /// page->index: for anon pages the linear page index (`linear_page_index` of the VMA that
    /// instantiated it); for page-cache pages the file offset in pages.
    pub index: u64,
    /// folio->mlock_count: how many VM_LOCKED mappings hold the page on the unevictable list,
    /// as the kernel counts them (approximately: a lock that goes without a munlock walk, as
    /// with MREMAP_DONTUNMAP, leaves the page mlocked until it is unmapped). Meaningful only
    /// with UNEVICTABLE.
    #[serde(default)]
    pub mlock_count: u32,
    /// The LRU list the frame is on (`lru::LruList` as u8), or `lru::NO_LRU`. Invariant: set
    /// exactly when PG_lru is, and then the list `LruList::of(flags)` names.
    #[serde(default = "no_lru")]
    pub lru: u8,
    /// The neighbours on that list towards the head and the tail; 0 at either end.
    #[serde(default)]
    pub lru_prev: u32,
    #[serde(default)]
    pub lru_next: u32,
}

fn no_lru() -> u8 {
    super::lru::NO_LRU
}

impl Frame {
    const FREE: Frame = Frame {
        mapcount: 0,
        refcount: 0,
        flags: page_flags::FREE,
        mapping: Mapping::None,
        index: 0,
        mlock_count: 0,
        lru: super::lru::NO_LRU,
        lru_prev: 0,
        lru_next: 0,
    };

    pub fn is_anon(&self) -> bool {
        self.flags & page_flags::ANON != 0
    }
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

/// The frame table and allocator over a fixed RAM size.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Frames {
    frames: Vec<Frame>,
    /// Free pfns; the last element is handed out next. Invariant: exactly the frames with the
    /// FREE flag, each once.
    free: Vec<u32>,
    /// The LRU lists' ends and sizes (see `lru`).
    #[serde(default)]
    lists: Lists,
}

impl Frames {
    /// A frame table for `ram_bytes` of RAM (pfn 0 is the zero page).
    pub fn new(ram_bytes: u64) -> Frames {
        let n = (ram_bytes / PAGE_SIZE).max(2);
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        let mut frames = vec![Frame::FREE; n as usize];
        frames[0] = Frame {
            mapcount: 0,
            refcount: 1,
            flags: 0,
            mapping: Mapping::None,
            index: 0,
            mlock_count: 0,
            lru: super::lru::NO_LRU,
            lru_prev: 0,
            lru_next: 0,
        };
        Frames {
            frames,
            free: (1..n).rev().collect(),
            lists: Lists::default(),
        }
    }

    /// Total frames, the zero page included.
    pub fn total(&self) -> u64 {
        self.frames.len() as u64
    }

    pub fn free_count(&self) -> u64 {
        self.free.len() as u64
    }

    /// Takes a free frame, initialised with refcount 1 and the given identity; `None` when RAM is
    /// exhausted.
    pub fn alloc(&mut self, flags: u32, mapping: Mapping, index: u64) -> Option<Pfn> {
        let pfn = self.free.pop()?;
        self.frames[pfn as usize] = Frame {
            mapcount: 0,
            refcount: 1,
            flags,
            mapping,
            index,
            mlock_count: 0,
            lru: super::lru::NO_LRU,
            lru_prev: 0,
            lru_next: 0,
        };
        Some(Pfn(pfn))
    }

    /// Returns a frame whose last reference is gone to the free stack.
    pub fn free(&mut self, pfn: Pfn) {
        debug_assert_ne!(pfn, ZERO_PFN);
        let f = &mut self.frames[pfn.index()];
        debug_assert_eq!(f.refcount, 0, "freeing a referenced frame {pfn:?}");
        debug_assert_eq!(f.mapcount, 0, "freeing a mapped frame {pfn:?}");
        self.lru_del(pfn);
        let f = &mut self.frames[pfn.index()];
        *f = Frame::FREE;
        self.free.push(pfn.0);
    }

    /// Drops one reference; frees the frame when it was the last. Returns whether it was freed.
    pub fn put(&mut self, pfn: Pfn) -> bool {
        let f = &mut self.frames[pfn.index()];
        f.refcount -= 1;
        if f.refcount == 0 {
            self.free(pfn);
            true
        } else {
            false
        }
    }

    /// Whether `pfn` is a valid, allocated frame other than the zero page.
    pub fn is_allocated(&self, pfn: u64) -> bool {
        pfn != 0
            && (pfn as usize) < self.frames.len()
            && !self.frames[pfn as usize].has(page_flags::FREE)
    }

    /// Allocated pfns in ascending order (the zero page excluded).
    pub fn allocated(&self) -> impl Iterator<Item = Pfn> + '_ {
        self.frames
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, f)| !f.has(page_flags::FREE))
            .map(|(i, _)| Pfn(i as u32))
    }

    /// The free stack, for the invariant check.
    pub fn free_list(&self) -> &[u32] {
        &self.free
    }

    pub(super) fn lists(&self) -> &Lists {
        &self.lists
    }
    pub(super) fn lists_mut(&mut self) -> &mut Lists {
        &mut self.lists
    }
}

impl std::ops::Index<Pfn> for Frames {
    type Output = Frame;
    fn index(&self, pfn: Pfn) -> &Frame {
        &self.frames[pfn.index()]
    }
}

impl std::ops::IndexMut<Pfn> for Frames {
    fn index_mut(&mut self, pfn: Pfn) -> &mut Frame {
        &mut self.frames[pfn.index()]
    }
}
