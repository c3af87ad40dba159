//! Locking memory and populating it (mm/mlock.c, mm/gup.c): mlock, mlock2(MLOCK_ONFAULT),
//! munlock, mlockall, munlockall, and the page-table population that mlock, MAP_LOCKED,
//! MAP_POPULATE, MADV_POPULATE_* and a locked VMA's growth run (`__mm_populate`,
//! `populate_vma_page_range`, `__get_user_pages`).
//!
//! Locking is a VMA flag: VM_LOCKED (and VM_LOCKONFAULT, which leaves population to the
//! faults), set and cleared with the splitting and merging of any flag change, and counted in
//! `locked_vm` (VmLck). A page is mlocked the way the kernel tracks it: PG_mlocked and an
//! `mlock_count` on the unevictable list, raised when a VM_LOCKED VMA gains the page (a fault,
//! the mlock walk, reclaim meeting the lock) and lowered when one loses it (an unmap, the munlock
//! walk). The count is the kernel's approximation, kept exactly: a lock dropped without a walk
//! (MREMAP_DONTUNMAP) leaves the page mlocked. An mlocked page is unevictable: reclaim never
//! takes it, and `folio_mark_accessed` does not move it between LRU lists. The kernel batches
//! these changes per CPU; here each takes effect at once.
//!
//! Who may lock: root has CAP_IPC_LOCK and no limit; any other owner has RLIMIT_MEMLOCK's
//! default of 8 MiB (`MLOCK_LIMIT`), so going over it is ENOMEM from mlock and mlockall and
//! EAGAIN from mmap, brk and mremap, as the kernel answers.

use super::frames::{page_flags, Frame, ZERO_PFN};
use super::types::{page_align_up, vpn, Pfn, Pid, VmaId, PAGE_SHIFT, PAGE_SIZE, TASK_SIZE};
use super::vma::*;
use super::vma_tree::MergeAttrs;
use super::Machine;
use anonmap_abi::{Errno, Error};
use anonmap_abi::{MlockArgs, MlockallArgs, MunlockArgs, MunlockallArgs};

/// VM_LOCKED | VM_LOCKONFAULT.
pub const VM_LOCKED_MASK: u64 = VM_LOCKED | VM_LOCKONFAULT;
/// RLIMIT_MEMLOCK's default (`MLOCK_LIMIT`, 8 MiB), in pages.
const MLOCK_LIMIT_PAGES: u64 = (8 << 20) >> PAGE_SHIFT;

/// How a GUP walk touches pages: FOLL_WRITE or a read (FOLL_FORCE when mlock reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gup {
    Read,
    Write,
}

impl Machine {
    /// Whether the process may lock any amount (CAP_IPC_LOCK: root).
    fn can_lock_unlimited(&self, pid: Pid) -> bool {
        self.procs[&pid].uid == 0
    }

    /// `mlock_future_ok`: whether `pages` more locked pages stay within the limit.
    pub(super) fn mlock_future_ok(&self, pid: Pid, flags: u64, pages: u64) -> bool {
        flags & VM_LOCKED == 0
            || self.can_lock_unlimited(pid)
            || self.procs[&pid].mm.counters.locked_vm + pages <= MLOCK_LIMIT_PAGES
    }

    /// PG_mlocked.
    pub(super) fn is_mlocked(&self, pfn: Pfn) -> bool {
        pfn != ZERO_PFN && self.frames[pfn].has(page_flags::MLOCKED)
    }

    /// `mlock_folio` (with the mlock batch settled at once, `__mlock_folio`): the page becomes
    /// mlocked; on the unevictable list already, it counts one more lock; otherwise it moves
    /// there, leaving the active list, with one lock.
    pub(super) fn mlock_folio(&mut self, pfn: Pfn) {
        if pfn == ZERO_PFN {
            return;
        }
        self.frames[pfn].flags |= page_flags::MLOCKED;
        if let Some(batch) = &mut self.mlock_batch {
            batch.push(pfn);
            return;
        }
        self.mlock_folio_settle(pfn);
    }

    /// `__mlock_folio`: an mlocked page onto the unevictable list, or one more lock there; a
    /// page munlocked meanwhile stays evictable.
    fn mlock_folio_settle(&mut self, pfn: Pfn) {
        let f = &mut self.frames[pfn];
        if !f.has(page_flags::MLOCKED) || f.has(page_flags::FREE) {
            return;
        }
        if f.has(page_flags::UNEVICTABLE) {
            f.mlock_count += 1;
        } else {
            f.flags &= !page_flags::ACTIVE;
            f.flags |= page_flags::UNEVICTABLE;
            f.mlock_count = 1;
            self.lru_note(pfn);
        }
    }

    /// `munlock_folio` (`__munlock_folio`): one lock less; at none, the page is no longer
    /// mlocked and goes back to the (inactive) evictable list.
    pub(super) fn munlock_folio(&mut self, pfn: Pfn) {
        if pfn == ZERO_PFN {
            return;
        }
        // The kernel queues a munlock in the same per-CPU batch as the mlocks, which the drain
        // applies in order: an mlock of this page still waiting there (a GUP walk mapped the
        // page into a locked VMA, then its COW unmaps it) counts before this munlock does.
        if let Some(batch) = &mut self.mlock_batch {
            let waiting = batch.iter().filter(|&&p| p == pfn).count();
            batch.retain(|&p| p != pfn);
            for _ in 0..waiting {
                self.mlock_folio_settle(pfn);
            }
        }
        munlock_frame(&mut self.frames[pfn]);
        self.lru_note(pfn);
    }

    /// `mlock_vma_folio`: a page gaining a mapping in a VM_LOCKED VMA is mlocked.
    pub(super) fn mlock_vma_folio(&mut self, pfn: Pfn, vma: VmaId) {
        if self.vmas[vma.0].flags & (VM_LOCKED | VM_SPECIAL) == VM_LOCKED {
            self.mlock_folio(pfn);
        }
    }

    /// `mlock` and `mlock2`.
    pub(super) fn mlock(&mut self, args: &MlockArgs) -> Result<(), Error> {
        let MlockArgs {
            pid,
            addr,
            len,
            flags,
        } = *args;
        let lock = if flags.onfault {
            VM_LOCKED | VM_LOCKONFAULT
        } else {
            VM_LOCKED
        };
        self.do_mlock(pid, addr, len, lock, "mlock")
    }

    /// `munlock`.
    pub(super) fn munlock(&mut self, args: &MunlockArgs) -> Result<(), Error> {
        let MunlockArgs { pid, addr, len } = *args;
        self.proc_ref(pid)?;
        let (start, len) = lock_range(addr, len, "munlock")?;
        self.apply_vma_lock_flags(pid, start, len, 0, "munlock")
    }

    /// `do_mlock`: the range is widened to whole pages, checked against the limit, flagged,
    /// then populated (errors reported as mlock reports them).
    fn do_mlock(
        &mut self,
        pid: Pid,
        addr: u64,
        len: u64,
        lock: u64,
        what: &str,
    ) -> Result<(), Error> {
        self.proc_ref(pid)?;
        let (start, len) = lock_range(addr, len, what)?;
        if !self.can_lock_unlimited(pid) {
            let locked = self.procs[&pid].mm.counters.locked_vm + (len >> PAGE_SHIFT);
            if locked > MLOCK_LIMIT_PAGES
                && locked - self.mlocked_pages_in(pid, start, start + len) > MLOCK_LIMIT_PAGES
            {
                return Err(anonmap_abi::err!(
                    ENOMEM,
                    "{what}: locking [{start:#x}, +{len:#x}) would exceed RLIMIT_MEMLOCK (8 MiB)"
                ));
            }
        }
        self.apply_vma_lock_flags(pid, start, len, lock, what)?;
        self.mm_populate(pid, start, start + len, false)
            .map_err(|e| mlock_posix_error(e, what))
    }

    /// `count_mm_mlocked_page_nr`: pages of VM_LOCKED VMAs inside `[start, end)`.
    fn mlocked_pages_in(&self, pid: Pid, start: u64, end: u64) -> u64 {
        self.vmas_in(pid, start, end)
            .into_iter()
            .map(|id| &self.vmas[id.0])
            .filter(|v| v.flags & VM_LOCKED != 0)
            .map(|v| (v.end.min(end) - v.start.max(start)) >> PAGE_SHIFT)
            .sum()
    }

    /// `apply_vma_lock_flags`: gives every VMA of `[start, start+len)` the lock bits `lock`,
    /// stopping at the first hole with ENOMEM (VMAs before it already changed).
    fn apply_vma_lock_flags(
        &mut self,
        pid: Pid,
        start: u64,
        len: u64,
        lock: u64,
        what: &str,
    ) -> Result<(), Error> {
        if len == 0 {
            return Ok(());
        }
        self.fixup_walk(pid, start, start + len, what, |m, vma, prev, start, end| {
            let newflags = (m.vmas[vma.0].flags & !VM_LOCKED_MASK) | lock;
            m.mlock_fixup(vma, prev, start, end, newflags)
        })
    }

    /// `mlock_fixup`: `[start, end)` of `vma` gets `newflags`, splitting or merging; locked_vm
    /// follows; the pages already present leave the active list when they become mlocked.
    /// Returns the VMA now covering the range.
    fn mlock_fixup(
        &mut self,
        vma: VmaId,
        prev: &mut Option<VmaId>,
        start: u64,
        end: u64,
        newflags: u64,
    ) -> Result<VmaId, Error> {
        let v = &self.vmas[vma.0];
        let oldflags = v.flags;
        if newflags == oldflags || oldflags & VM_SPECIAL != 0 {
            *prev = Some(vma);
            return Ok(vma);
        }
        let attrs = MergeAttrs {
            flags: newflags,
            file: v.file,
            name: v.name,
            anon_vma: v.anon_vma,
        };
        let (done, _) = self.vma_modify(vma, *prev, start, end, &attrs)?;
        *prev = Some(done);
        self.vmas[done.0].flags = newflags;
        let n = (end - start) >> PAGE_SHIFT;
        let pid = self.vmas[done.0].pid;
        let c = &mut self.procs.get_mut(&pid).expect("live").mm.counters;
        let lock = newflags & VM_LOCKED != 0;
        if !lock {
            c.locked_vm -= n;
        } else if oldflags & VM_LOCKED == 0 {
            c.locked_vm += n;
        }
        if !(lock && oldflags & VM_LOCKED != 0) {
            // mlock_vma_pages_range: every page present is mlocked or munlocked once.
            let mut present = Vec::new();
            self.procs[&pid]
                .mm
                .pt
                .for_each(vpn(start), vpn(end), |_, pte| {
                    if pte.is_present() && pte.pfn() != ZERO_PFN {
                        present.push(pte.pfn());
                    }
                });
            for pfn in present {
                if lock {
                    self.mlock_folio(pfn);
                } else {
                    self.munlock_folio(pfn);
                }
            }
        }
        Ok(done)
    }

    /// `mlockall`.
    pub(super) fn mlockall(&mut self, args: &MlockallArgs) -> Result<(), Error> {
        let MlockallArgs { pid, flags } = *args;
        self.proc_ref(pid)?;
        if !(flags.current || flags.future) {
            return Err(anonmap_abi::err!(
                EINVAL,
                "mlockall: flags must include current or future"
            ));
        }
        if flags.current
            && !self.can_lock_unlimited(pid)
            && self.procs[&pid].mm.counters.total_vm > MLOCK_LIMIT_PAGES
        {
            return Err(anonmap_abi::err!(
                ENOMEM,
                "mlockall: the address space is larger than RLIMIT_MEMLOCK (8 MiB)"
            ));
        }
        let onfault = if flags.onfault { VM_LOCKONFAULT } else { 0 };
        let future = if flags.future { VM_LOCKED | onfault } else { 0 };
        let current = if flags.current {
            VM_LOCKED | onfault
        } else {
            0
        };
        self.apply_mlockall_flags(pid, future, flags.current.then_some(current));
        if flags.current {
            // mm_populate(0, TASK_SIZE): errors ignored.
            let _ = self.mm_populate(pid, 0, TASK_SIZE, true);
        }
        Ok(())
    }

    /// `munlockall`.
    pub(super) fn munlockall(&mut self, args: &MunlockallArgs) -> Result<(), Error> {
        let MunlockallArgs { pid } = *args;
        self.proc_ref(pid)?;
        self.apply_mlockall_flags(pid, 0, Some(0));
        Ok(())
    }

    /// `apply_mlockall_flags`: sets the flags future mappings get, and, with `current`, the
    /// lock bits of every VMA (per-VMA errors ignored).
    fn apply_mlockall_flags(&mut self, pid: Pid, future: u64, current: Option<u64>) {
        let mm = &mut self.procs.get_mut(&pid).expect("checked").mm;
        mm.def_flags = (mm.def_flags & !VM_LOCKED_MASK) | future;
        let Some(lock) = current else {
            return;
        };
        let mut prev = None;
        let mut addr = 0;
        while let Some(vma) = self.find_vma(pid, addr) {
            let (s, e) = (self.vmas[vma.0].start, self.vmas[vma.0].end);
            let newflags = (self.vmas[vma.0].flags & !VM_LOCKED_MASK) | lock;
            addr = match self.mlock_fixup(vma, &mut prev, s, e, newflags) {
                Ok(done) => self.vmas[done.0].end,
                Err(_) => {
                    prev = Some(vma);
                    e
                }
            };
        }
    }

    /// `__mm_populate`: faults in every VMA of `[start, end)` (`populate_vma_page_range`). With
    /// `ignore_errors` (mm_populate) a failing VMA is skipped; otherwise the first error stops
    /// the walk, the pages before it staying populated.
    pub(super) fn mm_populate(
        &mut self,
        pid: Pid,
        start: u64,
        end: u64,
        ignore_errors: bool,
    ) -> Result<(), Error> {
        let mut nstart = start;
        while nstart < end {
            let Some(vma) = self
                .find_vma(pid, nstart)
                .filter(|&v| self.vmas[v.0].start < end)
            else {
                break;
            };
            let v = &self.vmas[vma.0];
            let (from, to) = (nstart.max(v.start), v.end.min(end));
            nstart = to;
            match self.populate_vma_page_range(vma, from, to) {
                Err(_) if ignore_errors => continue,
                Err(e) => return Err(e),
                Ok(()) => {}
            }
        }
        Ok(())
    }

    /// `populate_vma_page_range`: write faults where the VMA is private and writable (to break
    /// COW), read faults otherwise; nothing for VM_LOCKONFAULT; EFAULT for PROT_NONE.
    fn populate_vma_page_range(&mut self, vma: VmaId, start: u64, end: u64) -> Result<(), Error> {
        let flags = self.vmas[vma.0].flags;
        if flags & VM_LOCKONFAULT != 0 {
            return Ok(());
        }
        if !self.vmas[vma.0].is_accessible() {
            return Err(anonmap_abi::err!(
                EFAULT,
                "populate: the VMA at {start:#x} is PROT_NONE"
            ));
        }
        let gup = if flags & (VM_WRITE | VM_SHARED) == VM_WRITE {
            Gup::Write
        } else {
            Gup::Read
        };
        self.get_user_pages(vma, start, end, gup)
    }

    /// `__get_user_pages` with FOLL_TOUCH over `[start, end)` inside `vma`: each page that is
    /// missing (or, for a write, not writable) is faulted in as a read or write fault would
    /// fault it; then the page is touched: a write marks a clean page PG_dirty, and every page
    /// is marked accessed (`follow_page_pte`). A page that cannot be faulted stops the walk with
    /// EFAULT (beyond the end of its file: SIGBUS) or ENOMEM (no free frame); the pages before it
    /// stay populated.
    pub(super) fn get_user_pages(
        &mut self,
        vma: VmaId,
        start: u64,
        end: u64,
        gup: Gup,
    ) -> Result<(), Error> {
        // Pages a fault maps into a locked VMA during the walk are mlocked through the batch:
        // FOLL_TOUCH still sees them evictable; the walk's lru_add_drain settles them.
        self.mlock_batch = Some(Vec::new());
        let result = self.get_user_pages_walk(vma, start, end, gup);
        for pfn in self.mlock_batch.take().unwrap_or_default() {
            self.mlock_folio_settle(pfn);
        }
        result
    }

    fn get_user_pages_walk(
        &mut self,
        vma: VmaId,
        start: u64,
        end: u64,
        gup: Gup,
    ) -> Result<(), Error> {
        let pid = self.vmas[vma.0].pid;
        let write = gup == Gup::Write;
        let mut addr = start;
        while addr < end {
            let pte = self.procs[&pid].mm.pt.get(vpn(addr));
            if !pte.is_present() || (write && !pte.write()) {
                self.fault_one(pid, vma, addr, write)?;
            }
            let pte = self.procs[&pid].mm.pt.get(vpn(addr));
            let pfn = pte.pfn();
            if pfn != ZERO_PFN {
                if write && !pte.dirty() && !self.frames[pfn].has(page_flags::DIRTY) {
                    self.frames[pfn].flags |= page_flags::DIRTY;
                }
                self.folio_mark_accessed(pfn);
            }
            addr += PAGE_SIZE;
        }
        Ok(())
    }
}

/// `__munlock_folio` on the frame itself (for walks that hold the frame table).
pub(super) fn munlock_frame(f: &mut Frame) {
    if f.has(page_flags::UNEVICTABLE) {
        f.mlock_count = f.mlock_count.saturating_sub(1);
        if f.mlock_count != 0 {
            return;
        }
    }
    f.flags &= !(page_flags::MLOCKED | page_flags::UNEVICTABLE);
}

/// `do_mlock`'s range: the start rounded down to its page, the length grown by the offset and
/// rounded up.
fn lock_range(addr: u64, len: u64, what: &str) -> Result<(u64, u64), Error> {
    let offset = addr & (PAGE_SIZE - 1);
    let len = len
        .checked_add(offset)
        .and_then(page_align_up)
        .filter(|&l| (addr - offset).checked_add(l).is_some())
        .ok_or_else(|| anonmap_abi::err!(EINVAL, "{what}: [{addr:#x}, +{len:#x}) wraps"))?;
    Ok((addr - offset, len))
}

/// `__mlock_posix_error_return`: mlock reports a populate EFAULT as ENOMEM and ENOMEM as
/// EAGAIN.
fn mlock_posix_error(e: Error, what: &str) -> Error {
    match e.errno {
        Errno::EFAULT => Error::new(
            Errno::ENOMEM,
            format!(
                "{what}: the range was locked but cannot be populated: {}",
                e.message
            ),
        ),
        Errno::ENOMEM => Error::new(
            Errno::EAGAIN,
            format!(
                "{what}: the range was locked but populating it ran out of memory: {}",
                e.message
            ),
        ),
        _ => e,
    }
}
