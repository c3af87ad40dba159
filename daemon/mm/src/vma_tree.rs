//! The VMA tree of an address space and its structural operations (mm/vma.c): lookup,
//! insertion, removal, split, and the three merge paths — a new range
//! (`vma_merge_new_range` + `vma_expand`), an existing range whose attributes change
//! (`vma_merge_existing_range`), and the merge-or-split wrapper `vma_modify`.
//!
//! The merge rules are the 6.16+ ones (HOST 6.18 behaves the same): attributes must match
//! exactly (flags, file, name by content), pgoff must be linear, and anon_vmas must be
//! compatible per `is_mergeable_anon_vma` — an unfaulted side may adopt the other's anon_vma
//! unless that VMA (or the VMA an mremap copy came from) is a fork child.

use std::collections::BTreeMap;

use super::types::{pages, AnonVmaId, FileId, NameId, Pid, VmaId, MAX_MAP_COUNT, PAGE_SHIFT};
use super::vma::{Vma, VM_SPECIAL};
use super::Machine;
use anonmap_abi::Error;

/// The attributes a merge compares: what the range will have after the operation.
#[derive(Debug, Clone, Copy)]
pub(super) struct MergeAttrs {
    pub flags: u64,
    pub file: Option<FileId>,
    pub name: Option<NameId>,
    /// vmg->anon_vma: the source's anon_vma (the modified VMA's, or the mremap source's).
    pub anon_vma: Option<AnonVmaId>,
}

impl Machine {
    /// `find_vma`: the first VMA of `pid` that ends above `addr`.
    pub(super) fn find_vma(&self, pid: Pid, addr: u64) -> Option<VmaId> {
        let mm = &self.procs[&pid].mm;
        if let Some((_, &id)) = mm.vmas.range(..=addr).next_back() {
            if self.vmas[id.0].end > addr {
                return Some(id);
            }
        }
        mm.vmas
            .range((std::ops::Bound::Excluded(addr), std::ops::Bound::Unbounded))
            .next()
            .map(|(_, &id)| id)
    }

    /// `vma_lookup`: the VMA containing `addr`.
    pub(super) fn vma_at(&self, pid: Pid, addr: u64) -> Option<VmaId> {
        self.find_vma(pid, addr)
            .filter(|&id| self.vmas[id.0].start <= addr)
    }

    /// The first VMA that starts at or above `addr`.
    pub(super) fn next_vma(&self, pid: Pid, addr: u64) -> Option<VmaId> {
        self.procs[&pid]
            .mm
            .vmas
            .range(addr..)
            .next()
            .map(|(_, &id)| id)
    }

    /// The last VMA that starts below `addr`.
    pub(super) fn prev_vma(&self, pid: Pid, addr: u64) -> Option<VmaId> {
        self.procs[&pid]
            .mm
            .vmas
            .range(..addr)
            .next_back()
            .map(|(_, &id)| id)
    }

    /// The VMAs intersecting `[start, end)`, in address order.
    pub(super) fn vmas_in(&self, pid: Pid, start: u64, end: u64) -> Vec<VmaId> {
        let mut out = Vec::new();
        let mut cur = self.find_vma(pid, start);
        while let Some(id) = cur {
            let v = &self.vmas[id.0];
            if v.start >= end {
                break;
            }
            out.push(id);
            cur = self.next_vma(pid, v.end);
        }
        out
    }

    pub(super) fn map_count(&self, pid: Pid) -> usize {
        self.procs[&pid].mm.vmas.len()
    }

    /// Puts a new VMA into the arena (not yet in any tree).
    pub(super) fn vma_alloc(&mut self, vma: Vma) -> VmaId {
        VmaId(self.vmas.insert(vma))
    }

    /// The VMA tree of the process that owns VMA `id`, and the VMA's start (its key there).
    fn owner_tree(&mut self, id: VmaId) -> (&mut BTreeMap<u64, VmaId>, u64) {
        let (pid, start) = (self.vmas[id.0].pid, self.vmas[id.0].start);
        let tree = &mut self.procs.get_mut(&pid).expect("vma owner").mm.vmas;
        (tree, start)
    }

    /// `vma_link`: inserts an allocated VMA into its process's tree and its file's i_mmap.
    pub(super) fn vma_link(&mut self, id: VmaId) {
        let (tree, start) = self.owner_tree(id);
        let old = tree.insert(start, id);
        debug_assert!(old.is_none(), "overlapping VMA at {start:#x}");
        self.file_index_insert(id);
    }

    /// Removes a VMA from its tree and frees it: file and anon_vma links dropped, name
    /// reference put, shmem object released if this was its last mapping. Its page-table
    /// entries must already be gone or be covered by the VMA that absorbs its range.
    pub(super) fn vma_remove(&mut self, id: VmaId) {
        let (tree, start) = self.owner_tree(id);
        let removed = tree.remove(&start);
        debug_assert_eq!(removed, Some(id));
        self.file_index_remove(id);
        self.unlink_anon_vmas(id);
        let v = self.vmas.remove(id.0);
        if let Some(n) = v.name {
            self.names.put(n);
        }
        if let Some(f) = v.file {
            self.release_file_if_unused(f);
        }
    }

    /// `vma_set_range`: moves a linked VMA's bounds and pgoff, keeping every index in step.
    pub(super) fn vma_set_range(&mut self, id: VmaId, start: u64, end: u64, pgoff: u64) {
        debug_assert!(start < end);
        self.anon_index_remove(id);
        self.file_index_remove(id);
        let v = &mut self.vmas[id.0];
        let (pid, old_start) = (v.pid, v.start);
        v.start = start;
        v.end = end;
        v.pgoff = pgoff;
        if old_start != start {
            let map = &mut self.procs.get_mut(&pid).expect("vma owner").mm.vmas;
            if map.get(&old_start) == Some(&id) {
                map.remove(&old_start);
                let old = map.insert(start, id);
                debug_assert!(old.is_none(), "overlapping VMA at {start:#x}");
            }
        }
        self.anon_index_insert(id);
        self.file_index_insert(id);
    }

    /// `vm_area_dup`: a copy of `id` sharing its file and name object (one more reference),
    /// with the same anon_vma pointer and an empty chain. Not linked anywhere.
    pub(super) fn vm_area_dup(&mut self, id: VmaId) -> VmaId {
        let Vma {
            pid,
            start,
            end,
            pgoff,
            flags,
            file,
            anon_vma,
            chain: _,
            name,
        } = self.vmas[id.0]; // Copy fields only: the chain is rebuilt by anon_vma_clone.
        let name = name.map(|n| self.names.dup(n));
        self.vma_alloc(Vma {
            anon_vma,
            name,
            ..Vma::new(pid, start, end, pgoff, flags, file)
        })
    }

    /// `__split_vma`: splits `id` at `addr`. With `new_below` the new VMA takes the lower part
    /// and `id` keeps the upper; otherwise the new VMA takes the upper part. Returns the new VMA.
    pub(super) fn split_vma_unchecked(&mut self, id: VmaId, addr: u64, new_below: bool) -> VmaId {
        let (start, end, pgoff) = {
            let v = &self.vmas[id.0];
            debug_assert!(v.start < addr && addr < v.end);
            (v.start, v.end, v.pgoff)
        };
        let new = self.vm_area_dup(id);
        let delta = (addr - start) >> PAGE_SHIFT;
        {
            let n = &mut self.vmas[new.0];
            if new_below {
                n.end = addr;
            } else {
                n.start = addr;
                n.pgoff = pgoff + delta;
            }
        }
        self.anon_vma_clone(new, id);
        if new_below {
            self.vma_set_range(id, addr, end, pgoff + delta);
        } else {
            self.vma_set_range(id, start, addr, pgoff);
        }
        self.vma_link(new);
        new
    }

    /// `split_vma`: as above, but fails with ENOMEM at vm.max_map_count.
    pub(super) fn split_vma(
        &mut self,
        id: VmaId,
        addr: u64,
        new_below: bool,
    ) -> Result<VmaId, Error> {
        let pid = self.vmas[id.0].pid;
        if self.map_count(pid) >= MAX_MAP_COUNT {
            return Err(anonmap_abi::err!(
                ENOMEM,
                "splitting the VMA at {addr:#x} would exceed vm.max_map_count ({MAX_MAP_COUNT})"
            ));
        }
        Ok(self.split_vma_unchecked(id, addr, new_below))
    }

    /// `is_mergeable_vma`: flags (VM_SOFTDIRTY aside), file and name (by content) all equal.
    fn is_mergeable_vma(&self, tgt: VmaId, a: &MergeAttrs) -> bool {
        let t = &self.vmas[tgt.0];
        (t.flags ^ a.flags) & !super::vma::VM_SOFTDIRTY == 0
            && t.file == a.file
            && self.names.eq(t.name, a.name)
    }

    /// `is_mergeable_anon_vma` (6.16+).
    fn is_mergeable_anon_vma(
        &self,
        tgt: VmaId,
        src_anon: Option<AnonVmaId>,
        src: Option<VmaId>,
        copied_from: Option<VmaId>,
    ) -> bool {
        let t = &self.vmas[tgt.0];
        let fork_child = |v: Option<VmaId>| v.is_some_and(|v| self.vmas[v.0].is_fork_child());
        match (t.anon_vma, src_anon) {
            (None, Some(_)) => !fork_child(src) && !fork_child(copied_from),
            (Some(_), None) => !t.is_fork_child(),
            (t_av, s_av) => t_av == s_av,
        }
    }

    /// `can_vma_merge_before`: may `[start, end)` with `pgoff` merge in front of `next`?
    #[allow(clippy::too_many_arguments)]
    fn can_merge_before(
        &self,
        next: VmaId,
        start: u64,
        end: u64,
        pgoff: u64,
        a: &MergeAttrs,
        src: Option<VmaId>,
        copied_from: Option<VmaId>,
    ) -> bool {
        self.is_mergeable_vma(next, a)
            && self.is_mergeable_anon_vma(next, a.anon_vma, src, copied_from)
            && self.vmas[next.0].pgoff == pgoff + pages(start, end)
    }

    /// `can_vma_merge_after`: may a range starting at `pgoff` merge behind `prev`?
    fn can_merge_after(
        &self,
        prev: VmaId,
        pgoff: u64,
        a: &MergeAttrs,
        src: Option<VmaId>,
        copied_from: Option<VmaId>,
    ) -> bool {
        let p = &self.vmas[prev.0];
        self.is_mergeable_vma(prev, a)
            && self.is_mergeable_anon_vma(prev, a.anon_vma, src, copied_from)
            && p.pgoff + p.pages() == pgoff
    }

    /// Whether prev's and next's anon_vmas can live in one VMA.
    fn prev_next_anon_compatible(&self, prev: VmaId, next: VmaId) -> bool {
        let (p, n) = (self.vmas[prev.0].anon_vma, self.vmas[next.0].anon_vma);
        p.is_none() || n.is_none() || p == n
    }

    /// `vma_merge_new_range` (+ `vma_expand`): tries to cover the empty range `[start, end)`
    /// by expanding `prev` and/or `next`. `copied_from` is the mremap source; `just_expand`
    /// (brk) only tries `prev`. Returns the VMA that now covers the range.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn merge_new_range(
        &mut self,
        pid: Pid,
        start: u64,
        end: u64,
        pgoff: u64,
        a: &MergeAttrs,
        copied_from: Option<VmaId>,
        just_expand: bool,
    ) -> Option<VmaId> {
        let prev = self
            .prev_vma(pid, start)
            .filter(|&p| self.vmas[p.0].end == start);
        let next = self
            .next_vma(pid, end)
            .filter(|&n| self.vmas[n.0].start == end);
        if a.flags & VM_SPECIAL != 0 || (prev.is_none() && next.is_none()) {
            return None;
        }
        let can_left = prev.is_some_and(|p| self.can_merge_after(p, pgoff, a, None, copied_from));
        let can_right = !just_expand
            && next.is_some_and(|n| {
                self.can_merge_before(n, start, end, pgoff, a, None, copied_from)
                    && (!can_left || self.prev_next_anon_compatible(prev.unwrap(), n))
            });
        let (mut t_start, mut t_end, mut t_pgoff, mut target) = (start, end, pgoff, None);
        if can_right {
            let n = next.unwrap();
            t_end = self.vmas[n.0].end;
            target = Some(n);
        }
        if can_left {
            let p = prev.unwrap();
            t_start = self.vmas[p.0].start;
            t_pgoff = self.vmas[p.0].pgoff;
            target = Some(p);
        }
        let target = target?;
        // vma_expand
        let remove_next = next.filter(|&n| n != target && t_end == self.vmas[n.0].end);
        if let Some(n) = remove_next {
            self.dup_anon_vma(target, n);
        }
        if let Some(src) = copied_from {
            self.dup_anon_vma(target, src);
        }
        if let Some(n) = remove_next {
            self.vma_remove(n);
        }
        self.vma_set_range(target, t_start, t_end, t_pgoff);
        Some(target)
    }

    /// `vma_merge_existing_range`: the range `[start, end)` of `middle` is about to take the
    /// attributes `a`; merges it into `prev` and/or the next VMA when they match. `prev` is
    /// the VMA before `start` (which is `middle` itself when `start` is inside it).
    pub(super) fn merge_existing_range(
        &mut self,
        middle: VmaId,
        prev: Option<VmaId>,
        start: u64,
        end: u64,
        a: &MergeAttrs,
    ) -> Option<VmaId> {
        let (m_start, m_end, m_pgoff, pid) = {
            let m = &self.vmas[middle.0];
            (m.start, m.end, m.pgoff, m.pid)
        };
        let left_side = start == m_start;
        let right_side = end == m_end;
        if a.flags & VM_SPECIAL != 0 || (!left_side && !right_side) {
            return None;
        }
        let pgoff = m_pgoff + ((start - m_start) >> PAGE_SHIFT);
        let merge_left = left_side
            && prev.is_some_and(|p| {
                self.vmas[p.0].end == start && self.can_merge_after(p, pgoff, a, Some(middle), None)
            });
        let next = if right_side {
            self.next_vma(pid, m_end)
                .filter(|&n| self.vmas[n.0].start == end)
        } else {
            None
        };
        let merge_right = next.is_some_and(|n| {
            self.can_merge_before(n, start, end, pgoff, a, Some(middle), None)
                && (!merge_left || self.prev_next_anon_compatible(prev.unwrap(), n))
        });
        if !merge_left && !merge_right {
            return None;
        }
        let remove_middle = left_side && right_side;
        if merge_left && merge_right {
            let (p, n) = (prev.unwrap(), next.unwrap());
            let src = if self.vmas[n.0].anon_vma.is_some() {
                n
            } else {
                middle
            };
            self.dup_anon_vma(p, src);
            let (p_start, p_pgoff, n_end) = (
                self.vmas[p.0].start,
                self.vmas[p.0].pgoff,
                self.vmas[n.0].end,
            );
            self.vma_remove(middle);
            self.vma_remove(n);
            self.vma_set_range(p, p_start, n_end, p_pgoff);
            Some(p)
        } else if merge_left {
            let p = prev.unwrap();
            self.dup_anon_vma(p, middle);
            let (p_start, p_pgoff) = (self.vmas[p.0].start, self.vmas[p.0].pgoff);
            if remove_middle {
                self.vma_remove(middle);
            } else {
                let m_pgoff_new = m_pgoff + ((end - m_start) >> PAGE_SHIFT);
                self.vma_set_range(middle, end, m_end, m_pgoff_new);
            }
            self.vma_set_range(p, p_start, end, p_pgoff);
            Some(p)
        } else {
            let n = next.unwrap();
            self.dup_anon_vma(n, middle);
            let (n_end, n_pgoff) = (self.vmas[n.0].end, self.vmas[n.0].pgoff);
            let new_pgoff = n_pgoff - pages(start, end);
            if remove_middle {
                self.vma_remove(middle);
            } else {
                self.vma_set_range(middle, m_start, start, m_pgoff);
            }
            self.vma_set_range(n, start, n_end, new_pgoff);
            Some(n)
        }
    }

    /// `vma_modify`: merges `[start, end)` of `middle` into a neighbour if the new attributes
    /// allow, else splits `middle` so that a VMA covers exactly `[start, end)`. Returns that
    /// VMA and whether it came from a merge (a merged VMA already has the attributes).
    pub(super) fn vma_modify(
        &mut self,
        middle: VmaId,
        prev: Option<VmaId>,
        start: u64,
        end: u64,
        a: &MergeAttrs,
    ) -> Result<(VmaId, bool), Error> {
        if let Some(merged) = self.merge_existing_range(middle, prev, start, end, a) {
            return Ok((merged, true));
        }
        if self.vmas[middle.0].start < start {
            self.split_vma(middle, start, true)?;
        }
        if self.vmas[middle.0].end > end {
            self.split_vma(middle, end, false)?;
        }
        Ok((middle, false))
    }
}
