//! The naive reference model: per process, a map from virtual page number to what that page
//! observably is (protection, backing, name, lock, content, residency). It knows nothing of
//! VMAs, anon_vmas or frames; it only encodes what Linux promises a program (and /proc) can see.
//! Where an op acts VMA by VMA (population that gives up on a VMA, MREMAP_DONTUNMAP unlocking
//! its whole source VMA, growth in place at a VMA's end, fault-around clipped to a VMA) it asks
//! the simulator's VMA bounds ([`Bounds`]), a property this page model does not track.
//!
//! Content objects: every page holds one [`Content`]. A fresh private anonymous page holds
//! `Zero` (never written: no frame, or the shared zero page). A write gives the page a new
//! `Anon(id)`, unless it already holds an `Anon` object that no other page holds (the kernel
//! then reuses the frame in place). fork copies the ids, so pages with equal ids must share one
//! frame and pages with different ids must not (COW). File pages hold `File` (the page-cache
//! page of that file index) until a write replaces it with a private `Anon` copy. Shared
//! anonymous pages hold `File` of their shmem object for good: writes go into that page.
//!
//! Reclaim: an `Anon` page whose frame is reclaimed keeps its content but becomes `swapped`
//! (a swap PTE); every page holding the content is swapped at once (the rmap), and the content
//! owns one swap slot while any page holding it is swapped or its frame is in the swap cache.
//! Swapping a page back in puts the frame in the swap cache (`Model::swap_cached`), where it
//! stays until a write fault with no other user, a write that reuses it, swap more than half
//! full, or a locked VMA or mlocked page frees its swap (the frame then becomes dirty:
//! `Model::anon_dirty`), or until nothing maps or refers to it any more. A write copies the page
//! unless no other page holds the content (swapped or not). A reclaimed regular-file page leaves
//! the page cache and every mapping; a reclaimed shmem page leaves every mapping and goes to
//! swap if it is dirty (the object keeps the slot, and every mapper's smaps counts it as `Swap`),
//! else is dropped. MADV_WILLNEED reads swapped pages into the swap cache ahead of a fault.
//!
//! MADV_FREE makes a page's frame lazyfree (`Model::lazyfree`, not PG_swapbacked) and cleans its
//! PTE; reclaim then discards it (every page holding it reads zeroes again) unless it was
//! written since (a dirty PTE or PG_dirty), which makes it swap-backed again and keeps it.
//!
//! Locking: a page is `locked` (VM_LOCKED) and maybe `onfault` (VM_LOCKONFAULT) per mlock,
//! mlockall, MAP_LOCKED and MCL_FUTURE; smaps `Locked:`, VmFlags `lo`/`lf` and status `VmLck`
//! (`Model::locked_vm`, which MREMAP_DONTUNMAP leaves too high, as the kernel does) follow. A
//! frame is PG_mlocked with the kernel's own `mlock_count` (`Model::mlocked`), which is what
//! keeps reclaim away from it. Population (mlock, MAP_LOCKED, MAP_POPULATE, MCL_CURRENT,
//! MADV_POPULATE_*, an mprotect that makes a locked private VMA writable, a locked VMA grown in
//! place) is a GUP walk: faults where a page is missing (or not writable, for a write), then
//! FOLL_TOUCH: PG_dirty for a write through a clean PTE, and `folio_mark_accessed`, whose
//! PG_referenced and PG_active the model follows for anonymous frames (`Model::referenced`,
//! `Model::active`): smaps `Referenced` counts PG_referenced too.
//!
//! Dirty state lives where the kernel keeps it: `PageModel::dirty` is the PTE's bit, a file
//! page's PG_dirty (`FileModel::dirty`) the page's; zapping a file page's PTE moves its dirty
//! bit to the page. A file page's PG_referenced is not followed (see `check`).

use std::collections::{BTreeMap, BTreeSet};

use anonmap_abi::{
    Access, Advice, Call, ClearRefsArgs, Errno, ExitArgs, FileArgs, ForkArgs, MadviseArgs,
    MlockArgs, MlockallArgs, MlockallFlags, MmapArgs, MprotectArgs, MremapArgs, MunlockArgs,
    MunlockallArgs, MunmapArgs, NameArgs, Outcome, Prot, ReclaimArgs, SpawnArgs, TouchArgs,
};

pub const PAGE: u64 = 4096;
/// The arena every generated range falls in: 64 pages straddling a page-table (512-page)
/// boundary, so fault-around clipping at the table edge is exercised.
pub const ARENA_VPN: u64 = (0x4000_0000 / PAGE) - 24;
pub const ARENA_PAGES: u64 = 64;
/// `ZERO_PFN`: the shared zero page.
pub const ZERO_PFN: u64 = 0;
/// fault_around_bytes / PAGE_SIZE.
const FAULT_AROUND_PAGES: u64 = 16;
const PTRS_PER_PTE: u64 = 512;

/// What a page holds; see the module comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Content {
    Zero,
    Anon(u64),
    File { file: usize, index: u64 },
}

/// One mapped page as a program sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageModel {
    pub prot: Prot,
    /// MAP_SHARED (only shared anonymous memory is generated): writes go to the shmem object,
    /// seen by every mapper.
    pub shared: bool,
    /// The backing file and the page's index in it; `None` for private anonymous memory.
    pub file: Option<(usize, u64)>,
    /// The anon name: `None` unnamed, `Some("")` named with the empty string.
    pub name: Option<String>,
    pub content: Content,
    /// For `File` content: whether a PTE maps the page-cache page. `Anon` content is resident
    /// unless `swapped`; `Zero` content never counts.
    pub resident: bool,
    /// For `Anon` content: the page was reclaimed; a swap PTE for the content's slot.
    pub swapped: bool,
    /// The PTE dirty bit: written through this PTE, copied so by fork, or (a shared page) mapped
    /// writable while the page was already dirty; a page swapped in by a read is clean.
    pub dirty: bool,
    /// Whether the PTE is young (accessed through this mapping since it was mapped or copied
    /// by fork, which copies PTEs old): smaps `Referenced` (docs/kernel-semantics.md §12).
    pub young: bool,
    /// MADV_DONTFORK (VM_DONTCOPY): fork leaves the page out of the child.
    pub dontfork: bool,
    /// MADV_WIPEONFORK (private anonymous only): the child gets the page zero-filled.
    pub wipeonfork: bool,
    /// VM_LOCKED: smaps `Locked:` counts the page's frame, reclaim does not take it, madvise
    /// DONTNEED, FREE, COLD and PAGEOUT refuse it (EINVAL). fork does not pass it on.
    pub locked: bool,
    /// VM_LOCKONFAULT (only with `locked`): locked, but populated only as faults come.
    pub onfault: bool,
}

impl PageModel {
    /// The key of the frame this page maps, if it maps a real (non-zero) frame.
    pub fn frame(&self) -> Option<Content> {
        match self.content {
            Content::Zero => None,
            Content::Anon(_) => (!self.swapped).then_some(self.content),
            Content::File { .. } => self.resident.then_some(self.content),
        }
    }

    /// The anonymous content this page holds as a swap entry, if it is one.
    pub fn swap_id(&self) -> Option<u64> {
        match self.content {
            Content::Anon(id) if self.swapped => Some(id),
            _ => None,
        }
    }

    /// A page as a mapping of `prot` creates it: nothing written, nothing resident.
    fn unmapped(prot: Prot, shared: bool, file: Option<(usize, u64)>) -> PageModel {
        PageModel {
            prot,
            shared,
            file,
            name: None,
            content: unwritten(file),
            resident: false,
            swapped: false,
            dirty: false,
            young: false,
            dontfork: false,
            wipeonfork: false,
            locked: false,
            onfault: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FileModel {
    pub path: String,
    pub pages: u64,
    /// File page indices in the page cache (read in by a fault, dropped by reclaim).
    pub cached: BTreeSet<u64>,
    /// A shmem object (one per shared anonymous mmap), which lives while a page maps it.
    pub shmem: bool,
    /// A shmem object's inode, learned from maps right after its mmap.
    pub inode: Option<u64>,
    /// Page indices whose page is PG_dirty (written through a fault, or a dirty PTE zapped).
    pub dirty: BTreeSet<u64>,
    /// Shmem page indices written out to swap (each holds a slot).
    pub swapped: BTreeSet<u64>,
}

impl FileModel {
    fn new(path: &str, pages: u64, shmem: bool) -> FileModel {
        FileModel {
            path: path.into(),
            pages,
            cached: BTreeSet::new(),
            shmem,
            inode: None,
            dirty: BTreeSet::new(),
            swapped: BTreeSet::new(),
        }
    }

    /// How the rmap names the object: `file:PATH` or `shmem:INODE`.
    pub fn rmap_mapping(&self) -> String {
        if self.shmem {
            format!("shmem:{}", self.inode.unwrap_or(u64::MAX))
        } else {
            format!("file:{}", self.path)
        }
    }
}

/// What the model expects an op to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    Ok(Outcome),
    Err(Errno),
}

/// The result of applying an op to the model.
#[derive(Debug)]
pub struct Applied {
    pub expect: Expect,
    /// Pages whose residency the model cannot know by itself (file pages a fork may or may
    /// not copy, depending on whether their VMA has an anon_vma); the harness reads them from
    /// the simulator and checks they are consistent per VMA.
    pub uncertain: Vec<(u32, u64)>,
}

/// The whole reference machine.
#[derive(Debug, Clone)]
pub struct Model {
    pub procs: BTreeMap<u32, BTreeMap<u64, PageModel>>,
    pub files: Vec<FileModel>,
    pub total_frames: u64,
    /// Usable swap slots (the device size in pages, less the header page).
    pub swap_slots: u64,
    /// Anonymous contents (ids) whose frame is in the swap cache (swapped in, its swap not freed
    /// yet); each holds its slot. Only contents something maps or refers to stay here.
    pub swap_cached: BTreeSet<u64>,
    /// Anonymous contents whose frame is PG_dirty (its swap was freed while it was mapped).
    pub anon_dirty: BTreeSet<u64>,
    /// Anonymous contents whose frame is PageAnonExclusive (written by its only mapper since
    /// the last fork), and whose swap entries are marked exclusive.
    pub exclusive: BTreeSet<u64>,
    pub swp_exclusive: BTreeSet<u64>,
    /// Learned from the simulator (the numbering is its choice), checked to stay put: the swap
    /// slot of each content that has one, and the frame of each content while it stays resident
    /// (mapped, in the swap cache, or in the page cache).
    pub slot_of: BTreeMap<u64, u64>,
    pub pfn_of: BTreeMap<Content, u64>,
    /// PG_mlocked frames (anonymous and page-cache ones) with their `mlock_count`, at least 1:
    /// the kernel's own count of the locked mappings holding the page on the unevictable list.
    /// A new page faulted into a locked page starts at 1 (`mlock_new_folio`); the mlock walk, a
    /// fault that maps an existing frame into a locked page and reclaim meeting a locked page
    /// (`mlock_vma_folio`) add one; the munlock walk and an unmap or COW away from a locked page
    /// take one, the last one clearing PG_mlocked. It is approximate where the kernel's is: a
    /// swap-in reading a page afresh maps it without mlocking it (`folio_add_new_anon_rmap`), and
    /// MREMAP_DONTUNMAP unlocks its source VMA without a munlock walk. Invariant: only frames
    /// that are resident (`Model::resident`).
    pub mlocked: BTreeMap<Content, u32>,
    /// Anonymous contents whose frame is PG_referenced, and PG_active: `folio_mark_accessed`
    /// (GUP's FOLL_TOUCH) sets the first, and on a referenced inactive evictable page sets the
    /// second and clears the first; clear_refs, MADV_COLD, MADV_PAGEOUT and MADV_FREE clear them,
    /// mlock and MADV_COLD deactivate, reclaim that keeps a page activates it. A new frame has
    /// neither.
    pub referenced: BTreeSet<u64>,
    pub active: BTreeSet<u64>,
    /// Anonymous contents whose frame is lazyfree (MADV_FREE: not PG_swapbacked). Invariant:
    /// never in the swap cache.
    pub lazyfree: BTreeSet<u64>,
    /// Anonymous contents whose swap-cache frame MADV_WILLNEED read in and nothing has mapped
    /// since: not anonymous yet, so the fault that maps it gives it a new anon rmap, which does
    /// not mlock. Invariant: a subset of `swap_cached` that no page maps.
    pub readahead: BTreeSet<u64>,
    /// Per process with MCL_FUTURE: mm->def_flags' VM_LOCKED, with VM_LOCKONFAULT when the value
    /// is true. Every later mmap takes it; fork does not pass it on.
    pub def_lock: BTreeMap<u32, bool>,
    /// Per process: `locked_vm` in pages, as the kernel counts it: the locked pages, plus every
    /// page of a locked VMA that MREMAP_DONTUNMAP unlocked (it charges the copy and never
    /// uncharges the source: "we won't unmap we don't need to touch locked_vm").
    pub locked_vm: BTreeMap<u32, u64>,
    /// What happened that the run must cover (swap-ins, swap full, ...), counted per op.
    pub events: BTreeMap<&'static str, u64>,
    /// An mmap's population, which runs once the op's unmapping has settled.
    populate_after: Option<(u32, u64, u64)>,
    next_id: u64,
}

/// The simulator's VMA bounds `[start_vpn, end_vpn)` of the VMA holding a page, before the op
/// (given for mprotect and mremap, which act on their source VMAs whole) and after it (for the
/// VMAs a population or a fault-around runs in: population runs once the op's VMA changes are
/// done).
pub struct Bounds<'a> {
    pub before: &'a VmaBounds<'a>,
    pub after: &'a VmaBounds<'a>,
}

/// VMA bounds `[start_vpn, end_vpn)` by (pid, vpn), from the simulator's maps: fault-around is
/// clipped to the faulting VMA, a property this page model does not track.
pub type VmaBounds<'a> = dyn Fn(u32, u64) -> Option<(u64, u64)> + 'a;

fn ok(o: Outcome) -> Applied {
    Applied {
        expect: Expect::Ok(o),
        uncertain: Vec::new(),
    }
}

fn err(e: Errno) -> Applied {
    Applied {
        expect: Expect::Err(e),
        uncertain: Vec::new(),
    }
}

/// The end of a walk that skips holes and reports them at the end: ENOMEM if there was one.
fn walked(hole: bool, o: Outcome) -> Applied {
    if hole {
        err(Errno::ENOMEM)
    } else {
        ok(o)
    }
}

/// What a page of a mapping holds before any write: its file page, or nothing (`Zero`).
fn unwritten(file: Option<(usize, u64)>) -> Content {
    match file {
        Some((file, index)) => Content::File { file, index },
        None => Content::Zero,
    }
}

fn vpns(addr: u64, len: u64) -> std::ops::Range<u64> {
    addr / PAGE..(addr + len).div_ceil(PAGE)
}

impl Model {
    pub fn new(ram_bytes: u64, swap_bytes: u64) -> Model {
        Model {
            procs: BTreeMap::new(),
            files: Vec::new(),
            total_frames: ram_bytes / PAGE,
            swap_slots: (swap_bytes / PAGE).saturating_sub(1),
            swap_cached: BTreeSet::new(),
            anon_dirty: BTreeSet::new(),
            exclusive: BTreeSet::new(),
            swp_exclusive: BTreeSet::new(),
            slot_of: BTreeMap::new(),
            pfn_of: BTreeMap::new(),
            mlocked: BTreeMap::new(),
            referenced: BTreeSet::new(),
            active: BTreeSet::new(),
            lazyfree: BTreeSet::new(),
            readahead: BTreeSet::new(),
            def_lock: BTreeMap::new(),
            locked_vm: BTreeMap::new(),
            events: BTreeMap::new(),
            populate_after: None,
            next_id: 1,
        }
    }

    fn fresh(&mut self) -> Content {
        self.next_id += 1;
        self.exclusive.insert(self.next_id);
        Content::Anon(self.next_id)
    }

    /// `vm_swap_full`: fewer than half the slots free.
    fn swap_half_full(&self) -> bool {
        self.free_slots() * 2 < self.swap_slots
    }

    /// The dirty PTEs of file pages, per process and page: a PTE stays dirty until it is
    /// zapped or reclaimed, so one that went away was zapped.
    fn file_ptes(&self) -> BTreeMap<(u32, Content), u64> {
        let mut out = BTreeMap::new();
        for (&pid, pages) in &self.procs {
            for p in pages.values() {
                if let Some(k @ Content::File { .. }) = p.frame() {
                    if p.dirty {
                        *out.entry((pid, k)).or_default() += 1;
                    }
                }
            }
        }
        out
    }

    /// Every (pid, vpn) holding the frame `key`.
    pub fn holders(&self, key: Content) -> Vec<(u32, u64)> {
        let mut out = Vec::new();
        for (&pid, pages) in &self.procs {
            for (&v, p) in pages {
                if p.frame() == Some(key) {
                    out.push((pid, v));
                }
            }
        }
        out
    }

    /// How many pages hold `key`, resident or swapped: more than one means a write must copy.
    pub fn sharers(&self, key: Content) -> usize {
        self.procs
            .values()
            .flat_map(|p| p.values())
            .filter(|p| p.content == key)
            .count()
    }

    /// Per anonymous content with a swap slot: how many swap PTEs refer to it.
    pub fn swap_counts(&self) -> BTreeMap<u64, u64> {
        let mut out: BTreeMap<u64, u64> = BTreeMap::new();
        for p in self.procs.values().flat_map(|p| p.values()) {
            if let Some(id) = p.swap_id() {
                *out.entry(id).or_default() += 1;
            }
        }
        out
    }

    /// Free swap slots: one is used per content with a swapped page or a swap-cache frame, and
    /// one per swapped shmem page.
    pub fn free_slots(&self) -> u64 {
        let mut used: BTreeSet<u64> = self.swap_counts().keys().copied().collect();
        used.extend(self.swap_cached.iter().copied());
        let shmem: u64 = self.files.iter().map(|f| f.swapped.len() as u64).sum();
        self.swap_slots - used.len() as u64 - shmem
    }

    /// Whether the frame holding `key` exists: mapped by a page, in the swap cache, or in the
    /// page cache.
    pub fn resident(&self, key: Content, frames: &BTreeMap<Content, Vec<(u32, u64)>>) -> bool {
        match key {
            Content::Zero => false,
            Content::Anon(id) => frames.contains_key(&key) || self.swap_cached.contains(&id),
            Content::File { file, index } => self.files[file].cached.contains(&index),
        }
    }

    /// Every distinct frame held by some page, with its holders.
    pub fn frames(&self) -> BTreeMap<Content, Vec<(u32, u64)>> {
        let mut out: BTreeMap<Content, Vec<(u32, u64)>> = BTreeMap::new();
        for (&pid, pages) in &self.procs {
            for (&v, p) in pages {
                if let Some(k) = p.frame() {
                    out.entry(k).or_default().push((pid, v));
                }
            }
        }
        out
    }

    /// Frames in use: anon frames held by pages or in the swap cache, plus every page-cache
    /// page.
    pub fn used_frames(&self) -> u64 {
        let frames = self.frames();
        let mapped = frames
            .keys()
            .filter(|k| matches!(k, Content::Anon(_)))
            .count() as u64;
        let cache_only = self
            .swap_cached
            .iter()
            .filter(|&&id| !frames.contains_key(&Content::Anon(id)))
            .count() as u64;
        mapped
            + cache_only
            + self
                .files
                .iter()
                .map(|f| f.cached.len() as u64)
                .sum::<u64>()
    }

    pub fn free_frames(&self) -> u64 {
        // Frame 0 is the zero page.
        self.total_frames - 1 - self.used_frames()
    }

    pub fn file_by_path(&self, path: &str) -> Option<usize> {
        self.files.iter().position(|f| f.path == path)
    }

    /// Applies `call`; `bounds` gives the simulator's VMA bounds (see [`Bounds`]).
    pub fn apply(&mut self, call: &Call, bounds: &Bounds<'_>) -> Applied {
        let swapped_before = self.swap_counts().values().sum::<u64>();
        let before = self.procs.clone();
        let ptes_before = self.file_ptes();
        let applied = self.apply_inner(call, bounds);
        if matches!(
            call,
            Call::Exit(_) | Call::Munmap(_) | Call::Mmap(_) | Call::Madvise(_)
        ) && self.swap_counts().values().sum::<u64>() < swapped_before
        {
            self.event("swap entries zapped");
        }
        // Dirty file-page PTEs that went away (a move keeps them, at their new address) were
        // zapped: the dirty bit goes to the page (`zap_present_folio_ptes`). Reclaim moves it
        // itself.
        let reclaims = matches!(call, Call::Reclaim(_))
            || matches!(call, Call::Madvise(a) if a.advice == Advice::PageOut);
        if !reclaims {
            let ptes_after = self.file_ptes();
            for (&(pid, key), &n) in &ptes_before {
                let kept = ptes_after.get(&(pid, key)).copied().unwrap_or(0);
                if let Content::File { file, index } = key {
                    if kept < n {
                        self.files[file].dirty.insert(index);
                    }
                }
            }
        }
        // A shmem object no page maps any more is freed with its pages.
        let mut live = BTreeSet::new();
        for pages in self.procs.values() {
            live.extend(pages.values().filter_map(|p| p.file.map(|(f, _)| f)));
        }
        for (i, f) in self.files.iter_mut().enumerate() {
            if f.shmem && !live.contains(&i) {
                f.cached.clear();
                f.dirty.clear();
                f.swapped.clear();
            }
        }
        // Of the advices only the DONTNEEDs zap: MADV_FREE frees its swap entries itself, in
        // address order with the rest of its walk, and the population advices swap pages in.
        if !matches!(call, Call::Madvise(a)
            if !matches!(a.advice, Advice::DontNeed | Advice::DontNeedLocked))
        {
            // The zaps are replayed page by page (no VMA grouping), as before this model knew
            // VMA bounds for other ops.
            self.replay_zap_order(call, &before, &|_, _| None);
        }
        self.settle();
        // do_mmap's population runs once the mapping is complete, the old pages unmapped.
        if let Some((pid, s, e)) = self.populate_after.take() {
            let _ = self.populate(pid, s, e, true, bounds);
            self.settle();
        }
        let frames = self.frames();
        if self
            .swap_cached
            .iter()
            .any(|&id| !frames.contains_key(&Content::Anon(id)))
        {
            self.event("an unmapped frame in the swap cache");
        }
        applied
    }

    /// What goes with the last reference after an op: a swap-cache frame lives while a page
    /// maps it or a swap PTE refers to its slot (`free_swap_cache`, `free_swap_and_cache`); the
    /// slot lives while either does; per-frame state goes with the frame.
    fn settle(&mut self) {
        let counts = self.swap_counts();
        let frames = self.frames();
        self.swap_cached
            .retain(|id| counts.contains_key(id) || frames.contains_key(&Content::Anon(*id)));
        let cached = self.swap_cached.clone();
        self.slot_of
            .retain(|id, _| counts.contains_key(id) || cached.contains(id));
        // Per-frame state goes with the frame.
        let has_frame = |id: &u64| frames.contains_key(&Content::Anon(*id)) || cached.contains(id);
        self.anon_dirty.retain(has_frame);
        self.exclusive.retain(has_frame);
        self.referenced.retain(has_frame);
        self.active.retain(has_frame);
        self.lazyfree.retain(has_frame);
        self.readahead
            .retain(|id| cached.contains(id) && !frames.contains_key(&Content::Anon(*id)));
        self.swp_exclusive.retain(|id| counts.contains_key(id));
        let resident: BTreeSet<Content> = self
            .pfn_of
            .keys()
            .chain(self.mlocked.keys())
            .copied()
            .filter(|&k| self.resident(k, &frames))
            .collect();
        self.pfn_of.retain(|k, _| resident.contains(k));
        self.mlocked.retain(|k, _| resident.contains(k));
    }

    fn apply_inner(&mut self, call: &Call, bounds: &Bounds<'_>) -> Applied {
        match call {
            Call::Mlock(MlockArgs {
                pid,
                addr,
                len,
                flags,
            }) => self.mlock(*pid, *addr, *len, Some(flags.onfault), bounds),
            Call::Munlock(MunlockArgs { pid, addr, len }) => {
                self.mlock(*pid, *addr, *len, None, bounds)
            }
            Call::Mlockall(MlockallArgs { pid, flags }) => self.mlockall(*pid, *flags, bounds),
            Call::Munlockall(MunlockallArgs { pid }) => {
                let Some(pages) = self.procs.get(pid) else {
                    return err(Errno::ESRCH);
                };
                // apply_mlockall_flags(0): MCL_FUTURE goes, and every VMA is unlocked.
                self.def_lock.remove(pid);
                let vs: Vec<u64> = pages.keys().copied().collect();
                for v in vs {
                    self.set_lock(*pid, v, None);
                }
                ok(Outcome::Done)
            }
            Call::ClearRefs(ClearRefsArgs { pid, value }) => {
                // 1-3 clear the young bit of present pages, and PG_referenced of their frames
                // (all, those of VMAs without a file, those of VMAs with one: shmem and private
                // file mappings, COW copies included); 4 changes nothing without soft-dirty
                // tracking; 5 resets the peak RSS, which the model does not follow.
                let Some(pages) = self.procs.get_mut(pid) else {
                    return err(Errno::ESRCH);
                };
                if !(1..=5).contains(value) {
                    return err(Errno::EINVAL);
                }
                let mut cleared = Vec::new();
                for p in pages.values_mut() {
                    let chosen = match value {
                        1 => true,
                        2 => p.file.is_none(),
                        3 => p.file.is_some(),
                        _ => false,
                    };
                    if chosen && p.frame().is_some() {
                        p.young = false;
                        if let Content::Anon(id) = p.content {
                            cleared.push(id);
                        }
                    }
                }
                for id in cleared {
                    self.referenced.remove(&id);
                }
                ok(Outcome::Done)
            }
            Call::File(FileArgs { path, size }) => {
                if self.file_by_path(path).is_some() {
                    return err(Errno::EEXIST);
                }
                self.files
                    .push(FileModel::new(path, size.div_ceil(PAGE), false));
                ok(Outcome::Done)
            }
            Call::Spawn(SpawnArgs { pid, .. }) => {
                let pid = pid.expect("the generator always names the pid");
                if self.procs.contains_key(&pid) {
                    return err(Errno::EEXIST);
                }
                self.procs.insert(pid, BTreeMap::new());
                self.locked_vm.insert(pid, 0);
                ok(Outcome::Pid(pid))
            }
            Call::Exit(ExitArgs { pid }) => {
                let Some(pages) = self.procs.get(pid) else {
                    return err(Errno::ESRCH);
                };
                // exit_mmap unmaps everything: the pages of locked VMAs are munlocked.
                let vs: Vec<u64> = pages.keys().copied().collect();
                for v in vs {
                    self.unmap(*pid, v);
                }
                self.procs.remove(pid);
                self.def_lock.remove(pid);
                self.locked_vm.remove(pid);
                ok(Outcome::Done)
            }
            Call::Fork(ForkArgs { pid, child }) => {
                let child = child.expect("the generator always names the child");
                let Some(pages) = self.procs.get(pid) else {
                    return err(Errno::ESRCH);
                };
                if self.procs.contains_key(&child) {
                    return err(Errno::EEXIST);
                }
                let mut copy: BTreeMap<u64, PageModel> = pages
                    .iter()
                    .filter(|(_, p)| !p.dontfork)
                    .map(|(&v, p)| (v, p.clone()))
                    .collect();
                let mut uncertain = Vec::new();
                for (&v, p) in copy.iter_mut() {
                    p.young = false;
                    // dup_mmap: locking is not inherited (nor are MCL_FUTURE and locked_vm).
                    p.locked = false;
                    p.onfault = false;
                    if p.wipeonfork {
                        p.content = Content::Zero;
                        p.swapped = false;
                        p.dirty = false;
                    }
                    if p.shared {
                        // A shared VMA has no anon_vma: fork copies none of its PTEs.
                        p.resident = false;
                    } else if matches!(p.content, Content::File { .. }) && p.resident {
                        uncertain.push((child, v));
                        p.resident = false;
                    }
                }
                if copy.values().any(|p| p.swapped) {
                    self.event("fork of swap entries");
                }
                // Every anonymous page copied is shared now: neither its frame nor its swap
                // entries stay exclusive.
                for p in copy.values() {
                    if let Content::Anon(id) = p.content {
                        self.exclusive.remove(&id);
                        self.swp_exclusive.remove(&id);
                    }
                }
                self.procs.insert(child, copy);
                self.locked_vm.insert(child, 0);
                Applied {
                    expect: Expect::Ok(Outcome::Pid(child)),
                    uncertain,
                }
            }
            Call::Mmap(MmapArgs {
                pid,
                addr,
                len,
                prot,
                flags,
                file,
                offset,
            }) => {
                let addr = addr.expect("the generator always maps at a fixed address");
                if !self.procs.contains_key(pid) {
                    return err(Errno::ESRCH);
                }
                let fid = match file {
                    Some(path) => match self.file_by_path(path) {
                        Some(f) => Some(f),
                        None => return err(Errno::EBADF),
                    },
                    None => None,
                };
                if flags.shared {
                    assert!(flags.anonymous, "only shared anonymous memory is generated");
                    self.files
                        .push(FileModel::new("/dev/zero", len.div_ceil(PAGE), true));
                }
                let fid = fid.or(flags.shared.then(|| self.files.len() - 1));
                // MAP_FIXED: what was there is unmapped first.
                for v in vpns(addr, *len) {
                    self.unmap(*pid, v);
                }
                // The new VMA's lock bits: MAP_LOCKED, and mm->def_flags (MCL_FUTURE).
                let def = self.def_lock.get(pid).copied();
                let locked = flags.locked || def.is_some();
                let first_index = offset.unwrap_or(0) / PAGE;
                for (i, v) in vpns(addr, *len).enumerate() {
                    let backing = fid.map(|f| (f, first_index + i as u64));
                    let mut p = PageModel::unmapped(*prot, flags.shared, backing);
                    p.locked = locked;
                    p.onfault = def == Some(true);
                    self.procs.get_mut(pid).expect("checked").insert(v, p);
                }
                if locked {
                    *self.locked_vm.get_mut(pid).expect("live") += vpns(addr, *len).count() as u64;
                }
                // do_mmap's populate: MAP_LOCKED (or MCL_FUTURE) and MAP_POPULATE, errors
                // ignored (mm_populate).
                if locked || flags.populate {
                    let (s, e) = (addr / PAGE, (addr + len).div_ceil(PAGE));
                    self.populate_after = Some((*pid, s, e));
                }
                ok(Outcome::Addr(addr))
            }
            Call::Munmap(MunmapArgs { pid, addr, len }) => {
                if !self.procs.contains_key(pid) {
                    return err(Errno::ESRCH);
                }
                for v in vpns(*addr, *len) {
                    self.unmap(*pid, v);
                }
                ok(Outcome::Done)
            }
            Call::Mprotect(MprotectArgs {
                pid,
                addr,
                len,
                prot,
            }) => self.mprotect(*pid, *addr, *len, *prot, bounds),
            Call::Madvise(MadviseArgs {
                pid,
                addr,
                len,
                advice,
            }) => self.madvise(*pid, *addr, *len, *advice, bounds),
            Call::Name(NameArgs {
                pid,
                addr,
                len,
                name,
            }) => {
                if let Some(text) = name {
                    if text.len() >= 80
                        || text
                            .bytes()
                            .any(|c| !(0x20..=0x7e).contains(&c) || b"\\`$[]".contains(&c))
                    {
                        return err(Errno::EINVAL);
                    }
                }
                let Some(pages) = self.procs.get_mut(pid) else {
                    return err(Errno::ESRCH);
                };
                // Holes are skipped and reported at the end (mapped parts renamed); a file
                // page aborts the walk with EBADF, the pages before it keeping the new name.
                let mut hole = false;
                for v in vpns(*addr, *len) {
                    match pages.get_mut(&v) {
                        Some(p) if p.file.is_some() && !p.shared => return err(Errno::EBADF),
                        Some(p) => p.name = name.clone(),
                        None => hole = true,
                    }
                }
                walked(hole, Outcome::Done)
            }
            Call::Mremap(a) => self.mremap(a, bounds),
            Call::Touch(TouchArgs {
                pid,
                addr,
                len,
                access,
            }) => self.touch(*pid, *addr, *len, *access == Access::Write, bounds.after),
            Call::Reclaim(ReclaimArgs { pid, addr, len }) => self.reclaim(*pid, *addr, *len, false),
            Call::Brk(_) | Call::OomScoreAdj(_) | Call::Migrate(_) => {
                panic!("not generated: {}", anonmap_lang::line(call))
            }
        }
    }

    /// Unmaps page `v` of `pid` (munmap, MAP_FIXED, mremap's target and shrink, exit): a locked
    /// page leaves locked_vm and its frame is munlocked (`folio_remove_rmap_ptes`).
    fn unmap(&mut self, pid: u32, v: u64) -> Option<PageModel> {
        let p = self.procs.get_mut(&pid)?.remove(&v)?;
        if p.locked {
            *self.locked_vm.get_mut(&pid).expect("live") -= 1;
            if let Some(k) = p.frame() {
                self.munlock_folio(k);
            }
        }
        Some(p)
    }

    /// `mlock_folio`: one more lock on a frame; the first puts it on the unevictable list,
    /// leaving the active list.
    fn mlock_folio(&mut self, key: Content) {
        let n = self.mlocked.entry(key).or_insert(0);
        *n += 1;
        if *n == 1 {
            if let Content::Anon(id) = key {
                self.active.remove(&id);
            }
            self.event("page mlocked");
        }
    }

    /// `munlock_folio`: one lock less; the last one makes the page evictable again (inactive).
    fn munlock_folio(&mut self, key: Content) {
        if let Some(n) = self.mlocked.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.mlocked.remove(&key);
                self.event("page munlocked");
            }
        }
    }

    fn is_mlocked(&self, key: Content) -> bool {
        self.mlocked.contains_key(&key)
    }

    /// `folio_mark_accessed` on an anonymous frame (the classic LRU): an unreferenced page
    /// becomes referenced; a referenced inactive evictable one is activated, losing
    /// PG_referenced. `unevictable` is PG_unevictable, which a page mlocked by the walk now
    /// running does not have yet (its mlock waits in the batch).
    fn mark_accessed(&mut self, id: u64, unevictable: bool) {
        if self.referenced.insert(id) {
            return;
        }
        if !unevictable && !self.active.contains(&id) {
            self.active.insert(id);
            self.referenced.remove(&id);
            self.event("page activated by a second touch");
        }
    }

    /// The lock bits of page `v` become `lock` (None: unlocked; Some(onfault)), as
    /// `mlock_fixup` changes them: locked_vm follows, and a page that gains or loses VM_LOCKED
    /// has its frame mlocked or munlocked once (`mlock_vma_pages_range`); a change of
    /// VM_LOCKONFAULT alone touches no page.
    fn set_lock(&mut self, pid: u32, v: u64, lock: Option<bool>) {
        let p = self.page_mut(pid, v);
        let was = p.locked;
        p.locked = lock.is_some();
        p.onfault = lock == Some(true);
        let key = p.frame();
        let lvm = self.locked_vm.get_mut(&pid).expect("live");
        match (was, lock.is_some()) {
            (false, true) => {
                *lvm += 1;
                if let Some(k) = key {
                    self.mlock_folio(k);
                }
            }
            (true, false) => {
                *lvm -= 1;
                if let Some(k) = key {
                    self.munlock_folio(k);
                }
            }
            _ => {}
        }
    }

    /// mlock, mlock2 (`lock` = Some(onfault)) and munlock (`lock` = None): `apply_vma_lock_flags`
    /// (a start in a hole is ENOMEM with nothing changed, a later hole ENOMEM after the pages
    /// before it changed), then for mlock `__mm_populate`, whose first error is the answer
    /// (EFAULT reported as ENOMEM, ENOMEM as EAGAIN).
    fn mlock(
        &mut self,
        pid: u32,
        addr: u64,
        len: u64,
        lock: Option<bool>,
        bounds: &Bounds<'_>,
    ) -> Applied {
        if !self.procs.contains_key(&pid) {
            return err(Errno::ESRCH);
        }
        for v in vpns(addr, len) {
            if !self.procs[&pid].contains_key(&v) {
                return err(Errno::ENOMEM);
            }
            self.set_lock(pid, v, lock);
        }
        if lock.is_none() {
            return ok(Outcome::Done);
        }
        let r = vpns(addr, len);
        match self.populate(pid, r.start, r.end, false, bounds) {
            Ok(()) => ok(Outcome::Done),
            Err(Errno::EFAULT) => err(Errno::ENOMEM),
            Err(Errno::ENOMEM) => err(Errno::EAGAIN),
            Err(e) => err(e),
        }
    }

    /// mlockall: no MCL_CURRENT or MCL_FUTURE is EINVAL; MCL_FUTURE sets def_flags (and its
    /// absence clears them), MCL_CURRENT locks every page and populates everything, errors
    /// ignored (`mm_populate(0, TASK_SIZE)`).
    fn mlockall(&mut self, pid: u32, flags: MlockallFlags, bounds: &Bounds<'_>) -> Applied {
        let Some(pages) = self.procs.get(&pid) else {
            return err(Errno::ESRCH);
        };
        if !(flags.current || flags.future) {
            return err(Errno::EINVAL);
        }
        let vs: Vec<u64> = pages.keys().copied().collect();
        if flags.future {
            self.def_lock.insert(pid, flags.onfault);
        } else {
            self.def_lock.remove(&pid);
        }
        if flags.current {
            for &v in &vs {
                self.set_lock(pid, v, Some(flags.onfault));
            }
            if let (Some(&s), Some(&e)) = (vs.first(), vs.last()) {
                let _ = self.populate(pid, s, e + 1, true, bounds);
            }
        }
        ok(Outcome::Done)
    }

    /// `__mm_populate` over the pages `[from, to)`: VMA by VMA (`bounds.after`), nothing for
    /// VM_LOCKONFAULT, EFAULT for PROT_NONE, else a GUP walk (`populate_vma_page_range`) with
    /// write faults where the VMA is private and writable, read faults otherwise. With
    /// `ignore_errors` (mm_populate) a failing VMA is given up and the next one tried; otherwise
    /// the first error is returned, the pages before it staying populated.
    fn populate(
        &mut self,
        pid: u32,
        from: u64,
        to: u64,
        ignore_errors: bool,
        bounds: &Bounds<'_>,
    ) -> Result<(), Errno> {
        let mut v = from;
        while let Some((at, onfault, prot, shared)) = self.procs[&pid]
            .range(v..to)
            .next()
            .map(|(&at, p)| (at, p.onfault, p.prot, p.shared))
        {
            let (_, vma_end) = (bounds.after)(pid, at).expect("a mapped page is in a VMA");
            let end = vma_end.min(to);
            v = end;
            if onfault {
                continue;
            }
            let result = if !(prot.read || prot.write || prot.exec) {
                Err(Errno::EFAULT)
            } else {
                let write = prot.write && !shared;
                (at..end).try_for_each(|w| self.gup_page(pid, w, write, bounds.after))
            };
            if let Err(e) = result {
                self.event("population stopped by an error");
                if !ignore_errors {
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Whether the PTE of `p` is writable: a private anonymous page exclusive to a writable
    /// mapping, or a shared page mapped in a writable VMA (tmpfs needs no write notification);
    /// private file pages and the zero page are mapped read-only.
    fn pte_writable(&self, p: &PageModel) -> bool {
        match p.content {
            Content::Zero => false,
            Content::Anon(id) => !p.swapped && p.prot.write && self.exclusive.contains(&id),
            Content::File { .. } => p.shared && p.resident && p.prot.write,
        }
    }

    /// One page of a GUP walk with FOLL_TOUCH (`__get_user_pages`, `follow_page_pte`): a fault
    /// where the page is not present (for a write: not writable), failing with EFAULT past the
    /// end of the file (SIGBUS) or ENOMEM when the frames it may need are not free; then a write
    /// marks a page whose PTE and page are clean PG_dirty, and every page is marked accessed
    /// (not made young: that is the PTE, which GUP leaves alone).
    fn gup_page(
        &mut self,
        pid: u32,
        v: u64,
        write: bool,
        after: &VmaBounds<'_>,
    ) -> Result<(), Errno> {
        let p = &self.procs[&pid][&v];
        let fault = if write {
            !self.pte_writable(p)
        } else {
            match p.content {
                // No frame either way: the zero page, or a read fault that maps it.
                Content::Zero => false,
                Content::Anon(_) => p.swapped,
                Content::File { .. } => !p.resident,
            }
        };
        let mlocked_before = self.mlocked.clone();
        if fault {
            if let Some((f, index)) = p.file {
                if index >= self.files[f].pages {
                    return Err(Errno::EFAULT);
                }
            }
            let swap_counts = self.swap_counts();
            if self.fault_need(pid, v, write, &swap_counts) > self.free_frames() {
                return Err(Errno::ENOMEM);
            }
            self.fault(pid, v, write, after);
        }
        let p = &self.procs[&pid][&v];
        match p.frame() {
            Some(k @ Content::Anon(id)) => {
                if write && !p.dirty && self.anon_dirty.insert(id) {
                    self.event("a write GUP dirtied a page through a clean PTE");
                }
                // A frame the fault just mlocked (into a locked VMA) waits in the mlock batch,
                // still evictable, until the walk's lru_add_drain, which then deactivates it.
                let unevictable = mlocked_before.contains_key(&k);
                self.mark_accessed(id, unevictable);
                if !unevictable && self.is_mlocked(k) {
                    self.active.remove(&id);
                }
            }
            Some(Content::File { file, index }) if write && !p.dirty => {
                self.files[file].dirty.insert(index);
            }
            _ => {}
        }
        Ok(())
    }

    /// mprotect: stops at the first hole with ENOMEM, the pages before it changed. A piece of a
    /// locked private VMA that becomes writable is populated with write faults at once, errors
    /// ignored (`mprotect_fixup`), piece by piece (the VMAs before the op: `bounds.before`).
    fn mprotect(
        &mut self,
        pid: u32,
        addr: u64,
        len: u64,
        prot: Prot,
        bounds: &Bounds<'_>,
    ) -> Applied {
        if !self.procs.contains_key(&pid) {
            return err(Errno::ESRCH);
        }
        let range = vpns(addr, len);
        let mut v = range.start;
        while v < range.end {
            let Some(p) = self.procs[&pid].get(&v) else {
                return err(Errno::ENOMEM);
            };
            let (_, vma_end) = (bounds.before)(pid, v).expect("a mapped page is in a VMA");
            let end = vma_end.min(range.end);
            let populate = !p.prot.write && !p.shared && p.locked && prot.write;
            for w in v..end {
                self.page_mut(pid, w).prot = prot;
            }
            if populate {
                self.event("mprotect populates a locked VMA");
                let _ = self.populate(pid, v, end, true, bounds);
            }
            v = end;
        }
        ok(Outcome::Done)
    }

    /// madvise: holes are skipped and reported at the end (ENOMEM); an advice a VMA refuses
    /// (EINVAL) aborts the walk there, the pages before it keeping their change.
    fn madvise(
        &mut self,
        pid: u32,
        addr: u64,
        len: u64,
        advice: Advice,
        bounds: &Bounds<'_>,
    ) -> Applied {
        if !self.procs.contains_key(&pid) {
            return err(Errno::ESRCH);
        }
        match advice {
            Advice::PageOut => {
                let applied = self.reclaim(pid, addr, len, true);
                return match applied.expect {
                    Expect::Ok(_) => ok(Outcome::Done),
                    Expect::Err(e) => err(e),
                };
            }
            Advice::PopulateRead | Advice::PopulateWrite => {
                return self.madvise_populate(
                    pid,
                    addr,
                    len,
                    advice == Advice::PopulateWrite,
                    bounds,
                )
            }
            Advice::Free => return self.madvise_free(pid, addr, len),
            _ => {}
        }
        // MADV_COLD acts on the pages this mapping maps alone (mapcount 1).
        let frames = self.frames();
        let exclusive_frames: BTreeSet<Content> = frames
            .iter()
            .filter(|(_, h)| h.len() == 1)
            .map(|(&k, _)| k)
            .collect();
        let mut hole = false;
        for v in vpns(addr, len) {
            let Some(p) = self.procs[&pid].get(&v) else {
                hole = true;
                continue;
            };
            let (locked, key, has_file, swap_id) =
                (p.locked, p.frame(), p.file.is_some(), p.swap_id());
            match advice {
                Advice::Cold | Advice::DontNeed if locked => return err(Errno::EINVAL),
                Advice::Cold => {
                    // Only a page this mapping maps alone loses its young bit and PG_referenced,
                    // and leaves the active list unless it is unevictable.
                    if let Some(k) = key.filter(|k| exclusive_frames.contains(k)) {
                        self.page_mut(pid, v).young = false;
                        if let Content::Anon(id) = k {
                            self.referenced.remove(&id);
                            if !self.is_mlocked(k) {
                                self.active.remove(&id);
                            }
                        }
                    }
                }
                Advice::DontNeed | Advice::DontNeedLocked => {
                    if locked {
                        // Zapped from a locked VMA: munlocked (DONTNEED_LOCKED).
                        if let Some(k) = key {
                            self.munlock_folio(k);
                        }
                        self.event("dontneed_locked zapped a locked page");
                    }
                    let p = self.page_mut(pid, v);
                    p.content = unwritten(p.file);
                    p.resident = false;
                    p.swapped = false;
                    p.dirty = false;
                    p.young = false;
                }
                Advice::WillNeed => {
                    // Anonymous VMAs: the swapped pages are read into the swap cache
                    // (`swapin_walk_pmd_entry`), the PTEs untouched; a read that finds no free
                    // frame gives up. Files and shmem: page-cache readahead, which the simulator
                    // does not model (a no-op there).
                    let Some(id) = swap_id.filter(|_| !has_file) else {
                        continue;
                    };
                    if !self.swap_cached.contains(&id) && self.free_frames() > 0 {
                        self.swap_cached.insert(id);
                        self.readahead.insert(id);
                        self.event("swap-in by willneed");
                    }
                }
                Advice::DontFork => self.page_mut(pid, v).dontfork = true,
                Advice::DoFork => self.page_mut(pid, v).dontfork = false,
                Advice::WipeOnFork if has_file => return err(Errno::EINVAL),
                Advice::WipeOnFork => self.page_mut(pid, v).wipeonfork = true,
                Advice::KeepOnFork => self.page_mut(pid, v).wipeonfork = false,
                _ => panic!("the model's generator does not make {advice:?}"),
            }
        }
        walked(hole, Outcome::Done)
    }

    /// MADV_POPULATE_READ/WRITE (`faultin_page_range`): page by page; a hole is ENOMEM and a page
    /// without the access (VM_READ, VM_WRITE) EINVAL, both at once; a fault error stops there
    /// (EFAULT, ENOMEM); the pages before the failure stay populated.
    fn madvise_populate(
        &mut self,
        pid: u32,
        addr: u64,
        len: u64,
        write: bool,
        bounds: &Bounds<'_>,
    ) -> Applied {
        for v in vpns(addr, len) {
            let Some(p) = self.procs[&pid].get(&v) else {
                return err(Errno::ENOMEM);
            };
            if !(if write { p.prot.write } else { p.prot.read }) {
                return err(Errno::EINVAL);
            }
            if let Err(e) = self.gup_page(pid, v, write, bounds.after) {
                self.event("madvise populate stopped by a fault error");
                return err(e);
            }
        }
        ok(Outcome::Done)
    }

    /// MADV_FREE (`madvise_free_pte_range`), page by page in address order: EINVAL at a locked
    /// page or one that is not private anonymous memory. A swap entry is dropped (the page reads
    /// zeroes again; `free_swap_and_cache`). A present page whose frame is PG_dirty or in the
    /// swap cache is left alone unless this is its only mapping and its swap can be freed
    /// (`folio_free_swap`: no swap entry refers to it), then its PG_dirty is cleared; its PTE
    /// loses the young and dirty bits, and the frame, if swap-backed, out of the swap cache and
    /// not mlocked, becomes lazyfree, leaving the active list and PG_referenced.
    fn madvise_free(&mut self, pid: u32, addr: u64, len: u64) -> Applied {
        let mut hole = false;
        for v in vpns(addr, len) {
            let Some(p) = self.procs[&pid].get(&v) else {
                hole = true;
                continue;
            };
            if p.locked || p.file.is_some() {
                return err(Errno::EINVAL);
            }
            let Content::Anon(id) = p.content else {
                continue;
            };
            if p.swapped {
                let p = self.page_mut(pid, v);
                p.content = Content::Zero;
                p.swapped = false;
                self.event("swap entry freed by MADV_FREE");
                // free_swap_and_cache: the last entry lets an unmapped or (swap half full) any
                // swap-cache frame go; a mapped one is then dirty.
                if self.swap_refs(id) == 0 && self.swap_cached.contains(&id) {
                    let mapped = !self.holders(Content::Anon(id)).is_empty();
                    if !mapped || self.swap_half_full() {
                        self.swap_cached.remove(&id);
                        if mapped {
                            self.anon_dirty.insert(id);
                        }
                    }
                }
                continue;
            }
            let key = Content::Anon(id);
            if self.swap_cached.contains(&id) || self.anon_dirty.contains(&id) {
                if self.holders(key).len() != 1 {
                    self.event("MADV_FREE left a shared dirty page alone");
                    continue;
                }
                if self.swap_cached.contains(&id) {
                    if self.swap_refs(id) != 0 {
                        continue;
                    }
                    self.swap_cached.remove(&id);
                }
                self.anon_dirty.remove(&id);
            }
            let p = self.page_mut(pid, v);
            p.young = false;
            p.dirty = false;
            if !self.lazyfree.contains(&id) && !self.is_mlocked(key) {
                self.lazyfree.insert(id);
                self.active.remove(&id);
                self.referenced.remove(&id);
                self.event("page made lazyfree");
            }
        }
        walked(hole, Outcome::Done)
    }

    /// How many swap PTEs refer to the slot of content `id`.
    fn swap_refs(&self, id: u64) -> u64 {
        self.procs
            .values()
            .flat_map(|p| p.values())
            .filter(|p| p.swap_id() == Some(id))
            .count() as u64
    }

    fn mremap(&mut self, a: &MremapArgs, bounds: &Bounds<'_>) -> Applied {
        let MremapArgs {
            pid,
            addr,
            old_len,
            new_len,
            flags,
            new_addr,
        } = *a;
        let Some(pages) = self.procs.get(&pid) else {
            return err(Errno::ESRCH);
        };
        let first = addr / PAGE;
        if !flags.fixed && !flags.dontunmap {
            if new_len < old_len {
                // In-place shrink: the tail is unmapped; only the first page must be mapped.
                if !pages.contains_key(&first) {
                    return err(Errno::EFAULT);
                }
                for v in vpns(addr + new_len, old_len - new_len) {
                    self.unmap(pid, v);
                }
                return ok(Outcome::Addr(addr));
            }
            assert!(new_len > old_len, "same-size mremap is not generated");
            return self.grow(pid, addr, old_len, new_len, bounds);
        }
        // MREMAP_DONTUNMAP does not resize (check_mremap_params).
        if flags.dontunmap && old_len != new_len {
            return err(Errno::EINVAL);
        }
        assert_eq!(old_len, new_len, "only same-size moves are generated");
        let dest = new_addr.expect("moves name new_addr");
        if addr < dest + new_len && dest < addr + old_len {
            return err(Errno::EINVAL);
        }
        // The range must start mapped; a fixed same-size move may span several VMAs (Linux
        // 6.17+), a hinted one (MREMAP_DONTUNMAP without MREMAP_FIXED) only one.
        let Some((_, vma_end)) = (bounds.before)(pid, first) else {
            return err(Errno::EFAULT);
        };
        if !flags.fixed && first + old_len / PAGE > vma_end {
            return err(Errno::EFAULT);
        }
        // Every mapped page moves to the same offset from new_addr; holes are kept, and the
        // target pages facing them too. The move goes source VMA by source VMA (`remap_move`):
        // each piece unmaps its own target, moves, and with MREMAP_DONTUNMAP completes
        // (`dontunmap_complete`) before the next piece's target is unmapped.
        let shift = (dest / PAGE).wrapping_sub(first);
        let mut pieces: Vec<(u64, Vec<u64>)> = Vec::new();
        for v in vpns(addr, old_len).filter(|v| self.procs[&pid].contains_key(v)) {
            let (s, _) = (bounds.before)(pid, v).expect("a mapped page is in a VMA");
            match pieces.last_mut() {
                Some((vma, piece)) if *vma == s => piece.push(v),
                _ => pieces.push((s, vec![v])),
            }
        }
        let mut swapped = false;
        let mut targets: Vec<(u64, u64)> = Vec::new();
        for (_, piece) in &pieces {
            let (t0, t1) = (
                piece[0].wrapping_add(shift),
                piece[piece.len() - 1].wrapping_add(shift) + 1,
            );
            targets.push((t0, t1));
            for &v in piece {
                self.unmap(pid, v.wrapping_add(shift));
            }
            let mut locked_moved = 0;
            for &v in piece {
                let p = self
                    .procs
                    .get_mut(&pid)
                    .expect("live")
                    .remove(&v)
                    .expect("mapped");
                swapped |= p.swapped;
                locked_moved += u64::from(p.locked);
                if flags.dontunmap {
                    // The source stays mapped, empty: its page tables went with the pages.
                    let mut old = PageModel::unmapped(p.prot, p.shared, p.file);
                    old.name = p.name.clone();
                    old.dontfork = p.dontfork;
                    old.wipeonfork = p.wipeonfork;
                    old.locked = p.locked;
                    old.onfault = p.onfault;
                    self.procs.get_mut(&pid).expect("live").insert(v, old);
                }
                self.procs
                    .get_mut(&pid)
                    .expect("live")
                    .insert(v.wrapping_add(shift), p);
            }
            if flags.dontunmap {
                self.dontunmap_complete(pid, piece[0], &targets, locked_moved, bounds);
            }
        }
        if swapped {
            self.event("mremap of swap entries");
        }
        ok(Outcome::Addr(dest))
    }

    /// `dontunmap_complete` for a piece whose first page is `v`: its source
    /// VMA, whole (as the targets unmapped so far left it: a target inside it split it), loses
    /// VM_LOCKED and VM_LOCKONFAULT without a munlock walk, so its pages that stayed keep their
    /// mlock; locked_vm was charged for the locked copy (`vrm_stat_account`) and is not
    /// uncharged for the source. (A copy next to an unfaulted source VMA merges with it, and
    /// then the merged VMA, copy included, is unlocked: whether it merges depends on the
    /// anon_vma, which the page model does not know; the generator keeps a locked source's
    /// target away from it, see `gen::lines`.)
    fn dontunmap_complete(
        &mut self,
        pid: u32,
        v: u64,
        targets: &[(u64, u64)],
        locked_moved: u64,
        bounds: &Bounds<'_>,
    ) {
        *self.locked_vm.get_mut(&pid).expect("live") += locked_moved;
        let (mut s, mut e) = (bounds.before)(pid, v).expect("a moved page was in a VMA");
        for &(t0, t1) in targets {
            if t0 < e && s < t1 {
                if v < t0 {
                    e = t0;
                } else {
                    s = t1;
                }
            }
        }
        for w in s..e {
            if let Some(p) = self.procs.get_mut(&pid).and_then(|p| p.get_mut(&w)) {
                if p.locked {
                    p.locked = false;
                    p.onfault = false;
                    self.event("dontunmap unlocked its source");
                }
            }
        }
    }

    /// mremap growing in place (`expand_vma`): the old range must end at its VMA's end (else
    /// ENOMEM, or EFAULT past it) and the pages above be free (ENOMEM); the new pages continue
    /// the VMA (its attributes, the file's next pages). A locked VMA's new part is populated,
    /// errors ignored.
    fn grow(
        &mut self,
        pid: u32,
        addr: u64,
        old_len: u64,
        new_len: u64,
        bounds: &Bounds<'_>,
    ) -> Applied {
        let first = addr / PAGE;
        let Some((_, vma_end)) = (bounds.before)(pid, first) else {
            return err(Errno::EFAULT);
        };
        let old_end = first + old_len / PAGE;
        let new_end = first + new_len / PAGE;
        if old_end > vma_end {
            return err(Errno::EFAULT);
        }
        if old_end < vma_end || self.procs[&pid].range(old_end..new_end).next().is_some() {
            return err(Errno::ENOMEM);
        }
        let last = self.procs[&pid][&(old_end - 1)].clone();
        for (i, v) in (old_end..new_end).enumerate() {
            let file = last.file.map(|(f, index)| (f, index + 1 + i as u64));
            let mut p = PageModel::unmapped(last.prot, last.shared, file);
            p.name = last.name.clone();
            p.dontfork = last.dontfork;
            p.wipeonfork = last.wipeonfork;
            p.locked = last.locked;
            p.onfault = last.onfault;
            self.procs.get_mut(&pid).expect("live").insert(v, p);
        }
        if last.locked {
            *self.locked_vm.get_mut(&pid).expect("live") += new_end - old_end;
            self.event("a locked VMA grew");
            let _ = self.populate(pid, old_end, new_end, true, bounds);
        }
        ok(Outcome::Addr(addr))
    }

    /// Frames a fault of page `v` may allocate: the simulator's per-page upper bound.
    fn fault_need(&self, pid: u32, v: u64, write: bool, swap_counts: &BTreeMap<u64, u64>) -> u64 {
        let p = &self.procs[&pid][&v];
        match (p.content, write) {
            (Content::Zero, w) => u64::from(w),
            // Swap-in: a frame unless the swap cache has one, and a copy for a write unless
            // the entry is certainly exclusive (marked so, or the only reference to an
            // uncached slot).
            (Content::Anon(id), w) if p.swapped => {
                let cached = self.swap_cached.contains(&id);
                let exclusive =
                    self.swp_exclusive.contains(&id) || (!cached && swap_counts[&id] == 1);
                u64::from(!cached) + u64::from(w && !exclusive)
            }
            (Content::Anon(_), false) => 0,
            // Nothing through a writable PTE (an exclusive page in a writable VMA); else a
            // copy unless the frame's only reference is this mapping.
            (c @ Content::Anon(id), true) => u64::from(
                !(p.prot.write && self.exclusive.contains(&id))
                    && (self.holders(c).len() > 1 || self.swap_cached.contains(&id)),
            ),
            (Content::File { file, index }, w) => {
                let uncached = u64::from(!self.files[file].cached.contains(&index));
                if w {
                    uncached + u64::from(!p.shared)
                } else if p.resident {
                    0
                } else {
                    uncached
                }
            }
        }
    }

    fn touch(
        &mut self,
        pid: u32,
        addr: u64,
        len: u64,
        write: bool,
        after: &VmaBounds<'_>,
    ) -> Applied {
        let Some(pages) = self.procs.get(&pid) else {
            return err(Errno::ESRCH);
        };
        // Validation: every page mapped and permitted, file pages inside the file; then
        // enough free frames for the simulator's per-page upper bound. A failing touch
        // changes nothing.
        let swap_counts = self.swap_counts();
        let mut need = 0;
        for v in vpns(addr, len) {
            let Some(p) = pages.get(&v) else {
                return err(Errno::EFAULT);
            };
            let allowed = if write {
                p.prot.write
            } else {
                p.prot.read || p.prot.write || p.prot.exec
            };
            if !allowed {
                return err(Errno::EFAULT);
            }
            if let Some((f, index)) = p.file {
                if index >= self.files[f].pages {
                    return err(Errno::EFAULT);
                }
            }
            need += self.fault_need(pid, v, write, &swap_counts);
        }
        if need > self.free_frames() {
            return err(Errno::ENOMEM);
        }
        for v in vpns(addr, len) {
            self.fault(pid, v, write, after);
        }
        ok(Outcome::Done)
    }

    /// One access of page `v` (validated): a read or write fault where one is needed
    /// (`handle_pte_fault`), else the CPU's access through the PTE. In a locked page a new
    /// frame starts mlocked, an existing frame mapped here is mlocked, and one a COW replaces
    /// here is munlocked.
    fn fault(&mut self, pid: u32, v: u64, write: bool, after: &VmaBounds<'_>) {
        let p = &self.procs[&pid][&v];
        let locked = p.locked;
        if let Some(id) = p.swap_id() {
            // do_swap_page: the frame is found in, or read into, the swap cache; it leaves
            // the cache (dirty) only when the swap can be freed (no swap PTE left) and either
            // swap is half full, the VMA is locked, the page mlocked, or a write finds no other
            // user (`should_try_to_free_swap`).
            let cached_before = self.swap_cached.contains(&id);
            // A frame in the swap cache is anonymous already (it was mapped, or MADV_PAGEOUT
            // left it there) unless MADV_WILLNEED read it in; only then does mapping it into a
            // locked VMA mlock it (`folio_add_anon_rmap_ptes`, not `folio_add_new_anon_rmap`).
            let was_anon = cached_before && !self.readahead.remove(&id);
            self.swap_cached.insert(id);
            let others_mapped = !self.holders(Content::Anon(id)).is_empty();
            let p = self.page_mut(pid, v);
            p.swapped = false;
            p.dirty = false;
            p.young = true;
            let remaining = self.swap_refs(id);
            let try_free = self.swap_half_full()
                || locked
                || self.is_mlocked(Content::Anon(id))
                || (write && !others_mapped);
            let freed = try_free && remaining == 0;
            if freed {
                self.swap_cached.remove(&id);
                self.anon_dirty.insert(id);
                if locked {
                    self.event("swap-in into a locked VMA frees the swap");
                }
            }
            if freed && !others_mapped || self.swp_exclusive.contains(&id) {
                self.exclusive.insert(id);
            }
            if locked {
                if was_anon {
                    self.mlock_folio(Content::Anon(id));
                } else {
                    self.event("swap-in into a locked VMA leaves the page unmlocked");
                }
            }
            self.event(if !cached_before {
                "swap-in"
            } else if was_anon {
                "swap-in from the swap cache"
            } else {
                "swap-in of a page willneed read"
            });
            if write && self.sharers(Content::Anon(id)) > 1 {
                self.event("swap-in for a write that copies");
            } else if write {
                self.event("swap-in for a write in place");
            }
            if !write {
                return;
            }
            if self.exclusive.contains(&id) && self.sharers(Content::Anon(id)) == 1 {
                // Mapped writable by the swap-in: the write takes no further fault.
                self.page_mut(pid, v).dirty = true;
                return;
            }
        }
        let p = self.procs[&pid][&v].clone();
        let prot_write = p.prot.write;
        match (p.content, write) {
            (Content::Zero, false) => {}
            (Content::Anon(_), false) => self.page_mut(pid, v).young = true,
            (Content::File { file, index }, false) => {
                if !p.resident {
                    self.fault_around(pid, v, after);
                    if !self.procs[&pid][&v].resident {
                        // Not in the page cache yet, so fault-around did not map it.
                        self.shmem_swap_in(file, index);
                        self.files[file].cached.insert(index);
                        let dirty =
                            p.shared && prot_write && self.files[file].dirty.contains(&index);
                        let p = self.page_mut(pid, v);
                        p.resident = true;
                        p.dirty = dirty;
                        if locked {
                            self.mlock_folio(Content::File { file, index });
                        }
                    }
                }
                self.page_mut(pid, v).young = true;
            }
            (c @ Content::Anon(id), true) if self.sharers(c) == 1 => {
                // In place: through a writable PTE, or reusing the page (do_wp_page), which
                // frees its swap cache first (wp_can_reuse_anon_folio).
                if !self.exclusive.contains(&id) && self.swap_cached.remove(&id) {
                    self.anon_dirty.insert(id);
                }
                self.exclusive.insert(id);
                let p = self.page_mut(pid, v);
                p.young = true;
                p.dirty = true;
            }
            (Content::File { .. }, true) if p.shared && p.resident => {
                // A present shared PTE is writable: the CPU sets its dirty bit, no fault.
                let p = self.page_mut(pid, v);
                p.young = true;
                p.dirty = true;
            }
            (key @ Content::File { file, index }, true) if p.shared => {
                self.shmem_swap_in(file, index);
                self.files[file].cached.insert(index);
                self.files[file].dirty.insert(index);
                let p = self.page_mut(pid, v);
                p.resident = true;
                p.young = true;
                p.dirty = true;
                if locked {
                    self.mlock_folio(key);
                }
            }
            (c, true) => {
                // A new page: for the zero page, a file page read for COW, or a copy of a page
                // others hold, which leaves this mapping (`wp_page_copy`).
                if let Some(old) = p.frame().filter(|_| locked) {
                    self.munlock_folio(old);
                    self.event("COW in a locked VMA");
                }
                if let Content::File { file, index } = c {
                    self.shmem_swap_in(file, index);
                    self.files[file].cached.insert(index);
                }
                let fresh = self.fresh();
                let p = self.page_mut(pid, v);
                p.content = fresh;
                p.resident = true;
                p.young = true;
                p.dirty = true;
                if locked {
                    // mlock_new_folio.
                    self.mlocked.insert(fresh, 1);
                }
            }
        }
    }

    /// `reclaim`: the frames `pid` maps in the range, in address order. An anonymous page goes
    /// to swap (its swap-cache slot, else a free one; with none free it stays, activated), and
    /// every page holding its content becomes a swap PTE; a lazyfree page is discarded, or kept
    /// and swap-backed again if it was written since; a regular file's page leaves every mapping
    /// and the page cache; shmem pages and the zero page stay. An mlocked frame is never taken
    /// (and gives up its swap cache), and a locked page stops the rmap walk, mlocking the frame
    /// there (`try_to_unmap_one`). Holes are reported at the end.
    ///
    /// With `pageout` (MADV_PAGEOUT) only the pages this mapping maps alone are reclaimed, and
    /// a locked page is EINVAL, the walk stopping there.
    ///
    /// A walk that a locked page stops after others, or a lazyfree page with both clean and
    /// dirty mappings, depends on the rmap's order, which this model does not know: the
    /// generator avoids them ([`Model::reclaim_depends_on_walk_order`]).
    fn reclaim(&mut self, pid: u32, addr: u64, len: u64, pageout: bool) -> Applied {
        if !self.procs.contains_key(&pid) {
            return err(Errno::ESRCH);
        }
        if !addr.is_multiple_of(PAGE) {
            return err(Errno::EINVAL);
        }
        let mut hole = false;
        let mut reclaimed = 0;
        for v in vpns(addr, len) {
            let Some(p) = self.procs[&pid].get(&v) else {
                hole = true;
                continue;
            };
            if pageout && p.locked {
                return err(Errno::EINVAL);
            }
            let Some(key) = p.frame() else { continue };
            let holders = self.holders(key);
            if pageout && holders.len() != 1 {
                continue;
            }
            if pageout {
                // madvise_cold_or_pageout_pte_range: PG_referenced goes before the page is
                // isolated, reclaimed or not.
                if let Content::Anon(id) = key {
                    self.referenced.remove(&id);
                }
            }
            if self.is_mlocked(key) {
                // !folio_evictable -> activate_locked: an mlocked page gives up its swap cache
                // if no swap entry needs it (`folio_free_swap`), and stays.
                self.event("locked page not reclaimed");
                if let Content::Anon(id) = key {
                    if self.swap_cached.contains(&id) && self.swap_refs(id) == 0 {
                        self.swap_cached.remove(&id);
                        self.anon_dirty.insert(id);
                    }
                }
                continue;
            }
            let locked: Vec<bool> = holders
                .iter()
                .map(|&(q, w)| self.procs[&q][&w].locked)
                .collect();
            if locked.iter().any(|&l| l) {
                assert!(
                    locked.iter().all(|&l| l),
                    "{key:?}: a walk stopped by a locked page after others (not generated)"
                );
                self.reclaim_locked(key);
                continue;
            }
            match key {
                Content::Anon(id) if self.lazyfree.contains(&id) => {
                    let dirty: Vec<bool> = holders
                        .iter()
                        .map(|&(q, w)| self.procs[&q][&w].dirty)
                        .collect();
                    if self.anon_dirty.contains(&id) || dirty.iter().all(|&d| d) {
                        // Written since MADV_FREE: the first mapping's dirty PTE (or the page)
                        // stops the walk; swap-backed again, dirty, activated.
                        self.lazyfree.remove(&id);
                        self.anon_dirty.insert(id);
                        self.active.insert(id);
                        self.event("lazyfree page redirtied kept");
                        continue;
                    }
                    assert!(
                        dirty.iter().all(|&d| !d),
                        "{key:?}: a lazyfree page with clean and dirty mappings (not generated)"
                    );
                    // Clean everywhere: discarded; every page holding it reads zeroes.
                    for (q, w) in holders {
                        let p = self.page_mut(q, w);
                        p.content = Content::Zero;
                        p.young = false;
                    }
                    self.lazyfree.remove(&id);
                    self.event("lazyfree page discarded");
                }
                Content::Anon(id) => {
                    if !self.swap_cached.contains(&id) && self.free_slots() == 0 {
                        // folio_alloc_swap fails: activate_locked.
                        self.active.insert(id);
                        self.event("swap full: a page stays resident");
                        continue;
                    }
                    if holders.len() > 1 {
                        self.event("swap-out of a page mapped more than once");
                    }
                    if self.swap_cached.contains(&id) {
                        self.event("swap-out of a swap-cache page (its own slot)");
                    }
                    // A page new to swap is marked dirty (`folio_alloc_swap`); one its slot still
                    // holds is dirty only if written since (a dirty PTE moves to the page).
                    let dirty = !self.swap_cached.contains(&id)
                        || self.anon_dirty.contains(&id)
                        || holders.iter().any(|&(q, w)| self.procs[&q][&w].dirty);
                    for p in self.procs.values_mut().flat_map(|p| p.values_mut()) {
                        if p.content == key && !p.swapped {
                            p.swapped = true;
                            p.dirty = false;
                            p.young = false;
                        }
                    }
                    // A complete reclaim frees the frame; MADV_PAGEOUT's pass leaves a dirty one,
                    // clean and inactive, in the swap cache while its write completes, and
                    // frees a clean one. The swap entries carry PageAnonExclusive.
                    if pageout && dirty {
                        self.swap_cached.insert(id);
                        self.active.remove(&id);
                    } else {
                        self.swap_cached.remove(&id);
                    }
                    self.anon_dirty.remove(&id);
                    if self.exclusive.remove(&id) {
                        self.swp_exclusive.insert(id);
                    }
                }
                Content::File { file, index } => {
                    // Unmapped everywhere, the PTEs' dirty bits moving to the page.
                    for p in self.procs.values_mut().flat_map(|p| p.values_mut()) {
                        if p.content == key && p.resident {
                            if p.dirty {
                                self.files[file].dirty.insert(index);
                            }
                            p.resident = false;
                            p.young = false;
                            p.dirty = false;
                        }
                    }
                    let f = &self.files[file];
                    if f.shmem && f.dirty.contains(&index) {
                        if self.free_slots() == 0 {
                            // shmem_writeout fails: the page stays, unmapped, active.
                            self.event("swap full: a shmem page stays cached");
                            continue;
                        }
                        self.files[file].swapped.insert(index);
                        self.event("shmem page swapped out");
                    } else if f.shmem {
                        self.event("clean shmem page dropped");
                    } else {
                        self.event("file page dropped");
                    }
                    let f = &mut self.files[file];
                    f.cached.remove(&index);
                    f.dirty.remove(&index);
                }
                Content::Zero => unreachable!("the zero page is no frame"),
            }
            reclaimed += 1;
        }
        walked(hole, Outcome::Pages(reclaimed))
    }

    /// Reclaim of a frame that is not mlocked but mapped only by locked pages (a swap-in read
    /// it afresh into a locked VMA): the walk stops at the first mapping, mlocking the frame
    /// there. An anonymous page first needs a slot (`folio_alloc_swap`, which marks it dirty; with
    /// none free it is activated instead and stays unmlocked); then, mlocked, it gives up its
    /// swap cache if no swap entry needs it (`activate_locked`).
    fn reclaim_locked(&mut self, key: Content) {
        self.event("locked page not reclaimed");
        if let Content::Anon(id) = key {
            if !self.lazyfree.contains(&id) {
                if !self.swap_cached.contains(&id) {
                    if self.free_slots() == 0 {
                        self.active.insert(id);
                        return;
                    }
                    // Added to the swap cache, dirty, and freed again below.
                    self.anon_dirty.insert(id);
                } else if self.swap_refs(id) == 0 {
                    self.swap_cached.remove(&id);
                    self.anon_dirty.insert(id);
                }
            }
        }
        self.mlock_folio(key);
    }

    /// Whether `reclaim pid addr len` would meet a frame whose fate depends on the order of the
    /// rmap walk: one that locked pages and unlocked ones map while it is not mlocked (the
    /// unlocked mappings the walk reaches before the first locked one are swapped out or
    /// dropped), or a lazyfree one with both clean and dirty mappings (the clean ones before
    /// the first dirty one are discarded). The anon_vma interval tree's order follows the
    /// history of every VMA split, merge and move, which this page model does not know.
    pub fn reclaim_depends_on_walk_order(&self, pid: u32, addr: u64, len: u64) -> bool {
        let Some(pages) = self.procs.get(&pid) else {
            return false;
        };
        pages.range(vpns(addr, len)).any(|(_, p)| {
            let Some(key) = p.frame() else {
                return false;
            };
            if self.is_mlocked(key) {
                return false;
            }
            let holders: Vec<&PageModel> = self
                .holders(key)
                .into_iter()
                .map(|(q, w)| &self.procs[&q][&w])
                .collect();
            let locked = holders.iter().filter(|p| p.locked).count();
            if locked != 0 && locked != holders.len() {
                return true;
            }
            let Content::Anon(id) = key else {
                return false;
            };
            let dirty = holders.iter().filter(|p| p.dirty).count();
            locked == 0
                && self.lazyfree.contains(&id)
                && !self.anon_dirty.contains(&id)
                && dirty != 0
                && dirty != holders.len()
        })
    }

    /// The swap cache as the simulator's zaps leave it (`zap_pte_range`, VMA by VMA in address
    /// order, the destination of an mremap first: first the pages, whose swap-cache frames go
    /// when nothing maps them and no swap entry refers to them (`free_swap_cache`), then the
    /// swap entries in address order, each freeing its frame when it was the last one and the
    /// frame is unmapped or swap is half full at that moment (`free_swap_and_cache`, which then
    /// leaves a mapped frame dirty)). A call that zaps no swap entry changes nothing here.
    fn replay_zap_order(
        &mut self,
        call: &Call,
        before: &BTreeMap<u32, BTreeMap<u64, PageModel>>,
        bounds: &VmaBounds<'_>,
    ) {
        let (pid, first) = match call {
            Call::Exit(a) => (a.pid, None),
            Call::Munmap(a) => (a.pid, None),
            Call::Mmap(a) => (a.pid, None),
            Call::Madvise(a) => (a.pid, None),
            Call::Mremap(a) => (
                a.pid,
                a.new_addr
                    .map(|n| (n / PAGE, (n + a.new_len).div_ceil(PAGE))),
            ),
            _ => return,
        };
        let Some(old) = before.get(&pid) else { return };
        let empty = BTreeMap::new();
        let new = self.procs.get(&pid).unwrap_or(&empty);
        // What the process lost, per content: swap entries and mappings.
        let count = |pages: &BTreeMap<u64, PageModel>, swapped: bool| {
            let mut m: BTreeMap<u64, u64> = BTreeMap::new();
            for p in pages.values() {
                if let Content::Anon(id) = p.content {
                    if p.swapped == swapped {
                        *m.entry(id).or_default() += 1;
                    }
                }
            }
            m
        };
        let lost = |old: BTreeMap<u64, u64>, new: BTreeMap<u64, u64>| -> BTreeMap<u64, u64> {
            old.into_iter()
                .map(|(id, n)| (id, n - new.get(&id).copied().unwrap_or(0).min(n)))
                .filter(|&(_, n)| n > 0)
                .collect()
        };
        let mut lost_swap = lost(count(old, true), count(new, true));
        let mut lost_map = lost(count(old, false), count(new, false));
        if lost_swap.is_empty() {
            return;
        }
        // (group, VMA start, vpn, content, swapped): the destination of a move first.
        let mut events: Vec<(u8, u64, u64, u64, bool)> = Vec::new();
        for (&v, p) in old {
            let Content::Anon(id) = p.content else {
                continue;
            };
            let left = if p.swapped {
                lost_swap.get_mut(&id)
            } else {
                lost_map.get_mut(&id)
            };
            let Some(n) = left.filter(|n| **n > 0) else {
                continue;
            };
            *n -= 1;
            let vma = bounds(pid, v).map_or(v, |(s, _)| s);
            let group = u8::from(!first.is_some_and(|(s, e)| (s..e).contains(&v)));
            events.push((group, vma, v, id, p.swapped));
        }
        events.sort_unstable();
        // Counts over every process before the call, then each loss in the simulator's order.
        let mut swap_refs: BTreeMap<u64, u64> = BTreeMap::new();
        let mut mapped: BTreeMap<u64, u64> = BTreeMap::new();
        for p in before.values().flat_map(|p| p.values()) {
            if let Content::Anon(id) = p.content {
                let m = if p.swapped {
                    &mut swap_refs
                } else {
                    &mut mapped
                };
                *m.entry(id).or_default() += 1;
            }
        }
        let shmem: u64 = self.files.iter().map(|f| f.swapped.len() as u64).sum();
        let mut cached = self.swap_cached.clone();
        let mut i = 0;
        while i < events.len() {
            let key = (events[i].0, events[i].1);
            let j = events[i..]
                .iter()
                .position(|e| (e.0, e.1) != key)
                .map_or(events.len(), |k| i + k);
            for &(_, _, _, id, swapped) in &events[i..j] {
                if !swapped {
                    *mapped.entry(id).or_default() -= 1;
                }
            }
            for &(_, _, _, id, swapped) in &events[i..j] {
                if !swapped && mapped[&id] == 0 && swap_refs.get(&id).copied().unwrap_or(0) == 0 {
                    cached.remove(&id);
                }
            }
            for &(_, _, _, id, swapped) in &events[i..j] {
                if !swapped {
                    continue;
                }
                let n = swap_refs.entry(id).or_default();
                *n -= 1;
                if *n != 0 || !cached.contains(&id) {
                    continue;
                }
                let is_mapped = mapped.get(&id).copied().unwrap_or(0) != 0;
                let mut used: BTreeSet<u64> = swap_refs
                    .iter()
                    .filter(|(_, &n)| n > 0)
                    .map(|(&id, _)| id)
                    .collect();
                used.extend(cached.iter().copied());
                let free = self.swap_slots - used.len() as u64 - shmem;
                if !is_mapped || free * 2 < self.swap_slots {
                    cached.remove(&id);
                    if is_mapped {
                        self.anon_dirty.insert(id);
                    }
                }
            }
            i = j;
        }
        self.swap_cached = cached;
    }

    /// `shmem_swapin_folio`: a swapped shmem page read back into the page cache, dirty; its slot
    /// freed.
    fn shmem_swap_in(&mut self, file: usize, index: u64) {
        let f = &mut self.files[file];
        if f.swapped.remove(&index) {
            f.dirty.insert(index);
            self.event("shmem swap-in");
        }
    }

    fn event(&mut self, what: &'static str) {
        *self.events.entry(what).or_default() += 1;
    }

    fn page_mut(&mut self, pid: u32, v: u64) -> &mut PageModel {
        self.procs
            .get_mut(&pid)
            .and_then(|p| p.get_mut(&v))
            .expect("validated")
    }

    /// `do_fault_around`: the cached, unmapped file pages of a 16-page window get mapped. The
    /// window starts at the 16-page block around `v`, or at the VMA's start or the page
    /// table's start if later, and is 16 pages long from there, cut at the VMA's end and the
    /// page table's end.
    fn fault_around(&mut self, pid: u32, v: u64, bounds: &VmaBounds<'_>) {
        let Some((vs, ve)) = bounds(pid, v) else {
            return;
        };
        let block = v & !(FAULT_AROUND_PAGES - 1);
        let table = v - v % PTRS_PER_PTE;
        let from = block.max(vs).max(table);
        let to = (from + FAULT_AROUND_PAGES)
            .min(ve)
            .min(table + PTRS_PER_PTE);
        for w in from..to {
            let Some(p) = self.procs.get(&pid).and_then(|p| p.get(&w)) else {
                continue;
            };
            if let key @ Content::File { file, index } = p.content {
                if !p.resident
                    && index < self.files[file].pages
                    && self.files[file].cached.contains(&index)
                {
                    let dirty = p.shared && p.prot.write && self.files[file].dirty.contains(&index);
                    let locked = p.locked;
                    let p = self.page_mut(pid, w);
                    p.resident = true;
                    p.young = true;
                    p.dirty = dirty;
                    if locked {
                        // folio_add_file_rmap_ptes -> mlock_vma_folio.
                        self.mlock_folio(key);
                    }
                }
            }
        }
    }
}
