//! `migrate pid=N addr=A len=L` (docs/kernel-semantics.md §17): every page the process maps in
//! the range moves to a new frame through the rmap. Every process that maps it sees the new pfn
//! with the same PTE bits; the page keeps its flags, its LRU list, its place in the swap cache
//! and its mappers; the old pfn is free; nothing a process can see besides the pfn changes.

use anonmap_abi::pagemap::{PM_PFRAME_MASK, PM_PRESENT};
use anonmap_abi::{Errno, Outcome};
use anonmap_mm::MachineConfig;
use anonmap_testkit::sim::{c, Sim, P};

/// `migrate` over `pages` pages at page `page`: the pages moved, or the errno.
fn migrate(s: &mut Sim, pid: u32, page: u64, pages: u64) -> Result<u64, Errno> {
    let line = format!("migrate pid={pid} addr={:#x} len={}", c(page), pages * P);
    match s.run(&line) {
        Ok(Outcome::Pages(n)) => Ok(n),
        Ok(o) => panic!("{line}: replied {o:?}"),
        Err(e) => Err(e.errno),
    }
}

/// Everything a process or the rmap shows of `pages` pages at `C` in `pid`, with the pfns
/// taken out: the pagemap entries without their frame bits, and each page's rmap view (the
/// zero page has none) without its pfn and without PG_dirty, which migration sets on a page a
/// dirty PTE maps (`try_to_migrate_one`'s `folio_mark_dirty`; smaps, which counts a page dirty
/// if its PTE or the page is, shows no difference).
fn picture(s: &Sim, pid: u32, pages: u64) -> (String, Vec<u64>, Vec<String>) {
    let mut entries = Vec::new();
    let mut views = Vec::new();
    for i in 0..pages {
        let e = s.pagemap(pid, c(i));
        entries.push(e & !PM_PFRAME_MASK);
        if e & PM_PRESENT != 0 && e & PM_PFRAME_MASK != 0 {
            let mut v = s.rmap_at(pid, c(i));
            v.pfn = 0;
            v.flags.retain(|f| f != "dirty");
            views.push(format!("{v:?}"));
        }
    }
    (s.smaps(pid), entries, views)
}

fn pfns(s: &Sim, pid: u32, pages: u64) -> Vec<u64> {
    (0..pages).map(|i| s.pfn(pid, c(i))).collect()
}

/// A fork's shared COW pages move for parent and child at once (one rmap walk each); the
/// child's own copy stays; dirty, young, writable and exclusive bits, flags, LRU lists and
/// smaps are as before; the old frames are free.
#[test]
fn shared_and_private_pages_move_for_every_mapper_with_their_bits() {
    let mut s = Sim::new();
    s.script(&format!(
        "spawn pid=1 bare
         mmap pid=1 addr={:#x} len={} prot=rw- flags=private,anonymous,fixed
         name pid=1 addr={:#x} len={} name=moved
         touch pid=1 addr={:#x} len={} access=write
         fork pid=1 child=2
         touch pid=2 addr={:#x} len={} access=write
         touch pid=1 addr={:#x} len={} access=read",
        c(0),
        4 * P,
        c(0),
        4 * P,
        c(0),
        4 * P,
        c(3),
        P,
        c(0),
        P,
    ));
    let before = (picture(&s, 1, 4), picture(&s, 2, 4));
    let old1 = pfns(&s, 1, 4);
    let old2 = pfns(&s, 2, 4);
    assert_eq!(old1[..3], old2[..3], "pages 0-2 are shared COW pages");
    assert_ne!(old1[3], old2[3], "the child copied page 3");

    assert_eq!(migrate(&mut s, 1, 0, 4), Ok(4));

    let new1 = pfns(&s, 1, 4);
    let new2 = pfns(&s, 2, 4);
    for i in 0..4 {
        assert_ne!(new1[i], old1[i], "page {i} of pid 1 moved");
        // Each destination is allocated before its source is freed, so a freed source frame is
        // the next page's destination (the free list is LIFO) or free.
        assert!(
            new1.contains(&old1[i]) || s.m.rmap_view(old1[i]).is_none(),
            "pfn {} is free or holds another moved page",
            old1[i]
        );
    }
    assert_eq!(new2[..3], new1[..3], "the child follows the shared pages");
    assert_eq!(new2[3], old2[3], "the child's own copy stays");
    assert_eq!(
        (picture(&s, 1, 4), picture(&s, 2, 4)),
        before,
        "nothing but the pfns changed"
    );
    let dirty = |s: &Sim, pid, page| s.rmap_at(pid, c(page)).flags.contains(&"dirty".into());
    assert!(
        !dirty(&s, 2, 3),
        "the child's copy, not migrated: dirty in its PTE only"
    );
    assert!(
        (0..4).all(|i| dirty(&s, 1, i)),
        "the written pages are PG_dirty now"
    );
    assert_eq!(s.m.vm_events().pgmigrate_success, 4);
    assert_eq!(s.m.vm_events().pgmigrate_fail, 0);

    // The child migrates its range: its copy and the (already moved) shared pages all move.
    assert_eq!(migrate(&mut s, 2, 0, 4), Ok(4));
    assert_eq!(pfns(&s, 1, 4)[..3], pfns(&s, 2, 4)[..3]);
    assert_eq!((picture(&s, 1, 4), picture(&s, 2, 4)), before);
}

/// Shared anonymous (shmem) pages move for every process that maps them, and their page cache
/// slots follow.
#[test]
fn shmem_pages_move_for_every_mapper() {
    let mut s = Sim::new();
    s.script(&format!(
        "spawn pid=1 bare
         mmap pid=1 addr={:#x} len={} prot=rw- flags=shared,anonymous,fixed
         touch pid=1 addr={:#x} len={} access=write
         fork pid=1 child=2
         touch pid=2 addr={:#x} len={} access=read",
        c(0),
        2 * P,
        c(0),
        2 * P,
        c(0),
        2 * P,
    ));
    let before = (picture(&s, 1, 2), picture(&s, 2, 2));
    assert_eq!(migrate(&mut s, 1, 0, 2), Ok(2));
    assert_eq!(pfns(&s, 1, 2), pfns(&s, 2, 2));
    assert_eq!((picture(&s, 1, 2), picture(&s, 2, 2)), before);
}

/// An mlocked page stays mlocked on the unevictable list (each VM_LOCKED mapping mlocks the new
/// page again); a swap-cache page keeps its slot, so SwapCached and SwapFree do not move; the
/// zero page is never migrated.
#[test]
fn locked_swap_cached_and_zero_pages() {
    let mut s = Sim::with_config(MachineConfig {
        ram_bytes: 64 << 20,
        swap_bytes: 16 << 20,
        soft_dirty: false,
        auto_reclaim: true,
    });
    s.script(&format!(
        "spawn pid=1 bare
         mmap pid=1 addr={:#x} len={} prot=rw- flags=private,anonymous,fixed
         touch pid=1 addr={:#x} len={} access=write
         mlock pid=1 addr={:#x} len={}
         reclaim pid=1 addr={:#x} len={}
         touch pid=1 addr={:#x} len={} access=read
         touch pid=1 addr={:#x} len={} access=read",
        c(0),
        4 * P,
        c(0),
        2 * P,
        c(0),
        P,
        c(1),
        P,
        c(1),
        P,
        c(2),
        2 * P,
    ));
    // Page 0 mlocked, page 1 read back from swap (in the swap cache), pages 2-3 the zero page.
    let locked = s.rmap_at(1, c(0));
    assert_eq!(locked.lru, "unevictable");
    let cached = s.rmap_at(1, c(1));
    assert!(cached.flags.iter().any(|f| f == "swapcache"), "{cached:?}");
    let mem = s.m.meminfo_view();
    let before = picture(&s, 1, 4);

    assert_eq!(migrate(&mut s, 1, 0, 4), Ok(2), "the zero page stays");

    assert_ne!(s.pfn(1, c(0)), locked.pfn);
    assert_ne!(s.pfn(1, c(1)), cached.pfn);
    assert_eq!(s.rmap_at(1, c(0)).lru, "unevictable");
    assert_eq!(picture(&s, 1, 4), before);
    let after = s.m.meminfo_view();
    assert_eq!(
        (after.swap_cached_kb, after.swap_free_kb, after.mlocked_kb),
        (mem.swap_cached_kb, mem.swap_free_kb, mem.mlocked_kb)
    );
    // The moved page is the swap cache's: reclaiming it again needs no new slot.
    assert_eq!(s.ok(&format!("reclaim pid=1 addr={:#x} len={P}", c(1))), 1);
    let after = s.m.meminfo_view();
    assert_eq!(
        (after.swap_cached_kb, after.swap_free_kb),
        (0, mem.swap_free_kb)
    );
}

/// The range follows madvise's rules, and a machine with no free frame moves nothing.
#[test]
fn errors_and_a_full_machine() {
    let mut s = Sim::with_config(MachineConfig {
        ram_bytes: 8 * P,
        swap_bytes: 0,
        soft_dirty: false,
        auto_reclaim: false,
    });
    s.script(&format!(
        "spawn pid=1 bare
         mmap pid=1 addr={:#x} len={} prot=rw- flags=private,anonymous,fixed
         mmap pid=1 addr={:#x} len={} prot=rw- flags=private,anonymous,fixed
         touch pid=1 addr={:#x} len={} access=write",
        c(0),
        2 * P,
        c(3),
        P,
        c(0),
        P,
    ));
    assert_eq!(s.err("migrate pid=9 addr=0x1000 len=4K"), Errno::ESRCH);
    assert_eq!(
        s.err(&format!("migrate pid=1 addr={:#x} len=4K", c(0) + 1)),
        Errno::EINVAL
    );
    assert_eq!(migrate(&mut s, 1, 0, 0), Ok(0), "an empty range");
    // Pages 0-3 with a hole at page 2: page 0 moves, then ENOMEM.
    let old = s.pfn(1, c(0));
    assert_eq!(migrate(&mut s, 1, 0, 4), Err(Errno::ENOMEM));
    assert_ne!(
        s.pfn(1, c(0)),
        old,
        "the mapped part moved before the error"
    );
    // Fill RAM until a write fault finds no frame (this machine does not reclaim).
    s.ok(&format!(
        "mmap pid=1 addr={:#x} len={} prot=rw- flags=private,anonymous,fixed",
        c(10),
        16 * P
    ));
    let full = (0..16).any(|i| {
        s.run(&format!(
            "touch pid=1 addr={:#x} len={P} access=write",
            c(10 + i)
        ))
        .is_err()
    });
    assert!(full, "RAM filled up");
    let fail = s.m.vm_events().pgmigrate_fail;
    let old = s.pfn(1, c(0));
    assert_eq!(migrate(&mut s, 1, 0, 1), Ok(0), "no frame to move to");
    assert_eq!(s.pfn(1, c(0)), old);
    assert_eq!(s.m.vm_events().pgmigrate_fail, fail + 1);
}
