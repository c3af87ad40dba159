//! mremap (§6.7: growth in place, moves that keep pgoff and pages, multi-VMA moves, shrinking),
//! munmap across VMAs (§9.3), mprotect stopping at a hole and its VM_ACCOUNT rules (§9.2,
//! §9.1), MADV_DONTNEED over holes and MADV_WIPEONFORK on shared memory (§9.4).
//!
//! `§N.M` are the sections of docs/kernel-semantics.md.
//!
//! Each step's VMA layout is drawn before it, as in the kernel's
//! tools/testing/vma/tests/merge.c. Addresses are pages above the arena `C` (`c(n)`).

use anonmap_abi::pagemap::PM_PRESENT;
use anonmap_abi::Errno;
use anonmap_testkit::sim::{c, l, Sim, P};

use crate::common::{
    anon, anon_written, assert_names, bare, dontneed, madvise, marks, mmap, mprotect, mremap,
    munmap, mv, name, touch,
};

/// §6.7: in-place growth extends vm_end; without MAYMOVE a blocked growth is ENOMEM.
#[test]
fn mremap_grow_in_place() {
    let mut s = bare();
    // c0      c4        c8 c9
    // |  A w  |  free   |B|
    anon_written(&mut s, 1, 0, 4);
    mmap(&mut s, 1, 8, 1, "r--", "private,anonymous");
    let got = mremap(&mut s, 1, 0, 4, 8, "");
    // |      A (8)        |B|
    assert_eq!(got, Ok(c(0)));
    assert_eq!(s.layout(1), vec![l(0, 8, "rw-p", ""), l(8, 9, "r--p", "")]);
    assert_eq!(s.kb(1, c(0)).rss, 16);
    assert_eq!(s.status(1).vm_size_kb, 36);
    assert_eq!(s.status(1).vm_data_kb, 32);
    // No room left above A: growing without maymove fails, nothing changes.
    assert_eq!(mremap(&mut s, 1, 0, 8, 10, ""), Err(Errno::ENOMEM));
    assert_eq!(s.layout(1), vec![l(0, 8, "rw-p", ""), l(8, 9, "r--p", "")]);
}

/// §6.7: growth that must move keeps the anonymous pgoff: pages move with their PTEs, keep
/// their index and anon_vma, and the rmap finds them at the new address; maps shows offset 0.
#[test]
fn mremap_move_keeps_pgoff_and_pages() {
    let mut s = bare();
    // c0      c4 c5
    // | A (w) |B|
    anon_written(&mut s, 1, 0, 4);
    mmap(&mut s, 1, 4, 1, "r--", "private,anonymous");
    let pfns: Vec<u64> = (0..4).map(|i| s.pfn(1, c(i))).collect();
    let av = s.mapping(1, c(0));
    let new = mremap(&mut s, 1, 0, 4, 8, " flags=maymove").unwrap();
    assert_ne!(new, c(0));
    //  hole   |B|   ...   new |  A (8)  |
    assert_eq!(s.vma(1, c(0)), None);
    assert_eq!(s.vma(1, new), Some((new, new + 8 * P)));
    assert!(s.maps(1).contains(&format!(
        "{new:x}-{:x} rw-p 00000000 00:00 0 \n",
        new + 8 * P
    )));
    for (i, &pfn) in pfns.iter().enumerate() {
        let i = i as u64;
        assert_eq!(s.pfn(1, new + i * P), pfn);
        let r = s.m.rmap_view(pfn).unwrap();
        assert_eq!(r.mapping, av);
        assert_eq!(r.index, c(i) / P, "index = the old vpn (pgoff kept)");
        assert_eq!(r.mappers.len(), 1);
        assert_eq!(r.mappers[0].vaddr, new + i * P);
    }
    assert_eq!(s.pagemap(1, c(0)), 0);
    assert_eq!(s.kb(1, new).rss, 16);
    // A new page written in the grown part gets the linear index of the moved VMA.
    s.ok(&format!(
        "touch pid=1 addr={:#x} len=1 access=write",
        new + 5 * P
    ));
    assert_eq!(s.rmap_at(1, new + 5 * P).index, c(5) / P);
}

/// A fixed same-size mremap spanning several VMAs moves each (6.17+); the gap between them is
/// kept at the destination.
#[test]
fn mremap_multi_vma_move() {
    let mut s = bare();
    // c0    c2    c4 c5  c6
    // | rw- | r-- |  | rw-|
    anon(&mut s, 1, 0, 2);
    mmap(&mut s, 1, 2, 2, "r--", "private,anonymous");
    anon(&mut s, 1, 5, 1);
    touch(&mut s, 1, 0, 2, "write");
    let pfn = s.pfn(1, c(1));
    mv(&mut s, 1, 0, 6, 100);
    // c100  c102  c104 c105 c106
    // | rw- | r-- |    | rw-|
    assert_eq!(
        s.layout(1),
        vec![
            l(100, 102, "rw-p", ""),
            l(102, 104, "r--p", ""),
            l(105, 106, "rw-p", ""),
        ]
    );
    assert_eq!(s.pfn(1, c(101)), pfn);
}

/// §9.3: munmap across several VMAs splits the first and last and removes the middle; a range
/// with nothing mapped is fine; unaligned or empty ranges are EINVAL.
#[test]
fn munmap_across_vmas() {
    let mut s = bare();
    // c0          c4          c8          c12
    // |   rw- w   |    r--    |   rwx w   |
    anon(&mut s, 1, 0, 4);
    mmap(&mut s, 1, 4, 4, "r--", "private,anonymous");
    mmap(&mut s, 1, 8, 4, "rwx", "private,anonymous");
    touch(&mut s, 1, 0, 4, "write");
    touch(&mut s, 1, 8, 4, "write");
    assert_eq!(s.status(1).vm_rss_kb, 32);
    // munmap [c2, c10)
    // | rw- |                       | rwx |
    munmap(&mut s, 1, 2, 8);
    assert_eq!(
        s.layout(1),
        vec![l(0, 2, "rw-p", ""), l(10, 12, "rwxp", "")]
    );
    let st = s.status(1);
    assert_eq!((st.vm_size_kb, st.vm_rss_kb, st.vm_hwm_kb), (16, 16, 32));
    assert_eq!(st.vm_data_kb, 16); // rw- and rwx are both private writable: data
    munmap(&mut s, 1, 50, 1);
    assert_eq!(
        s.err(&format!("munmap pid=1 addr={:#x} len=4K", c(0) + 1)),
        Errno::EINVAL
    );
    assert_eq!(
        s.err(&format!("munmap pid=1 addr={:#x} len=0", c(0))),
        Errno::EINVAL
    );
}

/// §9.2: mprotect stops at the first hole with ENOMEM; the VMAs before it are already changed.
/// A range that starts in a hole changes nothing.
#[test]
fn mprotect_stops_at_hole() {
    let mut s = bare();
    // c0          c4   c5        c8
    // |    rw-    |hole|   rw-   |
    anon(&mut s, 1, 0, 4);
    anon(&mut s, 1, 5, 3);
    assert_eq!(s.status(1).vm_data_kb, 28);
    assert_eq!(
        s.err(&format!("mprotect pid=1 addr={:#x} len=32K prot=r--", c(0))),
        Errno::ENOMEM
    );
    // |    r--    |hole|   rw-   |
    assert_eq!(s.layout(1), vec![l(0, 4, "r--p", ""), l(5, 8, "rw-p", "")]);
    assert_eq!(s.status(1).vm_data_kb, 12);
    // starting in the hole: ENOMEM, no change
    assert_eq!(
        s.err(&format!("mprotect pid=1 addr={:#x} len=16K prot=---", c(4))),
        Errno::ENOMEM
    );
    assert_eq!(s.layout(1), vec![l(0, 4, "r--p", ""), l(5, 8, "rw-p", "")]);
    // §9.1: the unfaulted RW→RO VMA lost VM_ACCOUNT.
    assert_eq!(s.smaps_field(1, c(0), "VmFlags"), "rd mr mw me");
}

/// §9.1: a faulted RW→RO VMA keeps VM_ACCOUNT and so does not merge with a fresh RO neighbour;
/// an unfaulted one drops it and merges.
#[test]
fn mprotect_account_flag_and_merge() {
    let mut s = bare();
    // c0    c2    c4   |   c10   c12   c14
    // | rw f| r-- |    |   | rw  | r-- |
    anon(&mut s, 1, 0, 2);
    touch(&mut s, 1, 0, 1, "write");
    mmap(&mut s, 1, 2, 2, "r--", "private,anonymous");
    anon(&mut s, 1, 10, 2);
    mmap(&mut s, 1, 12, 2, "r--", "private,anonymous");
    mprotect(&mut s, 1, 0, 2, "r--");
    mprotect(&mut s, 1, 10, 2, "r--");
    assert_eq!(
        s.layout(1),
        vec![
            l(0, 2, "r--p", ""),
            l(2, 4, "r--p", ""),
            l(10, 14, "r--p", "")
        ]
    );
    assert_eq!(s.smaps_field(1, c(0), "VmFlags"), "rd mr mw me ac");
    assert_eq!(s.smaps_field(1, c(10), "VmFlags"), "rd mr mw me");
}

/// §9.4: MADV_DONTNEED zaps every mapped piece, skips holes and returns ENOMEM; it does not
/// split, merge, rename or drop the anon_vma; anon data reads back as the zero page; shmem
/// pages stay in the cache and come back.
#[test]
fn madvise_dontneed_over_holes() {
    let mut s = bare();
    // c0     c2   c3         c5   c6     c8
    // | A w  |hole| B w [b]  |hole| shm w |
    anon(&mut s, 1, 0, 2);
    anon(&mut s, 1, 3, 2);
    mmap(&mut s, 1, 6, 2, "rw-", "shared,anonymous");
    assert_eq!(name(&mut s, 1, 3, 2, "b"), Ok(()));
    touch(&mut s, 1, 0, 2, "write");
    touch(&mut s, 1, 3, 2, "write");
    touch(&mut s, 1, 6, 2, "write");
    let av = s.mapping(1, c(0));
    let shm_pfn = s.pfn(1, c(6));
    let before = s.layout(1);
    assert_eq!(dontneed(&mut s, 1, 0, 8), Err(Errno::ENOMEM));
    assert_eq!(s.layout(1), before);
    assert_eq!(s.status(1).vm_rss_kb, 0);
    for p in [0, 1, 3, 4, 6, 7] {
        assert_eq!(s.pagemap(1, c(p)), 0, "page {p} zapped");
    }
    // read: anon → zero page (present, pfn of the zero page, no other bit); shmem → same page
    touch(&mut s, 1, 0, 1, "read");
    assert_eq!(s.pagemap(1, c(0)), PM_PRESENT);
    touch(&mut s, 1, 6, 1, "read");
    assert_eq!(s.pfn(1, c(6)), shm_pfn);
    // write: a fresh page from the same anon_vma
    touch(&mut s, 1, 1, 1, "write");
    assert_eq!(s.mapping(1, c(1)), av);
    assert_names(&s, &[("b", 1, 1)]);
}

/// §9.1: mprotect that makes a private mapping writable adds VM_ACCOUNT; WIPEONFORK is for
/// private anonymous memory only (§9.4, EINVAL on shared anonymous).
#[test]
fn mprotect_write_adds_account_and_wipeonfork_rules() {
    let mut s = bare();
    // c0    c2     c4
    // | r-- | shm  |
    mmap(&mut s, 1, 0, 2, "r--", "private,anonymous");
    mmap(&mut s, 1, 2, 2, "rw-", "shared,anonymous");
    assert_eq!(s.smaps_field(1, c(0), "VmFlags"), "rd mr mw me");
    assert_eq!(s.smaps_field(1, c(2), "VmFlags"), "rd wr sh mr mw me ms");
    mprotect(&mut s, 1, 0, 2, "rw-");
    assert_eq!(s.smaps_field(1, c(0), "VmFlags"), "rd wr mr mw me ac");
    assert_eq!(s.status(1).vm_data_kb, 8);
    assert_eq!(madvise(&mut s, 1, 2, 2, "wipeonfork"), Err(Errno::EINVAL));
}

/// §6.7: shrinking with mremap unmaps the tail in place.
#[test]
fn mremap_shrink_unmaps_tail() {
    let mut s = bare();
    // c0              c8           →   c0      c3
    // | w w w w w w w w |              | w w w |
    anon_written(&mut s, 1, 0, 8);
    assert_eq!(mremap(&mut s, 1, 0, 8, 3, ""), Ok(c(0)));
    assert_eq!(s.layout(1), vec![l(0, 3, "rw-p", "")]);
    assert_eq!(marks(&s, 1), (12, 32, 12, 32));
}

/// §9.4: MADV_DONTNEED frees each PTE table whose whole 2 MiB it zaps (CONFIG_PT_RECLAIM); the
/// directories above stay until munmap. The steps and VmPTE differences of
/// `tests/fixtures/pt-reclaim-6.18` (measured on 6.18: +24 kB, -8 kB, -4 kB, back to the start).
#[test]
fn madvise_dontneed_frees_the_page_tables_it_empties() {
    let mut s = Sim::new();
    s.ok("spawn pid=1 bare");
    let pte_kb = |s: &Sim| s.status(1).vm_pte_kb;
    // c0 (a 2 MiB boundary)        c1024 (8 MiB)
    // |WWWWWWWWWWWWWWWWWWWWWWWWWWWWWW|    four PTE tables, a PMD page and a PUD page
    anon_written(&mut s, 1, 0, 2048);
    assert_eq!(pte_kb(&s), 24);
    // |...............|WWWWWWWWWWWWWW|    the first two tables are empty and freed
    dontneed(&mut s, 1, 0, 1024).unwrap();
    assert_eq!(pte_kb(&s), 16);
    // |...............|W.............|    only the last table is covered whole
    dontneed(&mut s, 1, 1025, 1023).unwrap();
    assert_eq!(pte_kb(&s), 12);
    assert!(
        s.pagemap(1, c(1024)) & PM_PRESENT != 0,
        "the kept page is still mapped"
    );
    s.ok(&format!("munmap pid=1 addr={:#x} len=8M", c(0)));
    assert_eq!(pte_kb(&s), 0);
}
