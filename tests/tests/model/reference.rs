//! The naive reference model: per process, a map from virtual page number to what that page
//! observably is (protection, backing, name, content, residency). It knows nothing of VMAs,
//! anon_vmas or frames; it only encodes what Linux promises a program (and /proc) can see.
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
//! stays until a write fault with no other user, a write that reuses it, or swap more than half
//! full frees its swap (the frame then becomes dirty: `Model::anon_dirty`), or until nothing
//! maps or refers to it any more. A write copies the page unless no other page holds the content
//! (swapped or not). A reclaimed regular-file page leaves the page cache and every mapping; a
//! reclaimed shmem page leaves every mapping and goes to swap if it is dirty (the object keeps
//! the slot, and every mapper's smaps counts it as `Swap`), else is dropped.
//!
//! Dirty state lives where the kernel keeps it: `PageModel::dirty` is the PTE's bit, a file
//! page's PG_dirty (`FileModel::dirty`) the page's; zapping a file page's PTE moves its dirty
//! bit to the page. A file page's PG_referenced is not followed (see `check`).

use std::collections::{BTreeMap, BTreeSet};

use anonmap_abi::{
    Access, Advice, Call, ClearRefsArgs, Errno, ExitArgs, FileArgs, ForkArgs, MadviseArgs,
    MmapArgs, MprotectArgs, MremapArgs, MunmapArgs, NameArgs, Outcome, Prot, ReclaimArgs,
    SpawnArgs, TouchArgs,
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
    /// What happened that the run must cover (swap-ins, swap full, ...), counted per op.
    pub events: BTreeMap<&'static str, u64>,
    next_id: u64,
}

/// VMA bounds `[start_vpn, end_vpn)` by (pid, vpn), from the simulator's maps before the op:
/// fault-around is clipped to the faulting VMA, a property this page model does not track.
pub type VmaBounds = dyn Fn(u32, u64) -> Option<(u64, u64)>;

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
            events: BTreeMap::new(),
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

    fn free_frames(&self) -> u64 {
        // Frame 0 is the zero page.
        self.total_frames - 1 - self.used_frames()
    }

    pub fn file_by_path(&self, path: &str) -> Option<usize> {
        self.files.iter().position(|f| f.path == path)
    }

    /// Applies `call`; `bounds` gives the simulator's VMA bounds (used only for fault-around).
    pub fn apply(&mut self, call: &Call, bounds: &VmaBounds) -> Applied {
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
        self.replay_zap_order(call, &before, bounds);
        // A swap-cache frame lives while a page maps it or a swap PTE refers to its slot
        // (`free_swap_cache`, `free_swap_and_cache`); the slot lives while either does.
        let counts = self.swap_counts();
        let frames = self.frames();
        self.swap_cached
            .retain(|id| counts.contains_key(id) || frames.contains_key(&Content::Anon(*id)));
        let cached = self.swap_cached.clone();
        self.slot_of
            .retain(|id, _| counts.contains_key(id) || cached.contains(id));
        self.anon_dirty
            .retain(|id| frames.contains_key(&Content::Anon(*id)) || cached.contains(id));
        self.exclusive
            .retain(|id| frames.contains_key(&Content::Anon(*id)) || cached.contains(id));
        self.swp_exclusive.retain(|id| counts.contains_key(id));
        let resident: BTreeSet<Content> = self
            .pfn_of
            .keys()
            .copied()
            .filter(|&k| self.resident(k, &frames))
            .collect();
        self.pfn_of.retain(|k, _| resident.contains(k));
        if self
            .swap_cached
            .iter()
            .any(|&id| !frames.contains_key(&Content::Anon(id)))
        {
            self.event("an unmapped frame in the swap cache");
        }
        applied
    }

    fn apply_inner(&mut self, call: &Call, bounds: &VmaBounds) -> Applied {
        match call {
            Call::Mlock(_) | Call::Munlock(_) | Call::Mlockall(_) | Call::Munlockall(_) => {
                unreachable!("the model's generator does not make {call:?}")
            }
            Call::ClearRefs(ClearRefsArgs { pid, value }) => {
                // 1-3 clear the young bit of present pages (all, those of VMAs without a file,
                // those of VMAs with one: shmem and private file mappings, COW copies
                // included); 4 changes nothing without soft-dirty tracking; 5 resets the peak
                // RSS, which the model does not follow.
                let Some(pages) = self.procs.get_mut(pid) else {
                    return err(Errno::ESRCH);
                };
                if !(1..=5).contains(value) {
                    return err(Errno::EINVAL);
                }
                for p in pages.values_mut() {
                    let chosen = match value {
                        1 => true,
                        2 => p.file.is_none(),
                        3 => p.file.is_some(),
                        _ => false,
                    };
                    if chosen && p.frame().is_some() {
                        p.young = false;
                    }
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
                ok(Outcome::Pid(pid))
            }
            Call::Exit(ExitArgs { pid }) => {
                if self.procs.remove(pid).is_none() {
                    return err(Errno::ESRCH);
                }
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
                if flags.shared {
                    assert!(flags.anonymous, "only shared anonymous memory is generated");
                    self.files
                        .push(FileModel::new("/dev/zero", len.div_ceil(PAGE), true));
                }
                let fid = match file {
                    Some(path) => match self.file_by_path(path) {
                        Some(f) => Some(f),
                        None => return err(Errno::EBADF),
                    },
                    None if flags.shared => Some(self.files.len() - 1),
                    None => None,
                };
                let pages = self.procs.get_mut(pid).expect("checked");
                let first_index = offset.unwrap_or(0) / PAGE;
                for (i, v) in vpns(addr, *len).enumerate() {
                    let backing = fid.map(|f| (f, first_index + i as u64));
                    pages.insert(
                        v,
                        PageModel {
                            prot: *prot,
                            shared: flags.shared,
                            file: backing,
                            name: None,
                            content: unwritten(backing),
                            resident: false,
                            swapped: false,
                            dirty: false,
                            young: false,
                            dontfork: false,
                            wipeonfork: false,
                        },
                    );
                }
                ok(Outcome::Addr(addr))
            }
            Call::Munmap(MunmapArgs { pid, addr, len }) => {
                let Some(pages) = self.procs.get_mut(pid) else {
                    return err(Errno::ESRCH);
                };
                for v in vpns(*addr, *len) {
                    pages.remove(&v);
                }
                ok(Outcome::Done)
            }
            Call::Mprotect(MprotectArgs {
                pid,
                addr,
                len,
                prot,
            }) => {
                let Some(pages) = self.procs.get_mut(pid) else {
                    return err(Errno::ESRCH);
                };
                // Stops at the first hole with ENOMEM, the pages before it changed.
                for v in vpns(*addr, *len) {
                    match pages.get_mut(&v) {
                        Some(p) => p.prot = *prot,
                        None => return err(Errno::ENOMEM),
                    }
                }
                ok(Outcome::Done)
            }
            Call::Madvise(MadviseArgs {
                pid,
                addr,
                len,
                advice,
            }) => {
                if *advice == Advice::PageOut {
                    let applied = self.reclaim(*pid, *addr, *len, true);
                    return match applied.expect {
                        Expect::Ok(_) => ok(Outcome::Done),
                        Expect::Err(e) => err(e),
                    };
                }
                // MADV_COLD acts on the pages this mapping maps alone (mapcount 1).
                let frames = self.frames();
                let exclusive_frames: BTreeSet<Content> = frames
                    .iter()
                    .filter(|(_, h)| h.len() == 1)
                    .map(|(&k, _)| k)
                    .collect();
                let Some(pages) = self.procs.get_mut(pid) else {
                    return err(Errno::ESRCH);
                };
                // Holes are skipped and reported at the end; dontneed zaps the mapped pages,
                // the fork advice sets or clears a flag (wipeonfork refuses file pages with
                // EINVAL, aborting the walk: the pages before keep the change).
                let mut hole = false;
                for v in vpns(*addr, *len) {
                    let Some(p) = pages.get_mut(&v) else {
                        hole = true;
                        continue;
                    };
                    match advice {
                        Advice::Cold => {
                            // Only a page this mapping maps alone loses its young bit.
                            if p.frame().is_some_and(|k| exclusive_frames.contains(&k)) {
                                p.young = false;
                            }
                        }
                        Advice::DontNeed => {
                            p.content = unwritten(p.file);
                            p.resident = false;
                            p.swapped = false;
                            p.dirty = false;
                            p.young = false;
                        }
                        Advice::DontFork => p.dontfork = true,
                        Advice::DoFork => p.dontfork = false,
                        Advice::WipeOnFork if p.file.is_some() => return err(Errno::EINVAL),
                        Advice::WipeOnFork => p.wipeonfork = true,
                        Advice::KeepOnFork => p.wipeonfork = false,
                        _ => panic!("the model's generator does not make {advice:?}"),
                    }
                }
                walked(hole, Outcome::Done)
            }
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
            Call::Mremap(MremapArgs {
                pid,
                addr,
                old_len,
                new_len,
                flags,
                new_addr,
            }) => self.mremap(*pid, *addr, *old_len, *new_len, flags.fixed, *new_addr),
            Call::Touch(TouchArgs {
                pid,
                addr,
                len,
                access,
            }) => self.touch(*pid, *addr, *len, *access == Access::Write, bounds),
            Call::Reclaim(ReclaimArgs { pid, addr, len }) => self.reclaim(*pid, *addr, *len, false),
            Call::Brk(_) => panic!("not generated: {}", anonmap_lang::line(call)),
        }
    }

    fn mremap(
        &mut self,
        pid: u32,
        addr: u64,
        old_len: u64,
        new_len: u64,
        fixed: bool,
        new_addr: Option<u64>,
    ) -> Applied {
        let Some(pages) = self.procs.get_mut(&pid) else {
            return err(Errno::ESRCH);
        };
        if !fixed {
            // In-place shrink: the tail is unmapped; only the first page must be mapped.
            assert!(new_len < old_len, "only shrinking in place is generated");
            if !pages.contains_key(&(addr / PAGE)) {
                return err(Errno::EFAULT);
            }
            for v in vpns(addr + new_len, old_len - new_len) {
                pages.remove(&v);
            }
            return ok(Outcome::Addr(addr));
        }
        assert_eq!(old_len, new_len, "only same-size fixed moves are generated");
        let new_addr = new_addr.expect("fixed moves name new_addr");
        if addr < new_addr + new_len && new_addr < addr + old_len {
            return err(Errno::EINVAL);
        }
        // A same-size fixed move may span several VMAs (Linux 6.17+): every mapped page moves
        // to the same offset from new_addr, holes are kept; the range must start mapped.
        if !pages.contains_key(&(addr / PAGE)) {
            return err(Errno::EFAULT);
        }
        let shift = (new_addr / PAGE).wrapping_sub(addr / PAGE);
        let moved: Vec<(u64, PageModel)> = vpns(addr, old_len)
            .filter_map(|v| pages.remove(&v).map(|p| (v, p)))
            .collect();
        let swapped = moved.iter().any(|(_, p)| p.swapped);
        for (v, p) in moved {
            pages.insert(v.wrapping_add(shift), p);
        }
        if swapped {
            self.event("mremap of swap entries");
        }
        ok(Outcome::Addr(new_addr))
    }

    fn touch(&mut self, pid: u32, addr: u64, len: u64, write: bool, bounds: &VmaBounds) -> Applied {
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
            need += match (p.content, write) {
                (Content::Zero, w) => u64::from(w),
                // Swap-in: a frame unless the swap cache has one, and a copy for a write unless
                // the entry is certainly exclusive (marked so, or the only reference to an
                // uncached slot): the simulator's upper bound.
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
            };
        }
        if need > self.free_frames() {
            return err(Errno::ENOMEM);
        }
        for v in vpns(addr, len) {
            let p = &self.procs[&pid][&v];
            if let Some(id) = p.swap_id() {
                // do_swap_page: the frame is found in, or read into, the swap cache; it leaves
                // the cache (dirty) only when the swap can be freed (no swap PTE left) and either
                // swap is half full or a write finds no other user.
                let cached_before = self.swap_cached.contains(&id);
                self.swap_cached.insert(id);
                let others_mapped = !self.holders(Content::Anon(id)).is_empty();
                let p = self.page_mut(pid, v);
                p.swapped = false;
                p.dirty = false;
                p.young = true;
                let remaining = self.swap_counts().get(&id).copied().unwrap_or(0);
                let try_free = self.swap_half_full() || (write && !others_mapped);
                let freed = try_free && remaining == 0;
                if freed {
                    self.swap_cached.remove(&id);
                    self.anon_dirty.insert(id);
                }
                if freed && !others_mapped || self.swp_exclusive.contains(&id) {
                    self.exclusive.insert(id);
                }
                self.event(if cached_before {
                    "swap-in from the swap cache"
                } else {
                    "swap-in"
                });
                if write && self.sharers(Content::Anon(id)) > 1 {
                    self.event("swap-in for a write that copies");
                } else if write {
                    self.event("swap-in for a write in place");
                }
                if !write {
                    continue;
                }
                if self.exclusive.contains(&id) && self.sharers(Content::Anon(id)) == 1 {
                    // Mapped writable by the swap-in: the write takes no further fault.
                    self.page_mut(pid, v).dirty = true;
                    continue;
                }
            }
            let p = self.procs[&pid][&v].clone();
            let prot_write = p.prot.write;
            match (p.content, write) {
                (Content::Zero, false) => {}
                (Content::Anon(_), false) => self.page_mut(pid, v).young = true,
                (Content::File { file, index }, false) => {
                    if !p.resident {
                        self.fault_around(pid, v, bounds);
                        self.shmem_swap_in(file, index);
                        self.files[file].cached.insert(index);
                        let dirty =
                            p.shared && prot_write && self.files[file].dirty.contains(&index);
                        let p = self.page_mut(pid, v);
                        p.resident = true;
                        p.dirty = dirty;
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
                (Content::File { file, index }, true) if p.shared => {
                    self.shmem_swap_in(file, index);
                    self.files[file].cached.insert(index);
                    self.files[file].dirty.insert(index);
                    let p = self.page_mut(pid, v);
                    p.resident = true;
                    p.young = true;
                    p.dirty = true;
                }
                (c, true) => {
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
                }
            }
        }
        ok(Outcome::Done)
    }

    /// `reclaim`: the frames `pid` maps in the range, in address order. An anonymous page goes
    /// to swap (its swap-cache slot, else a free one; with none free it stays), and every page
    /// holding its content becomes a swap PTE; a regular file's page leaves every mapping and
    /// the page cache; shmem pages and the zero page stay. Holes are reported at the end.
    ///
    /// With `pageout` (MADV_PAGEOUT) only the pages this mapping maps alone are reclaimed.
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
            let Some(key) = p.frame() else { continue };
            if pageout && self.holders(key).len() != 1 {
                continue;
            }
            match key {
                Content::Anon(id) => {
                    if !self.swap_cached.contains(&id) && self.free_slots() == 0 {
                        self.event("swap full: a page stays resident");
                        continue;
                    }
                    if self.holders(key).len() > 1 {
                        self.event("swap-out of a page mapped more than once");
                    }
                    if self.swap_cached.contains(&id) {
                        self.event("swap-out of a swap-cache page (its own slot)");
                    }
                    for p in self.procs.values_mut().flat_map(|p| p.values_mut()) {
                        if p.content == key && !p.swapped {
                            p.swapped = true;
                            p.dirty = false;
                            p.young = false;
                        }
                    }
                    // A complete reclaim frees the frame; MADV_PAGEOUT's pass leaves it, clean,
                    // in the swap cache while its write completes. The swap entries carry
                    // PageAnonExclusive.
                    if pageout {
                        self.swap_cached.insert(id);
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
        bounds: &VmaBounds,
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
    fn fault_around(&mut self, pid: u32, v: u64, bounds: &VmaBounds) {
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
            if let Content::File { file, index } = p.content {
                if !p.resident
                    && index < self.files[file].pages
                    && self.files[file].cached.contains(&index)
                {
                    let dirty = p.shared && p.prot.write && self.files[file].dirty.contains(&index);
                    let p = self.page_mut(pid, w);
                    p.resident = true;
                    p.young = true;
                    p.dirty = dirty;
                }
            }
        }
    }
}
