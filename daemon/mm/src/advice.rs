//! The hints that manage memory that is already mapped (mm/madvise.c, mm/swap.c,
//! fs/proc/task_mmu.c): MADV_FREE, MADV_COLD, MADV_PAGEOUT, MADV_WILLNEED,
//! MADV_POPULATE_READ/WRITE, MADV_DONTNEED(_LOCKED), writes to `/proc/PID/clear_refs`, and the
//! reference state they act on (`folio_mark_accessed`).
//!
//! The kernel queues LRU changes in per-CPU batches; this machine settles every batch at the end
//! of each call, as if `lru_add_drain_all()` had run after it (the kernel oracle cases are
//! recorded the same way). So MADV_FREE's pages are lazyfree, and MADV_COLD's inactive, as soon
//! as the call returns.
//!
//! A page's reference state is the PTE's young bit (per mapping) and PG_referenced (per page);
//! smaps counts a page as `Referenced` when either is set. Its LRU state is PG_active, and
//! PG_unevictable (mlocked).

use super::frames::{page_flags, ZERO_PFN};
use super::mlock::Gup;
use super::pagetable::Pte;
use super::swap::ReclaimMode;
use super::types::{vpn, Pfn, Pid, VmaId};
use super::vma::*;
use super::Machine;
use anonmap_abi::{Advice, ClearRefsArgs, Error};

impl Machine {
    /// `folio_mark_accessed` (the classic LRU, MGLRU being off): an unreferenced page becomes
    /// referenced; a referenced inactive evictable one is activated, losing PG_referenced.
    pub(super) fn folio_mark_accessed(&mut self, pfn: Pfn) {
        if pfn == ZERO_PFN {
            return;
        }
        let f = self.frames[pfn];
        if !f.has(page_flags::REFERENCED) {
            self.frames[pfn].flags |= page_flags::REFERENCED;
        } else if !f.has(page_flags::ACTIVE) && !f.has(page_flags::UNEVICTABLE) {
            let f = &mut self.frames[pfn];
            f.flags |= page_flags::ACTIVE;
            f.flags &= !page_flags::REFERENCED;
            self.lru_note(pfn); // folio_activate, or PG_active while still in lru_add
        }
    }

    /// Whether a shared writable VMA maps its pages read-only to notice the first write
    /// (`vma_wants_writenotify`): a regular file's filesystem writes back (`page_mkwrite`); a
    /// shmem object does not, so it is notified only while soft-dirty tracking is armed on the
    /// VMA (VM_SOFTDIRTY clear).
    pub(super) fn wants_writenotify(&self, vma: VmaId) -> bool {
        let v = &self.vmas[vma.0];
        let regular = v
            .file
            .is_some_and(|f| self.files[f.0].kind == super::files::FileKind::Regular);
        regular || self.soft_dirty_armed(v.flags)
    }

    /// `vma_soft_dirty_enabled`: soft-dirty tracking is built in and the VMA has been cleared
    /// of VM_SOFTDIRTY, so page-level soft-dirty bits are what tells.
    pub(super) fn soft_dirty_armed(&self, vma_flags: u64) -> bool {
        self.config.soft_dirty && vma_flags & VM_SOFTDIRTY == 0
    }

    /// `pte_mkdirty`: the dirty bit, and on a soft-dirty machine the soft-dirty bit too (x86
    /// sets both; a CPU write through a writable PTE sets only the dirty bit).
    pub(super) fn pte_mkdirty(&self, pte: Pte) -> Pte {
        let pte = pte.with_dirty(true);
        if self.config.soft_dirty {
            pte.with_soft_dirty(true)
        } else {
            pte
        }
    }

    /// VM_SOFTDIRTY on a new or expanded VMA (`__mmap_complete`, `do_brk_flags`), on a
    /// soft-dirty machine.
    pub(super) fn mark_vma_soft_dirty(&mut self, vma: VmaId) {
        if self.config.soft_dirty {
            self.vmas[vma.0].flags |= VM_SOFTDIRTY;
        }
    }

    /// The advices of this module, over `[start, end)` (already validated and non-empty).
    pub(super) fn madvise_manage(
        &mut self,
        pid: Pid,
        start: u64,
        end: u64,
        advice: Advice,
        what: &str,
    ) -> Result<(), Error> {
        match advice {
            Advice::PopulateRead => return self.madvise_populate(pid, start, end, Gup::Read),
            Advice::PopulateWrite => return self.madvise_populate(pid, start, end, Gup::Write),
            _ => {}
        }
        self.madvise_walk(pid, start, end, what, |m, vma, prev, s, e| {
            *prev = Some(vma);
            let flags = m.vmas[vma.0].flags;
            let locked = || {
                anonmap_abi::err!(
                    EINVAL,
                    "madvise {}: the VMA at {s:#x} is locked",
                    advice.name()
                )
            };
            match advice {
                Advice::DontNeed | Advice::DontNeedLocked => {
                    if advice == Advice::DontNeed && flags & VM_LOCKED != 0 {
                        return Err(locked());
                    }
                    m.madvise_dontneed(pid, vma, s, e);
                }
                Advice::Free => {
                    if flags & VM_LOCKED != 0 {
                        return Err(locked());
                    }
                    if !m.vmas[vma.0].is_anonymous() {
                        return Err(anonmap_abi::err!(
                            EINVAL,
                            "madvise free: the VMA at {s:#x} is not private anonymous memory"
                        ));
                    }
                    m.madvise_free(pid, s, e);
                }
                Advice::Cold | Advice::PageOut => {
                    if flags & VM_LOCKED != 0 {
                        return Err(locked());
                    }
                    m.madvise_cold_or_pageout(pid, s, e, advice == Advice::PageOut);
                }
                Advice::WillNeed => m.madvise_willneed(pid, vma, s, e),
                _ => unreachable!("not an advice of this module"),
            }
            Ok(())
        })
    }

    /// MADV_DONTNEED over one VMA's piece: the PTEs zapped, and the PTE tables it empties
    /// freed (CONFIG_PT_RECLAIM).
    fn madvise_dontneed(&mut self, pid: Pid, vma: VmaId, start: u64, end: u64) {
        // zap_page_range_single: update_hiwater_rss before RSS goes down.
        let mm = &mut self.procs.get_mut(&pid).expect("live").mm;
        mm.counters.update_hiwater_rss();
        self.zap_range(vma, start, end);
        let pt = &mut self.procs.get_mut(&pid).expect("live").mm.pt;
        pt.reclaim_empty_ptes(vpn(start), vpn(end));
    }

    /// `madvise_free_pte_range`: swap entries are dropped (the next access reads zeroes); each
    /// present page loses this mapping's young and dirty bits and becomes lazyfree, except a
    /// PG_dirty or swap-cache page that is mapped elsewhere (or whose swap is still referenced),
    /// which is left alone.
    fn madvise_free(&mut self, pid: Pid, start: u64, end: u64) {
        let mm = &mut self.procs.get_mut(&pid).expect("live").mm;
        mm.counters.update_hiwater_rss();
        let mut entries = Vec::new();
        mm.pt
            .for_each(vpn(start), vpn(end), |v, pte| entries.push((v, pte)));
        for (page, pte) in entries {
            if pte.is_swap() {
                let mm = &mut self.procs.get_mut(&pid).expect("live").mm;
                mm.pt.set(page, Pte::NONE);
                mm.counters.swap_ents -= 1;
                self.swap_entry_put(pte.swap_slot());
                continue;
            }
            let pfn = pte.pfn();
            if pfn == ZERO_PFN {
                continue;
            }
            let f = self.frames[pfn];
            if f.has(page_flags::SWAPCACHE) || f.has(page_flags::DIRTY) {
                if f.mapcount != 1 {
                    continue;
                }
                if f.has(page_flags::SWAPCACHE) && !self.folio_free_swap(pfn) {
                    continue;
                }
                self.frames[pfn].flags &= !page_flags::DIRTY;
            }
            let mm = &mut self.procs.get_mut(&pid).expect("live").mm;
            mm.pt.set(page, pte.with_young(false).with_dirty(false));
            // folio_mark_lazyfree, then lru_lazyfree at the drain.
            let f = &self.frames[pfn];
            if f.is_anon()
                && f.has(page_flags::SWAPBACKED)
                && !f.has(page_flags::SWAPCACHE)
                && !f.has(page_flags::UNEVICTABLE)
            {
                self.frames[pfn].flags &=
                    !(page_flags::ACTIVE | page_flags::REFERENCED | page_flags::SWAPBACKED);
                self.lru_note(pfn);
            }
        }
    }

    /// `madvise_cold_or_pageout_pte_range`: acts only on pages this mapping maps alone. COLD
    /// clears the PTE's young bit and PG_referenced and deactivates the page; PAGEOUT clears
    /// PG_referenced and reclaims the page at once (`reclaim_pages`, references ignored).
    fn madvise_cold_or_pageout(&mut self, pid: Pid, start: u64, end: u64, pageout: bool) {
        let mut entries = Vec::new();
        self.procs[&pid]
            .mm
            .pt
            .for_each(vpn(start), vpn(end), |v, pte| entries.push((v, pte)));
        let mut isolated = Vec::new();
        for (page, pte) in entries {
            if !pte.is_present() || pte.pfn() == ZERO_PFN {
                continue;
            }
            let pfn = pte.pfn();
            if self.frames[pfn].mapcount != 1 {
                continue;
            }
            if !pageout && pte.young() {
                let mm = &mut self.procs.get_mut(&pid).expect("live").mm;
                mm.pt.set(page, pte.with_young(false));
            }
            self.frames[pfn].flags &= !page_flags::REFERENCED;
            if pageout {
                isolated.push(pfn);
            } else if !self.frames[pfn].has(page_flags::UNEVICTABLE) {
                // folio_deactivate -> lru_deactivate.
                self.frames[pfn].flags &= !page_flags::ACTIVE;
                self.lru_note(pfn);
            }
        }
        for pfn in isolated {
            if !self.frames[pfn].has(page_flags::FREE) && self.frames[pfn].mapcount != 0 {
                self.reclaim_folio(pfn, ReclaimMode::Pageout);
            }
        }
    }

    /// MADV_WILLNEED on anonymous memory: the swapped pages of the range are read into the swap
    /// cache (`swapin_walk_pmd_entry`); the page tables are unchanged. File and shmem ranges
    /// get page-cache readahead, which this machine has no use for.
    fn madvise_willneed(&mut self, pid: Pid, vma: VmaId, start: u64, end: u64) {
        if !self.vmas[vma.0].is_anonymous() {
            return;
        }
        let mut slots = Vec::new();
        self.procs[&pid]
            .mm
            .pt
            .for_each(vpn(start), vpn(end), |_, pte| {
                if pte.is_swap() {
                    slots.push(pte.swap_slot());
                }
            });
        for slot in slots {
            if !self.swap_read_into_cache(slot) {
                break; // out of frames: read_swap_cache_async gives up
            }
        }
    }

    /// `madvise_populate`: GUP over the range, VMA by VMA. A hole is ENOMEM and a VMA without
    /// the access EINVAL, both at once; a fault error stops there (EFAULT, ENOMEM); pages before
    /// the failure stay populated.
    fn madvise_populate(&mut self, pid: Pid, start: u64, end: u64, gup: Gup) -> Result<(), Error> {
        let what = match gup {
            Gup::Read => "madvise populate_read",
            Gup::Write => "madvise populate_write",
        };
        let mut addr = start;
        while addr < end {
            let vma = self
                .vma_at(pid, addr)
                .ok_or_else(|| anonmap_abi::err!(ENOMEM, "{what}: {addr:#x} is not mapped"))?;
            let flags = self.vmas[vma.0].flags;
            let (needed, access) = match gup {
                Gup::Read => (VM_READ, "read"),
                Gup::Write => (VM_WRITE, "write"),
            };
            if flags & needed == 0 {
                return Err(anonmap_abi::err!(
                    EINVAL,
                    "{what}: the VMA at {addr:#x} does not allow {access}"
                ));
            }
            let to = self.vmas[vma.0].end.min(end);
            self.get_user_pages(vma, addr, to, gup)?;
            addr = to;
        }
        Ok(())
    }

    /// `clear_refs pid=N value=V`: what writing V to `/proc/N/clear_refs` does
    /// (`clear_refs_write`). 1, 2 and 3 clear the young bit of every present PTE and
    /// PG_referenced of its page, in all VMAs, in VMAs without a file, or in VMAs with one
    /// (shmem included); 4 clears the soft-dirty bits (nothing on a kernel without soft-dirty);
    /// 5 resets the peak RSS. Anything else is EINVAL.
    pub(super) fn clear_refs(&mut self, args: &ClearRefsArgs) -> Result<(), Error> {
        let ClearRefsArgs { pid, value } = *args;
        self.proc_ref(pid)?;
        match value {
            1..=3 => {}
            4 => {
                self.clear_soft_dirty(pid);
                return Ok(());
            }
            5 => {
                let c = &mut self.procs.get_mut(&pid).expect("checked").mm.counters;
                c.hiwater_rss = c.rss();
                return Ok(());
            }
            _ => {
                return Err(anonmap_abi::err!(
                    EINVAL,
                    "clear_refs: {value} is not one of 1 (all), 2 (anon), 3 (file), 4 (soft-dirty), 5 (peak RSS)"
                ))
            }
        }
        let vmas: Vec<VmaId> = self.procs[&pid].mm.vmas.values().copied().collect();
        let mut touched: Vec<Pfn> = Vec::new();
        for id in vmas {
            let v = &self.vmas[id.0];
            let has_file = v.file.is_some();
            if (value == 2 && has_file) || (value == 3 && !has_file) {
                continue;
            }
            let (s, e) = (v.start, v.end);
            let pt = &mut self.procs.get_mut(&pid).expect("checked").mm.pt;
            pt.update(vpn(s), vpn(e), |_, pte| {
                if pte.is_present() && pte.pfn() != ZERO_PFN {
                    *pte = pte.with_young(false);
                    touched.push(pte.pfn());
                }
            });
        }
        for pfn in touched {
            self.frames[pfn].flags &= !page_flags::REFERENCED;
        }
        Ok(())
    }

    /// clear_refs 4 (`clear_soft_dirty`): with soft-dirty tracking, every VMA loses
    /// VM_SOFTDIRTY and every present or swapped PTE its soft-dirty bit, present ones also their
    /// write permission, so that the next write faults and marks the page soft-dirty again.
    /// Without it, nothing.
    fn clear_soft_dirty(&mut self, pid: Pid) {
        if !self.config.soft_dirty {
            return;
        }
        let vmas: Vec<VmaId> = self.procs[&pid].mm.vmas.values().copied().collect();
        for id in vmas {
            self.vmas[id.0].flags &= !VM_SOFTDIRTY;
            let (s, e) = (self.vmas[id.0].start, self.vmas[id.0].end);
            let pt = &mut self.procs.get_mut(&pid).expect("checked").mm.pt;
            pt.update(vpn(s), vpn(e), |_, pte| {
                if pte.is_present() {
                    *pte = pte.with_soft_dirty(false).with_write(false);
                } else if pte.is_swap() {
                    *pte = pte.with_soft_dirty(false);
                }
            });
        }
    }
}

impl Machine {
    /// `read_swap_cache_async` for one slot: its page is read into a new swap-cache frame
    /// unless the cache has it. `false` when no frame is free.
    fn swap_read_into_cache(&mut self, slot: u32) -> bool {
        if self.swap.cached(slot).is_some() {
            return true;
        }
        self.swap_cache_add_new(slot).is_some()
    }
}
