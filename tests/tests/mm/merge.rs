//! The cases of the kernel's tools/testing/selftests/mm/merge.c (§8.2) that merge by mprotect
//! and by mmap next to a VMA: unfaulted and faulted neighbours, VMAs inherited by a fork child
//! (which never merge with new ones), ksm_merge without KSM and merge_vmas_with_mseal without
//! the seal. The mremap cases are in `merge_mremap.rs`.
//!
//! `§N.M` are the sections of docs/kernel-semantics.md.
//!
//! Each step's VMA layout is drawn before it, as in the kernel's
//! tools/testing/vma/tests/merge.c. Addresses are pages above the arena `C` (`c(n)`); merge.c's
//! "carveout" is the 30-page PROT_NONE region at `C`.

use anonmap_testkit::sim::{c, l, Sim};

use crate::common::{anon, arena, carveout, mmap, mprotect, munmap, touch};

/// merge.c's MAP_NORESERVE private anonymous mapping with `prot`.
fn noreserve(s: &mut Sim, pid: u32, page: u64, pages: u64, prot: &str) {
    mmap(s, pid, page, pages, prot, "private,anonymous,noreserve");
}

/// How the mprotect cases end: `[c(a), c(b))` is one read-only VMA, right after the carveout's
/// first piece.
fn assert_merged_read_only(s: &Sim, a: u64, b: u64) {
    assert_eq!(s.vma(1, c(a)), Some((c(a), c(b))));
    assert_eq!(arena(s, 1)[1], l(a, b, "r--p", ""));
}

/// §8.2 mprotect_unfaulted_left.
#[test]
fn merge_mprotect_unfaulted_left() {
    let mut s = carveout();
    // c1                      c11
    // |       unfaulted       |            RW, MAP_NORESERVE
    noreserve(&mut s, 1, 1, 10, "rw-");
    //      RO          RW
    // |-----------|-----------|
    // | unfaulted | unfaulted |
    mprotect(&mut s, 1, 1, 5, "r--");
    //      RO          RW
    // | unfaulted |  faulted  |
    touch(&mut s, 1, 6, 1, "write");
    //             RO
    // |        faulted        |
    mprotect(&mut s, 1, 6, 5, "r--");
    assert_eq!(
        arena(&s, 1),
        vec![
            l(0, 1, "---p", ""),
            l(1, 11, "r--p", ""),
            l(11, 30, "---p", "")
        ]
    );
    // The merged VMA holds the faulted page's anon_vma: the rmap finds it there.
    let r = s.rmap_at(1, c(6));
    assert_eq!(r.mappers.len(), 1);
    assert_eq!(
        (r.mappers[0].vma_start, r.mappers[0].vma_end),
        (c(1), c(11))
    );
}

/// §8.2 mprotect_unfaulted_right.
#[test]
fn merge_mprotect_unfaulted_right() {
    let mut s = carveout();
    // |       unfaulted       |
    noreserve(&mut s, 1, 1, 10, "rw-");
    //      RW          RO
    // | unfaulted | unfaulted |
    mprotect(&mut s, 1, 6, 5, "r--");
    // |  faulted  | unfaulted |
    touch(&mut s, 1, 1, 1, "write");
    //             RO
    // |        faulted        |
    mprotect(&mut s, 1, 1, 5, "r--");
    assert_merged_read_only(&s, 1, 11);
    let r = s.rmap_at(1, c(1));
    assert_eq!(
        (r.mappers[0].vma_start, r.mappers[0].vma_end),
        (c(1), c(11))
    );
}

/// §8.2 mprotect_unfaulted_both.
#[test]
fn merge_mprotect_unfaulted_both() {
    let mut s = carveout();
    // c2                                  c11
    // |             unfaulted             |
    noreserve(&mut s, 1, 2, 9, "rw-");
    //      RO          RW          RO
    // | unfaulted | unfaulted | unfaulted |
    mprotect(&mut s, 1, 2, 3, "r--");
    mprotect(&mut s, 1, 8, 3, "r--");
    // | unfaulted |  faulted  | unfaulted |
    touch(&mut s, 1, 5, 1, "write");
    //                   RO
    // |              faulted              |
    mprotect(&mut s, 1, 5, 3, "r--");
    assert_eq!(
        arena(&s, 1),
        vec![
            l(0, 2, "---p", ""),
            l(2, 11, "r--p", ""),
            l(11, 30, "---p", "")
        ]
    );
}

/// §8.2 mprotect_faulted_left_unfaulted_right.
#[test]
fn merge_mprotect_faulted_left_unfaulted_right() {
    let mut s = carveout();
    noreserve(&mut s, 1, 2, 9, "rw-");
    //             RW               RO
    // |       unfaulted       | unfaulted |
    mprotect(&mut s, 1, 8, 3, "r--");
    // |        faulted        | unfaulted |
    touch(&mut s, 1, 2, 1, "write");
    //      RO          RW          RO
    // |  faulted  |  faulted  | unfaulted |
    mprotect(&mut s, 1, 2, 3, "r--");
    //                   RO
    // |              faulted              |
    mprotect(&mut s, 1, 5, 3, "r--");
    assert_merged_read_only(&s, 2, 11);
}

/// §8.2 mprotect_unfaulted_left_faulted_right.
#[test]
fn merge_mprotect_unfaulted_left_faulted_right() {
    let mut s = carveout();
    noreserve(&mut s, 1, 2, 9, "rw-");
    //      RO                RW
    // | unfaulted |       unfaulted       |
    mprotect(&mut s, 1, 2, 3, "r--");
    // | unfaulted |        faulted        |
    touch(&mut s, 1, 5, 1, "write");
    //      RO          RW          RO
    // | unfaulted |  faulted  |  faulted  |
    mprotect(&mut s, 1, 8, 3, "r--");
    //                   RO
    // |              faulted              |
    mprotect(&mut s, 1, 5, 3, "r--");
    assert_merged_read_only(&s, 2, 11);
}

/// §8.2 forked_target_vma: in the child, a new VMA next to an inherited faulted VMA does not
/// merge, even after every page was unCOWed (the AVC to the parent's anon_vma stays).
#[test]
fn merge_forked_target_vma() {
    let mut s = carveout();
    // c1          c6
    // |  faulted  |
    anon(&mut s, 1, 1, 5);
    touch(&mut s, 1, 1, 1, "write");
    s.ok("fork pid=1 child=2");
    // child: unCOW everything
    touch(&mut s, 2, 1, 5, "write");
    //     forked
    // |  faulted  | unfaulted |
    //      ptr         ptr2
    anon(&mut s, 2, 6, 5);
    assert_eq!(s.vma(2, c(1)), Some((c(1), c(6))));
    assert_eq!(
        arena(&s, 2),
        vec![
            l(0, 1, "---p", ""),
            l(1, 6, "rw-p", ""),
            l(6, 11, "rw-p", ""),
            l(11, 30, "---p", ""),
        ]
    );
}

/// §8.2 forked_source_vma: mprotecting the forked VMA to match an unfaulted neighbour does not
/// merge either.
#[test]
fn merge_forked_source_vma() {
    let mut s = carveout();
    noreserve(&mut s, 1, 1, 5, "rw-");
    touch(&mut s, 1, 1, 1, "write");
    s.ok("fork pid=1 child=2");
    touch(&mut s, 2, 1, 5, "write");
    //   forked RW      RWX
    // |  faulted  | unfaulted |
    noreserve(&mut s, 2, 6, 5, "rwx");
    assert_eq!(s.vma(2, c(6)), Some((c(6), c(11))));
    //  forked RWX      RWX
    // |  faulted  | unfaulted |    must NOT merge
    mprotect(&mut s, 2, 1, 5, "rwx");
    assert_eq!(s.vma(2, c(6)), Some((c(6), c(11))));
    assert_eq!(
        arena(&s, 2),
        vec![
            l(0, 1, "---p", ""),
            l(1, 6, "rwxp", ""),
            l(6, 11, "rwxp", ""),
            l(11, 30, "---p", ""),
        ]
    );
}

/// §8.2 ksm_merge, the part that needs no KSM: two adjacent 1-page maps merge; after unmapping
/// the second, a new adjacent map merges again; unmapping both and mapping twice merges.
#[test]
fn merge_ksm_merge_without_ksm() {
    let mut s = carveout();
    // |    R/W    |    R/W    |
    //      ptr         ptr2
    anon(&mut s, 1, 1, 1);
    anon(&mut s, 1, 2, 1);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(3))));
    munmap(&mut s, 1, 2, 1);
    anon(&mut s, 1, 2, 1);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(3))));
    munmap(&mut s, 1, 1, 2);
    anon(&mut s, 1, 1, 1);
    anon(&mut s, 1, 2, 1);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(3))));
}

/// §8.2 merge_vmas_with_mseal, without mseal (not modelled): RW | RWX | RO, then the first made
/// RWX merges with the second; the third stays separate.
#[test]
fn merge_vmas_with_mseal_without_seal() {
    let mut s = carveout();
    // c1    c6    c11   c16
    // | RW  | RWX | RO  |
    anon(&mut s, 1, 1, 5);
    mmap(&mut s, 1, 6, 5, "rwx", "private,anonymous");
    mmap(&mut s, 1, 11, 5, "r--", "private,anonymous");
    // | RWX       | RO  |
    mprotect(&mut s, 1, 1, 5, "rwx");
    assert_eq!(
        arena(&s, 1),
        vec![
            l(0, 1, "---p", ""),
            l(1, 11, "rwxp", ""),
            l(11, 16, "r--p", ""),
            l(16, 30, "---p", ""),
        ]
    );
}
