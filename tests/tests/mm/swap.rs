//! Swap (§13): `reclaim` through the rmap, swap entries in smaps/status/pagemap/meminfo, swap-in
//! with the swap cache (shared pages stay shared), exclusivity and COW after swap-in, fork of
//! swap entries, slot lifetimes, swap full, file-page reclaim, and the op's errors.
//!
//! Every step runs `check_invariants()`, which recounts the slot counts from the swap PTEs.
//!
//! `§N.M` are the sections of docs/kernel-semantics.md.

use anonmap_abi::pagemap::{PM_MMAP_EXCLUSIVE, PM_PFRAME_MASK, PM_PRESENT, PM_SWAP};
use anonmap_abi::{Errno, Error, Outcome};
use anonmap_lang::parse_call;
use anonmap_mm::{Machine, MachineConfig};
use anonmap_proc::view::{SmapsCounters, PSS_SHIFT};

const A: u64 = 0x2000_0000_0000;
const PAGE: u64 = 4096;

struct Sim {
    m: Machine,
}

impl Sim {
    fn new(ram_pages: u64, swap_pages: u64) -> Sim {
        Sim {
            m: Machine::new(MachineConfig {
                ram_bytes: ram_pages * PAGE,
                swap_bytes: swap_pages * PAGE,
            }),
        }
    }

    fn try_run(&mut self, line: &str) -> Result<Outcome, Error> {
        let call = parse_call(line).unwrap();
        let r = self.m.apply(&call);
        self.m
            .check_invariants()
            .unwrap_or_else(|e| panic!("after `{line}`: {e}"));
        r
    }

    fn run(&mut self, script: &str) -> Outcome {
        let mut last = Outcome::Done;
        for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
            last = self
                .try_run(line)
                .unwrap_or_else(|e| panic!("`{line}`: {e}"));
        }
        last
    }

    /// The smaps counters of the VMA containing `addr` in `pid`.
    fn smaps(&self, pid: u32, addr: u64) -> SmapsCounters {
        self.m
            .address_space_view(pid)
            .unwrap()
            .vmas
            .into_iter()
            .find(|v| v.start <= addr && addr < v.end)
            .expect("a VMA")
            .counters
    }

    fn pagemap(&self, pid: u32, addr: u64) -> u64 {
        self.m.pagemap(pid, addr / PAGE, 1).unwrap()[0]
    }

    fn pfn(&self, pid: u32, addr: u64) -> u64 {
        let e = self.pagemap(pid, addr);
        assert!(
            e & PM_PRESENT != 0,
            "{addr:#x} of pid {pid} is not present: {e:#x}"
        );
        e & PM_PFRAME_MASK
    }
}

const FULL: u64 = PAGE << PSS_SHIFT;

/// One private page, written, then reclaimed: the PTE becomes a swap entry for slot 1.
///
/// ```text
///  pid 1  |A: rw-p, 2 pages|      page 0 written, page 1 untouched
///  reclaim A..A+2p            ->  page 0 -> swap slot 1 (exclusive), page 1 stays pte_none
/// ```
#[test]
fn reclaim_of_an_exclusive_page_makes_a_swap_entry_and_frees_the_frame() {
    let mut s = Sim::new(64, 16);
    s.run(&format!(
        "spawn pid=1 bare
         mmap pid=1 addr={A:#x} len=8K prot=rw- flags=private,anonymous,fixed
         touch pid=1 addr={A:#x} len=4K access=write"
    ));
    let free_before = s.m.meminfo_view().mem_free_kb;
    let out = s.run(&format!("reclaim pid=1 addr={A:#x} len=8K"));
    assert_eq!(out, Outcome::Pages(1));
    let c = s.smaps(1, A);
    assert_eq!((c.rss, c.swap, c.swap_pss), (0, PAGE, FULL));
    let st = s.m.status_view(1).unwrap();
    assert_eq!((st.vm_rss_kb, st.rss_anon_kb, st.vm_swap_kb), (0, 0, 4));
    // pagemap: bit 62, type 0 in bits 0-4, offset (slot 1) in bits 5-54; never exclusive.
    assert_eq!(s.pagemap(1, A), PM_SWAP | (1 << 5));
    assert_eq!(s.pagemap(1, A + PAGE), 0);
    let mi = s.m.meminfo_view();
    // 16 slots of which slot 0 is the header: 15 usable, one in use.
    assert_eq!((mi.swap_total_kb, mi.swap_free_kb), (15 * 4, 14 * 4));
    assert_eq!(mi.mem_free_kb, free_before + 4);
    assert_eq!(mi.anon_pages_kb, 0);
}

/// Swap-in of an exclusive entry: one new frame, mapped writable at once (no COW on the
/// following write), the slot freed.
#[test]
fn swap_in_of_an_exclusive_entry_maps_it_writable_and_frees_the_slot() {
    let mut s = Sim::new(64, 16);
    s.run(&format!(
        "spawn pid=1 bare
         mmap pid=1 addr={A:#x} len=4K prot=rw- flags=private,anonymous,fixed
         touch pid=1 addr={A:#x} len=4K access=write
         reclaim pid=1 addr={A:#x} len=4K
         touch pid=1 addr={A:#x} len=4K access=read"
    ));
    let pfn = s.pfn(1, A);
    assert_eq!(s.pagemap(1, A) & PM_MMAP_EXCLUSIVE, PM_MMAP_EXCLUSIVE);
    let c = s.smaps(1, A);
    assert_eq!((c.rss, c.swap, c.anonymous), (PAGE, 0, PAGE));
    // Read back from swap and not written since: clean.
    assert_eq!((c.private_clean, c.private_dirty), (PAGE, 0));
    assert_eq!(s.m.meminfo_view().swap_free_kb, 15 * 4);
    s.run(&format!("touch pid=1 addr={A:#x} len=4K access=write"));
    assert_eq!(s.pfn(1, A), pfn, "an exclusive page is reused, not copied");
    assert_eq!(s.smaps(1, A).private_dirty, PAGE);
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
    let mut s = Sim::new(64, 16);
    s.run(&format!(
        "spawn pid=1 bare
         mmap pid=1 addr={A:#x} len=4K prot=rw- flags=private,anonymous,fixed
         touch pid=1 addr={A:#x} len=4K access=write
         fork pid=1 child=2"
    ));
    assert_eq!(
        s.run(&format!("reclaim pid=1 addr={A:#x} len=4K")),
        Outcome::Pages(1)
    );
    for pid in [1, 2] {
        let c = s.smaps(pid, A);
        assert_eq!(
            (c.rss, c.swap, c.swap_pss),
            (0, PAGE, FULL / 2),
            "pid {pid}"
        );
        assert_eq!(s.m.status_view(pid).unwrap().vm_swap_kb, 4);
    }
    assert_eq!(s.pagemap(1, A), s.pagemap(2, A));

    s.run(&format!("touch pid=2 addr={A:#x} len=4K access=read"));
    let f = s.pfn(2, A);
    // pagemap's bit 56 counts mappings (mapcount 1 here), not PageAnonExclusive.
    assert_eq!(s.pagemap(2, A) & PM_MMAP_EXCLUSIVE, PM_MMAP_EXCLUSIVE);
    let rmap = s.m.rmap_view(f).unwrap();
    assert!(
        rmap.flags.iter().any(|f| f == "swapcache"),
        "{:?}",
        rmap.flags
    );
    assert_eq!((rmap.mapcount, rmap.refcount), (1, 2));
    assert_eq!(s.m.meminfo_view().swap_cached_kb, 4);
    // pid 1 still holds the only swap entry now: SwapPss is whole again.
    assert_eq!(s.smaps(1, A).swap_pss, FULL);
    // pid 2 maps the page once and the swap cache holds the other reference: private.
    let c2 = s.smaps(2, A);
    assert_eq!((c2.rss, c2.pss, c2.private_clean), (PAGE, FULL, PAGE));

    s.run(&format!("touch pid=1 addr={A:#x} len=4K access=read"));
    assert_eq!(
        s.pfn(1, A),
        f,
        "the second swap-in finds the page in the swap cache"
    );
    let rmap = s.m.rmap_view(f).unwrap();
    assert_eq!((rmap.mapcount, rmap.refcount), (2, 2));
    assert!(!rmap.flags.iter().any(|f| f == "swapcache"));
    assert_eq!(
        rmap.mappers
            .iter()
            .map(|m| (m.pid, m.vaddr))
            .collect::<Vec<_>>(),
        vec![(1, A), (2, A)]
    );
    for pid in [1, 2] {
        let c = s.smaps(pid, A);
        assert_eq!((c.pss, c.shared_clean, c.swap), (FULL / 2, PAGE, 0));
    }
    let mi = s.m.meminfo_view();
    assert_eq!((mi.swap_cached_kb, mi.swap_free_kb), (0, 15 * 4));

    s.run(&format!("touch pid=2 addr={A:#x} len=4K access=write"));
    assert_ne!(s.pfn(2, A), f, "a write to a shared page copies it");
    assert_eq!(s.pfn(1, A), f);
    assert_eq!(s.smaps(2, A).private_dirty, PAGE);
}

/// Fork copies swap entries: the slot count rises, and the entry loses its exclusive mark in
/// both processes, so the parent's later swap-in cannot map it writable while the child still
/// refers to the slot.
#[test]
fn fork_duplicates_swap_entries() {
    let mut s = Sim::new(64, 16);
    s.run(&format!(
        "spawn pid=1 bare
         mmap pid=1 addr={A:#x} len=4K prot=rw- flags=private,anonymous,fixed
         touch pid=1 addr={A:#x} len=4K access=write
         reclaim pid=1 addr={A:#x} len=4K
         fork pid=1 child=2"
    ));
    for pid in [1, 2] {
        assert_eq!(s.smaps(pid, A).swap_pss, FULL / 2, "pid {pid}");
    }
    // The parent writes: swap-in (not exclusive: the child holds the slot) then COW.
    let free = s.m.meminfo_view().mem_free_kb;
    s.run(&format!("touch pid=1 addr={A:#x} len=4K access=write"));
    let parent_pfn = s.pfn(1, A);
    // Two frames: the swap-cache copy (still the child's to find) and the parent's COW copy.
    assert_eq!(s.m.meminfo_view().mem_free_kb, free - 8);
    assert_eq!(s.m.meminfo_view().swap_cached_kb, 4);
    s.run(&format!("touch pid=2 addr={A:#x} len=4K access=read"));
    assert_ne!(s.pfn(2, A), parent_pfn);
    // The child's read took the cached frame and freed the slot: nothing is in swap any more.
    let mi = s.m.meminfo_view();
    assert_eq!((mi.swap_cached_kb, mi.swap_free_kb), (0, 15 * 4));
}

/// Exit, munmap and MADV_DONTNEED free the slots their swap entries held.
#[test]
fn zapping_swap_entries_frees_their_slots() {
    let mut s = Sim::new(64, 16);
    s.run(&format!(
        "spawn pid=1 bare
         mmap pid=1 addr={A:#x} len=12K prot=rw- flags=private,anonymous,fixed
         touch pid=1 addr={A:#x} len=12K access=write
         reclaim pid=1 addr={A:#x} len=12K
         fork pid=1 child=2"
    ));
    assert_eq!(s.m.meminfo_view().swap_free_kb, 12 * 4);
    s.run(&format!("munmap pid=1 addr={A:#x} len=4K"));
    // Slot of page 0 is still held by the child.
    assert_eq!(s.m.meminfo_view().swap_free_kb, 12 * 4);
    s.run(&format!("madvise pid=2 addr={A:#x} len=4K advice=dontneed"));
    assert_eq!(s.m.meminfo_view().swap_free_kb, 13 * 4);
    s.run("exit pid=2");
    s.run(&format!(
        "madvise pid=1 addr={:#x} len=4K advice=dontneed",
        A + PAGE
    ));
    assert_eq!(s.m.meminfo_view().swap_free_kb, 14 * 4);
    s.run("exit pid=1");
    assert_eq!(s.m.meminfo_view().swap_free_kb, 15 * 4);
}

/// mremap moves swap entries with the range; the moved page swaps back in at the new address.
#[test]
fn mremap_moves_swap_entries() {
    let mut s = Sim::new(64, 16);
    let b = A + 0x10_0000;
    s.run(&format!(
        "spawn pid=1 bare
         mmap pid=1 addr={A:#x} len=8K prot=rw- flags=private,anonymous,fixed
         touch pid=1 addr={A:#x} len=8K access=write
         reclaim pid=1 addr={:#x} len=4K
         mremap pid=1 addr={A:#x} old_len=8K new_len=8K flags=maymove,fixed new_addr={b:#x}",
        A + PAGE
    ));
    assert_eq!(s.pagemap(1, b + PAGE), PM_SWAP | (1 << 5));
    let c = s.smaps(1, b);
    assert_eq!((c.rss, c.swap), (PAGE, PAGE));
    s.run(&format!("touch pid=1 addr={b:#x} len=8K access=read"));
    assert_eq!(s.smaps(1, b).swap, 0);
    let f = s.pfn(1, b + PAGE);
    let r = s.m.rmap_view(f).unwrap();
    assert_eq!(
        r.mappers
            .iter()
            .map(|m| (m.pid, m.vaddr))
            .collect::<Vec<_>>(),
        vec![(1, b + PAGE)]
    );
}

/// With one usable slot, reclaiming two pages swaps out the first and leaves the second
/// resident.
#[test]
fn reclaim_stops_swapping_when_swap_is_full() {
    let mut s = Sim::new(64, 2);
    s.run(&format!(
        "spawn pid=1 bare
         mmap pid=1 addr={A:#x} len=8K prot=rw- flags=private,anonymous,fixed
         touch pid=1 addr={A:#x} len=8K access=write"
    ));
    assert_eq!(
        s.run(&format!("reclaim pid=1 addr={A:#x} len=8K")),
        Outcome::Pages(1)
    );
    let c = s.smaps(1, A);
    assert_eq!((c.rss, c.swap), (PAGE, PAGE));
    assert_eq!(s.m.meminfo_view().swap_free_kb, 0);
    // No swap at all: nothing anonymous is reclaimed.
    let mut s = Sim::new(64, 0);
    s.run(&format!(
        "spawn pid=1 bare
         mmap pid=1 addr={A:#x} len=4K prot=rw- flags=private,anonymous,fixed
         touch pid=1 addr={A:#x} len=4K access=write"
    ));
    assert_eq!(
        s.run(&format!("reclaim pid=1 addr={A:#x} len=4K")),
        Outcome::Pages(0)
    );
}

/// Page-cache pages are dropped from every mapping and from the cache; the next access reads
/// the page in again. The zero page and shmem pages are not reclaimed.
#[test]
fn reclaim_drops_file_pages_and_keeps_the_zero_page_and_shmem() {
    let mut s = Sim::new(64, 16);
    s.run(&format!(
        "spawn pid=1 bare
         file path=/lib/libfoo.so size=64K
         mmap pid=1 addr={A:#x} len=64K prot=r-- flags=private,fixed file=/lib/libfoo.so
         touch pid=1 addr={A:#x} len=4K access=read
         fork pid=1 child=2"
    ));
    // Fault-around maps only pages already cached (section 11): just the faulting page here.
    assert_eq!(s.smaps(1, A).rss, PAGE);
    let cached = s.m.meminfo_view().cached_kb;
    assert_eq!(
        s.run(&format!("reclaim pid=1 addr={A:#x} len=64K")),
        Outcome::Pages(1)
    );
    // Only the faulted page was in the page cache; fork copied no file PTEs (no anon_vma).
    assert_eq!(s.smaps(1, A).rss, 0);
    assert_eq!(s.m.meminfo_view().cached_kb, cached - 4);
    s.run(&format!("touch pid=1 addr={A:#x} len=4K access=read"));
    assert_eq!(s.smaps(1, A).rss, PAGE);

    let b = A + 0x10_0000;
    let c = A + 0x20_0000;
    s.run(&format!(
        "mmap pid=1 addr={b:#x} len=4K prot=rw- flags=private,anonymous,fixed
         touch pid=1 addr={b:#x} len=4K access=read
         mmap pid=1 addr={c:#x} len=4K prot=rw- flags=shared,anonymous,fixed
         touch pid=1 addr={c:#x} len=4K access=write"
    ));
    assert_eq!(
        s.run(&format!("reclaim pid=1 addr={b:#x} len=4K")),
        Outcome::Pages(0)
    );
    assert_eq!(
        s.run(&format!("reclaim pid=1 addr={c:#x} len=4K")),
        Outcome::Pages(0)
    );
    assert_eq!(s.smaps(1, c).rss, PAGE);
}

/// A touch that needs more frames than are free fails with ENOMEM and changes nothing, swap
/// entries included.
#[test]
fn swap_in_without_free_frames_is_enomem_and_changes_nothing() {
    // 4 frames: the zero page and three usable ones.
    let mut s = Sim::new(4, 16);
    s.run(&format!(
        "spawn pid=1 bare
         mmap pid=1 addr={A:#x} len=12K prot=rw- flags=private,anonymous,fixed
         touch pid=1 addr={A:#x} len=12K access=write
         reclaim pid=1 addr={A:#x} len=8K"
    ));
    s.run(&format!(
        "mmap pid=1 addr={:#x} len=8K prot=rw- flags=private,anonymous,fixed",
        A + 0x10_0000
    ));
    s.run(&format!(
        "touch pid=1 addr={:#x} len=8K access=write",
        A + 0x10_0000
    ));
    // RAM is now full (3 frames in use); both swapped pages need a frame each.
    let before = s.smaps(1, A);
    let e = s
        .try_run(&format!("touch pid=1 addr={A:#x} len=8K access=read"))
        .unwrap_err();
    assert_eq!(e.errno, Errno::ENOMEM);
    assert_eq!(s.smaps(1, A), before);
}

#[test]
fn reclaim_rejects_bad_ranges_with_the_madvise_errnos() {
    let mut s = Sim::new(64, 16);
    s.run(&format!(
        "spawn pid=1 bare
         mmap pid=1 addr={A:#x} len=4K prot=rw- flags=private,anonymous,fixed
         mmap pid=1 addr={:#x} len=4K prot=rw- flags=private,anonymous,fixed
         touch pid=1 addr={A:#x} len=4K access=write
         touch pid=1 addr={:#x} len=4K access=write",
        A + 2 * PAGE,
        A + 2 * PAGE
    ));
    let e = s.try_run("reclaim pid=9 addr=0x1000 len=4K").unwrap_err();
    assert_eq!(e.errno, Errno::ESRCH);
    let e = s
        .try_run(&format!("reclaim pid=1 addr={:#x} len=4K", A + 1))
        .unwrap_err();
    assert_eq!(e.errno, Errno::EINVAL);
    // A hole in the middle: both mapped pages are reclaimed, then ENOMEM.
    let e = s
        .try_run(&format!("reclaim pid=1 addr={A:#x} len=12K"))
        .unwrap_err();
    assert_eq!(e.errno, Errno::ENOMEM);
    assert_eq!(s.m.status_view(1).unwrap().vm_swap_kb, 8);
    assert_eq!(
        s.run(&format!("reclaim pid=1 addr={A:#x} len=0")),
        Outcome::Pages(0)
    );
}
