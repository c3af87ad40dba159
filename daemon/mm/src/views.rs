//! Views of the machine for the /proc renderers, computed the way fs/proc/task_mmu.c walks
//! the page tables: per-VMA smaps counters in the kernel's PSS fixed point, status and statm
//! counters, pagemap entries, a page's reverse mappings, the name table and meminfo.

use anonmap_abi::pagemap::{
    swap_frame, PM_FILE, PM_MMAP_EXCLUSIVE, PM_PFRAME_MASK, PM_PRESENT, PM_SOFT_DIRTY, PM_SWAP,
};
use anonmap_proc::view::{
    AddressSpaceView, MeminfoView, NameObjectView, RmapMapper, RmapView, SmapsCounters, StatusView,
    VmaView, PSS_SHIFT,
};

use super::files::FileKind;
use super::frames::{page_flags, Mapping, ZERO_PFN};
use super::lru::LruList;
use super::types::{vpn, Pfn, Pid, VmaId, PAGE_SHIFT, PAGE_SIZE};
use super::vma::{VM_ACCOUNT, VM_LOCKED, VM_SOFTDIRTY};
use super::Machine;

impl Machine {
    /// Live pids, ascending.
    pub fn pids(&self) -> Vec<Pid> {
        self.procs.keys().copied().collect()
    }

    /// The uid that owns process `pid`, `None` if there is no such process.
    pub fn owner(&self, pid: Pid) -> Option<u32> {
        self.procs.get(&pid).map(|p| p.uid)
    }

    /// The maps column for a VMA (`get_vma_name`), `None` for an unnamed anonymous VMA.
    fn vma_label(&self, id: VmaId) -> Option<String> {
        let v = &self.vmas[id.0];
        let mm = &self.procs[&v.pid].mm;
        if let Some(f) = v.file {
            let file = &self.files[f.0];
            return Some(match (file.kind, v.name) {
                (FileKind::Shmem, Some(n)) => format!("[anon_shmem:{}]", self.names.text(n)),
                (FileKind::Shmem, None) => format!("{} (deleted)", file.path),
                (FileKind::Regular, _) => file.path.replace('\n', "\\012"),
            });
        }
        if v.start < mm.brk && v.end > mm.start_brk {
            return Some("[heap]".into());
        }
        if v.start <= mm.start_stack && v.end >= mm.start_stack {
            return Some("[stack]".into());
        }
        v.name.map(|n| format!("[anon:{}]", self.names.text(n)))
    }

    /// The smaps counters of one VMA (`smaps_pte_range` + `smaps_account`).
    fn smaps_counters(&self, id: VmaId) -> SmapsCounters {
        let v = &self.vmas[id.0];
        let locked = v.flags & VM_LOCKED != 0;
        let mut c = SmapsCounters::default();
        self.procs[&v.pid]
            .mm
            .pt
            .for_each(vpn(v.start), vpn(v.end), |_, pte| {
                if pte.is_swap() {
                    // smaps_pte_entry: SwapPss divides by the slot's swap count.
                    let count = u64::from(self.swap.count(pte.swap_slot()));
                    c.swap += PAGE_SIZE;
                    c.swap_pss += if count >= 2 {
                        (PAGE_SIZE << PSS_SHIFT) / count
                    } else {
                        PAGE_SIZE << PSS_SHIFT
                    };
                    return;
                }
                let pfn = pte.pfn();
                if pfn == ZERO_PFN {
                    return; // vm_normal_page() is NULL for the zero page
                }
                let f = &self.frames[pfn];
                c.rss += PAGE_SIZE;
                if f.is_anon() {
                    c.anonymous += PAGE_SIZE;
                }
                if pte.young() || f.has(page_flags::REFERENCED) {
                    c.referenced += PAGE_SIZE;
                }
                let dirty = pte.dirty() || f.has(page_flags::DIRTY);
                if f.is_anon() && !f.has(page_flags::SWAPBACKED) && !dirty {
                    c.lazyfree += PAGE_SIZE;
                }
                let private = f.refcount == 1 || f.mapcount < 2;
                let pss = if private {
                    PAGE_SIZE << PSS_SHIFT
                } else {
                    (PAGE_SIZE << PSS_SHIFT) / u64::from(f.mapcount)
                };
                c.pss += pss;
                if f.is_anon() {
                    c.pss_anon += pss;
                } else if f.has(page_flags::SWAPBACKED) {
                    c.pss_shmem += pss;
                } else {
                    c.pss_file += pss;
                }
                if locked {
                    c.locked += pss;
                }
                match (dirty, private) {
                    (true, true) => c.private_dirty += PAGE_SIZE,
                    (true, false) => c.shared_dirty += PAGE_SIZE,
                    (false, true) => c.private_clean += PAGE_SIZE,
                    (false, false) => c.shared_clean += PAGE_SIZE,
                }
                if dirty {
                    c.pss_dirty += pss;
                }
            });
        // smap_gather_stats: a shared shmem VMA's Swap is its object's swapped pages in the
        // VMA's range (`shmem_swap_usage`), whoever swapped them; never SwapPss.
        if let Some(f) = v.file {
            let file = &self.files[f.0];
            if file.kind == FileKind::Shmem {
                c.swap += file.swapped_in(v.pgoff, v.pgoff + v.pages()) * PAGE_SIZE;
            }
        }
        c
    }

    /// What maps, smaps and smaps_rollup of `pid` show.
    pub fn address_space_view(&self, pid: Pid) -> Option<AddressSpaceView> {
        let p = self.procs.get(&pid)?;
        let vmas =
            p.mm.vmas
                .values()
                .map(|&id| {
                    let v = &self.vmas[id.0];
                    let (dev, inode, offset) = match v.file {
                        Some(f) => {
                            let file = &self.files[f.0];
                            (file.dev, file.inode, v.pgoff << PAGE_SHIFT)
                        }
                        None => ((0, 0), 0, 0),
                    };
                    VmaView {
                        start: v.start,
                        end: v.end,
                        flags: v.flags,
                        offset,
                        dev_major: dev.0,
                        dev_minor: dev.1,
                        inode,
                        label: self.vma_label(id),
                        counters: self.smaps_counters(id),
                    }
                })
                .collect();
        Some(AddressSpaceView {
            vmas,
            has_gate_vma: p.mm.has_gate_vma,
        })
    }

    /// What status and statm of `pid` show (`task_mem`, `task_statm`).
    pub fn status_view(&self, pid: Pid) -> Option<StatusView> {
        let p = self.procs.get(&pid)?;
        let c = &p.mm.counters;
        let kb = |pages: u64| pages << (PAGE_SHIFT - 10);
        // No exec image is modelled: start_code == end_code == 0, so all of exec_vm is "lib".
        let text = 0;
        Some(StatusView {
            comm: p.comm.clone(),
            pid,
            ppid: p.ppid,
            uid: p.uid,
            gid: p.uid,
            vm_peak_kb: kb(c.hiwater_vm.max(c.total_vm)),
            vm_size_kb: kb(c.total_vm),
            vm_lck_kb: kb(c.locked_vm),
            vm_pin_kb: 0,
            vm_hwm_kb: kb(c.hiwater_rss.max(c.rss())),
            vm_rss_kb: kb(c.rss()),
            rss_anon_kb: kb(c.rss_anon),
            rss_file_kb: kb(c.rss_file),
            rss_shmem_kb: kb(c.rss_shmem),
            vm_data_kb: kb(c.data_vm),
            vm_stk_kb: kb(c.stack_vm),
            vm_exe_kb: kb(text),
            vm_lib_kb: kb(c.exec_vm - text),
            vm_pte_kb: kb(p.mm.pt.table_pages()),
            vm_swap_kb: kb(c.swap_ents),
            statm_size: c.total_vm,
            statm_resident: c.rss(),
            statm_shared: c.rss_file + c.rss_shmem,
            statm_text: text,
            statm_data: c.data_vm + c.stack_vm,
        })
    }

    /// pagemap entries for `count` pages from `first_vpn` (`pte_to_pagemap_entry`), with PFNs
    /// shown as to a CAP_SYS_ADMIN reader.
    pub fn pagemap(&self, pid: Pid, first_vpn: u64, count: u64) -> Option<Vec<u64>> {
        let p = self.procs.get(&pid)?;
        let mut out = Vec::with_capacity(count.min(1 << 20) as usize);
        for v in first_vpn..first_vpn.saturating_add(count) {
            let pte = p.mm.pt.get(v);
            let mut e = 0;
            if pte.is_present() {
                let pfn = pte.pfn();
                e = PM_PRESENT | (u64::from(pfn.0) & PM_PFRAME_MASK);
                if pfn != ZERO_PFN {
                    let f = &self.frames[pfn];
                    if !f.is_anon() {
                        e |= PM_FILE;
                    }
                    if f.mapcount == 1 {
                        e |= PM_MMAP_EXCLUSIVE;
                    }
                }
            } else if pte.is_swap() {
                e = PM_SWAP | swap_frame(0, u64::from(pte.swap_slot()));
            }
            // PM_SOFT_DIRTY: the entry's soft-dirty bit, or a VM_SOFTDIRTY VMA around the
            // address (holes inside it included); never without soft-dirty tracking.
            if self.config.soft_dirty
                && (((pte.is_present() || pte.is_swap()) && pte.soft_dirty())
                    || self
                        .vma_at(pid, v << PAGE_SHIFT)
                        .is_some_and(|id| self.vmas[id.0].flags & VM_SOFTDIRTY != 0))
            {
                e |= PM_SOFT_DIRTY;
            }
            out.push(e);
        }
        Some(out)
    }

    /// Pfns of allocated frames (the zero page excluded), ascending: the entries of `rmap/`.
    pub fn resident_pfns(&self) -> Vec<u64> {
        self.frames.allocated().map(|p| u64::from(p.0)).collect()
    }

    /// What `rmap/<pfn>` shows, `None` for a free or invalid pfn.
    pub fn rmap_view(&self, pfn: u64) -> Option<RmapView> {
        let pfn = Pfn(u32::try_from(pfn).ok()?);
        let walk = self.rmap_walk(pfn)?;
        let f = &self.frames[pfn];
        let mapping = match f.mapping {
            Mapping::Anon(av) => format!("anon_vma:{}", av.0),
            Mapping::File(id) => {
                let file = &self.files[id.0];
                match file.kind {
                    FileKind::Regular => format!("file:{}", file.path),
                    FileKind::Shmem => format!("shmem:{}", file.inode),
                }
            }
            Mapping::None => "none".into(),
        };
        let mappers = walk
            .hits
            .iter()
            .map(|h| {
                let v = &self.vmas[h.vma.0];
                RmapMapper {
                    pid: h.pid,
                    vaddr: h.vaddr,
                    vma_start: v.start,
                    vma_end: v.end,
                    vma_flags: v.flags,
                    label: self.vma_label(h.vma),
                }
            })
            .collect();
        Some(RmapView {
            pfn: u64::from(pfn.0),
            flags: page_flags::NAMES
                .iter()
                .filter(|(bit, _)| f.has(*bit))
                .map(|&(_, n)| n.to_string())
                .collect(),
            lru: self
                .frames
                .lru_of(pfn)
                .map_or("none", LruList::name)
                .to_string(),
            mapcount: u64::from(f.mapcount),
            refcount: u64::from(f.refcount),
            mapping,
            index: f.index,
            anon_vmas_visited: walk.anon_vmas_visited,
            vmas_visited: walk.vmas_visited,
            mappers,
        })
    }

    /// The name table: every live name object with its references.
    pub fn name_table_view(&self) -> Vec<NameObjectView> {
        let mut users: std::collections::BTreeMap<u32, (u64, Vec<Pid>)> = Default::default();
        for p in self.procs.values() {
            for &id in p.mm.vmas.values() {
                if let Some(n) = self.vmas[id.0].name {
                    let e = users.entry(n.0).or_default();
                    e.0 += 1;
                    if e.1.last() != Some(&p.pid) {
                        e.1.push(p.pid);
                    }
                }
            }
        }
        self.names
            .iter()
            .map(|(id, obj)| {
                let (vmas, pids) = users.remove(&id.0).unwrap_or_default();
                NameObjectView {
                    id: u64::from(id.0),
                    text: obj.text.to_string(),
                    refcount: u64::from(obj.refcount),
                    vmas,
                    pids,
                }
            })
            .collect()
    }

    /// Machine-wide memory numbers.
    pub fn meminfo_view(&self) -> MeminfoView {
        let kb = |pages: u64| pages << (PAGE_SHIFT - 10);
        let (mut anon, mut cached, mut shmem, mut mapped) = (0, 0, 0, 0);
        for pfn in self.frames.allocated() {
            let f = &self.frames[pfn];
            if f.is_anon() {
                // NR_ANON_MAPPED: a swap-cache page that nothing maps is not counted.
                anon += u64::from(f.mapcount > 0);
            } else if f.has(page_flags::CACHE) {
                cached += 1;
                if f.has(page_flags::SWAPBACKED) {
                    shmem += 1;
                }
                if f.mapcount > 0 {
                    mapped += 1;
                }
            }
        }
        let page_tables: u64 = self.procs.values().map(|p| p.mm.pt.table_pages()).sum();
        let mut committed: u64 = self
            .vmas
            .iter()
            .filter(|(_, v)| v.flags & VM_ACCOUNT != 0)
            .map(|(_, v)| v.pages())
            .sum();
        committed += self
            .files
            .iter()
            .filter(|(_, f)| f.kind == FileKind::Shmem && !f.noreserve)
            .map(|(_, f)| f.pages())
            .sum::<u64>();
        let free = self.frames.free_count().saturating_sub(page_tables);
        let lru = |list: LruList| self.frames.lru_size(list);
        let mlocked = self
            .frames
            .allocated()
            .filter(|&p| self.frames[p].has(page_flags::MLOCKED))
            .count() as u64;
        // si_mem_available: free pages above the reserve, plus the file LRU less what reclaim
        // would have to leave of it (half of it, at most the low watermark).
        let marks = self.watermarks();
        let managed = self.frames.total();
        let pagecache = lru(LruList::ActiveFile) + lru(LruList::InactiveFile);
        let available = (free + pagecache - (pagecache / 2).min(marks.low))
            .saturating_sub(marks.total_reserve(managed));
        MeminfoView {
            mem_total_kb: kb(self.frames.total()),
            mem_free_kb: kb(free),
            mem_available_kb: kb(available),
            cached_kb: kb(cached),
            swap_cached_kb: kb(self.swap.cached_count()),
            active_anon_kb: kb(lru(LruList::ActiveAnon)),
            inactive_anon_kb: kb(lru(LruList::InactiveAnon)),
            active_file_kb: kb(lru(LruList::ActiveFile)),
            inactive_file_kb: kb(lru(LruList::InactiveFile)),
            unevictable_kb: kb(lru(LruList::Unevictable)),
            mlocked_kb: kb(mlocked),
            anon_pages_kb: kb(anon),
            mapped_kb: kb(mapped),
            shmem_kb: kb(shmem),
            page_tables_kb: kb(page_tables),
            swap_total_kb: kb(self.swap.total()),
            swap_free_kb: kb(self.swap.free_count()),
            committed_as_kb: kb(committed),
        }
    }
}

/// The tree's data straight from a machine. The daemon wraps its machine in a lock and asks
/// through that; tests and tools that own a `Machine` can hand it to the tree directly.
impl anonmap_proc::Source for Machine {
    fn pids(&self) -> Vec<u32> {
        Machine::pids(self)
    }
    fn has_pid(&self, pid: u32) -> bool {
        self.procs.contains_key(&pid)
    }
    fn address_space(&self, pid: u32) -> Option<AddressSpaceView> {
        self.address_space_view(pid)
    }
    fn status(&self, pid: u32) -> Option<StatusView> {
        self.status_view(pid)
    }
    fn pagemap(&self, pid: u32, first_vpn: u64, count: u64) -> Option<Vec<u64>> {
        Machine::pagemap(self, pid, first_vpn, count)
    }
    fn resident_pfns(&self) -> Vec<u64> {
        Machine::resident_pfns(self)
    }
    fn rmap(&self, pfn: u64) -> Option<RmapView> {
        self.rmap_view(pfn)
    }
    fn names(&self) -> Vec<NameObjectView> {
        self.name_table_view()
    }
    fn meminfo(&self) -> MeminfoView {
        self.meminfo_view()
    }
    fn oom(&self, pid: u32) -> Option<anonmap_proc::view::OomView> {
        let p = self.procs.get(&pid)?;
        Some(anonmap_proc::view::OomView {
            score: self.oom_score(pid)?,
            score_adj: p.oom_score_adj,
            score_adj_min: p.oom_score_adj_min,
        })
    }
    fn vmstat(&self) -> anonmap_proc::view::VmstatView {
        self.vmstat_view()
    }
    fn kmsg(&self) -> Vec<String> {
        self.kmsg_lines().map(str::to_string).collect()
    }
}

impl Machine {
    /// What `/proc/vmstat` shows (mm/vmstat.c `vmstat_start`): the page counts in pages, as
    /// meminfo's numbers divided by 4 (one node, one zone), the dirty thresholds
    /// `global_dirty_limits` derives from them, and the event counters.
    pub fn vmstat_view(&self) -> anonmap_proc::view::VmstatView {
        let pages = |kb: u64| kb >> (PAGE_SHIFT - 10);
        let m = self.meminfo_view();
        let lru = |list: LruList| self.frames.lru_size(list);
        let free = pages(m.mem_free_kb);
        let file_lru = lru(LruList::InactiveFile) + lru(LruList::ActiveFile);
        let reserve = self.watermarks().total_reserve(self.frames.total());
        let (background, dirty) =
            anonmap_proc::render::vmstat::global_dirty_limits(free, file_lru, reserve);
        let e = self.vm_events();
        anonmap_proc::view::VmstatView {
            nr_free_pages: free,
            nr_inactive_anon: lru(LruList::InactiveAnon),
            nr_active_anon: lru(LruList::ActiveAnon),
            nr_inactive_file: lru(LruList::InactiveFile),
            nr_active_file: lru(LruList::ActiveFile),
            nr_unevictable: lru(LruList::Unevictable),
            nr_mlock: pages(m.mlocked_kb),
            nr_anon_pages: pages(m.anon_pages_kb),
            nr_mapped: pages(m.mapped_kb),
            nr_file_pages: pages(m.cached_kb + m.swap_cached_kb),
            nr_shmem: pages(m.shmem_kb),
            nr_page_table_pages: pages(m.page_tables_kb),
            nr_swapcached: pages(m.swap_cached_kb),
            nr_dirty_threshold: dirty,
            nr_dirty_background_threshold: background,
            pswpin: e.pswpin,
            pswpout: e.pswpout,
            allocstall: e.allocstall,
            pgactivate: e.pgactivate,
            pgdeactivate: e.pgdeactivate,
            pgfault: e.pgfault,
            pgmajfault: e.pgmajfault,
            pgrefill: e.pgrefill,
            pgsteal_kswapd: e.pgsteal_kswapd,
            pgsteal_direct: e.pgsteal_direct,
            pgscan_kswapd: e.pgscan_kswapd,
            pgscan_direct: e.pgscan_direct,
            pgscan_anon: e.pgscan_anon,
            pgscan_file: e.pgscan_file,
            pgsteal_anon: e.pgsteal_anon,
            pgsteal_file: e.pgsteal_file,
            pageoutrun: e.pageoutrun,
            oom_kill: e.oom_kill,
            pgmigrate_success: e.pgmigrate_success,
            pgmigrate_fail: e.pgmigrate_fail,
        }
    }
}
