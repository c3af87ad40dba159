//! Soft-dirty tracking, on a machine made with it (`soft_dirty: true`, the daemon's
//! `--soft-dirty`, as Debian's and Android's kernels are built with CONFIG_MEM_SOFT_DIRTY), and
//! its absence on the default machine, which is built like the kernel the oracle cases come from.
//!
//! The `st_*` tests are the cases of the kernel's tools/testing/selftests/mm/soft-dirty.c, as
//! vectors: `test_simple`, `test_vma_reuse`, `test_mprotect` (anon and file). `test_hugepage`
//! is left out: the simulated machine has no transparent huge pages. The others pin the rules
//! the selftest does not reach: swap entries carry the bit, mremap marks moved entries, fork
//! copies them, and a shared writable shmem VMA write-protects its PTEs while tracking is armed.

use anonmap_abi::pagemap::PM_SOFT_DIRTY;
use anonmap_abi::vm_flags::VM_SOFTDIRTY;
use anonmap_mm::MachineConfig;
use anonmap_testkit::sim::{c, Sim, C};

/// A bare process on a 64 MiB machine with 1 MiB of swap and soft-dirty tracking.
fn tracking() -> Sim {
    let mut s = Sim::with_config(MachineConfig {
        ram_bytes: 64 << 20,
        swap_bytes: 1 << 20,
        soft_dirty: true,
        auto_reclaim: true,
    });
    s.ok("spawn pid=1 bare");
    s
}

/// `pagemap_is_softdirty`: bit 55 of the page's pagemap entry.
fn soft_dirty(s: &Sim, addr: u64) -> bool {
    s.pagemap(1, addr) & PM_SOFT_DIRTY != 0
}

fn anon_page(s: &mut Sim, at: u64) {
    s.ok(&format!(
        "mmap pid=1 addr={at:#x} len=4K prot=rw- flags=private,anonymous,fixed"
    ));
}

fn write(s: &mut Sim, at: u64) {
    s.ok(&format!("touch pid=1 addr={at:#x} len=4K access=write"));
}

fn clear_softdirty(s: &mut Sim) {
    s.ok("clear_refs pid=1 value=4");
}

/// soft-dirty.c `test_simple`: after clear_refs 4 the page is clean; a write makes it
/// soft-dirty; clearing again cleans it; for many rounds.
#[test]
fn st_simple() {
    let mut s = tracking();
    anon_page(&mut s, C);
    clear_softdirty(&mut s);
    for i in 0..10 {
        assert!(!soft_dirty(&s, C), "round {i}: soft-dirty before the write");
        clear_softdirty(&mut s);
        write(&mut s, C);
        assert!(
            soft_dirty(&s, C),
            "round {i}: not soft-dirty after the write"
        );
        clear_softdirty(&mut s);
    }
}

/// soft-dirty.c `test_vma_reuse`: a new mapping is soft-dirty (VM_SOFTDIRTY) before any
/// write, and so is one mapped again at the same address after clear_refs 4 and munmap.
#[test]
fn st_vma_reuse() {
    let mut s = tracking();
    let map = s.ok("mmap pid=1 len=4K prot=rw- flags=private,anonymous");
    assert!(soft_dirty(&s, map), "a new mapping is soft-dirty");
    assert!(s.smaps_field(1, map, "VmFlags").contains(" sd"));
    clear_softdirty(&mut s);
    assert!(!soft_dirty(&s, map));
    s.ok(&format!("munmap pid=1 addr={map:#x} len=4K"));
    let map2 = s.ok("mmap pid=1 len=4K prot=rw- flags=private,anonymous");
    assert_eq!(map, map2, "the selftest's reuse case: the same address");
    assert!(soft_dirty(&s, map2), "a reused address is soft-dirty again");
}

/// soft-dirty.c `test_mprotect`: written (soft-dirty), cleared, made read-only and then
/// writable again (still clean: mprotect keeps the PTE read-only while tracking is armed),
/// written again (soft-dirty).
fn mprotect_case(s: &mut Sim, map: u64) {
    write(s, map);
    assert!(soft_dirty(s, map), "dirty bit of new written page");
    clear_softdirty(s);
    assert!(!soft_dirty(s, map), "soft-dirty clear after clear_refs");
    s.ok(&format!("mprotect pid=1 addr={map:#x} len=4K prot=r--"));
    assert!(!soft_dirty(s, map), "soft-dirty clear after marking RO");
    s.ok(&format!("mprotect pid=1 addr={map:#x} len=4K prot=rw-"));
    assert!(!soft_dirty(s, map), "soft-dirty clear after marking RW");
    write(s, map);
    assert!(soft_dirty(s, map), "soft-dirty after rewritten");
}

#[test]
fn st_mprotect_anon() {
    let mut s = tracking();
    let map = s.ok("mmap pid=1 len=4K prot=rw- flags=private,anonymous");
    mprotect_case(&mut s, map);
}

#[test]
fn st_mprotect_file() {
    let mut s = tracking();
    s.ok("file path=/tmp/soft-dirty-test-file size=4K");
    let map = s.ok("mmap pid=1 len=4K prot=rw- flags=shared file=/tmp/soft-dirty-test-file");
    mprotect_case(&mut s, map);
}

/// A shared writable shmem page read-faulted while tracking is armed is mapped read-only, so
/// that a write faults and marks it; with VM_SOFTDIRTY set (a new mapping) it is mapped
/// writable, and a CPU write through it sets only the dirty bit.
#[test]
fn shared_shmem_writes_are_noticed_while_armed() {
    let mut s = tracking();
    s.ok(&format!(
        "mmap pid=1 addr={C:#x} len=8K prot=rw- flags=shared,anonymous,fixed"
    ));
    clear_softdirty(&mut s);
    s.ok(&format!("touch pid=1 addr={C:#x} len=4K access=read"));
    assert!(!soft_dirty(&s, C));
    write(&mut s, C);
    assert!(soft_dirty(&s, C), "the write faulted and marked the PTE");
    assert_eq!(s.kb(1, C).shared_dirty + s.kb(1, C).private_dirty, 4);
}

/// Swap-out keeps the bit in the swap entry, swap-in brings it back; a clean swap entry swaps
/// in read-only while armed, so the next write marks it.
#[test]
fn swap_entries_carry_the_bit() {
    let mut s = tracking();
    anon_page(&mut s, C);
    anon_page(&mut s, c(1));
    write(&mut s, C);
    write(&mut s, c(1));
    clear_softdirty(&mut s);
    write(&mut s, C);
    s.ok(&format!("madvise pid=1 addr={C:#x} len=8K advice=pageout"));
    assert!(soft_dirty(&s, C), "a soft-dirty swap entry");
    assert!(!soft_dirty(&s, c(1)), "a clean swap entry");
    s.ok(&format!("touch pid=1 addr={C:#x} len=8K access=read"));
    assert!(soft_dirty(&s, C));
    assert!(!soft_dirty(&s, c(1)));
    write(&mut s, c(1));
    assert!(
        soft_dirty(&s, c(1)),
        "the swapped-in clean page was read-only"
    );
}

/// mremap marks every moved entry soft-dirty (`move_soft_dirty_pte`); fork copies the bits.
#[test]
fn mremap_marks_and_fork_copies() {
    let mut s = tracking();
    s.ok(&format!(
        "mmap pid=1 addr={C:#x} len=8K prot=rw- flags=private,anonymous,fixed"
    ));
    s.ok(&format!("touch pid=1 addr={C:#x} len=8K access=write"));
    clear_softdirty(&mut s);
    s.ok(&format!(
        "mremap pid=1 addr={C:#x} old_len=8K new_len=8K flags=maymove,fixed new_addr={:#x}",
        c(16)
    ));
    assert!(soft_dirty(&s, c(16)) && soft_dirty(&s, c(17)));
    clear_softdirty(&mut s);
    write(&mut s, c(16));
    s.ok("fork pid=1 child=2");
    assert_ne!(s.pagemap(2, c(16)) & PM_SOFT_DIRTY, 0);
    assert_eq!(s.pagemap(2, c(17)) & PM_SOFT_DIRTY, 0);
}

/// The default machine has no soft-dirty tracking: no `sd`, pagemap bit 55 never set, and
/// clear_refs 4 changes nothing observable (the PTEs stay writable: no fault follows).
#[test]
fn the_default_machine_has_none() {
    let mut s = Sim::new();
    s.ok("spawn pid=1 bare");
    anon_page(&mut s, C);
    write(&mut s, C);
    assert_eq!(s.flags(1, C) & VM_SOFTDIRTY, 0);
    assert!(!s.smaps_field(1, C, "VmFlags").contains(" sd"));
    assert_eq!(s.pagemap(1, C) & PM_SOFT_DIRTY, 0);
    let before = (s.smaps(1), s.pagemap(1, C));
    s.ok("clear_refs pid=1 value=4");
    assert_eq!((s.smaps(1), s.pagemap(1, C)), before);
}
