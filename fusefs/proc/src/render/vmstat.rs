//! `/proc/vmstat`: the machine-wide page counts and vm event counters, one `name value` line
//! each.
//!
//! Owns the layout Linux 6.18 prints (mm/vmstat.c `vmstat_show`: the name, one space, the value
//! with `seq_put_decimal_ull`, a newline), in the order of `vmstat_text`: the zone stats
//! (`enum zone_stat_item`), the NUMA stats, the node stats (`enum node_stat_item`), the
//! system-wide `enum vm_stat_item` (the dirty thresholds and the memmap pages), then the vm
//! events (`enum vm_event_item`), and after the last one the deprecated `nr_unstable 0`.
//!
//! Which lines exist depends on the kernel's configuration; this is the set a distribution
//! x86_64 kernel prints, line for line as the reference host (6.18, 192 lines) prints it:
//! CONFIG_NUMA, NUMA_BALANCING, ZSMALLOC, IOMMU_SUPPORT, SWAP, HUGETLB_PAGE, MIGRATION,
//! COMPACTION, TRANSPARENT_HUGEPAGE with HAVE_ARCH_TRANSPARENT_HUGEPAGE_PUD, MEMORY_BALLOON with
//! BALLOON_COMPACTION, KSM, ZSWAP, ZONE_DMA, ZONE_DMA32 and ZONE_DEVICE on; CMA, HIGHMEM,
//! UNACCEPTED_MEMORY, SHADOW_CALL_STACK, DEBUG_TLBFLUSH, PER_VMA_LOCK_STATS and
//! DEBUG_STACK_USAGE off. The per-zone events (`pgalloc_*`, `allocstall_*`, `pgskip_*`) have
//! one line per zone type, `dma dma32 normal movable device`.
//!
//! The simulated machine is one node with one zone, Normal: the `nr_zone_*` LRU lines equal the
//! node's, and direct reclaim stalls count on `allocstall_normal`. Lines whose quantity the
//! simulator does not keep are printed with 0 (the NUMA counters included, though a real
//! one-node machine counts every allocation as `numa_hit` and `numa_local`), as `meminfo` does.

use super::fmt::dec;
use crate::view::VmstatView;

/// `vm_dirty_ratio`, in percent.
const DIRTY_RATIO: u64 = 20;
/// `dirty_background_ratio`, in percent.
const DIRTY_BACKGROUND_RATIO: u64 = 10;
/// The page size the ratios are scaled by.
const PAGE_SIZE: u64 = 4096;

/// `global_dirty_limits` with the default ratios and no byte limits, for a reader that is not a
/// real-time task: `(background, dirty)` thresholds in pages. `free` is NR_FREE_PAGES, `file`
/// the file LRU pages (active and inactive), `reserve` `totalreserve_pages`; x86_64 has no
/// highmem to leave out.
pub fn global_dirty_limits(free: u64, file: u64, reserve: u64) -> (u64, u64) {
    // global_dirtyable_memory: free pages above the reserve, plus the file LRU, plus one.
    let available = free - free.min(reserve) + file + 1;
    // domain_dirty_limits: the ratios in per-PAGE_SIZE units.
    let ratio = DIRTY_RATIO * PAGE_SIZE / 100;
    let bg_ratio = DIRTY_BACKGROUND_RATIO * PAGE_SIZE / 100;
    let thresh = (ratio * available / PAGE_SIZE).min(u64::from(u32::MAX));
    let mut bg_thresh = bg_ratio * available / PAGE_SIZE;
    if bg_thresh >= thresh {
        bg_thresh = thresh / 2;
    }
    (bg_thresh, thresh)
}

/// Appends the whole vmstat file.
pub fn render_vmstat(v: &VmstatView, out: &mut Vec<u8>) {
    let lines: [(&str, u64); 191] = [
        // enum zone_stat_item
        ("nr_free_pages", v.nr_free_pages),
        ("nr_free_pages_blocks", 0),
        ("nr_zone_inactive_anon", v.nr_inactive_anon),
        ("nr_zone_active_anon", v.nr_active_anon),
        ("nr_zone_inactive_file", v.nr_inactive_file),
        ("nr_zone_active_file", v.nr_active_file),
        ("nr_zone_unevictable", v.nr_unevictable),
        ("nr_zone_write_pending", 0),
        ("nr_mlock", v.nr_mlock),
        ("nr_zspages", 0),
        ("nr_free_cma", 0),
        // enum numa_stat_item
        ("numa_hit", 0),
        ("numa_miss", 0),
        ("numa_foreign", 0),
        ("numa_interleave", 0),
        ("numa_local", 0),
        ("numa_other", 0),
        // enum node_stat_item
        ("nr_inactive_anon", v.nr_inactive_anon),
        ("nr_active_anon", v.nr_active_anon),
        ("nr_inactive_file", v.nr_inactive_file),
        ("nr_active_file", v.nr_active_file),
        ("nr_unevictable", v.nr_unevictable),
        ("nr_slab_reclaimable", 0),
        ("nr_slab_unreclaimable", 0),
        ("nr_isolated_anon", 0),
        ("nr_isolated_file", 0),
        ("workingset_nodes", 0),
        ("workingset_refault_anon", 0),
        ("workingset_refault_file", 0),
        ("workingset_activate_anon", 0),
        ("workingset_activate_file", 0),
        ("workingset_restore_anon", 0),
        ("workingset_restore_file", 0),
        ("workingset_nodereclaim", 0),
        ("nr_anon_pages", v.nr_anon_pages),
        ("nr_mapped", v.nr_mapped),
        ("nr_file_pages", v.nr_file_pages),
        ("nr_dirty", 0),
        ("nr_writeback", 0),
        ("nr_shmem", v.nr_shmem),
        ("nr_shmem_hugepages", 0),
        ("nr_shmem_pmdmapped", 0),
        ("nr_file_hugepages", 0),
        ("nr_file_pmdmapped", 0),
        ("nr_anon_transparent_hugepages", 0),
        ("nr_vmscan_write", 0),
        ("nr_vmscan_immediate_reclaim", 0),
        ("nr_dirtied", 0),
        ("nr_written", 0),
        ("nr_throttled_written", 0),
        ("nr_kernel_misc_reclaimable", 0),
        ("nr_foll_pin_acquired", 0),
        ("nr_foll_pin_released", 0),
        ("nr_kernel_stack", 0),
        ("nr_page_table_pages", v.nr_page_table_pages),
        ("nr_sec_page_table_pages", 0),
        ("nr_iommu_pages", 0),
        ("nr_swapcached", v.nr_swapcached),
        ("pgpromote_success", 0),
        ("pgpromote_candidate", 0),
        ("pgpromote_candidate_nrl", 0),
        ("pgdemote_kswapd", 0),
        ("pgdemote_direct", 0),
        ("pgdemote_khugepaged", 0),
        ("pgdemote_proactive", 0),
        ("nr_hugetlb", 0),
        ("nr_balloon_pages", 0),
        ("nr_kernel_file_pages", 0),
        // enum vm_stat_item
        ("nr_dirty_threshold", v.nr_dirty_threshold),
        (
            "nr_dirty_background_threshold",
            v.nr_dirty_background_threshold,
        ),
        ("nr_memmap_pages", 0),
        ("nr_memmap_boot_pages", 0),
        // enum vm_event_item
        ("pgpgin", 0),
        ("pgpgout", 0),
        ("pswpin", v.pswpin),
        ("pswpout", v.pswpout),
        ("pgalloc_dma", 0),
        ("pgalloc_dma32", 0),
        ("pgalloc_normal", 0),
        ("pgalloc_movable", 0),
        ("pgalloc_device", 0),
        ("allocstall_dma", 0),
        ("allocstall_dma32", 0),
        ("allocstall_normal", v.allocstall),
        ("allocstall_movable", 0),
        ("allocstall_device", 0),
        ("pgskip_dma", 0),
        ("pgskip_dma32", 0),
        ("pgskip_normal", 0),
        ("pgskip_movable", 0),
        ("pgskip_device", 0),
        ("pgfree", 0),
        ("pgactivate", v.pgactivate),
        ("pgdeactivate", v.pgdeactivate),
        ("pglazyfree", 0),
        ("pgfault", v.pgfault),
        ("pgmajfault", v.pgmajfault),
        ("pglazyfreed", 0),
        ("pgrefill", v.pgrefill),
        ("pgreuse", 0),
        ("pgsteal_kswapd", v.pgsteal_kswapd),
        ("pgsteal_direct", v.pgsteal_direct),
        ("pgsteal_khugepaged", 0),
        ("pgsteal_proactive", 0),
        ("pgscan_kswapd", v.pgscan_kswapd),
        ("pgscan_direct", v.pgscan_direct),
        ("pgscan_khugepaged", 0),
        ("pgscan_proactive", 0),
        ("pgscan_direct_throttle", 0),
        ("pgscan_anon", v.pgscan_anon),
        ("pgscan_file", v.pgscan_file),
        ("pgsteal_anon", v.pgsteal_anon),
        ("pgsteal_file", v.pgsteal_file),
        ("zone_reclaim_success", 0),
        ("zone_reclaim_failed", 0),
        ("pginodesteal", 0),
        ("slabs_scanned", 0),
        ("kswapd_inodesteal", 0),
        ("kswapd_low_wmark_hit_quickly", 0),
        ("kswapd_high_wmark_hit_quickly", 0),
        ("pageoutrun", v.pageoutrun),
        ("pgrotated", 0),
        ("drop_pagecache", 0),
        ("drop_slab", 0),
        ("oom_kill", v.oom_kill),
        ("numa_pte_updates", 0),
        ("numa_huge_pte_updates", 0),
        ("numa_hint_faults", 0),
        ("numa_hint_faults_local", 0),
        ("numa_pages_migrated", 0),
        ("pgmigrate_success", v.pgmigrate_success),
        ("pgmigrate_fail", v.pgmigrate_fail),
        ("thp_migration_success", 0),
        ("thp_migration_fail", 0),
        ("thp_migration_split", 0),
        ("compact_migrate_scanned", 0),
        ("compact_free_scanned", 0),
        ("compact_isolated", 0),
        ("compact_stall", 0),
        ("compact_fail", 0),
        ("compact_success", 0),
        ("compact_daemon_wake", 0),
        ("compact_daemon_migrate_scanned", 0),
        ("compact_daemon_free_scanned", 0),
        ("htlb_buddy_alloc_success", 0),
        ("htlb_buddy_alloc_fail", 0),
        ("unevictable_pgs_culled", 0),
        ("unevictable_pgs_scanned", 0),
        ("unevictable_pgs_rescued", 0),
        ("unevictable_pgs_mlocked", 0),
        ("unevictable_pgs_munlocked", 0),
        ("unevictable_pgs_cleared", 0),
        ("unevictable_pgs_stranded", 0),
        ("thp_fault_alloc", 0),
        ("thp_fault_fallback", 0),
        ("thp_fault_fallback_charge", 0),
        ("thp_collapse_alloc", 0),
        ("thp_collapse_alloc_failed", 0),
        ("thp_file_alloc", 0),
        ("thp_file_fallback", 0),
        ("thp_file_fallback_charge", 0),
        ("thp_file_mapped", 0),
        ("thp_split_page", 0),
        ("thp_split_page_failed", 0),
        ("thp_deferred_split_page", 0),
        ("thp_underused_split_page", 0),
        ("thp_split_pmd", 0),
        ("thp_scan_exceed_none_pte", 0),
        ("thp_scan_exceed_swap_pte", 0),
        ("thp_scan_exceed_share_pte", 0),
        ("thp_split_pud", 0),
        ("thp_zero_page_alloc", 0),
        ("thp_zero_page_alloc_failed", 0),
        ("thp_swpout", 0),
        ("thp_swpout_fallback", 0),
        ("balloon_inflate", 0),
        ("balloon_deflate", 0),
        ("balloon_migrate", 0),
        ("swap_ra", 0),
        ("swap_ra_hit", 0),
        ("swpin_zero", 0),
        ("swpout_zero", 0),
        ("ksm_swpin_copy", 0),
        ("cow_ksm", 0),
        ("zswpin", 0),
        ("zswpout", 0),
        ("zswpwb", 0),
        ("direct_map_level2_splits", 0),
        ("direct_map_level3_splits", 0),
        ("direct_map_level2_collapses", 0),
        ("direct_map_level3_collapses", 0),
    ];
    for (name, value) in lines {
        out.extend_from_slice(name.as_bytes());
        out.push(b' ');
        dec(out, value);
        out.push(b'\n');
    }
    // vmstat_show, after the last item: counters kept for userspace that still reads them.
    out.extend_from_slice(b"nr_unstable 0\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use procfs_core::{FromBufRead, VmStat};

    /// A view with every field a distinct number.
    fn view() -> VmstatView {
        VmstatView {
            allocstall: 111,
            nr_active_anon: 122,
            nr_active_file: 133,
            nr_anon_pages: 144,
            nr_dirty_background_threshold: 155,
            nr_dirty_threshold: 166,
            nr_file_pages: 177,
            nr_free_pages: 188,
            nr_inactive_anon: 199,
            nr_inactive_file: 210,
            nr_mapped: 221,
            nr_mlock: 232,
            nr_page_table_pages: 243,
            nr_shmem: 254,
            nr_swapcached: 265,
            nr_unevictable: 276,
            oom_kill: 287,
            pageoutrun: 298,
            pgactivate: 309,
            pgdeactivate: 320,
            pgfault: 331,
            pgmajfault: 342,
            pgrefill: 353,
            pgscan_anon: 364,
            pgscan_direct: 375,
            pgscan_file: 386,
            pgscan_kswapd: 397,
            pgsteal_anon: 408,
            pgsteal_direct: 419,
            pgsteal_file: 430,
            pgsteal_kswapd: 441,
            pswpin: 452,
            pswpout: 463,
            pgmigrate_success: 474,
            pgmigrate_fail: 485,
        }
    }

    #[test]
    fn byte_exact_layout() {
        let mut out = Vec::new();
        render_vmstat(&view(), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\
nr_free_pages 188
nr_free_pages_blocks 0
nr_zone_inactive_anon 199
nr_zone_active_anon 122
nr_zone_inactive_file 210
nr_zone_active_file 133
nr_zone_unevictable 276
nr_zone_write_pending 0
nr_mlock 232
nr_zspages 0
nr_free_cma 0
numa_hit 0
numa_miss 0
numa_foreign 0
numa_interleave 0
numa_local 0
numa_other 0
nr_inactive_anon 199
nr_active_anon 122
nr_inactive_file 210
nr_active_file 133
nr_unevictable 276
nr_slab_reclaimable 0
nr_slab_unreclaimable 0
nr_isolated_anon 0
nr_isolated_file 0
workingset_nodes 0
workingset_refault_anon 0
workingset_refault_file 0
workingset_activate_anon 0
workingset_activate_file 0
workingset_restore_anon 0
workingset_restore_file 0
workingset_nodereclaim 0
nr_anon_pages 144
nr_mapped 221
nr_file_pages 177
nr_dirty 0
nr_writeback 0
nr_shmem 254
nr_shmem_hugepages 0
nr_shmem_pmdmapped 0
nr_file_hugepages 0
nr_file_pmdmapped 0
nr_anon_transparent_hugepages 0
nr_vmscan_write 0
nr_vmscan_immediate_reclaim 0
nr_dirtied 0
nr_written 0
nr_throttled_written 0
nr_kernel_misc_reclaimable 0
nr_foll_pin_acquired 0
nr_foll_pin_released 0
nr_kernel_stack 0
nr_page_table_pages 243
nr_sec_page_table_pages 0
nr_iommu_pages 0
nr_swapcached 265
pgpromote_success 0
pgpromote_candidate 0
pgpromote_candidate_nrl 0
pgdemote_kswapd 0
pgdemote_direct 0
pgdemote_khugepaged 0
pgdemote_proactive 0
nr_hugetlb 0
nr_balloon_pages 0
nr_kernel_file_pages 0
nr_dirty_threshold 166
nr_dirty_background_threshold 155
nr_memmap_pages 0
nr_memmap_boot_pages 0
pgpgin 0
pgpgout 0
pswpin 452
pswpout 463
pgalloc_dma 0
pgalloc_dma32 0
pgalloc_normal 0
pgalloc_movable 0
pgalloc_device 0
allocstall_dma 0
allocstall_dma32 0
allocstall_normal 111
allocstall_movable 0
allocstall_device 0
pgskip_dma 0
pgskip_dma32 0
pgskip_normal 0
pgskip_movable 0
pgskip_device 0
pgfree 0
pgactivate 309
pgdeactivate 320
pglazyfree 0
pgfault 331
pgmajfault 342
pglazyfreed 0
pgrefill 353
pgreuse 0
pgsteal_kswapd 441
pgsteal_direct 419
pgsteal_khugepaged 0
pgsteal_proactive 0
pgscan_kswapd 397
pgscan_direct 375
pgscan_khugepaged 0
pgscan_proactive 0
pgscan_direct_throttle 0
pgscan_anon 364
pgscan_file 386
pgsteal_anon 408
pgsteal_file 430
zone_reclaim_success 0
zone_reclaim_failed 0
pginodesteal 0
slabs_scanned 0
kswapd_inodesteal 0
kswapd_low_wmark_hit_quickly 0
kswapd_high_wmark_hit_quickly 0
pageoutrun 298
pgrotated 0
drop_pagecache 0
drop_slab 0
oom_kill 287
numa_pte_updates 0
numa_huge_pte_updates 0
numa_hint_faults 0
numa_hint_faults_local 0
numa_pages_migrated 0
pgmigrate_success 474
pgmigrate_fail 485
thp_migration_success 0
thp_migration_fail 0
thp_migration_split 0
compact_migrate_scanned 0
compact_free_scanned 0
compact_isolated 0
compact_stall 0
compact_fail 0
compact_success 0
compact_daemon_wake 0
compact_daemon_migrate_scanned 0
compact_daemon_free_scanned 0
htlb_buddy_alloc_success 0
htlb_buddy_alloc_fail 0
unevictable_pgs_culled 0
unevictable_pgs_scanned 0
unevictable_pgs_rescued 0
unevictable_pgs_mlocked 0
unevictable_pgs_munlocked 0
unevictable_pgs_cleared 0
unevictable_pgs_stranded 0
thp_fault_alloc 0
thp_fault_fallback 0
thp_fault_fallback_charge 0
thp_collapse_alloc 0
thp_collapse_alloc_failed 0
thp_file_alloc 0
thp_file_fallback 0
thp_file_fallback_charge 0
thp_file_mapped 0
thp_split_page 0
thp_split_page_failed 0
thp_deferred_split_page 0
thp_underused_split_page 0
thp_split_pmd 0
thp_scan_exceed_none_pte 0
thp_scan_exceed_swap_pte 0
thp_scan_exceed_share_pte 0
thp_split_pud 0
thp_zero_page_alloc 0
thp_zero_page_alloc_failed 0
thp_swpout 0
thp_swpout_fallback 0
balloon_inflate 0
balloon_deflate 0
balloon_migrate 0
swap_ra 0
swap_ra_hit 0
swpin_zero 0
swpout_zero 0
ksm_swpin_copy 0
cow_ksm 0
zswpin 0
zswpout 0
zswpwb 0
direct_map_level2_splits 0
direct_map_level3_splits 0
direct_map_level2_collapses 0
direct_map_level3_collapses 0
nr_unstable 0
"
        );
    }

    #[test]
    fn procfs_parses_it() {
        let v = view();
        let mut out = Vec::new();
        render_vmstat(&v, &mut out);
        let stat = VmStat::from_buf_read(&out[..]).unwrap().0;
        assert_eq!(stat.len(), 192);
        let get = |name: &str| stat[name];
        assert_eq!(get("nr_free_pages"), v.nr_free_pages as i64);
        assert_eq!(get("nr_zone_active_anon"), v.nr_active_anon as i64);
        assert_eq!(get("nr_inactive_file"), v.nr_inactive_file as i64);
        assert_eq!(get("nr_file_pages"), v.nr_file_pages as i64);
        assert_eq!(get("nr_swapcached"), v.nr_swapcached as i64);
        assert_eq!(get("nr_dirty_threshold"), v.nr_dirty_threshold as i64);
        assert_eq!(get("pswpin"), v.pswpin as i64);
        assert_eq!(get("pswpout"), v.pswpout as i64);
        assert_eq!(get("pgfault"), v.pgfault as i64);
        assert_eq!(get("pgmajfault"), v.pgmajfault as i64);
        assert_eq!(get("allocstall_normal"), v.allocstall as i64);
        assert_eq!(get("allocstall_dma32"), 0);
        assert_eq!(get("pgscan_kswapd"), v.pgscan_kswapd as i64);
        assert_eq!(get("pgsteal_direct"), v.pgsteal_direct as i64);
        assert_eq!(get("oom_kill"), v.oom_kill as i64);
        assert_eq!(get("numa_hit"), 0);
        assert_eq!(get("nr_unstable"), 0);
    }

    #[test]
    fn a_zero_view_is_every_line_at_zero() {
        let mut out = Vec::new();
        render_vmstat(&VmstatView::default(), &mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 192);
        assert!(text
            .lines()
            .all(|l| l.ends_with(" 0") && l.split(' ').count() == 2));
        assert!(text.ends_with("direct_map_level3_collapses 0\nnr_unstable 0\n"));
    }

    #[test]
    fn dirty_limits_are_the_kernels() {
        // 1 GiB free, no file pages, a reserve of 4000 pages: (262144 - 4000 + 1) pages are
        // dirtyable; 819/4096 and 409/4096 of them.
        let avail = 262_144 - 4000 + 1;
        assert_eq!(
            global_dirty_limits(262_144, 0, 4000),
            (409 * avail / 4096, 819 * avail / 4096)
        );
        assert_eq!(global_dirty_limits(262_144, 0, 4000), (25_776, 51_616));
        // The file LRU counts; the reserve never takes more than the free pages.
        assert_eq!(global_dirty_limits(10, 1000, 4000), (99, 200));
        // Nothing dirtyable: one page, thresholds 0 (the background one at most half).
        assert_eq!(global_dirty_limits(0, 0, 0), (0, 0));
        // The threshold is capped at UINT_MAX pages, and a background one above it is halved.
        assert_eq!(
            global_dirty_limits(1 << 40, 0, 0),
            (u64::from(u32::MAX) / 2, u64::from(u32::MAX))
        );
    }
}
