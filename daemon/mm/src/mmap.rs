//! Mapping and unmapping address ranges: mmap (with MAP_FIXED, MAP_POPULATE and file and
//! shmem mappings), munmap and brk (mm/mmap.c, mm/vma.c as of 6.18). Placement is
//! `placement.rs`, mremap `mremap.rs`.

use super::types::{
    page_align_up, page_aligned, pages, vpn, Pid, MAX_MAP_COUNT, MMAP_MIN_ADDR, PAGE_SHIFT,
    PAGE_SIZE, TASK_SIZE,
};
use super::vma::*;
use super::vma_tree::MergeAttrs;
use super::Machine;
use anonmap_abi::{BrkArgs, Error, MmapArgs, MunmapArgs, Prot};

/// `calc_vm_prot_bits`.
pub(super) fn prot_bits(p: Prot) -> u64 {
    (if p.read { VM_READ } else { 0 })
        | (if p.write { VM_WRITE } else { 0 })
        | (if p.exec { VM_EXEC } else { 0 })
}

impl Machine {
    /// `mmap`.
    pub(super) fn mmap(&mut self, args: &MmapArgs) -> Result<u64, Error> {
        let MmapArgs {
            pid,
            addr,
            len,
            prot,
            flags: f,
            ref file,
            offset,
        } = *args;
        let (addr, file, offset) = (addr.unwrap_or(0), file.as_deref(), offset.unwrap_or(0));
        self.proc_ref(pid)?;
        if f.private == f.shared {
            return Err(anonmap_abi::err!(
                EINVAL,
                "mmap: flags= must contain exactly one of private and shared"
            ));
        }
        let file_id = match (f.anonymous, file) {
            (true, Some(_)) => {
                return Err(anonmap_abi::err!(
                    EINVAL,
                    "mmap: file= given with flags=anonymous"
                ))
            }
            (true, None) => None,
            (false, None) => {
                return Err(anonmap_abi::err!(
                    EBADF,
                    "mmap: neither flags=anonymous nor file= (no file descriptor to map)"
                ))
            }
            (false, Some(path)) => Some(*self.file_paths.get(path).ok_or_else(|| {
                anonmap_abi::err!(EBADF, "mmap: no file {path} (create it with file path=...)")
            })?),
        };
        if len == 0 {
            return Err(anonmap_abi::err!(EINVAL, "mmap: len is 0"));
        }
        if !page_aligned(offset) {
            return Err(anonmap_abi::err!(
                EINVAL,
                "mmap: offset {offset:#x} is not page aligned"
            ));
        }
        let fixed = f.fixed || f.fixed_noreplace;
        let len = page_align_up(len)
            .filter(|&l| l != 0)
            .ok_or_else(|| anonmap_abi::err!(ENOMEM, "mmap: len {len:#x} overflows"))?;
        let pgoff_in = offset >> PAGE_SHIFT;
        if pgoff_in.checked_add(len >> PAGE_SHIFT).is_none() {
            return Err(anonmap_abi::err!(EOVERFLOW, "mmap: offset + len overflows"));
        }
        if self.map_count(pid) > MAX_MAP_COUNT {
            return Err(anonmap_abi::err!(ENOMEM, "mmap: vm.max_map_count reached"));
        }
        if f.growsdown && (file_id.is_some() || f.shared) {
            return Err(anonmap_abi::err!(
                EINVAL,
                "mmap: growsdown is only for private anonymous maps"
            ));
        }
        // Flags (do_mmap).
        let mut flags = prot_bits(prot) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
        if f.growsdown {
            flags |= VM_GROWSDOWN;
        }
        if f.shared {
            flags |= VM_SHARED | VM_MAYSHARE;
        }
        if f.noreserve {
            flags |= VM_NORESERVE;
        }
        if f.locked {
            flags |= VM_LOCKED;
        }
        flags |= self.procs[&pid].mm.def_flags;
        let shared_anon = f.anonymous && f.shared;
        // Placement.
        let addr = if fixed {
            if !page_aligned(addr) {
                return Err(anonmap_abi::err!(
                    EINVAL,
                    "mmap: fixed address {addr:#x} is not page aligned"
                ));
            }
            if addr > TASK_SIZE - len.min(TASK_SIZE) || len > TASK_SIZE {
                return Err(anonmap_abi::err!(
                    ENOMEM,
                    "mmap: [{addr:#x}, +{len:#x}) is beyond TASK_SIZE"
                ));
            }
            if f.fixed_noreplace && !self.vmas_in(pid, addr, addr + len).is_empty() {
                return Err(anonmap_abi::err!(
                    EEXIST,
                    "mmap: fixed_noreplace and [{addr:#x}, {:#x}) overlaps an existing mapping",
                    addr + len
                ));
            }
            addr
        } else {
            let hint = if addr != 0 && addr < MMAP_MIN_ADDR {
                MMAP_MIN_ADDR
            } else {
                addr
            };
            self.get_unmapped_area(pid, file_id, shared_anon, hint, len, pgoff_in)?
        };
        let end = addr + len;
        if !self.mlock_future_ok(pid, flags, len >> PAGE_SHIFT) {
            return Err(anonmap_abi::err!(
                EAGAIN,
                "mmap: a locked mapping of {len:#x} bytes would exceed RLIMIT_MEMLOCK (8 MiB)"
            ));
        }
        // accountable_mapping: private writable without NORESERVE.
        if flags & (VM_NORESERVE | VM_SHARED | VM_WRITE) == VM_WRITE {
            flags |= VM_ACCOUNT;
        }
        // MAP_FIXED replaces what was there.
        self.do_munmap(pid, addr, end)?;
        let (file_id, pgoff) = if shared_anon {
            (Some(self.create_shmem(len, f.noreserve)), 0)
        } else if file_id.is_some() {
            (file_id, pgoff_in)
        } else {
            (None, vpn(addr))
        };
        let attrs = MergeAttrs {
            flags,
            file: file_id,
            name: None,
            anon_vma: None,
        };
        let merged = if shared_anon {
            None // a fresh shmem object never matches a neighbour's file
        } else {
            self.merge_new_range(pid, addr, end, pgoff, &attrs, None, false)
        };
        if merged.is_none() {
            let id = self.vma_alloc(Vma::new(pid, addr, end, pgoff, flags, file_id));
            self.vma_link(id);
        }
        // __mmap_complete: the new (or merged) VMA is soft-dirty.
        let vma = self.vma_at(pid, addr).expect("just mapped");
        self.mark_vma_soft_dirty(vma);
        let mm = &mut self.procs.get_mut(&pid).expect("checked").mm;
        mm.counters.stat_account(flags, pages(addr, end) as i64);
        if flags & VM_LOCKED != 0 {
            mm.counters.locked_vm += pages(addr, end);
        }
        if flags & VM_LOCKED != 0 || f.populate {
            // mm_populate: errors (PROT_NONE, no free frame) are ignored.
            let _ = self.mm_populate(pid, addr, end, true);
        }
        Ok(addr)
    }

    /// `munmap`.
    pub(super) fn munmap(&mut self, args: &MunmapArgs) -> Result<(), Error> {
        let MunmapArgs { pid, addr, len } = *args;
        self.proc_ref(pid)?;
        if !page_aligned(addr) || addr > TASK_SIZE || len > TASK_SIZE - addr {
            return Err(anonmap_abi::err!(
                EINVAL,
                "munmap: [{addr:#x}, +{len:#x}) is unaligned or beyond TASK_SIZE"
            ));
        }
        let end = addr + page_align_up(len).expect("bounded by TASK_SIZE");
        if end == addr {
            return Err(anonmap_abi::err!(EINVAL, "munmap: len is 0"));
        }
        self.do_munmap(pid, addr, end)
    }

    /// `do_vmi_munmap` on an aligned range: splits the VMAs at the edges, zaps and removes
    /// every VMA inside, frees page tables no VMA needs, and updates the counters.
    pub(super) fn do_munmap(&mut self, pid: Pid, start: u64, end: u64) -> Result<(), Error> {
        let Some(first) = self
            .find_vma(pid, start)
            .filter(|&v| self.vmas[v.0].start < end)
        else {
            return Ok(());
        };
        if start > self.vmas[first.0].start {
            if end < self.vmas[first.0].end && self.map_count(pid) >= MAX_MAP_COUNT {
                return Err(anonmap_abi::err!(
                    ENOMEM,
                    "munmap: splitting the VMA would exceed vm.max_map_count"
                ));
            }
            self.split_vma_unchecked(first, start, true);
        }
        let victims = self.vmas_in(pid, start, end);
        for &v in &victims {
            if self.vmas[v.0].end > end {
                self.split_vma_unchecked(v, end, false);
            }
        }
        let floor = self.prev_vma(pid, start).map_or(0, |p| self.vmas[p.0].end);
        let ceiling = self
            .next_vma(pid, end)
            .map_or(u64::MAX, |n| self.vmas[n.0].start);
        self.procs
            .get_mut(&pid)
            .expect("live")
            .mm
            .counters
            .update_hiwater_rss();
        for &v in &victims {
            let (s, e) = (self.vmas[v.0].start, self.vmas[v.0].end);
            self.zap_range(v, s, e);
        }
        {
            let mm = &mut self.procs.get_mut(&pid).expect("live").mm;
            mm.pt
                .free_tables(vpn(start), vpn(end), vpn(floor), vpn(ceiling));
            mm.counters.update_hiwater_vm();
        }
        for &v in &victims {
            let (flags, n) = (self.vmas[v.0].flags, self.vmas[v.0].pages());
            let mm = &mut self.procs.get_mut(&pid).expect("live").mm;
            mm.counters.stat_account(flags, -(n as i64));
            if flags & VM_LOCKED != 0 {
                mm.counters.locked_vm -= n;
            }
            self.vma_remove(v);
        }
        Ok(())
    }

    /// `brk`: never fails; returns the resulting break (the old one when the request cannot
    /// be honoured), as the syscall does.
    pub(super) fn brk(&mut self, args: &BrkArgs) -> Result<u64, Error> {
        let BrkArgs { pid, addr } = *args;
        let (start_brk, origbrk) = {
            let mm = &self.proc_ref(pid)?.mm;
            (mm.start_brk, mm.brk)
        };
        let Some(brk) = addr else { return Ok(origbrk) };
        if brk < start_brk {
            return Ok(origbrk);
        }
        let (Some(newbrk), Some(oldbrk)) = (page_align_up(brk), page_align_up(origbrk)) else {
            return Ok(origbrk);
        };
        let set_brk = |m: &mut Machine, b: u64| m.procs.get_mut(&pid).expect("live").mm.brk = b;
        if oldbrk == newbrk {
            set_brk(self, brk);
            return Ok(brk);
        }
        if brk <= origbrk {
            // Shrink: the range must belong to a brk VMA.
            match self.find_vma(pid, newbrk) {
                Some(v) if self.vmas[v.0].start < oldbrk => {}
                _ => return Ok(origbrk),
            }
            if self.do_munmap(pid, newbrk, oldbrk).is_err() {
                return Ok(origbrk);
            }
            set_brk(self, brk);
            return Ok(brk);
        }
        // Grow: check_brk_limits, and keep a guard gap below the next VMA.
        if newbrk > TASK_SIZE {
            return Ok(origbrk);
        }
        if let Some(n) = self.find_vma(pid, oldbrk) {
            if newbrk + PAGE_SIZE > self.vmas[n.0].start_gap() {
                return Ok(origbrk);
            }
        }
        if self.map_count(pid) > MAX_MAP_COUNT {
            return Ok(origbrk);
        }
        // do_brk_flags: expand the brk VMA ending at oldbrk, else a new VMA.
        let flags = VM_READ
            | VM_WRITE
            | VM_MAYREAD
            | VM_MAYWRITE
            | VM_MAYEXEC
            | VM_ACCOUNT
            | self.procs[&pid].mm.def_flags;
        if !self.mlock_future_ok(pid, flags, pages(oldbrk, newbrk)) {
            return Ok(origbrk);
        }
        let brkvma = self
            .prev_vma(pid, oldbrk)
            .filter(|&p| self.vmas[p.0].start >= start_brk && self.vmas[p.0].end == oldbrk);
        let attrs = MergeAttrs {
            flags,
            file: None,
            name: None,
            anon_vma: None,
        };
        let merged = brkvma.and_then(|_| {
            self.merge_new_range(pid, oldbrk, newbrk, vpn(oldbrk), &attrs, None, true)
        });
        if merged.is_none() {
            let id = self.vma_alloc(Vma::new(pid, oldbrk, newbrk, vpn(oldbrk), flags, None));
            self.vma_link(id);
        }
        let vma = self.vma_at(pid, oldbrk).expect("just mapped");
        self.mark_vma_soft_dirty(vma);
        let mm = &mut self.procs.get_mut(&pid).expect("live").mm;
        let n = pages(oldbrk, newbrk);
        mm.counters.total_vm += n;
        mm.counters.data_vm += n;
        if flags & VM_LOCKED != 0 {
            mm.counters.locked_vm += n;
        }
        mm.brk = brk;
        if flags & VM_LOCKED != 0 {
            let _ = self.mm_populate(pid, oldbrk, newbrk, true);
        }
        Ok(brk)
    }
}
