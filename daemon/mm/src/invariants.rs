//! `check_invariants`: recomputes every cached number from the primary data and compares
//! (the simulator's `validate_mm`). Tests call it after every op.
//!
//! Checked: VMA trees (order, overlap, alignment, owner); page tables (table counts, PTEs
//! only inside VMAs, each mapped page reachable through its rmap at that address); frame
//! mapcounts and refcounts against the PTEs and page caches; the free list; mm counters
//! against the VMAs and PTEs; anon_vma chains against their interval indexes in both
//! directions, active-VMA, child and reference counts; file i_mmap indexes; name refcounts;
//! swap slot counts against the swap PTEs, the shmem objects' swapped pages, the swap cache,
//! the free slots, MM_SWAPENTS; locked_vm against the locked VMAs; the mlock state of each
//! frame (PG_mlocked with PG_unevictable and a lock count, never on the active list, and set on
//! every page-cache page a VM_LOCKED VMA maps); PG_swapbacked by kind of page (lazyfree pages,
//! anonymous and outside the swap cache, are the only swap-less anonymous ones); no soft-dirty
//! state on a machine without soft-dirty tracking, and with it, armed VMAs map a page writable
//! only through a soft-dirty PTE.

use std::collections::{BTreeMap, BTreeSet};

use super::frames::{page_flags, Mapping, ZERO_PFN};
use super::process::mm_counter_index;
use super::types::{page_aligned, vpn, AnonVmaId, NameId, PAGE_SHIFT};
use super::vma::{vm_class, VmClass, VM_LOCKED, VM_SOFTDIRTY, VM_SPECIAL};
use super::Machine;

impl Machine {
    /// Recomputes every cached number; returns the first disagreement found.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.check_lru()?;
        let mut mapcount: BTreeMap<u32, u32> = BTreeMap::new();
        let mut name_refs: BTreeMap<u32, u32> = BTreeMap::new();
        let mut active: BTreeMap<u32, u32> = BTreeMap::new();
        let mut chain_entries: BTreeSet<(u32, u64, u64, u32)> = BTreeSet::new();
        let mut file_entries: BTreeSet<(u32, u64, u64, u32)> = BTreeSet::new();
        let mut live_vmas = 0usize;
        let mut swap_refs: BTreeMap<u32, u32> = BTreeMap::new();
        // Frames some VM_LOCKED (and not VM_SPECIAL) VMA maps.
        let mut locked_mapped: BTreeSet<u32> = BTreeSet::new();
        for (pid, p) in &self.procs {
            let mm = &p.mm;
            let (mut total, mut data, mut stack, mut exec) = (0u64, 0u64, 0u64, 0u64);
            let mut prev_end = 0u64;
            for (&start, &id) in &mm.vmas {
                live_vmas += 1;
                let v = self
                    .vmas
                    .get(id.0)
                    .ok_or(format!("pid {pid}: dangling VMA id {id:?}"))?;
                let here = format!("pid {pid} VMA {:#x}-{:#x}", v.start, v.end);
                if v.start != start || v.pid != *pid {
                    return Err(format!("{here}: keyed at {start:#x} / owner {}", v.pid));
                }
                if !(page_aligned(v.start) && page_aligned(v.end) && v.start < v.end) {
                    return Err(format!("{here}: bad bounds"));
                }
                if v.start < prev_end {
                    return Err(format!("{here}: overlaps the previous VMA"));
                }
                prev_end = v.end;
                let n = v.pages();
                total += n;
                match vm_class(v.flags) {
                    VmClass::Exec => exec += n,
                    VmClass::Stack => stack += n,
                    VmClass::Data => data += n,
                    VmClass::Other => {}
                }
                match v.anon_vma {
                    Some(av) if !v.chain.contains(&av) => {
                        return Err(format!("{here}: anon_vma {av:?} not on its chain"))
                    }
                    None if !v.chain.is_empty() => {
                        return Err(format!("{here}: chain without anon_vma"))
                    }
                    _ => {}
                }
                if let Some(av) = v.anon_vma {
                    *active.entry(av.0).or_default() += 1;
                }
                let roots: BTreeSet<AnonVmaId> = v
                    .chain
                    .iter()
                    .map(|a| self.anon_vmas.get(a.0).map(|x| x.root))
                    .collect::<Option<_>>()
                    .ok_or(format!("{here}: chain names a freed anon_vma"))?;
                if roots.len() > 1 {
                    return Err(format!("{here}: chain spans several anon_vma trees"));
                }
                for av in &v.chain {
                    if !chain_entries.insert((av.0, v.pgoff, v.last_pgoff(), id.0)) {
                        return Err(format!("{here}: anon_vma {av:?} twice on its chain"));
                    }
                }
                if let Some(f) = v.file {
                    file_entries.insert((f.0, v.pgoff, v.last_pgoff(), id.0));
                }
                if let Some(n) = v.name {
                    *name_refs.entry(n.0).or_default() += 1;
                }
            }
            let c = &mm.counters;
            // locked_vm counts every VM_LOCKED VMA page; it may count more, as the kernel's
            // does after MREMAP_DONTUNMAP unlocks a source VMA without uncharging it ("we
            // won't unmap we don't need to touch locked_vm"), so it is a lower bound only.
            let locked: u64 = mm
                .vmas
                .values()
                .map(|id| &self.vmas[id.0])
                .filter(|v| v.flags & VM_LOCKED != 0)
                .map(|v| v.pages())
                .sum();
            if c.locked_vm < locked {
                return Err(format!(
                    "pid {pid}: locked_vm {} but its VM_LOCKED VMAs have {locked} pages",
                    c.locked_vm
                ));
            }
            if !self.config.soft_dirty
                && mm
                    .vmas
                    .values()
                    .any(|id| self.vmas[id.0].flags & VM_SOFTDIRTY != 0)
            {
                return Err(format!(
                    "pid {pid}: VM_SOFTDIRTY without soft-dirty tracking"
                ));
            }
            if (c.total_vm, c.data_vm, c.stack_vm, c.exec_vm) != (total, data, stack, exec) {
                return Err(format!(
                    "pid {pid}: total/data/stack/exec_vm {:?} but the VMAs give {:?}",
                    (c.total_vm, c.data_vm, c.stack_vm, c.exec_vm),
                    (total, data, stack, exec)
                ));
            }
            let (tables, used_ok) = mm.pt.recount();
            if tables != mm.pt.table_pages() || !used_ok {
                return Err(format!(
                    "pid {pid}: page-table counts disagree with a recount"
                ));
            }
            // PTEs: inside VMAs, reachable through the rmap.
            let mut rss = [0u64; 3];
            let mut swap_ents = 0u64;
            let mut err = None;
            mm.pt.for_each(0, u64::MAX >> PAGE_SHIFT, |v_pn, pte| {
                if err.is_some() {
                    return;
                }
                let addr = v_pn << PAGE_SHIFT;
                let Some(id) = self.vma_at(*pid, addr) else {
                    err = Some(format!("pid {pid}: PTE at {addr:#x} outside every VMA"));
                    return;
                };
                if pte.soft_dirty() && !self.config.soft_dirty {
                    err = Some(format!(
                        "pid {pid}: soft-dirty PTE at {addr:#x} without soft-dirty tracking"
                    ));
                    return;
                }
                if pte.is_swap() {
                    swap_ents += 1;
                    *swap_refs.entry(pte.swap_slot()).or_default() += 1;
                    if self.vmas[id.0].anon_vma.is_none() {
                        err = Some(format!(
                            "pid {pid}: swap entry at {addr:#x} in a VMA without an anon_vma"
                        ));
                    }
                    return;
                }
                if !pte.is_present() {
                    err = Some(format!("pid {pid}: PTE at {addr:#x} is neither present nor swap"));
                    return;
                }
                // With soft-dirty tracking armed on the VMA, a clean PTE is kept read-only so
                // that the next write faults and marks it (`pte_needs_soft_dirty_wp`): every
                // fault that makes a PTE writable marks it soft-dirty too.
                let vflags = self.vmas[id.0].flags;
                if self.soft_dirty_armed(vflags) && pte.write() && !pte.soft_dirty() {
                    err = Some(format!(
                        "pid {pid}: writable PTE at {addr:#x} without its soft-dirty bit in a VMA \
                         armed for soft-dirty tracking"
                    ));
                    return;
                }
                let pfn = pte.pfn();
                if pfn == ZERO_PFN {
                    return;
                }
                let f = &self.frames[pfn];
                if f.has(page_flags::FREE) {
                    err = Some(format!("pid {pid}: PTE at {addr:#x} maps free pfn {}", pfn.0));
                    return;
                }
                *mapcount.entry(pfn.0).or_default() += 1;
                rss[mm_counter_index(f)] += 1;
                if vflags & (VM_LOCKED | VM_SPECIAL) == VM_LOCKED {
                    locked_mapped.insert(pfn.0);
                }
                let v = &self.vmas[id.0];
                let reachable = match f.mapping {
                    Mapping::Anon(av) => v.chain.contains(&av),
                    Mapping::File(fid) => v.file == Some(fid),
                    Mapping::None => false,
                };
                if !reachable || v.address_of(f.index) != Some(addr) {
                    err = Some(format!(
                        "pid {pid}: pfn {} at {addr:#x} is not reachable by its rmap ({:?} index {:#x})",
                        pfn.0, f.mapping, f.index
                    ));
                }
            });
            if let Some(e) = err {
                return Err(e);
            }
            if c.swap_ents != swap_ents {
                return Err(format!(
                    "pid {pid}: MM_SWAPENTS {} but {swap_ents} swap PTEs",
                    c.swap_ents
                ));
            }
            if [c.rss_anon, c.rss_file, c.rss_shmem] != rss {
                return Err(format!(
                    "pid {pid}: RSS counters {:?} but the PTEs give {rss:?}",
                    [c.rss_anon, c.rss_file, c.rss_shmem]
                ));
            }
        }
        if live_vmas != self.vmas.len() {
            return Err(format!(
                "{} VMAs allocated but {live_vmas} in trees",
                self.vmas.len()
            ));
        }
        // Frames.
        let mut cache_refs: BTreeMap<u32, u32> = BTreeMap::new();
        for (fid, file) in self.files.iter() {
            for (&index, &pfn) in &file.cache {
                let f = &self.frames[pfn];
                if !f.has(page_flags::CACHE)
                    || f.mapping != Mapping::File(super::types::FileId(fid))
                    || f.index != index
                {
                    return Err(format!(
                        "file {}: cache page {} has a wrong identity",
                        file.path, pfn.0
                    ));
                }
                *cache_refs.entry(pfn.0).or_default() += 1;
            }
        }
        self.check_swap(&swap_refs)?;
        for (_, pfn) in self.swap.cache_entries() {
            *cache_refs.entry(pfn.0).or_default() += 1;
        }
        let free: BTreeSet<u32> = self.frames.free_list().iter().copied().collect();
        if free.len() != self.frames.free_list().len() {
            return Err("a pfn is on the free list twice".into());
        }
        for i in 1..self.frames.total() as u32 {
            let pfn = super::types::Pfn(i);
            let f = &self.frames[pfn];
            let is_free = f.has(page_flags::FREE);
            if is_free != free.contains(&i) {
                return Err(format!("pfn {i}: free flag and free list disagree"));
            }
            let mc = mapcount.get(&i).copied().unwrap_or(0);
            let cr = cache_refs.get(&i).copied().unwrap_or(0);
            if is_free {
                if f.refcount != 0 || mc != 0 {
                    return Err(format!("pfn {i}: free but referenced"));
                }
                continue;
            }
            if f.mapcount != mc {
                return Err(format!(
                    "pfn {i}: mapcount {} but {mc} PTEs map it",
                    f.mapcount
                ));
            }
            if f.refcount != mc + cr {
                return Err(format!(
                    "pfn {i}: refcount {} but {mc} mappings + {cr} cache references",
                    f.refcount
                ));
            }
            if f.refcount == 0 {
                return Err(format!("pfn {i}: allocated with no reference (leaked)"));
            }
            // mlock state: PG_mlocked and PG_unevictable go together, with at least one lock
            // counted; a lazyfree page (anonymous, not swap-backed) is never in the swap cache.
            let mlocked = f.has(page_flags::MLOCKED);
            if mlocked != f.has(page_flags::UNEVICTABLE) || (mlocked && f.mlock_count == 0) {
                return Err(format!(
                    "pfn {i}: mlocked {mlocked}, unevictable {}, mlock_count {}",
                    f.has(page_flags::UNEVICTABLE),
                    f.mlock_count
                ));
            }
            if mlocked && f.has(page_flags::ACTIVE) {
                return Err(format!("pfn {i}: mlocked but on the active list"));
            }
            // The kernel's mlock_count is approximate, too low (a swap-in maps a page it reads
            // afresh without mlocking it, `folio_add_new_anon_rmap`, and a later munlock may
            // then take the last lock of a page another locked VMA maps) or too high (a
            // MREMAP_DONTUNMAP source keeps its pages mlocked); but every page-cache page a
            // locked VMA maps was mlocked when mapped or by the mlock walk, and stays so.
            if !mlocked && !f.is_anon() && locked_mapped.contains(&i) {
                return Err(format!(
                    "pfn {i}: a page-cache page a VM_LOCKED VMA maps but not mlocked"
                ));
            }
            // PG_swapbacked: anonymous pages but lazyfree ones (MADV_FREE), which are never in
            // the swap cache; shmem pages and swap-cache pages (a page read ahead has no
            // mapping yet); never a regular file's page.
            let swapbacked = f.has(page_flags::SWAPBACKED);
            let want = match f.mapping {
                Mapping::Anon(_) => swapbacked || !f.has(page_flags::SWAPCACHE),
                Mapping::File(fid) => {
                    swapbacked == (self.files[fid.0].kind == super::files::FileKind::Shmem)
                }
                Mapping::None => swapbacked && f.has(page_flags::SWAPCACHE),
            };
            if !want || f.is_anon() != matches!(f.mapping, Mapping::Anon(_)) {
                return Err(format!(
                    "pfn {i}: mapping {:?} with flags {:#x} (swap-backed {swapbacked})",
                    f.mapping, f.flags
                ));
            }
            if let Mapping::Anon(av) = f.mapping {
                if self.anon_vmas.get(av.0).is_none() {
                    return Err(format!("pfn {i}: points at freed anon_vma {}", av.0));
                }
            }
        }
        // anon_vmas.
        let mut children: BTreeMap<u32, u32> = BTreeMap::new();
        let mut root_refs: BTreeMap<u32, u32> = BTreeMap::new();
        for (id, av) in self.anon_vmas.iter() {
            if !av.chains.is_empty() {
                *children.entry(av.parent.0).or_default() += 1;
            }
            if av.root.0 != id {
                *root_refs.entry(av.root.0).or_default() += 1;
                if self
                    .anon_vmas
                    .get(av.root.0)
                    .is_none_or(|r| r.root != av.root)
                {
                    return Err(format!(
                        "anon_vma {id}: root {} is not a live root",
                        av.root.0
                    ));
                }
            }
        }
        let mut indexed: BTreeSet<(u32, u64, u64, u32)> = BTreeSet::new();
        for (id, av) in self.anon_vmas.iter() {
            for &(s, l, v) in &av.chains {
                indexed.insert((id, s, l, v.0));
            }
            let want_active = active.get(&id).copied().unwrap_or(0);
            if av.num_active_vmas != want_active {
                return Err(format!(
                    "anon_vma {id}: num_active_vmas {} but {want_active} VMAs use it",
                    av.num_active_vmas
                ));
            }
            let want_children = children.get(&id).copied().unwrap_or(0);
            if av.num_children != want_children {
                return Err(format!(
                    "anon_vma {id}: num_children {} but {want_children} linked children",
                    av.num_children
                ));
            }
            let want_refs =
                u32::from(!av.chains.is_empty()) + root_refs.get(&id).copied().unwrap_or(0);
            if av.refcount != want_refs {
                return Err(format!(
                    "anon_vma {id}: refcount {} but {want_refs} holders",
                    av.refcount
                ));
            }
        }
        if indexed != chain_entries {
            let extra = indexed.symmetric_difference(&chain_entries).next();
            return Err(format!(
                "anon_vma indexes and VMA chains disagree at {extra:?}"
            ));
        }
        let mut f_indexed = BTreeSet::new();
        for (id, f) in self.files.iter() {
            for &(s, l, v) in &f.i_mmap {
                f_indexed.insert((id, s, l, v.0));
            }
            if f.kind == super::files::FileKind::Shmem && f.i_mmap.is_empty() {
                return Err(format!(
                    "shmem object {} outlives its last mapping",
                    f.inode
                ));
            }
        }
        if f_indexed != file_entries {
            return Err("file i_mmap indexes and VMAs disagree".into());
        }
        for (id, obj) in self.names.iter() {
            let NameId(i) = id;
            let want = name_refs.get(&i).copied().unwrap_or(0);
            if obj.refcount != want {
                return Err(format!(
                    "name {i} {:?}: refcount {} but {want} VMAs point at it",
                    obj.text, obj.refcount
                ));
            }
        }
        if self.file_paths.len()
            != self
                .files
                .iter()
                .filter(|(_, f)| f.kind == super::files::FileKind::Regular)
                .count()
        {
            return Err("file path table and regular files disagree".into());
        }
        let _ = vpn;
        Ok(())
    }

    /// The swap device against the swap PTEs counted per slot in `swap_refs`, plus the shmem
    /// objects' swapped pages; a slot is in use while something refers to it or the swap cache
    /// holds it.
    fn check_swap(&self, swap_refs: &BTreeMap<u32, u32>) -> Result<(), String> {
        let mut refs = swap_refs.clone();
        for (_, file) in self.files.iter() {
            for (&index, &slot) in &file.swapped {
                if file.cache.contains_key(&index) {
                    return Err(format!(
                        "file {}: page {index} is both cached and swapped",
                        file.path
                    ));
                }
                *refs.entry(slot).or_default() += 1;
            }
        }
        let used: BTreeMap<u32, u32> = self.swap.used_slots().collect();
        if used != refs {
            let (slot, _) = used
                .iter()
                .zip(refs.iter())
                .find(|(a, b)| a != b)
                .map(|(a, _)| a)
                .or(used.iter().next())
                .unwrap_or((&0, &0));
            return Err(format!(
                "swap counts disagree with the swap PTEs and shmem entries (first at slot {slot}): {} slots counted, {} referenced",
                used.len(),
                refs.len()
            ));
        }
        let in_use: BTreeSet<u32> = used
            .keys()
            .copied()
            .chain(self.swap.cache_entries().map(|(s, _)| s))
            .collect();
        let free: BTreeSet<u32> = self.swap.free_list().iter().copied().collect();
        if free.len() != self.swap.free_list().len() {
            return Err("a swap slot is on the free list twice".into());
        }
        if free.contains(&0) || free.iter().any(|s| in_use.contains(s)) {
            return Err("the swap free list holds slot 0 or a slot in use".into());
        }
        if free.len() as u64 + in_use.len() as u64 != self.swap.total() {
            return Err(format!(
                "{} free + {} used swap slots but the device has {}",
                free.len(),
                in_use.len(),
                self.swap.total()
            ));
        }
        let mut n = 0;
        for (slot, pfn) in self.swap.cache_entries() {
            n += 1;
            let f = &self.frames[pfn];
            if !used.contains_key(&slot) && f.mapcount == 0 {
                return Err(format!(
                    "swap cache holds unmapped pfn {} for unreferenced slot {slot}",
                    pfn.0
                ));
            }
            // Mapped, it is anonymous; read ahead and not mapped yet, it has no mapping.
            let identity = if f.mapcount == 0 {
                f.is_anon() || f.mapping == Mapping::None
            } else {
                f.is_anon()
            };
            if !f.has(page_flags::SWAPCACHE) || !identity || self.swap.slot_of(pfn) != Some(slot) {
                return Err(format!(
                    "swap-cache pfn {} (slot {slot}) has a wrong identity",
                    pfn.0
                ));
            }
        }
        if self.swap.reverse_entries().count() != n {
            return Err("the swap cache and its reverse map disagree".into());
        }
        let flagged = self
            .frames
            .allocated()
            .filter(|&p| self.frames[p].has(page_flags::SWAPCACHE))
            .count();
        if flagged != n {
            return Err(format!(
                "{flagged} frames flagged swapcache but {n} in the swap cache"
            ));
        }
        Ok(())
    }
}
