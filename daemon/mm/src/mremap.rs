//! mremap: growing and shrinking in place, moving (MREMAP_MAYMOVE, MREMAP_FIXED), including
//! the multi-VMA fixed move, with the VMA's pages, page tables and rmap moved along
//! (mm/mremap.c as of 6.18).

use super::types::{
    page_align_up, page_aligned, pages, vpn, Pid, VmaId, MAX_MAP_COUNT, PAGE_SHIFT, TASK_SIZE,
};
use super::vma::*;
use super::vma_tree::MergeAttrs;
use super::Machine;
use anonmap_abi::{Error, MremapArgs, MremapFlags};

impl Machine {
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
        // MREMAP_FIXED and MREMAP_DONTUNMAP name the new address (as a hint without FIXED).
        let implies_new_addr = f.fixed || f.dontunmap;
        if implies_new_addr {
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
                return Err(anonmap_abi::err!(
                    EINVAL,
                    "mremap: fixed and dontunmap require maymove"
                ));
            }
            if f.dontunmap && old_len != new_len {
                return Err(anonmap_abi::err!(
                    EINVAL,
                    "mremap: dontunmap cannot resize (old_len {old_len:#x}, new_len {new_len:#x})"
                ));
            }
            if addr < new_addr + new_len && new_addr < addr.saturating_add(old_len) {
                return Err(anonmap_abi::err!(
                    EINVAL,
                    "mremap: the old and new ranges overlap"
                ));
            }
            // check_map_count_against_split_early: room for four more VMAs.
            if self.map_count(pid) + 4 > MAX_MAP_COUNT {
                return Err(anonmap_abi::err!(
                    ENOMEM,
                    "mremap: too close to vm.max_map_count"
                ));
            }
        }
        if f.fixed && old_len == new_len {
            return self.remap_move(pid, addr, old_len, new_addr, f.dontunmap);
        }
        let vma = self.vma_at(pid, addr);
        self.check_prep_vma(vma, addr, old_len, new_len, implies_new_addr, f.dontunmap)?;
        let vma = vma.expect("checked by check_prep_vma");
        // A locked VMA that grows has its new part populated (populate_expand).
        let populate = new_len > old_len && self.vmas[vma.0].flags & VM_LOCKED != 0;
        let res = if implies_new_addr {
            self.mremap_to(pid, addr, old_len, new_len, new_addr, f)
        } else {
            self.mremap_at(pid, vma, addr, old_len, new_len, f.maymove)
        }?;
        if populate {
            let from = res + old_len;
            let _ = self.mm_populate(pid, from, from + (new_len - old_len), true);
        }
        Ok(res)
    }

    /// `mremap_at`: resizing without a named new address: shrink in place, grow in place, or
    /// (with maymove) move to a free range.
    fn mremap_at(
        &mut self,
        pid: Pid,
        vma: VmaId,
        addr: u64,
        old_len: u64,
        new_len: u64,
        maymove: bool,
    ) -> Result<u64, Error> {
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
            if flags & VM_LOCKED != 0 {
                mm.counters.locked_vm += delta >> PAGE_SHIFT;
            }
            return Ok(addr);
        }
        if !maymove {
            return Err(anonmap_abi::err!(
                ENOMEM,
                "mremap: cannot grow [{addr:#x}, +{old_len:#x}) in place and maymove is not set"
            ));
        }
        let v = &self.vmas[vma.0];
        let pgoff = v.pgoff + ((addr - v.start) >> PAGE_SHIFT);
        let dest = self.get_unmapped_area(pid, v.file, false, 0, new_len, pgoff)?;
        self.move_vma(pid, vma, addr, old_len, dest, new_len, false)
    }

    /// `check_prep_vma`.
    fn check_prep_vma(
        &self,
        vma: Option<VmaId>,
        addr: u64,
        old_len: u64,
        new_len: u64,
        implies_new_addr: bool,
        dontunmap: bool,
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
        if dontunmap && v.flags & VM_DONTEXPAND != 0 {
            return Err(anonmap_abi::err!(
                EINVAL,
                "mremap: dontunmap of a VMA that cannot be expanded"
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
        if !self.mlock_future_ok(v.pid, v.flags, (new_len - old_len) >> PAGE_SHIFT) {
            return Err(anonmap_abi::err!(
                EAGAIN,
                "mremap: growing a locked VMA would exceed RLIMIT_MEMLOCK (8 MiB)"
            ));
        }
        Ok(())
    }

    /// `mremap_to`: with `fixed`, unmap the destination; shrink the source if asked; then move
    /// to the destination (without `fixed`, `new_addr` is a placement hint).
    fn mremap_to(
        &mut self,
        pid: Pid,
        addr: u64,
        old_len: u64,
        new_len: u64,
        new_addr: u64,
        f: MremapFlags,
    ) -> Result<u64, Error> {
        if f.fixed {
            self.do_munmap(pid, new_addr, new_addr + new_len)?;
            if self.vma_at(pid, addr).is_none() {
                return Err(anonmap_abi::err!(EFAULT, "mremap: no mapping at {addr:#x}"));
            }
        }
        let mut old_len = old_len;
        if new_len < old_len {
            self.do_munmap(pid, addr + new_len, addr + old_len)?;
            old_len = new_len;
        }
        let vma = self
            .vma_at(pid, addr)
            .ok_or_else(|| anonmap_abi::err!(EFAULT, "mremap: no mapping at {addr:#x}"))?;
        let dest = if f.fixed {
            new_addr
        } else {
            let v = &self.vmas[vma.0];
            let pgoff = v.pgoff + ((addr - v.start) >> PAGE_SHIFT);
            self.get_unmapped_area(pid, v.file, false, new_addr, new_len, pgoff)?
        };
        self.move_vma(pid, vma, addr, old_len, dest, new_len, f.dontunmap)
    }

    /// `remap_move`: a fixed, same-size move that may span several VMAs; the gaps between
    /// source VMAs are kept at the destination.
    fn remap_move(
        &mut self,
        pid: Pid,
        start: u64,
        len: u64,
        new_addr: u64,
        dontunmap: bool,
    ) -> Result<u64, Error> {
        let end = start + len;
        let mut target = new_addr;
        let mut last_end = 0;
        let mut seen = false;
        let mut res = Err(anonmap_abi::err!(
            EFAULT,
            "mremap: no mapping in [{start:#x}, {end:#x})"
        ));
        let mut cursor = start;
        // for_each_vma_range: each VMA once, even a dontunmap source that stays behind.
        while let Some(vma) = self
            .find_vma(pid, cursor)
            .filter(|&v| cursor < end && self.vmas[v.0].start < end)
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
            self.check_prep_vma(Some(vma), addr, piece, piece, true, dontunmap)?;
            let flags = MremapFlags {
                maymove: true,
                fixed: true,
                dontunmap,
            };
            let got = self.mremap_to(pid, addr, piece, piece, dest, flags)?;
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
    /// page-table entries of `[old_addr, +old_len)`, then unmap the source range; with
    /// `dontunmap` the source VMA stays, whole, without its pages and unlocked
    /// (`dontunmap_complete`: locked_vm keeps counting it).
    #[allow(clippy::too_many_arguments)]
    fn move_vma(
        &mut self,
        pid: Pid,
        vma: VmaId,
        old_addr: u64,
        old_len: u64,
        new_addr: u64,
        new_len: u64,
        dontunmap: bool,
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
        // vrm_stat_account(new_len).
        let c = &mut self.procs.get_mut(&pid).expect("live").mm.counters;
        c.stat_account(flags, (new_len >> PAGE_SHIFT) as i64);
        if flags & VM_LOCKED != 0 {
            c.locked_vm += new_len >> PAGE_SHIFT;
        }
        if dontunmap {
            let old = self.vma_at(pid, old_addr).expect("the source VMA stays");
            self.vmas[old.0].flags &= !super::mlock::VM_LOCKED_MASK;
            let v = &self.vmas[old.0];
            if new_vma != old && v.start == old_addr && v.end == old_addr + old_len {
                self.unlink_anon_vmas(old);
            }
        } else {
            self.do_munmap(pid, old_addr, old_addr + old_len)?;
        }
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
        // move_soft_dirty_pte: a moved entry is soft-dirty at its new address.
        let soft_dirty = self.config.soft_dirty;
        for (v, pte) in moved {
            let pte = if soft_dirty && !pte.is_none() {
                pte.with_soft_dirty(true)
            } else {
                pte
            };
            mm.pt.set(v.wrapping_add(shift), pte);
        }
    }
}
