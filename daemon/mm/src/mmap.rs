//! Mapping and unmapping address ranges: `get_unmapped_area` (top-down placement below
//! mmap_base, hints, THP alignment of PMD-sized anonymous maps), mmap, munmap, brk and mremap
//! (mm/mmap.c, mm/vma.c, mm/mremap.c as of 6.18, including the multi-VMA fixed move).

use super::files::FileKind;
use super::types::{
    page_align_up, page_aligned, pages, vpn, FileId, Pid, VmaId, MAX_MAP_COUNT, MMAP_MIN_ADDR,
    PAGE_SHIFT, PAGE_SIZE, PMD_SIZE, TASK_SIZE,
};
use super::vma::*;
use super::vma_tree::MergeAttrs;
use super::Machine;
use anonmap_abi::Error;
use anonmap_abi::{Access, BrkArgs, MmapArgs, MremapArgs, MunmapArgs, Prot};

/// TASK_UNMAPPED_BASE: where the bottom-up fallback search starts.
const TASK_UNMAPPED_BASE: u64 = (TASK_SIZE / 3) & !(PAGE_SIZE - 1);

/// `calc_vm_prot_bits`.
pub(super) fn prot_bits(p: Prot) -> u64 {
    (if p.read { VM_READ } else { 0 })
        | (if p.write { VM_WRITE } else { 0 })
        | (if p.exec { VM_EXEC } else { 0 })
}

impl Machine {
    /// Whether `[addr, addr+len)` is free of VMAs and their guard gaps (the hint test of
    /// `arch_get_unmapped_area_topdown`).
    fn range_is_free(&self, pid: Pid, addr: u64, len: u64) -> bool {
        let end = addr + len;
        let next_ok = self
            .find_vma(pid, addr)
            .is_none_or(|n| end <= self.vmas[n.0].start_gap());
        let prev_ok = self
            .prev_vma(pid, addr + 1)
            .filter(|&p| self.vmas[p.0].start <= addr)
            .is_none_or(|p| self.vmas[p.0].end <= addr);
        next_ok && prev_ok
    }

    /// `unmapped_area_topdown`: the highest `len`-byte gap in `[low, high)`.
    fn unmapped_area_topdown(&self, pid: Pid, len: u64, low: u64, high: u64) -> Option<u64> {
        let mm = &self.procs[&pid].mm;
        let mut gap_end = high;
        // Walk VMAs from the top down; each gap is [prev.end, next.start_gap).
        let mut iter = mm.vmas.range(..high).rev().peekable();
        // The VMA at or above `high` bounds the first gap too.
        if let Some((_, &n)) = mm.vmas.range(high..).next() {
            gap_end = gap_end.min(self.vmas[n.0].start_gap());
        }
        loop {
            let (gap_start, below) = match iter.next() {
                Some((_, &v)) => (self.vmas[v.0].end, Some(v)),
                None => (low, None),
            };
            let gs = gap_start.max(low);
            if gap_end >= gs && gap_end - gs >= len {
                return Some(gap_end - len);
            }
            let below = below?;
            gap_end = self.vmas[below.0].start_gap().min(high);
            if gap_end <= low {
                return None;
            }
        }
    }

    /// `unmapped_area` (bottom-up): the lowest `len`-byte gap in `[low, high)`.
    fn unmapped_area_bottomup(&self, pid: Pid, len: u64, low: u64, high: u64) -> Option<u64> {
        let mm = &self.procs[&pid].mm;
        let mut gap_start = low;
        if let Some((_, &p)) = mm.vmas.range(..low).next_back() {
            gap_start = gap_start.max(self.vmas[p.0].end);
        }
        for (_, &v) in mm.vmas.range(low..) {
            let gap_end = self.vmas[v.0].start_gap().min(high);
            if gap_end >= gap_start && gap_end - gap_start >= len {
                return Some(gap_start);
            }
            gap_start = gap_start.max(self.vmas[v.0].end);
            if gap_start >= high {
                return None;
            }
        }
        (high >= gap_start && high - gap_start >= len).then_some(gap_start)
    }

    /// `arch_get_unmapped_area_topdown` without MAP_FIXED.
    fn arch_get_unmapped_area(&self, pid: Pid, hint: u64, len: u64) -> Option<u64> {
        if len > TASK_SIZE {
            return None;
        }
        if hint != 0 {
            let addr = page_align_up(hint)?;
            if TASK_SIZE - len >= addr
                && addr >= MMAP_MIN_ADDR
                && self.range_is_free(pid, addr, len)
            {
                return Some(addr);
            }
        }
        let base = self.procs[&pid].mm.mmap_base;
        self.unmapped_area_topdown(pid, len, PAGE_SIZE, base)
            .or_else(|| self.unmapped_area_bottomup(pid, len, TASK_UNMAPPED_BASE, TASK_SIZE))
    }

    /// `__thp_get_unmapped_area`: asks for `len + PMD_SIZE` and places the mapping at the PMD
    /// alignment that matches file offset `off`.
    fn thp_get_unmapped_area(&self, pid: Pid, hint: u64, len: u64, off: u64) -> Option<u64> {
        let off_end = off + len;
        let off_align = off.next_multiple_of(PMD_SIZE);
        if off_end <= off_align || off_end - off_align < PMD_SIZE {
            return None;
        }
        let ret = self.arch_get_unmapped_area(pid, hint, len + PMD_SIZE)?;
        if ret == hint {
            return Some(ret);
        }
        let off_sub = off.wrapping_sub(ret) & (PMD_SIZE - 1);
        Some(if off_sub == 0 {
            ret + PMD_SIZE
        } else {
            ret + off_sub
        })
    }

    /// `__get_unmapped_area` for a non-fixed request.
    fn get_unmapped_area(
        &self,
        pid: Pid,
        file: Option<FileId>,
        shared_anon: bool,
        hint: u64,
        len: u64,
        pgoff: u64,
    ) -> Result<u64, Error> {
        let found = match file.map(|f| self.files[f.0].kind) {
            // Regular files sit on a filesystem whose get_unmapped_area is
            // thp_get_unmapped_area (as ext4's is).
            Some(FileKind::Regular) => self
                .thp_get_unmapped_area(pid, hint, len, pgoff << PAGE_SHIFT)
                .or_else(|| self.arch_get_unmapped_area(pid, hint, len)),
            Some(FileKind::Shmem) => self.arch_get_unmapped_area(pid, hint, len),
            None if !shared_anon && hint == 0 && len.is_multiple_of(PMD_SIZE) => self
                .thp_get_unmapped_area(pid, 0, len, 0)
                .or_else(|| self.arch_get_unmapped_area(pid, 0, len)),
            None => self.arch_get_unmapped_area(pid, hint, len),
        };
        found.ok_or_else(|| {
            anonmap_abi::err!(
                ENOMEM,
                "no free range of {len:#x} bytes in the address space"
            )
        })
    }

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
        if f.populate {
            self.check_frames_for(pid, len)?;
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
            let id = self.vma_alloc(Vma {
                pid,
                start: addr,
                end,
                pgoff,
                flags,
                file: file_id,
                anon_vma: None,
                chain: Vec::new(),
                name: None,
            });
            self.vma_link(id);
        }
        let mm = &mut self.procs.get_mut(&pid).expect("checked").mm;
        mm.counters.stat_account(flags, pages(addr, end) as i64);
        if f.populate {
            self.populate(pid, addr, end)?;
        }
        Ok(addr)
    }

    /// `mm_populate` after MAP_POPULATE: write-faults private writable ranges, read-faults the
    /// rest, skips inaccessible VMAs.
    fn populate(&mut self, pid: Pid, start: u64, end: u64) -> Result<(), Error> {
        for id in self.vmas_in(pid, start, end) {
            let v = &self.vmas[id.0];
            if !v.is_accessible() {
                continue;
            }
            let (s, e) = (v.start.max(start), v.end.min(end));
            let access = if v.flags & (VM_WRITE | VM_SHARED) == VM_WRITE {
                Access::Write
            } else {
                Access::Read
            };
            self.touch_range(pid, s, e - s, access)?;
        }
        Ok(())
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
        let flags = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ACCOUNT;
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
            let id = self.vma_alloc(Vma {
                pid,
                start: oldbrk,
                end: newbrk,
                pgoff: vpn(oldbrk),
                flags,
                file: None,
                anon_vma: None,
                chain: Vec::new(),
                name: None,
            });
            self.vma_link(id);
        }
        let mm = &mut self.procs.get_mut(&pid).expect("live").mm;
        let n = pages(oldbrk, newbrk);
        mm.counters.total_vm += n;
        mm.counters.data_vm += n;
        mm.brk = brk;
        Ok(brk)
    }

    /// `mremap`.
    pub(super) fn mremap(&mut self, args: &MremapArgs) -> Result<u64, Error> {
        let MremapArgs {
            pid,
            addr,
            old_len,
            new_len,
            flags: f,
            new_addr,
        } = *args;
        let new_addr = new_addr.unwrap_or(0);
        self.proc_ref(pid)?;
        let (Some(old_len), Some(new_len)) = (page_align_up(old_len), page_align_up(new_len))
        else {
            return Err(anonmap_abi::err!(EINVAL, "mremap: length overflows"));
        };
        // check_mremap_params
        if !page_aligned(addr) {
            return Err(anonmap_abi::err!(
                EINVAL,
                "mremap: addr {addr:#x} is not page aligned"
            ));
        }
        if new_len == 0 || new_len > TASK_SIZE {
            return Err(anonmap_abi::err!(
                EINVAL,
                "mremap: new_len {new_len:#x} is 0 or beyond TASK_SIZE"
            ));
        }
        if f.fixed {
            if new_addr > TASK_SIZE - new_len {
                return Err(anonmap_abi::err!(
                    EINVAL,
                    "mremap: new_addr {new_addr:#x} is beyond TASK_SIZE"
                ));
            }
            if !page_aligned(new_addr) {
                return Err(anonmap_abi::err!(
                    EINVAL,
                    "mremap: new_addr {new_addr:#x} is not page aligned"
                ));
            }
            if !f.maymove {
                return Err(anonmap_abi::err!(EINVAL, "mremap: fixed requires maymove"));
            }
            if addr < new_addr + new_len && new_addr < addr.saturating_add(old_len) {
                return Err(anonmap_abi::err!(
                    EINVAL,
                    "mremap: the old and new ranges overlap"
                ));
            }
        }
        // check_map_count_against_split_early: room for four more VMAs.
        if self.map_count(pid) + 4 > MAX_MAP_COUNT {
            return Err(anonmap_abi::err!(
                ENOMEM,
                "mremap: too close to vm.max_map_count"
            ));
        }
        if f.fixed && old_len == new_len {
            return self.remap_move(pid, addr, old_len, new_addr);
        }
        let vma = self.vma_at(pid, addr);
        self.check_prep_vma(vma, addr, old_len, new_len, f.fixed)?;
        let vma = vma.expect("checked by check_prep_vma");
        if f.fixed {
            return self.mremap_to(pid, addr, old_len, new_len, new_addr);
        }
        // mremap_at
        if new_len == old_len {
            return Ok(addr);
        }
        if new_len < old_len {
            self.do_munmap(pid, addr + new_len, addr + old_len)?;
            return Ok(addr);
        }
        // expand_vma: in place when [addr, addr+old_len) reaches the VMA's end and the space
        // above is free.
        let delta = new_len - old_len;
        let v_end = self.vmas[vma.0].end;
        if v_end - addr == old_len
            && v_end.checked_add(delta).is_some_and(|e| e <= TASK_SIZE)
            && self.vmas_in(pid, v_end, v_end + delta).is_empty()
        {
            let v = &self.vmas[vma.0];
            let attrs = MergeAttrs {
                flags: v.flags,
                file: v.file,
                name: v.name,
                anon_vma: v.anon_vma,
            };
            let pgoff = v.pgoff + pages(v.start, v_end);
            let flags = v.flags;
            let merged =
                self.merge_new_range(pid, v_end, v_end + delta, pgoff, &attrs, None, false);
            if merged.is_none() {
                return Err(anonmap_abi::err!(
                    ENOMEM,
                    "mremap: could not expand the VMA in place"
                ));
            }
            let mm = &mut self.procs.get_mut(&pid).expect("live").mm;
            mm.counters
                .stat_account(flags, (delta >> PAGE_SHIFT) as i64);
            return Ok(addr);
        }
        if !f.maymove {
            return Err(anonmap_abi::err!(
                ENOMEM,
                "mremap: cannot grow [{addr:#x}, +{old_len:#x}) in place and maymove is not set"
            ));
        }
        let v = &self.vmas[vma.0];
        let pgoff = v.pgoff + ((addr - v.start) >> PAGE_SHIFT);
        let dest = self.get_unmapped_area(pid, v.file, false, 0, new_len, pgoff)?;
        self.move_vma(pid, vma, addr, old_len, dest, new_len)
    }

    /// `check_prep_vma`.
    fn check_prep_vma(
        &self,
        vma: Option<VmaId>,
        addr: u64,
        old_len: u64,
        new_len: u64,
        implies_new_addr: bool,
    ) -> Result<(), Error> {
        let Some(vma) = vma else {
            return Err(anonmap_abi::err!(EFAULT, "mremap: no mapping at {addr:#x}"));
        };
        let v = &self.vmas[vma.0];
        let will_map_new = new_len > old_len || implies_new_addr;
        if !will_map_new {
            return Ok(());
        }
        if old_len == 0 && v.flags & (VM_SHARED | VM_MAYSHARE) == 0 {
            return Err(anonmap_abi::err!(
                EINVAL,
                "mremap: old_len 0 (duplicating) is only for shared mappings"
            ));
        }
        let old_len = if new_len < old_len { new_len } else { old_len };
        if old_len > v.end - addr {
            return Err(anonmap_abi::err!(
                EFAULT,
                "mremap: [{addr:#x}, +{old_len:#x}) runs past the end of its VMA at {:#x}",
                v.end
            ));
        }
        if new_len == old_len {
            return Ok(());
        }
        let pgoff = v.pgoff + ((addr - v.start) >> PAGE_SHIFT);
        if pgoff.checked_add(new_len >> PAGE_SHIFT).is_none() {
            return Err(anonmap_abi::err!(EINVAL, "mremap: page offset overflows"));
        }
        if v.flags & VM_DONTEXPAND != 0 {
            return Err(anonmap_abi::err!(
                EFAULT,
                "mremap: the VMA cannot be expanded"
            ));
        }
        Ok(())
    }

    /// `mremap_to`: unmap the destination, shrink the source if asked, then move.
    fn mremap_to(
        &mut self,
        pid: Pid,
        addr: u64,
        old_len: u64,
        new_len: u64,
        new_addr: u64,
    ) -> Result<u64, Error> {
        self.do_munmap(pid, new_addr, new_addr + new_len)?;
        if self.vma_at(pid, addr).is_none() {
            return Err(anonmap_abi::err!(EFAULT, "mremap: no mapping at {addr:#x}"));
        }
        let mut old_len = old_len;
        if new_len < old_len {
            self.do_munmap(pid, addr + new_len, addr + old_len)?;
            old_len = new_len;
        }
        let vma = self
            .vma_at(pid, addr)
            .ok_or_else(|| anonmap_abi::err!(EFAULT, "mremap: no mapping at {addr:#x}"))?;
        self.move_vma(pid, vma, addr, old_len, new_addr, new_len)
    }

    /// `remap_move`: a fixed, same-size move that may span several VMAs; the gaps between
    /// source VMAs are kept at the destination.
    fn remap_move(&mut self, pid: Pid, start: u64, len: u64, new_addr: u64) -> Result<u64, Error> {
        let end = start + len;
        let mut target = new_addr;
        let mut last_end = 0;
        let mut seen = false;
        let mut res = Err(anonmap_abi::err!(
            EFAULT,
            "mremap: no mapping in [{start:#x}, {end:#x})"
        ));
        let mut cursor = start;
        while let Some(vma) = self
            .find_vma(pid, cursor)
            .filter(|&v| self.vmas[v.0].start < end)
        {
            let (v_start, v_end) = (self.vmas[vma.0].start, self.vmas[vma.0].end);
            if !seen && start < v_start {
                return Err(anonmap_abi::err!(
                    EFAULT,
                    "mremap: no mapping at {start:#x}"
                ));
            }
            let addr = v_start.max(start);
            let piece = end.min(v_end) - addr;
            let offset = if seen { v_start - last_end } else { 0 };
            last_end = v_end;
            let dest = target + offset;
            self.check_prep_vma(Some(vma), addr, piece, piece, true)?;
            let got = self.mremap_to(pid, addr, piece, piece, dest)?;
            if !seen {
                res = Ok(got);
            }
            seen = true;
            target = got + piece;
            cursor = addr + piece;
        }
        res
    }

    /// `move_vma`: copy the VMA to `[new_addr, +new_len)` (merging there if it can), move the
    /// page-table entries of `[old_addr, +old_len)`, then unmap the source range.
    fn move_vma(
        &mut self,
        pid: Pid,
        vma: VmaId,
        old_addr: u64,
        old_len: u64,
        new_addr: u64,
        new_len: u64,
    ) -> Result<u64, Error> {
        // prep_move_vma: room for the copy plus a split of the source.
        if self.map_count(pid) + 2 > MAX_MAP_COUNT {
            return Err(anonmap_abi::err!(
                ENOMEM,
                "mremap: too close to vm.max_map_count"
            ));
        }
        let new_vma = self.copy_vma(vma, old_addr, new_addr, new_len);
        self.move_page_tables(pid, old_addr, new_addr, old_len, new_vma);
        let hiwater_vm = self.procs[&pid].mm.counters.hiwater_vm;
        let flags = self.vmas[new_vma.0].flags;
        self.procs
            .get_mut(&pid)
            .expect("live")
            .mm
            .counters
            .stat_account(flags, (new_len >> PAGE_SHIFT) as i64);
        self.do_munmap(pid, old_addr, old_addr + old_len)?;
        self.procs
            .get_mut(&pid)
            .expect("live")
            .mm
            .counters
            .hiwater_vm = hiwater_vm;
        Ok(new_addr)
    }

    /// `copy_vma`: a VMA for the destination with the source's attributes, anon_vma and pgoff
    /// (reset to the new address when the source is unfaulted anonymous memory), merged into a
    /// destination neighbour when the rules allow.
    fn copy_vma(&mut self, src: VmaId, old_addr: u64, new_addr: u64, len: u64) -> VmaId {
        let (pid, flags, file, name, anon_vma, mut pgoff) = {
            let v = &self.vmas[src.0];
            (
                v.pid,
                v.flags,
                v.file,
                v.name,
                v.anon_vma,
                v.pgoff + ((old_addr - v.start) >> PAGE_SHIFT),
            )
        };
        if file.is_none() && anon_vma.is_none() {
            pgoff = vpn(new_addr);
        }
        let attrs = MergeAttrs {
            flags,
            file,
            name,
            anon_vma,
        };
        if let Some(merged) = self.merge_new_range(
            pid,
            new_addr,
            new_addr + len,
            pgoff,
            &attrs,
            Some(src),
            false,
        ) {
            return merged;
        }
        let new = self.vm_area_dup(src);
        {
            let n = &mut self.vmas[new.0];
            n.start = new_addr;
            n.end = new_addr + len;
            n.pgoff = pgoff;
        }
        self.anon_vma_clone(new, src);
        self.vma_link(new);
        new
    }

    /// `move_page_tables`: moves every entry of `[old, old+len)` to the same offset at `new`;
    /// pages keep their mapping and index, so the rmap finds them at the new address.
    fn move_page_tables(&mut self, pid: Pid, old: u64, new: u64, len: u64, _new_vma: VmaId) {
        let mm = &mut self.procs.get_mut(&pid).expect("live").mm;
        let mut moved = Vec::new();
        mm.pt.update(vpn(old), vpn(old + len), |v, pte| {
            moved.push((v, *pte));
            *pte = super::pagetable::Pte::NONE;
        });
        let shift = vpn(new).wrapping_sub(vpn(old));
        for (v, pte) in moved {
            mm.pt.set(v.wrapping_add(shift), pte);
        }
    }
}
