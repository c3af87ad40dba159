//! Regressions the model test (`tests/tests/model`) found in the calls that manage memory, each
//! the smallest script that showed it, with the kernel's behaviour the simulator now follows
//! (docs/kernel-semantics.md §13, §14).

use anonmap_mm::MachineConfig;
use anonmap_testkit::sim::{c, Sim, P};

use crate::common::{anon_written, touch};

/// A bare process 1 on a 64 MiB machine with a 64-page swap device (swap never half full
/// here, so no swap cache is freed for that reason).
fn machine() -> Sim {
    let mut s = Sim::with_config(MachineConfig {
        swap_bytes: 64 * P,
        ..MachineConfig::with_ram(64 << 20)
    });
    s.ok("spawn pid=1 bare");
    s
}

/// `mlocked` in the rmap flags of the page `pid` maps at page `page` of the arena.
fn mlocked(s: &Sim, pid: u32, page: u64) -> bool {
    s.rmap_at(pid, c(page)).flags.iter().any(|f| f == "mlocked")
}

fn swap_cached_kb(s: &Sim) -> u64 {
    s.m.meminfo_view().swap_cached_kb
}

/// Reclaim of a page that only a locked VMA maps but that is not mlocked (a swap-in read it
/// afresh into the locked VMA: `folio_add_new_anon_rmap` does not mlock) gives it a slot and
/// the swap cache (`folio_alloc_swap`), then `try_to_unmap_one` meets the VM_LOCKED VMA first
/// and mlocks the page; `shrink_folio_list`'s `activate_locked` then frees the swap cache of the
/// now mlocked page ("Not a candidate for swapping, so reclaim swap space"). The simulator left
/// it in the swap cache, holding a slot.
#[test]
fn reclaim_that_a_locked_vma_stops_gives_up_the_swap_cache() {
    let mut s = machine();
    anon_written(&mut s, 1, 0, 1);
    s.ok(&format!("reclaim pid=1 addr={:#x} len=0x1000", c(0)));
    s.ok(&format!(
        "mlock pid=1 addr={:#x} len=0x1000 flags=onfault",
        c(0)
    ));
    touch(&mut s, 1, 0, 1, "write");
    assert!(!mlocked(&s, 1, 0), "a page read afresh into a locked VMA");
    let free = s.m.meminfo_view().swap_free_kb;
    assert_eq!(
        s.ok(&format!("reclaim pid=1 addr={:#x} len=0x1000", c(0))),
        0
    );
    let r = s.rmap_at(1, c(0));
    assert!(mlocked(&s, 1, 0), "mlocked by the walk: {:?}", r.flags);
    assert!(!r.flags.iter().any(|f| f == "swapcache"), "{:?}", r.flags);
    assert!(r.flags.iter().any(|f| f == "dirty"), "{:?}", r.flags);
    assert_eq!(swap_cached_kb(&s), 0);
    assert_eq!(
        s.m.meminfo_view().swap_free_kb,
        free,
        "the slot is free again"
    );
}

/// MADV_PAGEOUT of a page still in the swap cache and not written since it was read back is
/// clean: `shrink_folio_list` needs no `pageout()` and frees it at once (`__remove_mapping`),
/// its slot keeping the data. Only a dirty page (new to swap, or written through its PTE) stays
/// in the swap cache under writeback. The simulator kept the clean one too.
#[test]
fn pageout_frees_a_clean_swap_cache_page() {
    let mut s = machine();
    anon_written(&mut s, 1, 0, 1);
    let pageout = format!("madvise pid=1 addr={:#x} len=0x1000 advice=pageout", c(0));
    s.ok(&pageout);
    assert_eq!(
        swap_cached_kb(&s),
        4,
        "written out, still in the swap cache"
    );
    touch(&mut s, 1, 0, 1, "read");
    assert_eq!(
        swap_cached_kb(&s),
        4,
        "read back from the swap cache, which keeps it"
    );
    s.ok(&pageout);
    assert_eq!(swap_cached_kb(&s), 0, "clean: freed, not written");
    // Written through the PTE since, it is dirty and written out again.
    touch(&mut s, 1, 0, 1, "read");
    assert_eq!(swap_cached_kb(&s), 4);
    touch(&mut s, 1, 0, 1, "write");
    s.ok(&pageout);
    assert_eq!(
        swap_cached_kb(&s),
        4,
        "dirty: written out, kept under writeback"
    );
}

/// A GUP walk (mlock's population) that maps a swap-cache page into a locked VMA queues its
/// mlock in the mlock batch; the COW that follows for the write unmaps it again, and that
/// munlock goes into the same batch, after the mlock (`mlock_folio_batch` applies them in
/// order). The page, mlocked once by the parent, stays mlocked. The simulator applied the
/// munlock at once, before the waiting mlock, and lost the parent's lock.
#[test]
fn a_munlock_waits_behind_the_gup_walks_mlock_of_the_same_page() {
    let mut s = machine();
    anon_written(&mut s, 1, 0, 1);
    s.ok(&format!("reclaim pid=1 addr={:#x} len=0x1000", c(0)));
    s.ok("fork pid=1 child=2");
    // The parent reads it back; the child's swap entry keeps it in the swap cache.
    touch(&mut s, 1, 0, 1, "read");
    // Locked on fault: the mlock walk mlocks the present page, nothing is faulted.
    s.ok(&format!(
        "mlock pid=1 addr={:#x} len=0x1000 flags=onfault",
        c(0)
    ));
    assert!(mlocked(&s, 1, 0));
    // The child's mlock write-faults its entry: the shared page is mapped, then copied.
    s.ok(&format!("mlock pid=2 addr={:#x} len=0x1000", c(0)));
    assert_ne!(s.pfn(1, c(0)), s.pfn(2, c(0)), "the child has its own copy");
    assert!(mlocked(&s, 1, 0), "the parent's lock stays");
    assert_eq!(s.rmap_at(1, c(0)).mapcount, 1);
    assert!(mlocked(&s, 2, 0), "the copy is new in a locked VMA");
}
