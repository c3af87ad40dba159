//! Swap (§13): `reclaim` through the rmap, swap entries in smaps/status/pagemap/meminfo, swap-in
//! with the swap cache (shared pages stay shared), exclusivity and COW after swap-in, fork of
//! swap entries, slot lifetimes, swap full, file-page reclaim, and the op's errors.
//!
//! Every step runs `check_invariants()`, which recounts the slot counts from the swap PTEs.
//!
//! `§N.M` are the sections of docs/kernel-semantics.md.

use anonmap_abi::pagemap::{PM_MMAP_EXCLUSIVE, PM_SWAP};
use anonmap_abi::Errno;
use anonmap_lang::Session;
use anonmap_mm::{Machine, MachineConfig};
use anonmap_proc::view::{SmapsCounters, PSS_SHIFT};
use anonmap_testkit::sim::{c, Sim, C, P};

use crate::common::{
    anon, anon_written, dontneed, mappers, mmap, mmap_file, munmap, mv, reclaim, touch,
};

/// A whole page of PSS in fixed point.
const FULL: u64 = P << PSS_SHIFT;

/// A machine of `ram_pages` frames and a `swap_pages`-page swap device (one header page, the
/// rest slots) with a bare process 1. Memory pressure is off: only `reclaim` reclaims, so these
/// few-frame machines show each rule by itself (docs/kernel-semantics.md §16 has the pressure).
fn machine(ram_pages: u64, swap_pages: u64) -> Sim {
    let mut s = Sim {
        m: Machine::new(MachineConfig {
            ram_bytes: ram_pages * P,
            swap_bytes: swap_pages * P,
            soft_dirty: false,
            auto_reclaim: false,
        }),
        session: Session::new(),
    };
    s.ok("spawn pid=1 bare");
    s
}

/// [`machine`] with `mapped` private anonymous pages at `C` in process 1, the first `written`
/// of them written.
fn written(ram_pages: u64, swap_pages: u64, mapped: u64, written: u64) -> Sim {
    let mut s = machine(ram_pages, swap_pages);
    anon(&mut s, 1, 0, mapped);
    touch(&mut s, 1, 0, written, "write");
    s
}

/// The smaps counters (bytes, PSS in fixed point) of the VMA containing `addr` in `pid`.
fn smaps(s: &Sim, pid: u32, addr: u64) -> SmapsCounters {
    s.vma_view(pid, addr).expect("a VMA").counters
}

/// One private page, written, then reclaimed: the PTE becomes a swap entry for slot 1.
///
/// ```text
///  pid 1  |A: rw-p, 2 pages|      page 0 written, page 1 untouched
///  reclaim A..A+2p            ->  page 0 -> swap slot 1 (exclusive), page 1 stays pte_none
/// ```
#[test]
fn reclaim_of_an_exclusive_page_makes_a_swap_entry_and_frees_the_frame() {
    let mut s = written(64, 16, 2, 1);
    let free_before = s.m.meminfo_view().mem_free_kb;
    assert_eq!(reclaim(&mut s, 1, 0, 2), Ok(1));
    let k = smaps(&s, 1, C);
    assert_eq!((k.rss, k.swap, k.swap_pss), (0, P, FULL));
    let st = s.status(1);
    assert_eq!((st.vm_rss_kb, st.rss_anon_kb, st.vm_swap_kb), (0, 0, 4));
    // pagemap: bit 62, type 0 in bits 0-4, offset (slot 1) in bits 5-54; never exclusive.
    assert_eq!(s.pagemap(1, C), PM_SWAP | (1 << 5));
    assert_eq!(s.pagemap(1, c(1)), 0);
    let mi = s.m.meminfo_view();
    // 16 slots of which slot 0 is the header: 15 usable, one in use.
    assert_eq!((mi.swap_total_kb, mi.swap_free_kb), (15 * 4, 14 * 4));
    assert_eq!(mi.mem_free_kb, free_before + 4);
    assert_eq!(mi.anon_pages_kb, 0);
}

/// Swap-in of an exclusive entry: one new frame, mapped writable at once (no COW on the
/// following write). A read fault leaves the page in the swap cache, its slot allocated
/// (`should_try_to_free_swap` is false); the write through the already writable PTE takes no
/// fault, so the slot stays, stale, until reclaim or the unmap frees it.
#[test]
fn swap_in_of_an_exclusive_entry_maps_it_writable_and_keeps_it_in_the_swap_cache() {
    let mut s = written(64, 16, 1, 1);
    reclaim(&mut s, 1, 0, 1).unwrap();
    touch(&mut s, 1, 0, 1, "read");
    let pfn = s.pfn(1, C);
    assert_eq!(s.pagemap(1, C) & PM_MMAP_EXCLUSIVE, PM_MMAP_EXCLUSIVE);
    let k = smaps(&s, 1, C);
    assert_eq!((k.rss, k.swap, k.anonymous), (P, 0, P));
    // Read back from swap and not written since: clean.
    assert_eq!((k.private_clean, k.private_dirty), (P, 0));
    let mi = s.m.meminfo_view();
    assert_eq!((mi.swap_free_kb, mi.swap_cached_kb), (14 * 4, 4));
    touch(&mut s, 1, 0, 1, "write");
    assert_eq!(s.pfn(1, C), pfn, "an exclusive page is reused, not copied");
    assert_eq!(smaps(&s, 1, C).private_dirty, P);
    assert_eq!(s.m.meminfo_view().swap_cached_kb, 4);
    // The last unmap lets the swap cache go (free_swap_cache), and the slot with it.
    s.ok(&format!("munmap pid=1 addr={C:#x} len=4K"));
    let mi = s.m.meminfo_view();
    assert_eq!((mi.swap_free_kb, mi.swap_cached_kb), (15 * 4, 0));
}

/// A write fault on a swap entry that nothing else refers to frees the swap at once
/// (`should_try_to_free_swap`): the page leaves the swap cache, PG_dirty.
#[test]
fn a_write_fault_on_a_swap_entry_frees_its_slot() {
    let mut s = written(64, 16, 1, 1);
    reclaim(&mut s, 1, 0, 1).unwrap();
    touch(&mut s, 1, 0, 1, "write");
    let mi = s.m.meminfo_view();
    assert_eq!((mi.swap_free_kb, mi.swap_cached_kb), (15 * 4, 0));
    let rmap = s.m.rmap_view(s.pfn(1, C)).unwrap();
    assert!(rmap.flags.iter().any(|f| f == "dirty"), "{:?}", rmap.flags);
    assert_eq!(smaps(&s, 1, C).private_dirty, P);
}

/// A page shared by fork and reclaimed: both processes get the same slot, each pays half of
/// SwapPss; the first swap-in goes to the swap cache so that the second maps the same frame.
///
/// ```text
///  pid 1  |A: rw-p, written|   fork -> pid 2 shares the page (mapcount 2)
///  reclaim in pid 1         -> both PTEs -> slot 1, swap count 2
///  pid 2 reads              -> new frame F in the swap cache, mapped read-only in pid 2
///  pid 1 reads              -> F from the swap cache; slot count 0, cache entry dropped
///  pid 2 writes             -> COW: pid 2 gets a new page, F stays with pid 1
/// ```
#[test]
fn a_shared_page_stays_shared_across_reclaim_and_swap_in() {
    let mut s = written(64, 16, 1, 1);
    s.ok("fork pid=1 child=2");
    assert_eq!(reclaim(&mut s, 1, 0, 1), Ok(1));
    for pid in [1, 2] {
        let k = smaps(&s, pid, C);
        assert_eq!((k.rss, k.swap, k.swap_pss), (0, P, FULL / 2), "pid {pid}");
        assert_eq!(s.status(pid).vm_swap_kb, 4);
    }
    assert_eq!(s.pagemap(1, C), s.pagemap(2, C));

    touch(&mut s, 2, 0, 1, "read");
    let f = s.pfn(2, C);
    // pagemap's bit 56 counts mappings (mapcount 1 here), not PageAnonExclusive.
    assert_eq!(s.pagemap(2, C) & PM_MMAP_EXCLUSIVE, PM_MMAP_EXCLUSIVE);
    let rmap = s.m.rmap_view(f).unwrap();
    assert!(
        rmap.flags.iter().any(|f| f == "swapcache"),
        "{:?}",
        rmap.flags
    );
    assert_eq!((rmap.mapcount, rmap.refcount), (1, 2));
    assert_eq!(s.m.meminfo_view().swap_cached_kb, 4);
    // pid 1 still holds the only swap entry now: SwapPss is whole again.
    assert_eq!(smaps(&s, 1, C).swap_pss, FULL);
    // pid 2 maps the page once and the swap cache holds the other reference: private.
    let k2 = smaps(&s, 2, C);
    assert_eq!((k2.rss, k2.pss, k2.private_clean), (P, FULL, P));

    touch(&mut s, 1, 0, 1, "read");
    assert_eq!(
        s.pfn(1, C),
        f,
        "the second swap-in finds the page in the swap cache"
    );
    // Both read faults leave the page in the swap cache: its slot stays allocated, with no
    // swap entry left, until something frees it.
    let rmap = s.m.rmap_view(f).unwrap();
    assert_eq!((rmap.mapcount, rmap.refcount), (2, 3));
    assert!(rmap.flags.iter().any(|f| f == "swapcache"));
    assert_eq!(mappers(&rmap), vec![(1, C), (2, C)]);
    for pid in [1, 2] {
        let k = smaps(&s, pid, C);
        assert_eq!((k.pss, k.shared_clean, k.swap), (FULL / 2, P, 0));
    }
    let mi = s.m.meminfo_view();
    assert_eq!((mi.swap_cached_kb, mi.swap_free_kb), (4, 14 * 4));

    touch(&mut s, 2, 0, 1, "write");
    assert_ne!(s.pfn(2, C), f, "a write to a shared page copies it");
    assert_eq!(s.pfn(1, C), f);
    assert_eq!(smaps(&s, 2, C).private_dirty, P);
}

/// Fork copies swap entries: the slot count rises, and the entry loses its exclusive mark in
/// both processes, so the parent's later swap-in cannot map it writable while the child still
/// refers to the slot.
#[test]
fn fork_duplicates_swap_entries() {
    let mut s = written(64, 16, 1, 1);
    reclaim(&mut s, 1, 0, 1).unwrap();
    s.ok("fork pid=1 child=2");
    for pid in [1, 2] {
        assert_eq!(smaps(&s, pid, C).swap_pss, FULL / 2, "pid {pid}");
    }
    // The parent writes: swap-in (not exclusive: the child holds the slot) then COW.
    let free = s.m.meminfo_view().mem_free_kb;
    touch(&mut s, 1, 0, 1, "write");
    let parent_pfn = s.pfn(1, C);
    // Two frames: the swap-cache copy (still the child's to find) and the parent's COW copy.
    assert_eq!(s.m.meminfo_view().mem_free_kb, free - 8);
    assert_eq!(s.m.meminfo_view().swap_cached_kb, 4);
    touch(&mut s, 2, 0, 1, "read");
    assert_ne!(s.pfn(2, C), parent_pfn);
    // The child's read took the cached frame; the swap cache keeps it, and the slot, until
    // something frees them.
    let mi = s.m.meminfo_view();
    assert_eq!((mi.swap_cached_kb, mi.swap_free_kb), (4, 14 * 4));
    s.ok("exit pid=2");
    let mi = s.m.meminfo_view();
    assert_eq!((mi.swap_cached_kb, mi.swap_free_kb), (0, 15 * 4));
}

/// Exit, munmap and MADV_DONTNEED free the slots their swap entries held.
#[test]
fn zapping_swap_entries_frees_their_slots() {
    let mut s = written(64, 16, 3, 3);
    reclaim(&mut s, 1, 0, 3).unwrap();
    s.ok("fork pid=1 child=2");
    assert_eq!(s.m.meminfo_view().swap_free_kb, 12 * 4);
    munmap(&mut s, 1, 0, 1);
    // Slot of page 0 is still held by the child.
    assert_eq!(s.m.meminfo_view().swap_free_kb, 12 * 4);
    assert_eq!(dontneed(&mut s, 2, 0, 1), Ok(()));
    assert_eq!(s.m.meminfo_view().swap_free_kb, 13 * 4);
    s.ok("exit pid=2");
    assert_eq!(dontneed(&mut s, 1, 1, 1), Ok(()));
    assert_eq!(s.m.meminfo_view().swap_free_kb, 14 * 4);
    s.ok("exit pid=1");
    assert_eq!(s.m.meminfo_view().swap_free_kb, 15 * 4);
}

/// mremap moves swap entries with the range; the moved page swaps back in at the new address.
#[test]
fn mremap_moves_swap_entries() {
    let mut s = written(64, 16, 2, 2);
    reclaim(&mut s, 1, 1, 1).unwrap();
    // to b = C + 1 MiB
    mv(&mut s, 1, 0, 2, 256);
    let b = c(256);
    assert_eq!(s.pagemap(1, b + P), PM_SWAP | (1 << 5));
    let k = smaps(&s, 1, b);
    assert_eq!((k.rss, k.swap), (P, P));
    touch(&mut s, 1, 256, 2, "read");
    assert_eq!(smaps(&s, 1, b).swap, 0);
    let f = s.pfn(1, b + P);
    assert_eq!(mappers(&s.m.rmap_view(f).unwrap()), vec![(1, b + P)]);
}

/// With one usable slot, reclaiming two pages swaps out the first and leaves the second
/// resident.
#[test]
fn reclaim_stops_swapping_when_swap_is_full() {
    let mut s = written(64, 2, 2, 2);
    assert_eq!(reclaim(&mut s, 1, 0, 2), Ok(1));
    let k = smaps(&s, 1, C);
    assert_eq!((k.rss, k.swap), (P, P));
    assert_eq!(s.m.meminfo_view().swap_free_kb, 0);
    // No swap at all: nothing anonymous is reclaimed.
    let mut s = written(64, 0, 1, 1);
    assert_eq!(reclaim(&mut s, 1, 0, 1), Ok(0));
}

/// Page-cache pages are dropped from every mapping and from the cache; the next access reads
/// the page in again. The zero page is not reclaimed; a written shmem page moves to swap, which
/// every mapper's smaps `Swap:` shows, and reads back dirty.
#[test]
fn reclaim_drops_file_pages_swaps_shmem_and_keeps_the_zero_page() {
    let mut s = machine(64, 16);
    s.ok("file path=/lib/libfoo.so size=64K");
    mmap_file(&mut s, 1, 0, 16, "r--", "/lib/libfoo.so");
    touch(&mut s, 1, 0, 1, "read");
    s.ok("fork pid=1 child=2");
    // Fault-around maps only pages already cached (section 11): just the faulting page here.
    assert_eq!(smaps(&s, 1, C).rss, P);
    let cached = s.m.meminfo_view().cached_kb;
    assert_eq!(reclaim(&mut s, 1, 0, 16), Ok(1));
    // Only the faulted page was in the page cache; fork copied no file PTEs (no anon_vma).
    assert_eq!(smaps(&s, 1, C).rss, 0);
    assert_eq!(s.m.meminfo_view().cached_kb, cached - 4);
    touch(&mut s, 1, 0, 1, "read");
    assert_eq!(smaps(&s, 1, C).rss, P);

    // b = C + 1 MiB: private anonymous, read (the zero page); c = C + 2 MiB: shmem, written.
    anon(&mut s, 1, 256, 1);
    touch(&mut s, 1, 256, 1, "read");
    mmap(&mut s, 1, 512, 1, "rw-", "shared,anonymous");
    touch(&mut s, 1, 512, 1, "write");
    assert_eq!(reclaim(&mut s, 1, 256, 1), Ok(0));
    s.ok("fork pid=1 child=3");
    assert_eq!(reclaim(&mut s, 1, 512, 1), Ok(1));
    for pid in [1, 3] {
        let k = smaps(&s, pid, c(512));
        assert_eq!((k.rss, k.swap, k.swap_pss), (0, P, 0), "pid {pid}");
    }
    assert_eq!(s.status(1).vm_swap_kb, 0, "shmem swap is not MM_SWAPENTS");
    touch(&mut s, 3, 512, 1, "read");
    let k = smaps(&s, 3, c(512));
    assert_eq!((k.rss, k.swap, k.private_dirty), (P, 0, P));
}

/// A touch that needs more frames than are free fails with ENOMEM and changes nothing, swap
/// entries included.
#[test]
fn swap_in_without_free_frames_is_enomem_and_changes_nothing() {
    // 4 frames: the zero page and three usable ones.
    let mut s = written(4, 16, 3, 3);
    reclaim(&mut s, 1, 0, 2).unwrap();
    anon_written(&mut s, 1, 256, 2);
    // RAM is now full (3 frames in use); both swapped pages need a frame each.
    let before = smaps(&s, 1, C);
    assert_eq!(
        s.err(&format!("touch pid=1 addr={C:#x} len=8K access=read")),
        Errno::ENOMEM
    );
    assert_eq!(smaps(&s, 1, C), before);
}

#[test]
fn reclaim_rejects_bad_ranges_with_the_madvise_errnos() {
    let mut s = machine(64, 16);
    anon(&mut s, 1, 0, 1);
    anon(&mut s, 1, 2, 1);
    touch(&mut s, 1, 0, 1, "write");
    touch(&mut s, 1, 2, 1, "write");
    assert_eq!(s.err("reclaim pid=9 addr=0x1000 len=4K"), Errno::ESRCH);
    assert_eq!(
        s.err(&format!("reclaim pid=1 addr={:#x} len=4K", C + 1)),
        Errno::EINVAL
    );
    // A hole in the middle: both mapped pages are reclaimed, then ENOMEM.
    assert_eq!(reclaim(&mut s, 1, 0, 3), Err(Errno::ENOMEM));
    assert_eq!(s.status(1).vm_swap_kb, 8);
    assert_eq!(reclaim(&mut s, 1, 0, 0), Ok(0));
}
