//! Page faults through `touch` (mm/memory.c): anonymous faults (zero page on read, a new
//! page on write), file and shmem faults with fault-around, COW with in-place reuse,
//! stack growth, swap-in (see `swap`), and PTE zapping for munmap, MADV_DONTNEED and exit.
//!
//! `touch` validates the whole range first (every page mapped, access allowed, inside the
//! file), so a touch that fails validation changes nothing. Each fault then makes room for the
//! frames it takes (`make_room_for_fault`): reclaim and the OOM killer under memory pressure,
//! or, on a machine without it, the check that enough frames are free for the whole range,
//! done with the validation.

use super::files::FileKind;
use super::frames::{page_flags, Mapping, ZERO_PFN};
use super::oom::OomOutcome;
use super::pagetable::Pte;
use super::process::mm_counter_index;
use super::types::{
    vpn, FileId, Pfn, Pid, VmaId, MMAP_MIN_ADDR, PAGE_SHIFT, PAGE_SIZE, STACK_GUARD_GAP,
};
use super::vma::{VM_GROWSDOWN, VM_LOCKED, VM_SHARED, VM_WRITE};
use super::Machine;
use anonmap_abi::Error;
use anonmap_abi::{Access, TouchArgs};

/// RLIMIT_STACK default: 8 MiB.
const STACK_RLIMIT: u64 = 8 << 20;
/// fault_around_bytes default: 64 KiB (16 pages).
const FAULT_AROUND_PAGES: u64 = 16;
/// Pages covered by one PTE table.
const PTRS_PER_PTE: u64 = 512;

impl Machine {
    /// `touch`.
    pub(super) fn touch(&mut self, args: &TouchArgs) -> Result<(), Error> {
        let TouchArgs {
            pid,
            addr,
            len,
            access,
        } = *args;
        self.touch_range(pid, addr, len, access)
    }

    /// The process reads or writes every page of `[addr, addr+len)`.
    pub(super) fn touch_range(
        &mut self,
        pid: Pid,
        addr: u64,
        len: u64,
        access: Access,
    ) -> Result<(), Error> {
        self.proc_ref(pid)?;
        if len == 0 {
            return Ok(());
        }
        let write = access == Access::Write;
        let start = addr & !(PAGE_SIZE - 1);
        let end = addr
            .checked_add(len)
            .and_then(super::types::page_align_up)
            .filter(|&e| e <= super::types::TASK_SIZE)
            .ok_or_else(|| {
                anonmap_abi::err!(EFAULT, "touch: [{addr:#x}, +{len:#x}) is beyond TASK_SIZE")
            })?;
        // Validation pass.
        let mut grow_to: Option<(VmaId, u64)> = None;
        let mut need_frames = 0u64;
        let mut page = start;
        while page < end {
            let vma = match self.vma_at(pid, page) {
                Some(v) => v,
                None => {
                    let g = self.stack_growth_target(pid, page).ok_or_else(|| {
                        anonmap_abi::err!(EFAULT, "touch: {page:#x} is not mapped (SIGSEGV)")
                    })?;
                    if grow_to.is_none() {
                        grow_to = Some((g, page));
                    }
                    g
                }
            };
            let v = &self.vmas[vma.0];
            let (allowed, what) = if write {
                (v.flags & VM_WRITE != 0, "write")
            } else {
                (v.is_accessible(), "access")
            };
            if !allowed {
                return Err(anonmap_abi::err!(
                    EFAULT,
                    "touch: the VMA at {page:#x} does not allow {what} (SIGSEGV)"
                ));
            }
            let vma_end = v.end.min(end);
            if let Some(f) = v.file {
                let first_index = v.linear_index(page.max(v.start));
                let last_index = v.linear_index(vma_end - PAGE_SIZE);
                if last_index >= self.files[f.0].pages() {
                    return Err(anonmap_abi::err!(
                        EFAULT,
                        "touch: [{page:#x}, {vma_end:#x}) is beyond the end of {} (SIGBUS)",
                        self.files[f.0].path
                    ));
                }
                let _ = first_index;
            }
            need_frames += self.frames_needed(pid, vma, page.max(v.start), vma_end, write);
            page = vma_end;
        }
        if !self.config.auto_reclaim && need_frames > self.frames.free_count() {
            return Err(anonmap_abi::err!(
                ENOMEM,
                "touch: needs up to {need_frames} page frames, {} free (out of simulated RAM)",
                self.frames.free_count()
            ));
        }
        // Apply pass.
        if let Some((g, low)) = grow_to {
            self.expand_stack(g, low);
        }
        let mut page = start;
        while page < end {
            let vma = self.vma_at(pid, page).expect("validated");
            self.make_room_for_fault(pid, vma, page, write)?;
            self.handle_fault(pid, vma, page, write);
            page += PAGE_SIZE;
        }
        Ok(())
    }

    /// Makes sure the frames the fault at `addr` takes can be allocated: with memory pressure
    /// on (`MachineConfig::auto_reclaim`), through the page allocator's reclaim (kswapd woken,
    /// direct reclaim below the min watermark) and, when reclaim cannot free enough, the OOM
    /// killer, retrying after each kill of another process; off, ENOMEM when no frame is free.
    fn make_room_for_fault(
        &mut self,
        pid: Pid,
        vma: VmaId,
        addr: u64,
        write: bool,
    ) -> Result<(), Error> {
        loop {
            // Reclaim may have changed the PTE (a swapped-out page needs a frame again).
            let need = self.frames_needed(pid, vma, addr, addr + PAGE_SIZE, write);
            if !self.config.auto_reclaim {
                if need > self.frames.free_count() {
                    return Err(anonmap_abi::err!(
                        ENOMEM,
                        "fault at {addr:#x}: no free page frame (out of simulated RAM)"
                    ));
                }
                return Ok(());
            }
            if self.alloc_pages_reclaim(need) {
                return Ok(());
            }
            match self.out_of_memory(pid) {
                OomOutcome::KilledOther => continue,
                OomOutcome::KilledSelf => return Err(Machine::killed_by_oom(pid)),
                OomOutcome::NoVictim => {
                    return Err(anonmap_abi::err!(
                        ENOMEM,
                        "fault at {addr:#x}: out of memory and no killable process (the \
                         kernel would panic here)"
                    ))
                }
            }
        }
    }

    /// The grows-down VMA that a fault at `addr` may extend (`expand_downwards` rules), if any.
    fn stack_growth_target(&self, pid: Pid, addr: u64) -> Option<VmaId> {
        let g = self.find_vma(pid, addr)?;
        let v = &self.vmas[g.0];
        if v.flags & VM_GROWSDOWN == 0 || addr < MMAP_MIN_ADDR {
            return None;
        }
        let addr = addr & !(PAGE_SIZE - 1);
        if let Some(p) = self.prev_vma(pid, v.start) {
            let p = &self.vmas[p.0];
            if p.flags & VM_GROWSDOWN == 0
                && p.is_accessible()
                && addr - p.end.min(addr) < STACK_GUARD_GAP
            {
                return None;
            }
        }
        let grow = (v.start - addr) >> PAGE_SHIFT;
        (v.end - addr <= STACK_RLIMIT && grow <= v.pgoff).then_some(g)
    }

    /// `expand_downwards`: moves the stack VMA's start down to `addr`.
    fn expand_stack(&mut self, g: VmaId, addr: u64) {
        self.anon_vma_prepare(g);
        let (start, end, pgoff, flags, pid) = {
            let v = &self.vmas[g.0];
            (v.start, v.end, v.pgoff, v.flags, v.pid)
        };
        let grow = (start - addr) >> PAGE_SHIFT;
        let c = &mut self.procs.get_mut(&pid).expect("live").mm.counters;
        c.stat_account(flags, grow as i64);
        if flags & VM_LOCKED != 0 {
            c.locked_vm += grow; // acct_stack_growth
        }
        let _ = end;
        self.vma_set_range(g, addr, end, pgoff - grow);
    }

    /// An upper bound on the frames faulting `[start, end)` of `vma` will allocate.
    fn frames_needed(&self, pid: Pid, vma: VmaId, start: u64, end: u64, write: bool) -> u64 {
        let v = &self.vmas[vma.0];
        let pt = &self.procs[&pid].mm.pt;
        let shared = v.flags & VM_SHARED != 0;
        let cached = |addr: u64| {
            v.file
                .is_some_and(|f| self.files[f.0].cache.contains_key(&v.linear_index(addr)))
        };
        let mut n = 0;
        let mut addr = start.max(v.start);
        while addr < end {
            let pte = pt.get(vpn(addr));
            if pte.is_swap() {
                n += self.swap_in_frames_needed(pte, write);
                addr += PAGE_SIZE;
                continue;
            }
            n += match (pte.is_present(), write) {
                (false, false) => u64::from(v.file.is_some() && !cached(addr)),
                (false, true) if v.file.is_none() => 1,
                (false, true) => u64::from(!cached(addr)) + u64::from(!shared),
                (true, false) => 0,
                (true, true) if shared || pte.write() => 0,
                (true, true) => {
                    let pfn = pte.pfn();
                    let f = &self.frames[pfn];
                    u64::from(pfn == ZERO_PFN || !f.is_anon() || f.refcount != 1)
                }
            };
            addr += PAGE_SIZE;
        }
        n
    }

    /// `handle_pte_fault` for one page already validated.
    fn handle_fault(&mut self, pid: Pid, vma: VmaId, addr: u64, write: bool) {
        let mut pte = self.procs[&pid].mm.pt.get(vpn(addr));
        // An access the PTE allows takes no fault.
        if !pte.is_present() || (write && !pte.write()) {
            self.vm_events.pgfault += 1;
        }
        if pte.is_swap() {
            self.do_swap_page(pid, vma, addr, write);
            pte = self.procs[&pid].mm.pt.get(vpn(addr));
            if !write || pte.write() {
                return;
            }
            // A write to a page that may still be shared: do_wp_page below copies it.
        }
        let (file, shared) = {
            let v = &self.vmas[vma.0];
            (v.file, v.flags & VM_SHARED != 0)
        };
        if pte.is_none() {
            match (file, write) {
                (None, false) => {
                    self.set_pte(pid, addr, Pte::present(ZERO_PFN, false, false, true))
                }
                (None, true) => {
                    let pfn = self.alloc_anon_page(vma, addr);
                    self.map_new(pid, addr, pfn, true, true);
                }
                (Some(f), false) => {
                    self.fault_around(pid, vma, addr, f);
                    if self.procs[&pid].mm.pt.get(vpn(addr)).is_none() {
                        let index = self.vmas[vma.0].linear_index(addr);
                        let pfn = self.page_cache_get(f, index);
                        self.map_file_page(pid, vma, addr, pfn);
                    }
                }
                (Some(f), true) => {
                    let index = self.vmas[vma.0].linear_index(addr);
                    let cache_pfn = self.page_cache_get(f, index);
                    if shared {
                        // do_shared_fault: fault_dirty_shared_page.
                        self.frames[cache_pfn].flags |= page_flags::DIRTY;
                        self.map_new(pid, addr, cache_pfn, true, true);
                    } else {
                        let pfn = self.alloc_anon_page(vma, addr);
                        self.map_new(pid, addr, pfn, true, true);
                    }
                    if shared {
                        self.mlock_vma_folio(cache_pfn, vma);
                    }
                }
            }
            return;
        }
        debug_assert!(pte.is_present());
        if !write {
            self.set_pte(pid, addr, pte.with_young(true));
            return;
        }
        if pte.write() {
            self.set_pte(pid, addr, pte.with_dirty(true).with_young(true));
            return;
        }
        let pfn = pte.pfn();
        if shared {
            // wp_page_shared
            self.frames[pfn].flags |= page_flags::DIRTY;
            let pte = self.pte_mkdirty(pte.with_write(true).with_young(true));
            self.set_pte(pid, addr, pte);
            return;
        }
        if pfn != ZERO_PFN && self.frames[pfn].is_anon() && self.can_reuse_anon_page(pfn) {
            // wp_page_reuse after folio_move_anon_rmap.
            let av = self.vmas[vma.0]
                .anon_vma
                .expect("an anon page is mapped here");
            let f = &mut self.frames[pfn];
            f.mapping = Mapping::Anon(av);
            f.flags |= page_flags::EXCLUSIVE;
            let pte = self.pte_mkdirty(pte.with_write(true).with_young(true));
            self.set_pte(pid, addr, pte);
            return;
        }
        // wp_page_copy: a private copy replaces the shared page (or the zero page).
        let new = self.alloc_anon_page(vma, addr);
        if pfn != ZERO_PFN && self.vmas[vma.0].flags & VM_LOCKED != 0 {
            self.munlock_folio(pfn); // folio_remove_rmap_pte
        }
        let counters = &mut self.procs.get_mut(&pid).expect("live").mm.counters;
        counters.rss_anon += 1;
        if pfn != ZERO_PFN {
            let old = &mut self.frames[pfn];
            old.mapcount -= 1;
            *counters.rss_mut(mm_counter_index(old)) -= 1;
            if !self.frames.put(pfn) {
                self.free_swap_cache(pfn);
            }
        }
        self.frames[new].mapcount = 1;
        let pte = self.pte_mkdirty(Pte::present(new, true, false, true));
        self.set_pte(pid, addr, pte);
    }

    /// Whether a write fault may reuse the anonymous page `pfn` in place: it is certainly
    /// exclusive, or no one else holds it once its swap-cache reference is gone
    /// (`wp_can_reuse_anon_folio`, which frees the swap cache on the way).
    fn can_reuse_anon_page(&mut self, pfn: Pfn) -> bool {
        let f = &self.frames[pfn];
        if f.has(page_flags::EXCLUSIVE) {
            return true;
        }
        let swapcache = u32::from(f.has(page_flags::SWAPCACHE));
        if f.refcount > 1 + swapcache {
            return false;
        }
        if swapcache != 0 {
            self.folio_free_swap(pfn);
        }
        self.frames[pfn].refcount == 1
    }

    fn set_pte(&mut self, pid: Pid, addr: u64, pte: Pte) {
        self.procs
            .get_mut(&pid)
            .expect("live")
            .mm
            .pt
            .set(vpn(addr), pte);
    }

    /// Maps a page-cache page at `addr` for a read fault or fault-around (`set_pte_range`):
    /// young; writable in a shared writable VMA, which has no write notification here (tmpfs
    /// cannot write back, and soft-dirty is off); dirty if writable and the page is PG_dirty.
    fn map_file_page(&mut self, pid: Pid, vma: VmaId, addr: u64, pfn: Pfn) {
        let flags = self.vmas[vma.0].flags;
        let writable =
            flags & (VM_SHARED | VM_WRITE) == VM_SHARED | VM_WRITE && !self.wants_writenotify(vma);
        let dirty = writable && self.frames[pfn].has(page_flags::DIRTY);
        self.map_new(pid, addr, pfn, writable, dirty);
        self.mlock_vma_folio(pfn, vma); // folio_add_file_rmap_ptes
    }

    /// Maps a frame at `addr` (mapcount and refcount +1 unless it is a new anon page, whose
    /// allocation reference becomes the mapping's) and counts it in RSS.
    fn map_new(&mut self, pid: Pid, addr: u64, pfn: Pfn, write: bool, dirty: bool) {
        let f = &mut self.frames[pfn];
        if f.is_anon() {
            debug_assert_eq!((f.mapcount, f.refcount), (0, 1));
        } else {
            f.refcount += 1;
        }
        f.mapcount += 1;
        let idx = mm_counter_index(f);
        let c = &mut self.procs.get_mut(&pid).expect("live").mm.counters;
        *c.rss_mut(idx) += 1;
        let pte = Pte::present(pfn, write, false, true);
        let pte = if dirty { self.pte_mkdirty(pte) } else { pte };
        self.set_pte(pid, addr, pte);
    }

    /// A new exclusive anonymous page for `addr` in `vma` (`folio_add_new_anon_rmap`): mapping
    /// the VMA's anon_vma, index its linear page index. Refcount 1, mapcount 0 (the caller maps
    /// it).
    fn alloc_anon_page(&mut self, vma: VmaId, addr: u64) -> Pfn {
        let av = self.anon_vma_prepare(vma);
        let index = self.vmas[vma.0].linear_index(addr);
        let pfn = self
            .frames
            .alloc(
                page_flags::ANON | page_flags::SWAPBACKED | page_flags::EXCLUSIVE,
                Mapping::Anon(av),
                index,
            )
            .expect("frames were counted before the apply pass");
        self.lru_note(pfn); // folio_add_lru_vma
                            // folio_add_lru_vma: a new page of a locked VMA starts on the unevictable list
                            // (`mlock_new_folio`).
        if self.vmas[vma.0].flags & (VM_LOCKED | super::vma::VM_SPECIAL) == VM_LOCKED {
            let f = &mut self.frames[pfn];
            f.flags |= page_flags::MLOCKED | page_flags::UNEVICTABLE;
            f.mlock_count = 1;
        }
        pfn
    }

    /// The page-cache frame for page `index` of file `f`, read in (regular) or allocated
    /// zero-filled (shmem) if absent.
    fn page_cache_get(&mut self, f: FileId, index: u64) -> Pfn {
        if let Some(&pfn) = self.files[f.0].cache.get(&index) {
            return pfn;
        }
        if let Some(slot) = self.files[f.0].swapped.remove(&index) {
            // shmem_swapin_folio: read back into the page cache, PG_dirty, the slot freed.
            let pfn = self
                .frames
                .alloc(
                    page_flags::CACHE | page_flags::SWAPBACKED | page_flags::DIRTY,
                    Mapping::File(f),
                    index,
                )
                .expect("frames were counted before the apply pass");
            self.lru_note(pfn);
            self.vm_events.pgmajfault += 1;
            self.vm_events.pswpin += 1;
            self.files[f.0].cache.insert(index, pfn);
            self.swap_free(slot);
            return pfn;
        }
        let swapbacked = if self.files[f.0].kind == FileKind::Shmem {
            page_flags::SWAPBACKED
        } else {
            0
        };
        let pfn = self
            .frames
            .alloc(page_flags::CACHE | swapbacked, Mapping::File(f), index)
            .expect("frames were counted before the apply pass");
        self.lru_note(pfn);
        if swapbacked == 0 {
            // filemap_fault read the page from the file: VM_FAULT_MAJOR.
            self.vm_events.pgmajfault += 1;
        }
        self.files[f.0].cache.insert(index, pfn);
        pfn
    }

    /// `do_fault_around`: maps the cached pages of the 16-page block around `addr`, clipped to
    /// the VMA and to the PTE table, that have no PTE yet.
    fn fault_around(&mut self, pid: Pid, vma: VmaId, addr: u64, f: FileId) {
        // do_fault_around, in PTE slots of the page table holding the fault: the window starts
        // at the aligned 16-slot block, or at the VMA's start if that is later in this table,
        // and is 16 slots long from there, cut at the table's end and the VMA's end.
        let (v_start, v_end) = (self.vmas[vma.0].start, self.vmas[vma.0].end);
        let pte_off = vpn(addr) % PTRS_PER_PTE;
        let table_base = vpn(addr) - pte_off;
        let vma_off = vpn(addr) - vpn(v_start);
        let vma_pages = vpn(v_end) - vpn(v_start);
        let from_pte = (pte_off & !(FAULT_AROUND_PAGES - 1)).max(pte_off - pte_off.min(vma_off));
        let to_pte = (from_pte + FAULT_AROUND_PAGES)
            .min(PTRS_PER_PTE)
            .min(pte_off + vma_pages - vma_off);
        let (from, to) = (table_base + from_pte, table_base + to_pte);
        let file_pages = self.files[f.0].pages();
        for page_vpn in from..to {
            let a = page_vpn << PAGE_SHIFT;
            if !self.procs[&pid].mm.pt.get(page_vpn).is_none() {
                continue;
            }
            let index = self.vmas[vma.0].linear_index(a);
            if index >= file_pages {
                continue;
            }
            if let Some(&pfn) = self.files[f.0].cache.get(&index) {
                self.map_file_page(pid, vma, a, pfn);
            }
        }
    }

    /// `zap_pte_range` over `[start, end)` of `vma`: every PTE cleared, each page losing a
    /// mapping (and its frame freed with its last reference). A file or shmem page takes the
    /// PTE's dirty bit, and a young PTE marks it accessed (`zap_present_folio_ptes`), before
    /// the mapping goes and, in a locked VMA, the page is munlocked (`folio_remove_rmap_ptes`,
    /// whose munlock the kernel batches); anonymous pages just lose their bits.
    pub(super) fn zap_range(&mut self, vma: VmaId, start: u64, end: u64) {
        let pid = self.vmas[vma.0].pid;
        let locked = self.vmas[vma.0].flags & VM_LOCKED != 0;
        let mut zapped: Vec<Pte> = Vec::new();
        let mm = &mut self.procs.get_mut(&pid).expect("live").mm;
        mm.pt.update(vpn(start), vpn(end), |_, pte| {
            if !pte.is_none() {
                zapped.push(*pte);
            }
            *pte = Pte::NONE;
        });
        let mut freed_slots = Vec::new();
        let mut unmapped = Vec::new();
        for pte in zapped {
            if pte.is_swap() {
                self.procs
                    .get_mut(&pid)
                    .expect("live")
                    .mm
                    .counters
                    .swap_ents -= 1;
                freed_slots.push(pte.swap_slot());
                continue;
            }
            let pfn = pte.pfn();
            if pfn == ZERO_PFN {
                continue;
            }
            if !self.frames[pfn].is_anon() {
                if pte.dirty() {
                    self.frames[pfn].flags |= page_flags::DIRTY;
                }
                if pte.young() {
                    self.folio_mark_accessed(pfn);
                }
            }
            let counters = &mut self.procs.get_mut(&pid).expect("live").mm.counters;
            let f = &mut self.frames[pfn];
            f.mapcount -= 1;
            *counters.rss_mut(mm_counter_index(f)) -= 1;
            if locked {
                super::mlock::munlock_frame(f);
                self.lru_note(pfn);
            }
            if !self.frames.put(pfn) {
                unmapped.push(pfn);
            }
        }
        // free_pages_and_swap_cache: swap-cache pages that lost their last mapping.
        for pfn in unmapped {
            self.free_swap_cache(pfn);
        }
        // free_swap_and_cache for every swap entry zapped.
        for slot in freed_slots {
            self.swap_entry_put(slot);
        }
    }

    /// One fault at `addr` in `vma`, for GUP (the caller has checked the VMA's permissions):
    /// EFAULT beyond the end of the mapped file (SIGBUS); otherwise room for its frames
    /// (`make_room_for_fault`, whose errors it returns), then `handle_fault`.
    pub(super) fn fault_one(
        &mut self,
        pid: Pid,
        vma: VmaId,
        addr: u64,
        write: bool,
    ) -> Result<(), Error> {
        let v = &self.vmas[vma.0];
        if let Some(f) = v.file {
            if v.linear_index(addr) >= self.files[f.0].pages() {
                return Err(anonmap_abi::err!(
                    EFAULT,
                    "fault at {addr:#x}: beyond the end of {} (SIGBUS)",
                    self.files[f.0].path
                ));
            }
        }
        self.make_room_for_fault(pid, vma, addr, write)?;
        self.handle_fault(pid, vma, addr, write);
        Ok(())
    }
}
