//! Swap: one swap device, the swap cache, reclaim of one folio through the reverse map, and
//! swap-in (mm/swapfile.c, mm/swap_state.c, mm/vmscan.c `shrink_folio_list`, `do_swap_page`
//! in mm/memory.c, `shmem_writeout` and `shmem_swapin_folio` in mm/shmem.c).
//!
//! [`Machine::shrink_folio`] reclaims one folio the way `shrink_folio_list` does, taking it
//! from every process that maps it at once (`try_to_unmap` walks the rmap):
//! - a swap-backed anonymous page gets a swap slot (its own if it is in the swap cache); every
//!   PTE that maps it becomes a swap entry for that slot, marked exclusive if the page was
//!   PageAnonExclusive; the frame is freed by a complete reclaim and, if dirty (new to swap,
//!   or written since it was read), stays in the swap cache after MADV_PAGEOUT's single pass
//!   ([`ReclaimMode`]). With no free slot it is activated instead; a locked VMA stops the walk,
//!   mlocking the page, which then gives up its swap cache if it can (`activate_locked`);
//! - a lazyfree page (MADV_FREE, not swap-backed) is discarded mapping by mapping while it is
//!   clean; a mapping whose PTE is dirty, or a page already PG_dirty, stops the walk: the page
//!   is swap-backed again, keeps its remaining mappings and is activated;
//! - a shmem page is unmapped everywhere (dirty PTEs make it PG_dirty); a dirty one moves to a
//!   swap slot that the object's page cache records in its place (`shmem_writeout`), a clean
//!   one is dropped, leaving a hole that reads back as zeroes;
//! - a regular file's page is unmapped everywhere; a clean one is dropped from the cache, a
//!   dirty one is written back first by `reclaim` and kept (activated) by MADV_PAGEOUT, which
//!   never writes file pages;
//! - an mlocked page (mapped by a VM_LOCKED VMA) and the zero page are never reclaimed.
//!
//! A fault on a swap entry (`do_swap_page`) finds the page in the swap cache or reads it into a
//! new frame added to the cache. The page stays in the swap cache, its slot allocated, until
//! something frees it, exactly where the kernel frees it:
//! - the swap-in itself, when the VMA is locked, the page is mlocked, swap is more than half
//!   full (`vm_swap_full`), or a write fault finds no other user (`should_try_to_free_swap`);
//! - a write fault that reuses the page (`wp_can_reuse_anon_folio`);
//! - the last unmap of the page (`free_swap_cache`), or the last swap entry of its slot going
//!   while the page is unmapped (`free_swap_and_cache`);
//! - MADV_FREE; reclaim.
//!
//! Freeing a mapped page's swap (`folio_free_swap`) makes it PG_dirty: its data now lives only
//! in memory. A page is mapped writable by the swap-in only if it is certainly exclusive (the
//! swap entry was exclusive, or its swap was freed and nothing else refers to it); a write
//! otherwise copies it, as after fork. Slots are handed out like frames: a fresh device from
//! slot 1 up, then the most recently freed slot first.

use std::collections::BTreeMap;

use super::frames::{page_flags, Mapping, ZERO_PFN};
use super::pagetable::Pte;
use super::process::mm_counter_index;
use super::types::{vpn, FileId, Pfn, Pid, VmaId, PAGE_SIZE};
use super::vma::{VM_LOCKED, VM_WRITE};
use super::Machine;
use anonmap_abi::{Error, ReclaimArgs};

/// How far one reclaim goes. `Complete` (the `reclaim` op) carries every page through, as
/// kswapd and the flusher do between them: a dirty file page is written back and dropped, a
/// swapped-out page's frame freed. `Pageout` is MADV_PAGEOUT's single pass of
/// `shrink_folio_list`: a dirty file page is left unmapped and dirty, and a swapped-out page
/// that had to be written (dirty: new to swap, or written since a swap-in) stays in the swap
/// cache, unmapped, while its asynchronous write completes (a clean one is freed), until a later
/// reclaim pass or the last swap entry of its slot frees it; a fault then finds it there, still
/// anonymous (`folio_add_anon_rmap_ptes`, which mlocks it in a locked VMA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReclaimMode {
    Complete,
    Pageout,
}

/// The swap device and the swap cache.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Swap {
    /// `swap_map`: per slot, how many swap PTEs and shmem page-cache entries refer to it. Slot 0
    /// is the header page and is never used. Invariant: equals the number of swap PTEs for the
    /// slot over all page tables plus the shmem objects' swapped entries for it.
    counts: Vec<u32>,
    /// Free slots; the last element is handed out next (LIFO, as frames are: deterministic and
    /// O(1); a fresh device hands out slots 1, 2, 3, ...).
    /// Invariant: exactly the slots 1.. whose count is 0 and that the swap cache does not hold
    /// (SWAP_HAS_CACHE), each once.
    free: Vec<u32>,
    /// The swap cache: slot -> the frame holding the slot's data. Invariant: the slot's count is
    /// non-zero or the frame is mapped (a swapped-in page whose swap is not freed yet), the frame
    /// has the SWAPCACHE flag, and the cache holds one reference to it.
    cache: BTreeMap<u32, Pfn>,
    /// The reverse of `cache`: frame -> slot (the kernel's `folio->swap`).
    cached_slot: BTreeMap<Pfn, u32>,
}

impl Swap {
    /// A swap device of `bytes` (one header page, the rest usable slots).
    pub fn new(bytes: u64) -> Swap {
        let slots = u32::try_from(bytes / PAGE_SIZE).unwrap_or(u32::MAX);
        Swap {
            counts: vec![0; slots as usize],
            free: (1..slots).rev().collect(),
            cache: BTreeMap::new(),
            cached_slot: BTreeMap::new(),
        }
    }

    /// Usable slots (SwapTotal in pages).
    pub fn total(&self) -> u64 {
        self.counts.len().saturating_sub(1) as u64
    }

    /// Free slots (SwapFree in pages).
    pub fn free_count(&self) -> u64 {
        self.free.len() as u64
    }

    /// `vm_swap_full`: fewer than half the slots are free.
    pub fn is_half_full(&self) -> bool {
        self.free_count() * 2 < self.total()
    }

    /// Pages in the swap cache (SwapCached in pages).
    pub fn cached_count(&self) -> u64 {
        self.cache.len() as u64
    }

    /// `swp_swapcount`: how many swap PTEs refer to `slot`.
    pub fn count(&self, slot: u32) -> u32 {
        self.counts[slot as usize]
    }

    /// The frame caching `slot`, if any.
    pub fn cached(&self, slot: u32) -> Option<Pfn> {
        self.cache.get(&slot).copied()
    }

    /// The slot a swap-cached frame holds, if it is in the swap cache.
    pub fn slot_of(&self, pfn: Pfn) -> Option<u32> {
        self.cached_slot.get(&pfn).copied()
    }

    /// `(slot, count)` of every slot in use, for the invariant check.
    pub(super) fn used_slots(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c != 0)
            .map(|(s, &c)| (s as u32, c))
    }

    /// The free stack and the cache, for the invariant check.
    pub(super) fn free_list(&self) -> &[u32] {
        &self.free
    }
    pub(super) fn cache_entries(&self) -> impl Iterator<Item = (u32, Pfn)> + '_ {
        self.cache.iter().map(|(&s, &p)| (s, p))
    }
    pub(super) fn reverse_entries(&self) -> impl Iterator<Item = (Pfn, u32)> + '_ {
        self.cached_slot.iter().map(|(&p, &s)| (p, s))
    }
}

impl Machine {
    /// `reclaim pid=N addr=A len=L`: reclaims every page that `pid` maps in the range (see the
    /// module header). The range follows madvise's rules: `addr` page aligned (EINVAL), `len`
    /// rounded up to pages, unmapped gaps skipped and reported as ENOMEM after the mapped parts
    /// were reclaimed. Returns how many pages were reclaimed (swapped out or dropped from the page
    /// cache); anonymous pages stay resident when swap is full.
    pub(super) fn reclaim(&mut self, args: &ReclaimArgs) -> Result<u64, Error> {
        let ReclaimArgs { pid, addr, len } = *args;
        let Some(range) = self.mapped_pages(pid, addr, len, "reclaim")? else {
            return Ok(0);
        };
        let mut reclaimed = 0;
        for &vaddr in &range.pages {
            // An earlier page of the list may have taken this one away (mapped twice by the
            // process, or a COW sibling), and its frame may since hold something else.
            let pte = self.procs[&pid].mm.pt.get(vpn(vaddr));
            if !pte.is_present() || pte.pfn() == ZERO_PFN {
                continue;
            }
            reclaimed += u64::from(self.reclaim_folio(pte.pfn(), ReclaimMode::Complete));
        }
        range.finish("reclaim", reclaimed, "reclaimed")
    }

    /// Reclaims one page the way `reclaim_pages` does: isolated from its LRU list (a page on
    /// none, still in a batch, cannot be isolated and is left alone), shrunk with references
    /// ignored, and put back through the lru_add batch unless it was freed. Whether it was
    /// reclaimed.
    pub(super) fn reclaim_folio(&mut self, pfn: Pfn, mode: ReclaimMode) -> bool {
        if self.frames.lru_del(pfn).is_none() {
            return false;
        }
        let reclaimed = self.shrink_folio(pfn, mode);
        if !self.frames[pfn].has(page_flags::FREE) {
            self.lru_note(pfn); // folio_putback_lru
        }
        reclaimed
    }

    /// `shrink_folio_list` for one isolated folio (see the module header): whether it was
    /// reclaimed.
    pub(super) fn shrink_folio(&mut self, pfn: Pfn, mode: ReclaimMode) -> bool {
        if pfn == ZERO_PFN {
            return false;
        }
        if self.frames[pfn].has(page_flags::UNEVICTABLE) {
            // !folio_evictable -> activate_locked: an mlocked page gives up its swap cache.
            if self.frames[pfn].has(page_flags::SWAPCACHE) {
                self.folio_free_swap(pfn);
            }
            return false;
        }
        let f = self.frames[pfn];
        if f.is_anon() && !f.has(page_flags::SWAPBACKED) {
            return self.discard_lazyfree(pfn);
        }
        if f.is_anon() {
            return self.swap_out(pfn, mode);
        }
        // A page-cache page: unmapped everywhere, the PTEs' dirty bits moving to the page.
        if !self.unmap_everywhere(pfn) {
            return false;
        }
        let dirty = self.frames[pfn].has(page_flags::DIRTY);
        let Mapping::File(file) = f.mapping else {
            unreachable!("a page-cache page has a file mapping")
        };
        if f.has(page_flags::SWAPBACKED) {
            if dirty {
                return self.shmem_writeout(pfn, file);
            }
        } else if dirty && mode == ReclaimMode::Pageout {
            // pageout() leaves dirty file pages to the flusher: PG_reclaim, activated.
            self.frames[pfn].flags |= page_flags::ACTIVE;
            return false;
        }
        self.delete_from_page_cache(pfn, file);
        true
    }

    /// `try_to_unmap_one` meeting a VM_LOCKED VMA: the page is mlocked there ("restore the
    /// mlock which got missed") and the walk stops, the mappings before it already gone.
    fn met_vm_locked(&mut self, pfn: Pfn, vma: VmaId) -> bool {
        if self.vmas[vma.0].flags & VM_LOCKED == 0 {
            return false;
        }
        self.mlock_vma_folio(pfn, vma);
        true
    }

    /// Unmaps a page-cache page from every process, moving dirty PTE bits to the page; `false`
    /// when a locked VMA stopped the walk.
    fn unmap_everywhere(&mut self, pfn: Pfn) -> bool {
        let walk = self.rmap_walk(pfn).expect("an allocated page");
        self.count_rmap_walk(walk.vmas_visited);
        for hit in walk.hits {
            if self.met_vm_locked(pfn, hit.vma) {
                return false;
            }
            let mm = &mut self.procs.get_mut(&hit.pid).expect("live").mm;
            let pte = mm.pt.get(vpn(hit.vaddr));
            mm.pt.set(vpn(hit.vaddr), Pte::NONE);
            let f = &mut self.frames[pfn];
            if pte.dirty() {
                f.flags |= page_flags::DIRTY;
            }
            f.mapcount -= 1;
            *mm.counters.rss_mut(mm_counter_index(f)) -= 1;
            self.frames.put(pfn);
        }
        true
    }

    /// Drops an unmapped page from its file's page cache and frees it.
    fn delete_from_page_cache(&mut self, pfn: Pfn, file: FileId) {
        let index = self.frames[pfn].index;
        self.files[file.0].cache.remove(&index);
        self.frames.put(pfn);
        debug_assert!(self.frames[pfn].has(page_flags::FREE));
    }

    /// `shmem_writeout`: the unmapped dirty shmem page moves to a swap slot recorded in its
    /// object's page cache. With swap full it stays, redirtied and activated.
    fn shmem_writeout(&mut self, pfn: Pfn, file: FileId) -> bool {
        let Some(slot) = self.swap.free.pop() else {
            self.frames[pfn].flags |= page_flags::ACTIVE;
            return false;
        };
        let index = self.frames[pfn].index;
        self.swap.counts[slot as usize] += 1;
        self.files[file.0].swapped.insert(index, slot);
        self.delete_from_page_cache(pfn, file);
        true
    }

    /// Reclaim of a lazyfree page (`try_to_unmap_one` on an anon page without PG_swapbacked):
    /// each clean mapping is dropped; a dirty PTE or page ends the walk, swap-backs the page and
    /// activates it. Whether the page was discarded whole.
    fn discard_lazyfree(&mut self, pfn: Pfn) -> bool {
        let walk = self.rmap_walk(pfn).expect("an allocated anon page");
        self.count_rmap_walk(walk.vmas_visited);
        for hit in walk.hits {
            if self.met_vm_locked(pfn, hit.vma) {
                return false;
            }
            let mm = &mut self.procs.get_mut(&hit.pid).expect("live").mm;
            let pte = mm.pt.get(vpn(hit.vaddr));
            let f = &mut self.frames[pfn];
            if pte.dirty() {
                f.flags |= page_flags::DIRTY;
            }
            if f.has(page_flags::DIRTY) {
                f.flags |= page_flags::SWAPBACKED | page_flags::ACTIVE;
                return false;
            }
            mm.pt.set(vpn(hit.vaddr), Pte::NONE);
            mm.counters.rss_anon -= 1;
            f.mapcount -= 1;
            self.frames.put(pfn);
        }
        debug_assert!(self.frames[pfn].has(page_flags::FREE));
        true
    }

    /// Swaps out a swap-backed anonymous page: a slot (the page's own if it is in the swap
    /// cache; a new one puts it there, `add_to_swap`), every mapping replaced by a swap entry
    /// through the rmap; then, for a complete reclaim, the frame is freed, while MADV_PAGEOUT
    /// leaves it in the swap cache (see [`ReclaimMode`]). With no free slot the page is
    /// activated instead (`activate_locked`); a locked VMA stops the walk, mlocking the page
    /// there, which then gives up its swap cache unless the mappings reached before hold swap
    /// entries for it (`activate_locked`: `folio_free_swap` of an mlocked page).
    fn swap_out(&mut self, pfn: Pfn, mode: ReclaimMode) -> bool {
        let slot = match self.swap.slot_of(pfn) {
            Some(s) => s,
            None => match self.swap.free.pop() {
                Some(s) => {
                    self.swap.cache.insert(s, pfn);
                    self.swap.cached_slot.insert(pfn, s);
                    let f = &mut self.frames[pfn];
                    // folio_alloc_swap, then folio_mark_dirty: the page must be written out
                    // even if a lazily freed PTE dirty bit was lost.
                    f.flags |= page_flags::SWAPCACHE | page_flags::DIRTY;
                    f.refcount += 1;
                    s
                }
                None => {
                    self.frames[pfn].flags |= page_flags::ACTIVE;
                    return false;
                }
            },
        };
        let exclusive = self.frames[pfn].has(page_flags::EXCLUSIVE);
        let walk = self.rmap_walk(pfn).expect("an allocated anon page");
        self.count_rmap_walk(walk.vmas_visited);
        for hit in walk.hits {
            if self.met_vm_locked(pfn, hit.vma) {
                // activate_locked: "Not a candidate for swapping, so reclaim swap space", as
                // the page is mlocked now.
                self.folio_free_swap(pfn);
                return false;
            }
            let mm = &mut self.procs.get_mut(&hit.pid).expect("live").mm;
            let old = mm.pt.get(vpn(hit.vaddr));
            mm.pt.set(
                vpn(hit.vaddr),
                Pte::swap(slot, exclusive).with_soft_dirty(old.soft_dirty()),
            );
            mm.counters.rss_anon -= 1;
            mm.counters.swap_ents += 1;
            self.swap.counts[slot as usize] += 1;
            let f = &mut self.frames[pfn];
            // try_to_unmap_one: the PTE's dirty bit goes to the page.
            if old.dirty() {
                f.flags |= page_flags::DIRTY;
            }
            f.mapcount -= 1;
            self.frames.put(pfn);
        }
        if mode == ReclaimMode::Pageout && self.frames[pfn].has(page_flags::DIRTY) {
            // pageout(): under writeback, clean, on the inactive list, no longer exclusive
            // (its swap entries say whether it was). A clean page (a swap-cache page its slot
            // still holds, not written since it was read) needs no write and is freed below
            // (`__remove_mapping`).
            let f = &mut self.frames[pfn];
            f.flags &= !(page_flags::EXCLUSIVE | page_flags::ACTIVE | page_flags::DIRTY);
            return true;
        }
        // Written out (or clean), the unmapped page leaves the swap cache and is freed; its
        // slot holds the data.
        self.swap.cache.remove(&slot);
        self.swap.cached_slot.remove(&pfn);
        self.frames[pfn].flags &= !page_flags::SWAPCACHE;
        self.frames.put(pfn);
        debug_assert!(self.frames[pfn].has(page_flags::FREE));
        true
    }

    /// Frames a fault on swap entry `pte` may allocate: one to read the page in unless the swap
    /// cache has it, and one more for the COW copy of a write that cannot map it writable.
    pub(super) fn swap_in_frames_needed(&self, pte: Pte, write: bool) -> u64 {
        let slot = pte.swap_slot();
        let cached = self.swap.cached(slot).is_some();
        let exclusive = pte.swp_exclusive() || (!cached && self.swap.count(slot) == 1);
        u64::from(!cached) + u64::from(write && !exclusive)
    }

    /// `do_swap_page` for the swap entry at `addr`: leaves a present PTE. A write to a page that
    /// is not certainly exclusive leaves it read-only for the caller's COW path.
    pub(super) fn do_swap_page(&mut self, pid: Pid, vma: VmaId, addr: u64, write: bool) {
        let pte = self.procs[&pid].mm.pt.get(vpn(addr));
        let slot = pte.swap_slot();
        let pfn = match self.swap.cached(slot) {
            Some(pfn) => pfn,
            None => {
                self.vm_events.pgmajfault += 1;
                self.swap_cache_add_new(slot)
                    .expect("frames were counted before the apply pass")
            }
        };
        // The fault's own reference, which becomes the new mapping's.
        self.frames[pfn].refcount += 1;
        // swap_free_nr: this PTE no longer refers to the slot (the swap cache still holds it).
        self.swap_free(slot);
        let (vflags, anon_vma, index) = {
            let v = &self.vmas[vma.0];
            let av = v.anon_vma.expect("a VMA with swap entries has an anon_vma");
            (v.flags, av, v.linear_index(addr))
        };
        // should_try_to_free_swap: the refcount is the cache's and this fault's when nothing
        // else maps the page.
        let try_free = self.swap.is_half_full()
            || vflags & VM_LOCKED != 0
            || self.is_mlocked(pfn)
            || (write && self.frames[pfn].refcount == 2);
        let freed = try_free && self.folio_free_swap(pfn);
        let exclusive = pte.swp_exclusive() || (freed && self.frames[pfn].refcount == 1);
        if self.frames[pfn].is_anon() {
            // folio_add_anon_rmap_ptes; a page new to the rmap (folio_add_new_anon_rmap) is not
            // mlocked here.
            self.mlock_vma_folio(pfn, vma);
        }
        let f = &mut self.frames[pfn];
        if !f.is_anon() {
            // __folio_set_anon: an exclusive page belongs to the VMA's own anon_vma, a shared
            // one to the root, which every process that may map it links to.
            let av = if exclusive {
                anon_vma
            } else {
                self.anon_vmas[anon_vma.0].root
            };
            f.flags |= page_flags::ANON;
            f.mapping = Mapping::Anon(av);
            f.index = index;
        }
        if exclusive {
            f.flags |= page_flags::EXCLUSIVE;
        }
        f.mapcount += 1;
        // The swap entry's soft-dirty bit comes back; a clean one keeps the page read-only
        // while tracking is armed (`pte_needs_soft_dirty_wp`).
        let armed = self.soft_dirty_armed(vflags) && !pte.soft_dirty();
        let writable = exclusive && vflags & VM_WRITE != 0 && !armed;
        let c = &mut self.procs.get_mut(&pid).expect("live").mm.counters;
        c.rss_anon += 1;
        c.swap_ents -= 1;
        let mut new = Pte::present(pfn, writable, false, true).with_soft_dirty(pte.soft_dirty());
        if writable && write {
            new = self.pte_mkdirty(new);
        }
        self.procs
            .get_mut(&pid)
            .expect("live")
            .mm
            .pt
            .set(vpn(addr), new);
    }

    /// Reads `slot` into a new frame in the swap cache (`swap_cache_alloc_folio`); the page
    /// becomes anonymous when a fault maps it (`folio_add_new_anon_rmap`). `None` when no frame
    /// is free.
    pub(super) fn swap_cache_add_new(&mut self, slot: u32) -> Option<Pfn> {
        let pfn = self.frames.alloc(
            page_flags::SWAPBACKED | page_flags::SWAPCACHE,
            Mapping::None,
            0,
        )?;
        self.lru_note(pfn);
        self.vm_events.pswpin += 1;
        self.swap.cache.insert(slot, pfn);
        self.swap.cached_slot.insert(pfn, slot);
        Some(pfn)
    }

    /// `__swap_cache_replace_folio`: the swap cache's page for `slot` is `new` now (migration).
    pub(super) fn swap_cache_replace(&mut self, slot: u32, old: Pfn, new: Pfn) {
        self.swap.cache.insert(slot, new);
        self.swap.cached_slot.remove(&old);
        self.swap.cached_slot.insert(new, slot);
    }

    /// `swap_free`: one swap entry less for `slot`; the slot is freed when nothing refers to it
    /// and the swap cache does not hold it.
    pub(super) fn swap_free(&mut self, slot: u32) {
        let c = &mut self.swap.counts[slot as usize];
        *c -= 1;
        if *c == 0 && !self.swap.cache.contains_key(&slot) {
            self.swap.free.push(slot);
        }
    }

    /// `folio_free_swap`: drops a swap-cache page's slot when no swap entry refers to it any
    /// more; the page becomes PG_dirty (its data now lives only in memory). Whether it did.
    pub(super) fn folio_free_swap(&mut self, pfn: Pfn) -> bool {
        let Some(slot) = self.swap.slot_of(pfn) else {
            return false;
        };
        if self.swap.count(slot) != 0 {
            return false;
        }
        self.frames[pfn].flags |= page_flags::DIRTY;
        self.delete_from_swap_cache(pfn, slot);
        true
    }

    /// Removes a page from the swap cache and frees its now unreferenced slot.
    fn delete_from_swap_cache(&mut self, pfn: Pfn, slot: u32) {
        self.swap.cache.remove(&slot);
        self.swap.cached_slot.remove(&pfn);
        self.frames[pfn].flags &= !page_flags::SWAPCACHE;
        self.frames.put(pfn);
        debug_assert_eq!(self.swap.count(slot), 0);
        self.swap.free.push(slot);
    }

    /// `free_swap_cache`, after a page lost a mapping: an unmapped swap-cache page whose slot
    /// no swap entry refers to leaves the cache (and is freed with its last reference).
    pub(super) fn free_swap_cache(&mut self, pfn: Pfn) {
        if self.frames[pfn].has(page_flags::SWAPCACHE) && self.frames[pfn].mapcount == 0 {
            self.folio_free_swap(pfn);
        }
    }

    /// `free_swap_and_cache`: drops one swap entry's reference to `slot` (zap, MADV_FREE); when
    /// none is left, the swap cache lets the slot's page go if it is unmapped or swap is half
    /// full (`__try_to_reclaim_swap`).
    pub(super) fn swap_entry_put(&mut self, slot: u32) {
        self.swap_free(slot);
        if self.swap.count(slot) != 0 {
            return;
        }
        if let Some(pfn) = self.swap.cached(slot) {
            if self.frames[pfn].mapcount == 0 || self.swap.is_half_full() {
                self.frames[pfn].flags |= page_flags::DIRTY;
                self.delete_from_swap_cache(pfn, slot);
            }
        }
    }

    /// `swap_duplicate`: one more swap PTE refers to `slot` (fork).
    pub(super) fn swap_entry_dup(&mut self, slot: u32) {
        self.swap.counts[slot as usize] += 1;
    }
}
