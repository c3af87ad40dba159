//! Reclaim under memory pressure (mm/vmscan.c, classic LRU): LRU aging with the second chance,
//! the anon/file balance, kswapd's `balance_pgdat` and direct reclaim's `do_try_to_free_pages`.
//!
//! One node, one zone, one (root) memory cgroup. The pieces, as the kernel has them:
//! - `shrink_node` prepares the scan (`prepare_scan_control`: which active lists may be
//!   deactivated, `cache_trim_mode`, `file_is_tiny`), asks `get_scan_count` how many pages of
//!   each list to scan at this priority (`size >> priority`, split between anon and file by
//!   swappiness 60 and the recent reclaim costs), and `shrink_lruvec` scans them 32 at a time.
//! - `shrink_inactive_list` isolates pages from the tail and runs `shrink_folio_list`:
//!   `folio_check_references` walks the rmap clearing the young bit of every PTE
//!   (`folio_referenced`); a page referenced through one mapping is marked PG_referenced and
//!   kept on the inactive list (its second chance), one referenced again (or through two
//!   mappings) is activated, an unreferenced one is reclaimed (swapped, dropped or discarded
//!   through `shrink_folio`, taking it from every process at once).
//! - `shrink_active_list` moves pages from the active tail to the inactive head, clearing their
//!   young bits on the way; a referenced executable file page gets another trip instead.
//!
//! What the simulation leaves out, and why: I/O completes at once, so a page written to swap is
//! freed in the same pass and a dirty page of a regular file is written back and dropped (the
//! flusher's work; the kernel's reclaim activates it and waits); refaults are not tracked yet
//! (no shadow entries), so only `inactive_is_low` makes an active list shrink; there is no
//! writeback throttling, no compaction and no boosting.

use super::frames::page_flags;
use super::lru::LruList;
use super::swap::ReclaimMode;
use super::types::{vpn, Pfn};
use super::vma::{VM_EXEC, VM_LOCKED};
use super::Machine;

/// SWAP_CLUSTER_MAX: pages isolated per batch, and direct reclaim's goal.
pub const SWAP_CLUSTER_MAX: u64 = 32;
/// DEF_PRIORITY: the first pass scans `size >> 12` of each list.
const DEF_PRIORITY: u32 = 12;
/// MAX_RECLAIM_RETRIES: passes without progress before the allocator gives up, and kswapd
/// failures before it stops waking.
pub const MAX_RECLAIM_RETRIES: u32 = 16;
/// `vm_swappiness` default, and MAX_SWAPPINESS.
const SWAPPINESS: u64 = 60;
const MAX_SWAPPINESS: u64 = 200;
const DEACTIVATE_ANON: u8 = 1;
const DEACTIVATE_FILE: u8 = 2;

/// The lruvec's reclaim state and the node's, kept between calls.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ReclaimState {
    /// `lruvec->anon_cost`, `file_cost`: recent reclaim cost of each type (`lru_note_cost`),
    /// halved whenever their sum exceeds a quarter of the LRU.
    pub anon_cost: u64,
    pub file_cost: u64,
    /// `pgdat->kswapd_failures`: balance runs that reclaimed nothing; at
    /// MAX_RECLAIM_RETRIES kswapd is not woken until a reclaim makes progress again.
    pub kswapd_failures: u32,
    /// anonmap's own measure of the rmap's cost to reclaim: the walks reclaim ran (aging and
    /// unmapping) and the VMAs they examined.
    pub rmap_walks: u64,
    pub rmap_vmas_visited: u64,
}

/// The event counters of /proc/vmstat that reclaim keeps (`vm_event_item`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct VmEvents {
    /// Faults taken (an access the PTE did not allow), and those that read from the swap
    /// device or a file (`VM_FAULT_MAJOR`).
    pub pgfault: u64,
    pub pgmajfault: u64,
    /// Pages read from and written to the swap device.
    pub pswpin: u64,
    pub pgscan_kswapd: u64,
    pub pgscan_direct: u64,
    pub pgsteal_kswapd: u64,
    pub pgsteal_direct: u64,
    pub pgscan_anon: u64,
    pub pgscan_file: u64,
    pub pgsteal_anon: u64,
    pub pgsteal_file: u64,
    pub pgactivate: u64,
    pub pgdeactivate: u64,
    pub pgrefill: u64,
    pub pswpout: u64,
    pub allocstall: u64,
    pub pageoutrun: u64,
    pub oom_kill: u64,
    /// Pages `migrate` moved, and pages it had to leave (no frame, or not isolable).
    pub pgmigrate_success: u64,
    pub pgmigrate_fail: u64,
}

/// `struct scan_control`: one reclaim run.
#[derive(Debug, Default)]
struct ScanControl {
    nr_to_reclaim: u64,
    nr_reclaimed: u64,
    nr_scanned: u64,
    priority: u32,
    kswapd: bool,
    may_deactivate: u8,
    force_deactivate: bool,
    skipped_deactivate: bool,
    cache_trim_mode: bool,
    cache_trim_mode_failed: bool,
    no_cache_trim_mode: bool,
    file_is_tiny: bool,
    anon_cost: u64,
    file_cost: u64,
}

/// `enum folio_references`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum References {
    Activate,
    Keep,
    Reclaim,
    ReclaimClean,
}

impl Machine {
    /// Free pages as the allocator counts them (NR_FREE_PAGES): free frames less the page-table
    /// pages, which this machine does not take from the frame table.
    pub(super) fn free_pages(&self) -> u64 {
        let tables: u64 = self.procs.values().map(|p| p.mm.pt.table_pages()).sum();
        self.frames.free_count().saturating_sub(tables)
    }

    /// `inactive_is_low`: whether the inactive list of `inactive`'s type is smaller than the
    /// active one over the ratio `int_sqrt(10 * GB)` (1 below a gigabyte).
    fn inactive_is_low(&self, inactive: LruList) -> bool {
        let i = self.frames.lru_size(inactive);
        let a = self.frames.lru_size(inactive.active());
        let gb = (i + a) >> 18;
        let ratio = if gb != 0 {
            super::watermarks::int_sqrt(10 * gb)
        } else {
            1
        };
        i * ratio < a
    }

    /// `can_reclaim_anon_pages`: a swap slot is free.
    fn can_reclaim_anon(&self) -> bool {
        self.swap.free_count() > 0
    }

    /// `folio_referenced`: walks the rmap, clearing the young bit of every PTE that maps the
    /// page; returns how many mappings were young and the flags of their VMAs. A VM_LOCKED VMA
    /// stops the walk: the page is mlocked there and VM_LOCKED is reported.
    fn folio_referenced(&mut self, pfn: Pfn) -> (u64, u64) {
        if self.frames[pfn].mapcount == 0 {
            return (0, 0);
        }
        let walk = self.rmap_walk(pfn).expect("an allocated page");
        self.count_rmap_walk(walk.vmas_visited);
        let (mut referenced, mut vm_flags) = (0, 0);
        for hit in walk.hits {
            let flags = self.vmas[hit.vma.0].flags;
            if flags & VM_LOCKED != 0 {
                self.mlock_vma_folio(pfn, hit.vma);
                return (referenced, vm_flags | VM_LOCKED);
            }
            let pt = &mut self.procs.get_mut(&hit.pid).expect("live").mm.pt;
            let pte = pt.get(vpn(hit.vaddr));
            if pte.young() {
                pt.set(vpn(hit.vaddr), pte.with_young(false));
                referenced += 1;
                vm_flags |= flags;
            }
        }
        (referenced, vm_flags)
    }

    /// Counts one rmap walk of reclaim that examined `vmas` VMAs.
    pub(super) fn count_rmap_walk(&mut self, vmas: u64) {
        self.reclaim_state.rmap_walks += 1;
        self.reclaim_state.rmap_vmas_visited += vmas;
    }

    /// The reclaim costs and counters kept between calls.
    pub fn reclaim_state(&self) -> &ReclaimState {
        &self.reclaim_state
    }

    /// `folio_check_references`: the second chance.
    fn folio_check_references(&mut self, pfn: Pfn) -> References {
        let (referenced_ptes, vm_flags) = self.folio_referenced(pfn);
        if vm_flags & VM_LOCKED != 0 {
            return References::Activate;
        }
        let f = &mut self.frames[pfn];
        let referenced_folio = f.has(page_flags::REFERENCED);
        f.flags &= !page_flags::REFERENCED;
        let file_lru = !f.has(page_flags::SWAPBACKED);
        if referenced_ptes > 0 {
            f.flags |= page_flags::REFERENCED;
            if referenced_folio || referenced_ptes > 1 {
                return References::Activate;
            }
            if vm_flags & VM_EXEC != 0 && file_lru {
                return References::Activate;
            }
            return References::Keep;
        }
        if referenced_folio && file_lru {
            return References::ReclaimClean;
        }
        References::Reclaim
    }

    /// `isolate_lru_folios`: up to `nr` pages from the tail of `list`, in scan order.
    fn isolate_lru_folios(&mut self, nr: u64, list: LruList) -> Vec<Pfn> {
        let mut taken = Vec::new();
        while (taken.len() as u64) < nr {
            let Some(pfn) = self.frames.lru_tail(list) else {
                break;
            };
            self.frames.lru_del(pfn);
            taken.push(pfn);
        }
        taken
    }

    /// Whether reclaiming `pfn` writes it (`pageout`): an anonymous page new to swap or dirty,
    /// a dirty shmem page. A clean swap-cache page's slot already holds its data.
    fn needs_pageout(&self, pfn: Pfn) -> bool {
        let f = &self.frames[pfn];
        if !f.has(page_flags::SWAPBACKED) {
            return false;
        }
        if f.has(page_flags::DIRTY) || (f.is_anon() && !f.has(page_flags::SWAPCACHE)) {
            return true;
        }
        self.rmap_walk(pfn).is_some_and(|w| {
            w.hits
                .iter()
                .any(|h| self.procs[&h.pid].mm.pt.get(vpn(h.vaddr)).dirty())
        })
    }

    /// `shrink_folio_list` over isolated pages: returns (reclaimed, written). Pages it keeps are
    /// put back at the head of their lists in the order met.
    fn shrink_folio_list(&mut self, folios: Vec<Pfn>) -> (u64, u64) {
        let (mut reclaimed, mut written) = (0, 0);
        for pfn in folios {
            let refs = if self.frames[pfn].has(page_flags::UNEVICTABLE) {
                References::Activate
            } else {
                self.folio_check_references(pfn)
            };
            let f = self.frames[pfn];
            let file_lru = !f.has(page_flags::SWAPBACKED);
            match refs {
                References::Activate => self.activate_locked(pfn),
                References::Keep => {}
                References::ReclaimClean if file_lru && f.has(page_flags::DIRTY) => {}
                References::Reclaim | References::ReclaimClean => {
                    let write = self.needs_pageout(pfn);
                    let anon = f.is_anon() && f.has(page_flags::SWAPBACKED);
                    if self.shrink_folio(pfn, ReclaimMode::Complete) {
                        reclaimed += 1;
                        if write {
                            written += 1;
                            if anon {
                                self.vm_events.pswpout += 1;
                            }
                        }
                    }
                }
            }
            if !self.frames[pfn].has(page_flags::FREE) {
                if refs != References::Activate && self.frames[pfn].has(page_flags::ACTIVE) {
                    // A failed reclaim activated it (swap full, a lazyfree page written again).
                    self.vm_events.pgactivate += 1;
                }
                self.putback(pfn);
            }
        }
        (reclaimed, written)
    }

    /// `activate_locked`: a page not to be reclaimed now gives up its swap space if swap is
    /// more than half full or it is mlocked, and becomes active unless mlocked.
    fn activate_locked(&mut self, pfn: Pfn) {
        let f = self.frames[pfn];
        if f.has(page_flags::SWAPCACHE) && (self.swap.is_half_full() || f.has(page_flags::MLOCKED))
        {
            self.folio_free_swap(pfn);
        }
        if !self.frames[pfn].has(page_flags::MLOCKED) {
            self.frames[pfn].flags |= page_flags::ACTIVE;
            self.vm_events.pgactivate += 1;
        }
    }

    /// `folio_putback_lru` / `move_folios_to_lru` for an isolated page: the head of the list its
    /// flags name. An mlocked page that reclaim met in a locked VMA goes to the unevictable
    /// list (`mlock_folio`'s batch could not move it while it was isolated).
    fn putback(&mut self, pfn: Pfn) {
        let f = &mut self.frames[pfn];
        if f.has(page_flags::MLOCKED) && !f.has(page_flags::UNEVICTABLE) {
            f.flags &= !page_flags::ACTIVE;
            f.flags |= page_flags::UNEVICTABLE;
            f.mlock_count = f.mlock_count.max(1);
        }
        self.frames.lru_putback(pfn);
    }

    /// `lru_note_cost_unlock_irq`.
    fn lru_note_cost(&mut self, file: bool, nr_io: u64, nr_rotated: u64) {
        let cost = nr_io * SWAP_CLUSTER_MAX + nr_rotated;
        if cost == 0 {
            return;
        }
        let r = &mut self.reclaim_state;
        if file {
            r.file_cost += cost;
        } else {
            r.anon_cost += cost;
        }
        let lru: u64 = LruList::EVICTABLE
            .iter()
            .map(|&l| self.frames.lru_size(l))
            .sum();
        let r = &mut self.reclaim_state;
        if r.file_cost + r.anon_cost > lru / 4 {
            r.file_cost /= 2;
            r.anon_cost /= 2;
        }
    }

    /// `shrink_inactive_list`.
    fn shrink_inactive_list(&mut self, nr: u64, list: LruList, sc: &mut ScanControl) -> u64 {
        self.lru_add_drain();
        let folios = self.isolate_lru_folios(nr, list);
        let scanned = folios.len() as u64;
        sc.nr_scanned += scanned;
        let ev = &mut self.vm_events;
        if sc.kswapd {
            ev.pgscan_kswapd += scanned;
        } else {
            ev.pgscan_direct += scanned;
        }
        if list.is_file() {
            ev.pgscan_file += scanned;
        } else {
            ev.pgscan_anon += scanned;
        }
        if scanned == 0 {
            return 0;
        }
        let (reclaimed, written) = self.shrink_folio_list(folios);
        let ev = &mut self.vm_events;
        if sc.kswapd {
            ev.pgsteal_kswapd += reclaimed;
        } else {
            ev.pgsteal_direct += reclaimed;
        }
        if list.is_file() {
            ev.pgsteal_file += reclaimed;
        } else {
            ev.pgsteal_anon += reclaimed;
        }
        self.lru_note_cost(list.is_file(), written, scanned - reclaimed);
        reclaimed
    }

    /// `shrink_active_list`: pages from the active tail to the inactive head (PG_active
    /// cleared, PG_workingset set), their young bits cleared; a referenced executable file
    /// page rotates back to the active head.
    fn shrink_active_list(&mut self, nr: u64, list: LruList) {
        self.lru_add_drain();
        let folios = self.isolate_lru_folios(nr, list);
        self.vm_events.pgrefill += folios.len() as u64;
        let (mut active, mut inactive) = (Vec::new(), Vec::new());
        for pfn in folios {
            if self.frames[pfn].has(page_flags::UNEVICTABLE) {
                self.putback(pfn);
                continue;
            }
            let (referenced, vm_flags) = self.folio_referenced(pfn);
            if self.frames[pfn].has(page_flags::MLOCKED) {
                // Met a locked VMA: unevictable from now on.
                self.putback(pfn);
                continue;
            }
            if referenced != 0 && vm_flags & VM_EXEC != 0 && list.is_file() {
                active.push(pfn);
                continue;
            }
            let f = &mut self.frames[pfn];
            f.flags &= !page_flags::ACTIVE;
            f.flags |= page_flags::WORKINGSET;
            inactive.push(pfn);
        }
        let rotated = active.len() as u64;
        self.vm_events.pgdeactivate += inactive.len() as u64;
        for pfn in active.into_iter().chain(inactive) {
            self.putback(pfn);
        }
        self.lru_note_cost(list.is_file(), 0, rotated);
    }

    /// `shrink_list`.
    fn shrink_list(&mut self, list: LruList, nr: u64, sc: &mut ScanControl) -> u64 {
        if list.is_active() {
            let bit = if list.is_file() {
                DEACTIVATE_FILE
            } else {
                DEACTIVATE_ANON
            };
            if sc.may_deactivate & bit != 0 {
                self.shrink_active_list(nr, list);
            } else {
                sc.skipped_deactivate = true;
            }
            return 0;
        }
        self.shrink_inactive_list(nr, list, sc)
    }

    /// `prepare_scan_control`.
    fn prepare_scan_control(&self, sc: &mut ScanControl) {
        sc.anon_cost = self.reclaim_state.anon_cost;
        sc.file_cost = self.reclaim_state.file_cost;
        if sc.force_deactivate {
            sc.may_deactivate = DEACTIVATE_ANON | DEACTIVATE_FILE;
        } else {
            sc.may_deactivate = 0;
            if self.inactive_is_low(LruList::InactiveAnon) {
                sc.may_deactivate |= DEACTIVATE_ANON;
            }
            if self.inactive_is_low(LruList::InactiveFile) {
                sc.may_deactivate |= DEACTIVATE_FILE;
            }
        }
        let inactive_file = self.frames.lru_size(LruList::InactiveFile);
        sc.cache_trim_mode = inactive_file >> sc.priority != 0
            && sc.may_deactivate & DEACTIVATE_FILE == 0
            && !sc.no_cache_trim_mode;
        let file = inactive_file + self.frames.lru_size(LruList::ActiveFile);
        let anon = self.frames.lru_size(LruList::InactiveAnon);
        sc.file_is_tiny = file + self.free_pages() <= self.watermarks().high
            && sc.may_deactivate & DEACTIVATE_ANON == 0
            && anon >> sc.priority != 0;
    }

    /// `get_scan_count`: how many pages of each evictable list to scan, by
    /// `LruList::EVICTABLE` index.
    fn get_scan_count(&self, sc: &ScanControl) -> [u64; 4] {
        #[derive(PartialEq)]
        enum Balance {
            Equal,
            Fract,
            Anon,
            File,
        }
        let balance = if !self.can_reclaim_anon() {
            Balance::File
        } else if sc.priority == 0 {
            Balance::Equal
        } else if sc.file_is_tiny {
            Balance::Anon
        } else if sc.cache_trim_mode {
            Balance::File
        } else {
            Balance::Fract
        };
        // calculate_pressure_balance.
        let total = sc.anon_cost + sc.file_cost;
        let anon_cost = total + sc.anon_cost;
        let file_cost = total + sc.file_cost;
        let total = anon_cost + file_cost;
        let ap = SWAPPINESS * (total + 1) / (anon_cost + 1);
        let fp = (MAX_SWAPPINESS - SWAPPINESS) * (total + 1) / (file_cost + 1);
        let mut nr = [0; 4];
        for (i, list) in LruList::EVICTABLE.into_iter().enumerate() {
            let scan = self.frames.lru_size(list) >> sc.priority;
            let file = list.is_file();
            nr[i] = match balance {
                Balance::Equal => scan,
                Balance::Fract => scan * if file { fp } else { ap } / (ap + fp),
                Balance::File | Balance::Anon => {
                    if (balance == Balance::File) == file {
                        scan
                    } else {
                        0
                    }
                }
            };
        }
        nr
    }

    /// `shrink_lruvec`.
    fn shrink_lruvec(&mut self, sc: &mut ScanControl) {
        let mut nr = self.get_scan_count(sc);
        let targets = nr;
        let proportional = !sc.kswapd && sc.priority == DEF_PRIORITY;
        let mut reclaimed = 0;
        // Indices into LruList::EVICTABLE.
        const IA: usize = 0;
        const IF: usize = 2;
        const AF: usize = 3;
        while nr[IA] != 0 || nr[AF] != 0 || nr[IF] != 0 {
            for (i, list) in LruList::EVICTABLE.into_iter().enumerate() {
                if nr[i] != 0 {
                    let n = nr[i].min(SWAP_CLUSTER_MAX);
                    nr[i] -= n;
                    reclaimed += self.shrink_list(list, n, sc);
                }
            }
            if reclaimed < sc.nr_to_reclaim || proportional {
                continue;
            }
            // Enough reclaimed: finish the larger type in proportion, stop the smaller.
            let nr_file = nr[IF] + nr[AF];
            let nr_anon = nr[IA] + nr[IA + 1];
            if nr_file == 0 || nr_anon == 0 {
                break;
            }
            let (stop, other, percentage) = if nr_file > nr_anon {
                let target = targets[IA] + targets[IA + 1] + 1;
                (IA, IF, nr_anon * 100 / target)
            } else {
                let target = targets[IF] + targets[AF] + 1;
                (IF, IA, nr_file * 100 / target)
            };
            nr[stop] = 0;
            nr[stop + 1] = 0;
            for l in [other, other + 1] {
                let scanned = targets[l] - nr[l];
                nr[l] = targets[l] * (100 - percentage) / 100;
                nr[l] -= nr[l].min(scanned);
            }
        }
        sc.nr_reclaimed += reclaimed;
        if self.swap.total() > 0 && self.inactive_is_low(LruList::InactiveAnon) {
            self.shrink_active_list(SWAP_CLUSTER_MAX, LruList::ActiveAnon);
        }
    }

    /// `shrink_node` for the one node and its root memory cgroup.
    fn shrink_node(&mut self, sc: &mut ScanControl) {
        let before = sc.nr_reclaimed;
        self.prepare_scan_control(sc);
        self.shrink_lruvec(sc);
        if sc.nr_reclaimed > before {
            self.reclaim_state.kswapd_failures = 0;
        } else if sc.cache_trim_mode {
            sc.cache_trim_mode_failed = true;
        }
    }

    /// `try_to_free_pages` (`do_try_to_free_pages`): direct reclaim for an allocation, aiming at
    /// SWAP_CLUSTER_MAX pages, from priority 12 down to 0, then once more with every active list
    /// deactivated if that was held back. Returns the pages reclaimed.
    pub(super) fn try_to_free_pages(&mut self) -> u64 {
        let mut sc = ScanControl {
            nr_to_reclaim: SWAP_CLUSTER_MAX,
            ..ScanControl::default()
        };
        self.vm_events.allocstall += 1;
        // memcg_full_walk: the first pass may stop early among cgroups; with one cgroup the
        // second is the same walk again.
        let mut full_walk = false;
        loop {
            sc.priority = DEF_PRIORITY;
            loop {
                sc.nr_scanned = 0;
                self.shrink_node(&mut sc);
                if sc.nr_reclaimed >= sc.nr_to_reclaim || sc.priority == 0 {
                    break;
                }
                sc.priority -= 1;
            }
            if sc.nr_reclaimed != 0 {
                return sc.nr_reclaimed;
            }
            if !full_walk {
                full_walk = true;
                continue;
            }
            if sc.skipped_deactivate {
                sc.force_deactivate = true;
                sc.skipped_deactivate = false;
                continue;
            }
            return 0;
        }
    }

    /// `pgdat_balanced`: more than the high watermark free.
    fn pgdat_balanced(&self) -> bool {
        self.free_pages() > self.watermarks().high
    }

    /// `wakeup_kswapd` + `balance_pgdat`, run to completion: reclaims from priority 12 down
    /// until more than the high watermark is free. Nothing happens when the node is balanced
    /// already or kswapd has failed MAX_RECLAIM_RETRIES times in a row.
    pub(super) fn kswapd(&mut self) {
        if self.reclaim_state.kswapd_failures >= MAX_RECLAIM_RETRIES || self.pgdat_balanced() {
            return;
        }
        self.vm_events.pageoutrun += 1;
        let mut sc = ScanControl {
            kswapd: true,
            ..ScanControl::default()
        };
        loop {
            sc.priority = DEF_PRIORITY;
            while sc.priority >= 1 {
                if self.pgdat_balanced() {
                    return;
                }
                let reclaimed_before = sc.nr_reclaimed;
                // kswapd_age_node.
                if self.swap.total() > 0 && self.inactive_is_low(LruList::InactiveAnon) {
                    self.shrink_active_list(SWAP_CLUSTER_MAX, LruList::ActiveAnon);
                }
                sc.nr_scanned = 0;
                // kswapd_shrink_node.
                sc.nr_to_reclaim = self.watermarks().high.max(SWAP_CLUSTER_MAX);
                self.shrink_node(&mut sc);
                let enough =
                    sc.nr_scanned.max(sc.nr_reclaimed - reclaimed_before) >= sc.nr_to_reclaim;
                if !enough || sc.nr_reclaimed == reclaimed_before {
                    sc.priority -= 1;
                }
            }
            if sc.nr_reclaimed == 0 && !sc.no_cache_trim_mode && sc.cache_trim_mode_failed {
                sc.no_cache_trim_mode = true;
                continue;
            }
            break;
        }
        if sc.nr_reclaimed == 0 {
            self.reclaim_state.kswapd_failures += 1;
        }
    }

    /// `zone_reclaimable_pages`: the file lists, and the anon lists while a swap slot is free.
    fn reclaimable_pages(&self) -> u64 {
        let mut n =
            self.frames.lru_size(LruList::InactiveFile) + self.frames.lru_size(LruList::ActiveFile);
        if self.can_reclaim_anon() {
            n += self.frames.lru_size(LruList::InactiveAnon)
                + self.frames.lru_size(LruList::ActiveAnon);
        }
        n
    }

    /// The page allocator for `need` order-0 pages a fault is about to take (they are taken one
    /// by one right after): the fast path needs more than the low watermark free; below it
    /// kswapd is woken (it runs when the call returns); below min, direct reclaim runs, retried
    /// while it makes progress or while reclaimable pages could still lift free memory over
    /// min, at most MAX_RECLAIM_RETRIES times without progress (`should_reclaim_retry`). Returns
    /// whether the pages may be taken; `false` means the allocation would go to the OOM killer.
    pub(super) fn alloc_pages_reclaim(&mut self, need: u64) -> bool {
        if need == 0 {
            return true;
        }
        let marks = self.watermarks();
        // Each of the `need` allocations must find more than the watermark free.
        let fits = |m: &Machine, mark: u64| m.free_pages() >= mark + need;
        if fits(self, marks.low + 1) {
            return true;
        }
        self.kswapd_wanted = true;
        let mut no_progress = 0;
        loop {
            if fits(self, marks.min + 1) {
                return true;
            }
            let progress = self.try_to_free_pages();
            if fits(self, marks.min + 1) {
                return true;
            }
            if progress != 0 {
                no_progress = 0;
            } else {
                no_progress += 1;
            }
            if no_progress > MAX_RECLAIM_RETRIES
                || self.reclaimable_pages() + self.free_pages() <= marks.min
            {
                return false;
            }
        }
    }

    /// The end of a call that woke kswapd: it balances the node now, before the next call, so
    /// the machine stays deterministic.
    pub(super) fn run_kswapd_if_woken(&mut self) {
        if std::mem::take(&mut self.kswapd_wanted) {
            self.kswapd();
        }
    }

    /// The event counters.
    pub fn vm_events(&self) -> &VmEvents {
        &self.vm_events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MachineConfig;
    use anonmap_abi::{Access, Call, MmapArgs, MmapFlags, Prot, SpawnArgs, TouchArgs};

    const PAGE: u64 = 4096;

    /// A 64 MiB machine with swap and process 2 holding four written anonymous pages; returns
    /// it and their address.
    fn four_pages() -> (Machine, u64) {
        let mut m = Machine::new(MachineConfig {
            ram_bytes: 64 << 20,
            swap_bytes: 16 << 20,
            soft_dirty: false,
            auto_reclaim: true,
        });
        m.apply(&Call::Spawn(SpawnArgs {
            pid: Some(2),
            bare: true,
            ..SpawnArgs::default()
        }))
        .unwrap();
        let flags = MmapFlags {
            private: true,
            anonymous: true,
            ..MmapFlags::default()
        };
        let prot = Prot {
            read: true,
            write: true,
            exec: false,
        };
        let addr = match m.apply(&Call::Mmap(MmapArgs {
            pid: 2,
            addr: None,
            len: 4 * PAGE,
            prot,
            flags,
            file: None,
            offset: None,
        })) {
            Ok(anonmap_abi::Outcome::Addr(a)) => a,
            other => panic!("{other:?}"),
        };
        touch(&mut m, addr, 4, Access::Write);
        (m, addr)
    }

    fn touch(m: &mut Machine, addr: u64, pages: u64, access: Access) {
        m.apply(&Call::Touch(TouchArgs {
            pid: 2,
            addr,
            len: pages * PAGE,
            access,
        }))
        .unwrap();
    }

    fn pfn(m: &Machine, addr: u64) -> Pfn {
        let pte = m.procs[&2].mm.pt.get(vpn(addr));
        assert!(pte.is_present(), "{addr:#x} is not present");
        pte.pfn()
    }

    /// The second chance: a scan of the inactive list finds every page young from its fault,
    /// keeps it (PG_referenced set, young cleared) and reclaims nothing; a second scan reclaims
    /// the pages nobody touched since and activates the one read again in between.
    #[test]
    fn a_referenced_page_survives_one_scan_and_a_second_reference_activates_it() {
        let (mut m, a) = four_pages();
        let pfns: Vec<Pfn> = (0..4).map(|i| pfn(&m, a + i * PAGE)).collect();
        let mut sc = ScanControl::default();
        assert_eq!(m.shrink_inactive_list(4, LruList::InactiveAnon, &mut sc), 0);
        for &p in &pfns {
            let f = &m.frames[p];
            assert!(
                f.has(page_flags::REFERENCED) && m.frames.lru_of(p) == Some(LruList::InactiveAnon)
            );
        }
        assert!((0..4).all(|i| !m.procs[&2].mm.pt.get(vpn(a + i * PAGE)).young()));
        touch(&mut m, a, 1, Access::Read);
        let mut sc = ScanControl::default();
        assert_eq!(m.shrink_inactive_list(4, LruList::InactiveAnon, &mut sc), 3);
        assert_eq!(m.frames.lru_of(pfns[0]), Some(LruList::ActiveAnon));
        for i in 1..4 {
            assert!(
                m.procs[&2].mm.pt.get(vpn(a + i * PAGE)).is_swap(),
                "page {i}"
            );
        }
        assert_eq!(m.vm_events.pswpout, 3);
        m.check_invariants().unwrap();
    }

    /// `shrink_active_list` deactivates: the page goes to the inactive head with PG_workingset,
    /// its young bit cleared.
    #[test]
    fn shrinking_the_active_list_deactivates() {
        let (mut m, a) = four_pages();
        let mut sc = ScanControl::default();
        m.shrink_inactive_list(4, LruList::InactiveAnon, &mut sc);
        touch(&mut m, a, 1, Access::Read);
        m.shrink_inactive_list(4, LruList::InactiveAnon, &mut sc);
        let p = pfn(&m, a);
        touch(&mut m, a, 1, Access::Read);
        m.shrink_active_list(32, LruList::ActiveAnon);
        assert_eq!(m.frames.lru_of(p), Some(LruList::InactiveAnon));
        assert!(m.frames[p].has(page_flags::WORKINGSET));
        assert!(!m.procs[&2].mm.pt.get(vpn(a)).young());
        assert_eq!((m.vm_events.pgrefill, m.vm_events.pgdeactivate), (1, 1));
    }

    #[test]
    fn the_scan_balance_follows_swappiness() {
        let (m, _) = four_pages();
        // Priority 0 with swap: SCAN_EQUAL, the whole lists.
        let sc = ScanControl::default();
        assert_eq!(m.get_scan_count(&sc), [4, 0, 0, 0]);
        // SCAN_FRACT with no recorded costs: anon gets 60 / 200 of `size >> priority`, here
        // 2 * 60 / 200 = 0 pages.
        let sc = ScanControl {
            priority: 1,
            ..ScanControl::default()
        };
        assert_eq!(m.get_scan_count(&sc), [0, 0, 0, 0]);
        // No free swap slot: SCAN_FILE, anon is not scanned even at priority 0.
        let mut full = m.clone();
        full.swap = crate::swap::Swap::new(0);
        assert_eq!(full.get_scan_count(&ScanControl::default()), [0, 0, 0, 0]);
    }
}
