//! Swap: one swap device, the swap cache, reclaim through the reverse map, and swap-in
//! (mm/swapfile.c, mm/swap_state.c, mm/vmscan.c, `do_swap_page` in mm/memory.c).
//!
//! `reclaim pid=N addr=A len=L` reclaims the pages that process N maps in the range the way
//! vmscan's `shrink_folio_list` reclaims a folio, so that every process mapping the page loses it
//! at once (`try_to_unmap` walks the rmap):
//! - an anonymous page gets a swap slot; every PTE that maps it, in every process, becomes a swap
//!   entry for that slot (marked exclusive if the page was PageAnonExclusive), and the frame is
//!   freed;
//! - a regular file's page-cache page is unmapped everywhere and dropped from the cache (written
//!   back first if dirty); the next access reads it in again;
//! - shmem pages stay resident (shmem swap is not modelled), and so does the zero page.
//!
//! A fault on a swap entry (`do_swap_page`) finds the page in the swap cache or reads it into a
//! new frame that it adds to the cache, so processes that still hold swap entries for the slot
//! later map the same frame: pages shared before reclaim are shared after swap-in. The page is
//! mapped writable only if it is certainly exclusive (the swap entry was exclusive, or nothing
//! else refers to the frame); a write otherwise copies it, as after fork.
//!
//! One simplification, documented where it shows: the kernel keeps a swapped-in page in the
//! swap cache (and its slot allocated) until reclaim or memory pressure frees it; here the page
//! leaves the swap cache, and the slot is freed, as soon as no swap entry refers to the slot (the
//! kernel does the same when swap is full, `vm_swap_full()`). Only meminfo's `SwapCached` and
//! `SwapFree` can tell the difference. Slots are handed out like frames: a fresh device from slot 1
//! up, then the most recently freed slot first.

use std::collections::BTreeMap;

use super::frames::{page_flags, Mapping, ZERO_PFN};
use super::pagetable::Pte;
use super::process::mm_counter_index;
use super::types::{vpn, Pfn, Pid, VmaId, PAGE_SIZE};
use super::vma::VM_WRITE;
use super::Machine;
use anonmap_abi::{Error, ReclaimArgs};

/// The swap device and the swap cache.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Swap {
    /// `swap_map`: per slot, how many swap PTEs refer to it. Slot 0 is the header page and is
    /// never used. Invariant: equals the number of swap PTEs for the slot over all page tables;
    /// a slot is free (on `free`) exactly when its count is 0.
    counts: Vec<u32>,
    /// Free slots; the last element is handed out next (LIFO, as frames are: deterministic and
    /// O(1); a fresh device hands out slots 1, 2, 3, ...).
    /// Invariant: exactly the slots 1.. whose count is 0, each once.
    free: Vec<u32>,
    /// The swap cache: slot -> the frame holding the slot's data. Invariant: the slot's count is
    /// non-zero, the frame is anonymous with the SWAPCACHE flag, and the cache holds one reference
    /// to it.
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
        self.proc_ref(pid)?;
        if addr & (PAGE_SIZE - 1) != 0 {
            return Err(anonmap_abi::err!(
                EINVAL,
                "reclaim: addr {addr:#x} is not page aligned"
            ));
        }
        let end = len
            .checked_add(PAGE_SIZE - 1)
            .map(|l| l & !(PAGE_SIZE - 1))
            .and_then(|l| addr.checked_add(l))
            .ok_or_else(|| {
                anonmap_abi::err!(EINVAL, "reclaim: [{addr:#x}, +{len:#x}) overflows")
            })?;
        if end == addr {
            return Ok(0);
        }
        // The pages to reclaim, in address order, each once; and whether the range has a hole.
        let mut pfns: Vec<Pfn> = Vec::new();
        let mut hole = false;
        let mut cursor = addr;
        for id in self.vmas_in(pid, addr, end) {
            let v = &self.vmas[id.0];
            hole |= v.start > cursor;
            let (from, to) = (v.start.max(addr), v.end.min(end));
            cursor = v.end;
            self.procs[&pid]
                .mm
                .pt
                .for_each(vpn(from), vpn(to), |_, pte| {
                    if pte.is_present() && pte.pfn() != ZERO_PFN {
                        pfns.push(pte.pfn());
                    }
                });
        }
        hole |= cursor < end;
        let mut reclaimed = 0;
        for pfn in pfns {
            // An earlier page of the list may have been this one (mapped twice by the process).
            if self.frames[pfn].has(page_flags::FREE) || self.frames[pfn].mapcount == 0 {
                continue;
            }
            let f = &self.frames[pfn];
            let done = if f.is_anon() {
                self.swap_out(pfn)
            } else if f.has(page_flags::SWAPBACKED) {
                false
            } else {
                self.drop_page_cache_page(pfn);
                true
            };
            reclaimed += u64::from(done);
        }
        if hole {
            return Err(anonmap_abi::err!(
                ENOMEM,
                "reclaim: [{addr:#x}, {end:#x}) has unmapped gaps ({reclaimed} pages of its mapped parts were reclaimed)"
            ));
        }
        Ok(reclaimed)
    }

    /// Swaps out an anonymous page: a slot (the page's own if it is in the swap cache), every
    /// mapping replaced by a swap entry through the rmap, the frame freed. `false` when swap is
    /// full.
    fn swap_out(&mut self, pfn: Pfn) -> bool {
        let slot = match self.swap.slot_of(pfn) {
            Some(s) => s,
            None => match self.swap.free.pop() {
                Some(s) => s,
                None => return false,
            },
        };
        let exclusive = self.frames[pfn].has(page_flags::EXCLUSIVE);
        let walk = self.rmap_walk(pfn).expect("an allocated anon page");
        for hit in walk.hits {
            let mm = &mut self.procs.get_mut(&hit.pid).expect("live").mm;
            mm.pt.set(vpn(hit.vaddr), Pte::swap(slot, exclusive));
            mm.counters.rss_anon -= 1;
            mm.counters.swap_ents += 1;
            self.swap.counts[slot as usize] += 1;
            self.frames[pfn].mapcount -= 1;
            self.frames.put(pfn);
        }
        if self.swap.cached_slot.remove(&pfn).is_some() {
            self.swap.cache.remove(&slot);
            self.frames[pfn].flags &= !page_flags::SWAPCACHE;
            self.frames.put(pfn);
        }
        debug_assert!(self.frames[pfn].has(page_flags::FREE));
        true
    }

    /// Drops a regular file's page-cache page: unmapped from every process (its dirty bits
    /// written back), removed from the cache, freed.
    fn drop_page_cache_page(&mut self, pfn: Pfn) {
        let walk = self.rmap_walk(pfn).expect("an allocated page-cache page");
        for hit in walk.hits {
            let mm = &mut self.procs.get_mut(&hit.pid).expect("live").mm;
            mm.pt.set(vpn(hit.vaddr), Pte::NONE);
            let f = &mut self.frames[pfn];
            f.mapcount -= 1;
            *mm.counters.rss_mut(mm_counter_index(f)) -= 1;
            self.frames.put(pfn);
        }
        let f = self.frames[pfn];
        let Mapping::File(file) = f.mapping else {
            unreachable!("a page-cache page has a file mapping")
        };
        self.files[file.0].cache.remove(&f.index);
        self.frames.put(pfn);
        debug_assert!(self.frames[pfn].has(page_flags::FREE));
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
                // Read the slot into a new frame in the swap cache; it becomes anonymous when
                // mapped below (`folio_add_new_anon_rmap`).
                let pfn = self
                    .frames
                    .alloc(
                        page_flags::SWAPBACKED | page_flags::SWAPCACHE,
                        Mapping::None,
                        0,
                    )
                    .expect("frames were counted before the apply pass");
                self.swap.cache.insert(slot, pfn);
                self.swap.cached_slot.insert(pfn, slot);
                pfn
            }
        };
        // The fault's own reference, which becomes the new mapping's.
        self.frames[pfn].refcount += 1;
        // swap_free_nr: this PTE no longer refers to the slot; the last reference also frees
        // the slot and the swap-cache entry.
        self.swap_entry_put(slot);
        let others = self.frames[pfn].refcount - 1;
        let exclusive = pte.swp_exclusive() || others == 0;
        let (vflags, anon_vma, index) = {
            let v = &self.vmas[vma.0];
            let av = v.anon_vma.expect("a VMA with swap entries has an anon_vma");
            (v.flags, av, v.linear_index(addr))
        };
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
        let writable = exclusive && vflags & VM_WRITE != 0;
        let c = &mut self.procs.get_mut(&pid).expect("live").mm.counters;
        c.rss_anon += 1;
        c.swap_ents -= 1;
        self.procs.get_mut(&pid).expect("live").mm.pt.set(
            vpn(addr),
            Pte::present(pfn, writable, writable && write, true),
        );
    }

    /// Drops one swap PTE's reference to `slot` (`swap_free` / `free_swap_and_cache`); at zero
    /// the slot is freed and its swap-cache page released.
    pub(super) fn swap_entry_put(&mut self, slot: u32) {
        let c = &mut self.swap.counts[slot as usize];
        *c -= 1;
        if *c != 0 {
            return;
        }
        if let Some(pfn) = self.swap.cache.remove(&slot) {
            self.swap.cached_slot.remove(&pfn);
            self.frames[pfn].flags &= !page_flags::SWAPCACHE;
            self.frames.put(pfn);
        }
        self.swap.free.push(slot);
    }

    /// `swap_duplicate`: one more swap PTE refers to `slot` (fork).
    pub(super) fn swap_entry_dup(&mut self, slot: u32) {
        self.swap.counts[slot as usize] += 1;
    }
}
