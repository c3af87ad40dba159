//! Where a new mapping goes: `get_unmapped_area` with top-down placement below mmap_base,
//! address hints, the bottom-up fallback and the THP alignment of PMD-sized anonymous and file
//! maps (mm/mmap.c `__get_unmapped_area`, `arch_get_unmapped_area_topdown`,
//! mm/huge_memory.c `thp_get_unmapped_area`, as of 6.18).

use super::files::FileKind;
use super::types::{
    page_align_up, FileId, Pid, MMAP_MIN_ADDR, PAGE_SHIFT, PAGE_SIZE, PMD_SIZE, TASK_SIZE,
};
use super::Machine;
use anonmap_abi::Error;

/// TASK_UNMAPPED_BASE: where the bottom-up fallback search starts.
const TASK_UNMAPPED_BASE: u64 = (TASK_SIZE / 3) & !(PAGE_SIZE - 1);

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
    pub(super) fn get_unmapped_area(
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
}
