//! The mremap cases of the kernel's tools/testing/selftests/mm/merge.c (§8.2): moving faulted
//! and unfaulted VMAs next to each other (they merge when their anon_vmas and pgoffs allow),
//! the pieces of one faulted VMA returning to their places, handle_uprobe_upon_merged_vma
//! without the uprobe, and the merge_with_fork variants, forked and unforked.
//!
//! `§N.M` are the sections of docs/kernel-semantics.md.
//!
//! Each step's VMA layout is drawn before it, as in the kernel's
//! tools/testing/vma/tests/merge.c. Addresses are pages above the arena `C` (`c(n)`); merge.c's
//! "carveout" is the 30-page PROT_NONE region at `C`.

use anonmap_testkit::sim::{c, l, Sim, C, P};

use crate::common::{anon, anon_written, arena, carveout, mmap_file, mremap, munmap, mv, touch};

/// §8.2 handle_uprobe_upon_merged_vma, without the uprobe (the simulator has none): a 10-page
/// PROT_EXEC private file mapping, its first page moved to +5 as two pages, then one page moved
/// back. Must not crash; the layout follows from munmap/mremap rules.
#[test]
fn merge_handle_uprobe_upon_merged_vma_without_uprobe() {
    let mut s = carveout();
    s.ok("file path=/tmp/foo size=4096");
    // c1                                  c11
    // |        --x file, pgoff 0..10      |
    mmap_file(&mut s, 1, 1, 10, "--x", "/tmp/foo");
    // mremap(ptr1, 1 page, 2 pages, MAYMOVE|FIXED, ptr1 + 5 pages)
    //  c1   c2          c6          c8          c11
    //  |hole| pgoff 1.. | pgoff 0,1 | pgoff 7.. |
    let to_c6 = format!(" flags=maymove,fixed new_addr={:#x}", c(6));
    assert_eq!(mremap(&mut s, 1, 1, 1, 2, &to_c6), Ok(c(6)));
    // mremap(ptr2, 1 page, 1 page, MAYMOVE|FIXED, ptr1)
    mv(&mut s, 1, 6, 1, 1);
    // The first move left [c2,c6) at pgoff 1, the copy [c6,c8) at pgoff 0 and [c8,c11) at
    // pgoff 7. Moving page c6 (pgoff 0) to c1 merges it in front of [c2,c6) (same file,
    // contiguous offsets); [c7,c8) keeps pgoff 1 and cannot merge with pgoff 7.
    let av = s.m.address_space_view(1).unwrap();
    let offs: Vec<(u64, u64, u64)> = av
        .vmas
        .iter()
        .filter(|v| v.start >= C && v.end <= c(30))
        .map(|v| (v.start, v.end, v.offset))
        .collect();
    assert_eq!(
        offs,
        vec![
            (c(0), c(1), 0),
            (c(1), c(6), 0),
            (c(7), c(8), P),
            (c(8), c(11), 7 * P),
            (c(11), c(30), 0),
        ]
    );
}

/// §8.2 mremap_unfaulted_to_faulted.
#[test]
fn merge_mremap_unfaulted_to_faulted() {
    let mut s = carveout();
    // c1          c6 c7          c12
    // | unfaulted |  | unfaulted |
    //      ptr            ptr2
    anon(&mut s, 1, 1, 5);
    anon(&mut s, 1, 7, 5);
    mv(&mut s, 1, 7, 5, 1007);
    // |  faulted  |  \  | unfaulted |   (ptr2 far away)
    touch(&mut s, 1, 1, 1, "write");
    // |  faulted  | unfaulted |  →  |       faulted        |
    mv(&mut s, 1, 1007, 5, 6);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(11))));
    // The moved part now allocates from ptr's anon_vma.
    touch(&mut s, 1, 8, 1, "write");
    assert_eq!(s.mapping(1, c(8)), s.mapping(1, c(1)));
}

/// §8.2 mremap_unfaulted_behind_faulted.
#[test]
fn merge_mremap_unfaulted_behind_faulted() {
    let mut s = carveout();
    // c6          c11   c14         c19
    // | unfaulted |     | unfaulted |
    anon(&mut s, 1, 6, 5);
    anon(&mut s, 1, 14, 5);
    mv(&mut s, 1, 14, 5, 1014);
    touch(&mut s, 1, 6, 1, "write");
    // | unfaulted |  faulted  |   ptr2 moved to c1, just before ptr
    //      ptr2        ptr
    mv(&mut s, 1, 1014, 5, 1);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(11))));
}

/// The start of the mremap_unfaulted_between_* cases: unfaulted A, B and C of 5 pages at c1,
/// c7 and c14 in the carveout, then C moved away to +2000 pages and B to +1000.
fn three_moved_apart() -> Sim {
    let mut s = carveout();
    anon(&mut s, 1, 1, 5);
    anon(&mut s, 1, 7, 5);
    anon(&mut s, 1, 14, 5);
    mv(&mut s, 1, 14, 5, 2014);
    mv(&mut s, 1, 7, 5, 1007);
    s
}

/// §8.2 mremap_unfaulted_between_faulted: A and C have different anon_vmas, so only A+B merge.
#[test]
fn merge_mremap_unfaulted_between_faulted() {
    // c1    c6 c7    c12  c14   c19
    // |  A  |  |  B  |    |  C  |     then C and B moved away
    let mut s = three_moved_apart();
    // |faulted A| \ |unfaulted B| \ |faulted C|
    touch(&mut s, 1, 1, 1, "write");
    touch(&mut s, 1, 2014, 1, "write");
    assert_ne!(s.mapping(1, c(1)), s.mapping(1, c(2014)));
    // |faulted A|           |faulted C|   C moved back to A+10
    mv(&mut s, 1, 2014, 5, 11);
    // |faulted A|unfaulted B|faulted C|  →  |      A+B      |  C  |
    mv(&mut s, 1, 1007, 5, 6);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(11))));
    assert_eq!(s.vma(1, c(11)), Some((c(11), c(16))));
}

/// §8.2 mremap_unfaulted_between_faulted_unfaulted: only A faulted, all three merge.
#[test]
fn merge_mremap_unfaulted_between_faulted_unfaulted() {
    let mut s = three_moved_apart();
    // |faulted A| \ |unfaulted B| \ |unfaulted C|
    touch(&mut s, 1, 1, 1, "write");
    // |faulted A|           |unfaulted C|
    mv(&mut s, 1, 2014, 5, 11);
    // |faulted A|unfaulted B|unfaulted C|  →  |            A+B+C            |
    mv(&mut s, 1, 1007, 5, 6);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(16))));
    // C's original place [c14,c19) was carved out of the PROT_NONE region; [c16,c19) stays a
    // hole.
    assert_eq!(
        arena(&s, 1),
        vec![
            l(0, 1, "---p", ""),
            l(1, 16, "rw-p", ""),
            l(19, 30, "---p", "")
        ]
    );
}

/// §8.2 mremap_unfaulted_between_correctly_placed_faulted.
#[test]
fn merge_mremap_unfaulted_between_correctly_placed_faulted() {
    let mut s = carveout();
    // c1                                  c16
    // |              faulted              |
    anon(&mut s, 1, 1, 15);
    touch(&mut s, 1, 1, 1, "write");
    // |  faulted  |           |  faulted  |
    munmap(&mut s, 1, 6, 5);
    // ... plus a fresh unfaulted ptr2 at c20
    anon(&mut s, 1, 20, 5);
    // |  faulted  | unfaulted |  faulted  |  →  one VMA of 15 pages
    mv(&mut s, 1, 20, 5, 6);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(16))));
}

/// §8.2 mremap_correct_placed_faulted: pieces of one faulted VMA merge whenever they return to
/// pgoff-consistent places. Every page is written so the moved page tables can be checked too.
#[test]
fn merge_mremap_correct_placed_faulted() {
    let mut s = carveout();
    // c1                                  c16
    // |              faulted              |
    anon_written(&mut s, 1, 1, 15);
    let av = s.mapping(1, c(1));
    // |  ptr  | \ | ptr2 | \ | ptr3 |     (middle +1000, last +2000)
    mv(&mut s, 1, 11, 5, 2011);
    mv(&mut s, 1, 6, 5, 1006);
    // |  ptr  | ptr2 | \ | ptr3 |   →  |  ptr (10)  | \ | ptr3 |
    mv(&mut s, 1, 1006, 5, 6);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(11))));
    //         | ptr2 | \ | ptr | \ | ptr3 |
    mv(&mut s, 1, 1, 5, 1001);
    // | ptr | ptr2 |  →  10 pages again
    mv(&mut s, 1, 1001, 5, 1);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(11))));
    //         | ptr2 | \ | ptr |      then ptr3 back next to ptr2
    mv(&mut s, 1, 1, 5, 1001);
    mv(&mut s, 1, 2011, 5, 11);
    //         | ptr2 | ptr3 |   → 10 pages starting at ptr2
    assert_eq!(s.vma(1, c(6)), Some((c(6), c(16))));
    // | ptr | ptr2 | ptr3 |  → 15 pages
    mv(&mut s, 1, 1001, 5, 1);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(16))));
    // middle away and back → 15
    mv(&mut s, 1, 6, 5, 1006);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(6))));
    mv(&mut s, 1, 1006, 5, 6);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(16))));
    // last away and back → 15
    mv(&mut s, 1, 11, 5, 2011);
    mv(&mut s, 1, 2011, 5, 11);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(16))));
    // §6.7: pages kept their anon_vma and index through every move; the rmap finds each one
    // at its original address.
    for p in 1..16 {
        let r = s.rmap_at(1, c(p));
        assert_eq!(r.mapping, av);
        assert_eq!(r.index, c(p) / P);
        assert_eq!(r.mappers.len(), 1);
        assert_eq!(r.mappers[0].vaddr, c(p));
    }
}

/// Runs a merge_with_fork case, unforked and forked: the faulted VMA A (`pages` pages at page
/// `at`, its first page written) is set up; then, in process 1 or (when forked) in the child,
/// as merge.c continues in the child after do_fork(), A's first 3 pages move away to c20, the
/// unfaulted neighbours (`(page, pages)`) are mapped, and the 3 pages move back. The VMAs
/// (`(start, end)` in pages) expected afterwards at each start are `unforked` and `forked`.
fn merge_with_fork(
    (at, pages): (u64, u64),
    neighbours: &[(u64, u64)],
    unforked: &[(u64, u64)],
    forked: &[(u64, u64)],
) {
    for (fork, expect) in [(false, unforked), (true, forked)] {
        let mut s = carveout();
        anon(&mut s, 1, at, pages);
        touch(&mut s, 1, at, 1, "write");
        let pid = if fork {
            s.ok("fork pid=1 child=2");
            2
        } else {
            1
        };
        mv(&mut s, pid, at, 3, 20);
        for &(page, pages) in neighbours {
            anon(&mut s, pid, page, pages);
        }
        mv(&mut s, pid, 20, 3, at);
        for &(start, end) in expect {
            assert_eq!(
                s.vma(pid, c(start)),
                Some((c(start), c(end))),
                "forked={fork}: the VMA at c{start}"
            );
        }
    }
}

/// §8.2 merge_with_fork/{forked,unforked} mremap_faulted_to_unfaulted_prev (MREMAP_DONTUNMAP
/// is not modelled; the final move is a plain fixed move, which gives the same destination).
#[test]
fn merge_with_fork_mremap_faulted_to_unfaulted_prev() {
    // c1    c4          c7
    // |  B  |  faulted A |
    merge_with_fork((4, 3), &[(1, 3)], &[(1, 7)], &[(1, 4)]);
}

/// §8.2 merge_with_fork mremap_faulted_to_unfaulted_next.
#[test]
fn merge_with_fork_mremap_faulted_to_unfaulted_next() {
    // c1         c4    c7
    // | faulted A |  B  |
    merge_with_fork((1, 3), &[(4, 3)], &[(1, 7)], &[(1, 4)]);
}

/// §8.2 merge_with_fork mremap_faulted_to_unfaulted_prev_unfaulted_next.
#[test]
fn merge_with_fork_mremap_faulted_to_unfaulted_prev_unfaulted_next() {
    // c1    c4          c7    c10
    // |  A  | faulted B |  C  |
    merge_with_fork(
        (4, 3),
        &[(1, 3), (7, 3)],
        &[(1, 10)],
        &[(1, 4), (4, 7), (7, 10)],
    );
}

/// §8.2 merge_with_fork mremap_faulted_to_unfaulted_prev_faulted_next.
#[test]
fn merge_with_fork_mremap_faulted_to_unfaulted_prev_faulted_next() {
    // c1    c4    c7    c10
    // |  A  |  B  |  C  |      B+C one faulted VMA, B moved away and back
    merge_with_fork((4, 6), &[(1, 3)], &[(1, 10)], &[(1, 4), (4, 10)]);
}
