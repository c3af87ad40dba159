//! Reverse mapping: the anon_vma walk over a fork chain (§6.4, §6.6), the file walk through
//! i_mmap, and the first anon page of a VMA reusing a compatible neighbour's anon_vma (§6.3).
//!
//! `§N.M` are the sections of docs/kernel-semantics.md.
//!
//! Each step's VMA layout is drawn before it, as in the kernel's
//! tools/testing/vma/tests/merge.c. Addresses are pages above the arena `C` (`c(n)`).

use anonmap_proc::view::RmapView;
use anonmap_testkit::sim::{c, l, Sim};

use crate::common::{anon, bare, mappers, mmap, mmap_file, mprotect, touch};

/// Parent → child → grandchild. The walk of a page visits the page's own anon_vma only, and in
/// it only the VMAs linked there: the parent's anon_vma links all three VMAs; a COW copy made
/// in the child lives in the child's anon_vma (child + grandchild VMAs); one made in the
/// grandchild lives in its own (one VMA).
#[test]
fn rmap_fork_chain_visits() {
    let mut s = bare();
    // c0                 c4
    // | w |    rw-         |     in 1, then fork 1→2, fork 2→3
    anon(&mut s, 1, 0, 4);
    touch(&mut s, 1, 0, 1, "write");
    let orig = s.pfn(1, c(0));
    s.ok("fork pid=1 child=2");
    s.ok("fork pid=2 child=3");
    let pids = |r: &RmapView| -> Vec<u32> { r.mappers.iter().map(|m| m.pid).collect() };
    let r = s.m.rmap_view(orig).unwrap();
    assert_eq!((r.mapcount, pids(&r)), (3, vec![1, 2, 3]));
    assert_eq!((r.anon_vmas_visited, r.vmas_visited), (1, 3));
    assert!(r.mappers.iter().all(|m| m.vaddr == c(0)));
    assert!(r
        .mappers
        .iter()
        .all(|m| (m.vma_start, m.vma_end) == (c(0), c(4))));
    // child COW
    touch(&mut s, 2, 0, 1, "write");
    let cpfn = s.pfn(2, c(0));
    assert_ne!(cpfn, orig);
    let r = s.m.rmap_view(cpfn).unwrap();
    assert_eq!((r.mapcount, pids(&r)), (1, vec![2]));
    assert_eq!((r.anon_vmas_visited, r.vmas_visited), (1, 2));
    assert_ne!(r.mapping, s.m.rmap_view(orig).unwrap().mapping);
    let r = s.m.rmap_view(orig).unwrap();
    assert_eq!((r.mapcount, pids(&r)), (2, vec![1, 3]));
    assert_eq!(r.vmas_visited, 3);
    // grandchild COW
    touch(&mut s, 3, 0, 1, "write");
    let gpfn = s.pfn(3, c(0));
    let r = s.m.rmap_view(gpfn).unwrap();
    assert_eq!((r.mapcount, pids(&r)), (1, vec![3]));
    assert_eq!((r.anon_vmas_visited, r.vmas_visited), (1, 1));
    let r = s.m.rmap_view(orig).unwrap();
    assert_eq!((r.mapcount, pids(&r), r.vmas_visited), (1, vec![1], 3));
    // The child's page is untouched by the grandchild's COW.
    let r = s.m.rmap_view(cpfn).unwrap();
    assert_eq!((pids(&r), r.vmas_visited), (vec![2], 2));
    // A page first written in the parent after the forks goes to the parent's (root)
    // anon_vma, which links all three VMAs.
    touch(&mut s, 1, 2, 1, "write");
    let r = s.rmap_at(1, c(2));
    assert_eq!((pids(&r), r.vmas_visited), (vec![1], 3));
    // After the grandchild exits its VMA is gone from every tree.
    s.ok("exit pid=3");
    assert_eq!(s.m.rmap_view(cpfn).unwrap().vmas_visited, 1);
    assert_eq!(s.m.rmap_view(orig).unwrap().vmas_visited, 2);
}

/// §6.6 file walk: i_mmap of the file, one visited object, every VMA whose range covers the
/// page's index.
#[test]
fn rmap_file_page() {
    let mut s = Sim::new();
    s.script(
        "file path=/data/f size=16K
         spawn pid=1 bare
         spawn pid=2 bare",
    );
    for pid in [1, 2] {
        mmap_file(&mut s, pid, 0, 4, "r--", "/data/f");
    }
    // pid 2 maps the file a second time at offset 8K: that VMA does not cover index 0.
    s.ok(&format!(
        "mmap pid=2 addr={:#x} len=8K prot=r-- flags=private,fixed file=/data/f offset=8K",
        c(10)
    ));
    touch(&mut s, 1, 0, 1, "read");
    touch(&mut s, 2, 0, 1, "read");
    let r = s.rmap_at(1, c(0));
    assert_eq!(r.mapping, "file:/data/f");
    assert_eq!(r.index, 0);
    assert_eq!(r.mapcount, 2);
    assert_eq!((r.anon_vmas_visited, r.vmas_visited), (1, 2));
    assert_eq!(mappers(&r), vec![(1, c(0)), (2, c(0))]);
}

/// §6.3: the first anon page of a VMA reuses an adjacent compatible (flags equal but for
/// r/w/x, linear pgoff), never-forked neighbour's anon_vma; the two then merge once their
/// protections match. In a fork child the neighbour's chain is not singular: a new anon_vma.
#[test]
fn anon_vma_reused_from_compatible_neighbour() {
    let mut s = bare();
    // c0        c2        c4
    // | rw- w   | rwx     |
    anon(&mut s, 1, 0, 2);
    touch(&mut s, 1, 0, 1, "write");
    mmap(&mut s, 1, 2, 2, "rwx", "private,anonymous");
    touch(&mut s, 1, 2, 1, "write");
    assert_eq!(s.mapping(1, c(2)), s.mapping(1, c(0)));
    // | rw-               |   same anon_vma: merged
    mprotect(&mut s, 1, 2, 2, "rw-");
    assert_eq!(s.layout(1), vec![l(0, 4, "rw-p", "")]);

    // In a fork child: A inherited (chain of 2), B new: B gets its own anon_vma.
    let mut s = bare();
    anon(&mut s, 1, 0, 2);
    touch(&mut s, 1, 0, 1, "write");
    s.ok("fork pid=1 child=2");
    touch(&mut s, 2, 1, 1, "write");
    mmap(&mut s, 2, 2, 2, "rwx", "private,anonymous");
    touch(&mut s, 2, 2, 1, "write");
    assert_ne!(s.mapping(2, c(2)), s.mapping(2, c(1)));
    mprotect(&mut s, 2, 2, 2, "rw-");
    assert_eq!(s.layout(2), vec![l(0, 2, "rw-p", ""), l(2, 4, "rw-p", "")]);
}
