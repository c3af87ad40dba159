//! Fork and COW in smaps (§4.2): the Rss/Pss/Shared/Private columns through fork, COW, exit
//! and MADV_DONTNEED, no PTEs copied for shmem and file VMAs, Referenced across fork (§12), the
//! PSS fixed point per VMA and in smaps_rollup, and the rollup's header and PSS split (§4.3).
//!
//! `§N.M` are the sections of docs/kernel-semantics.md.
//!
//! Each step's VMA layout is drawn before it, as in the kernel's
//! tools/testing/vma/tests/merge.c. Addresses are pages above the arena `C` (`c(n)`).

use anonmap_testkit::sim::{c, Kb, Sim};

use crate::common::{anon, bare, dontneed, mmap, mmap_file, touch};

/// `(Rss, Pss, Pss_Dirty, Shared_Dirty, Private_Dirty, Anonymous)` in kB, §4.2's columns.
fn cols(k: Kb) -> (u64, u64, u64, u64, u64, u64) {
    (
        k.rss,
        k.pss,
        k.pss_dirty,
        k.shared_dirty,
        k.private_dirty,
        k.anonymous,
    )
}

/// The kB value of `label:` in a rendered smaps_rollup.
fn rollup_kb(text: &str, label: &str) -> u64 {
    let l = text
        .lines()
        .find(|l| l.starts_with(&format!("{label}:")))
        .unwrap_or_else(|| panic!("no {label} line"));
    l[label.len() + 1..]
        .trim()
        .trim_end_matches(" kB")
        .parse()
        .unwrap()
}

/// Process 1 with a written 2-page private anonymous VMA at c0, a written 2-page shmem VMA at
/// c2 and a read private mapping of the 2-page file /data/f at page `file_at`.
fn anon_shmem_file(file_at: u64) -> Sim {
    let mut s = bare();
    s.ok("file path=/data/f size=8K");
    anon(&mut s, 1, 0, 2);
    mmap(&mut s, 1, 2, 2, "rw-", "shared,anonymous");
    mmap_file(&mut s, 1, file_at, 2, "r--", "/data/f");
    touch(&mut s, 1, 0, 4, "write");
    touch(&mut s, 1, file_at, 2, "read");
    s
}

/// §4.2 "Observed HOST sequence": 8-page private anon VMA, pages 0 and 1 written, fork, COW,
/// child exit, MADV_DONTNEED.
#[test]
fn fork_cow_smaps_table() {
    let mut s = bare();
    // c0                      c8
    // | w | w |   untouched    |
    anon(&mut s, 1, 0, 8);
    touch(&mut s, 1, 0, 2, "write");
    assert_eq!(cols(s.kb(1, c(0))), (8, 8, 8, 0, 8, 8));
    s.ok("fork pid=1 child=2");
    // parent and child both map pages 0, 1 (mapcount 2)
    assert_eq!(cols(s.kb(1, c(0))), (8, 4, 4, 8, 0, 8));
    assert_eq!(cols(s.kb(2, c(0))), (8, 4, 4, 8, 0, 8));
    // parent writes page 0: COW copy; page 1 stays shared
    touch(&mut s, 1, 0, 1, "write");
    assert_eq!(cols(s.kb(1, c(0))), (8, 6, 6, 4, 4, 8));
    s.ok("exit pid=2");
    assert_eq!(cols(s.kb(1, c(0))), (8, 8, 8, 0, 8, 8));
    assert_eq!(dontneed(&mut s, 1, 0, 2), Ok(()));
    assert_eq!(cols(s.kb(1, c(0))), (0, 0, 0, 0, 0, 0));
    // The rendered block agrees (16-char label, width-8 value, " kB").
    assert!(s
        .smaps(1)
        .contains(&format!("\n{:<16}{:>8} kB\n", "Pss:", 0)));
}

/// §4.2 last paragraph / §9.6: fork copies no PTEs for VMAs without an anon_vma: the child's
/// shmem and file VMAs show Rss 0 until touched, while the anon VMA's pages are shared.
#[test]
fn fork_copies_no_ptes_for_shmem_and_file() {
    // c0   c2     c4    c6
    // |anon| shmem | file |
    let mut s = anon_shmem_file(4);
    s.ok("fork pid=1 child=2");
    assert_eq!(s.kb(2, c(0)).rss, 8);
    assert_eq!(s.kb(2, c(0)).shared_dirty, 8);
    assert_eq!(s.kb(2, c(2)).rss, 0);
    assert_eq!(s.kb(2, c(4)).rss, 0);
    // The parent's shmem and file pages are mapped once: Private_* (§4.2).
    assert_eq!(s.kb(1, c(2)).private_dirty, 8);
    assert_eq!(s.kb(1, c(2)).anonymous, 0);
    assert_eq!(s.kb(1, c(4)).private_clean, 8);
    // Once the child touches them they are shared.
    touch(&mut s, 2, 2, 2, "read");
    assert_eq!(s.kb(2, c(2)).shared_dirty, 8);
    assert_eq!(s.kb(2, c(2)).pss, 4);
}

/// §12: Referenced is the PTE young bit of each mapping; fork copies PTEs old; a COW copy is
/// mapped young.
#[test]
fn referenced_after_fork_and_child_accesses() {
    let mut s = bare();
    // c0                      c8
    // | w | w | w | w |        |
    anon(&mut s, 1, 0, 8);
    touch(&mut s, 1, 0, 4, "write");
    assert_eq!(s.kb(1, c(0)).referenced, 16);
    s.ok("fork pid=1 child=2");
    let k = s.kb(2, c(0));
    assert_eq!((k.rss, k.shared_dirty, k.referenced), (16, 16, 0));
    touch(&mut s, 2, 0, 1, "read");
    assert_eq!(s.kb(2, c(0)).referenced, 4);
    touch(&mut s, 2, 1, 1, "write");
    let k = s.kb(2, c(0));
    assert_eq!((k.shared_dirty, k.private_dirty, k.referenced), (12, 4, 8));
    assert_eq!(s.kb(1, c(0)).referenced, 16);
}

/// §4.2 PSS fixed point: 1 page shared by 3 is 1 kB, 2 such pages 2 kB; six separate VMAs of
/// one such page each show 1 kB apiece but the rollup sums in fixed point: 7 kB. One page shared
/// by 2 plus one private is 6 kB.
#[test]
fn pss_fixed_point() {
    let mut s = bare();
    // c0  c1   c2  c3   ...   c10 c11    c20     c22
    // | A |    | B |    ...   | F |      |  G (2) |
    for i in 0..6 {
        anon(&mut s, 1, 2 * i, 1);
    }
    anon(&mut s, 1, 20, 2);
    for i in 0..6 {
        touch(&mut s, 1, 2 * i, 1, "write");
    }
    touch(&mut s, 1, 20, 2, "write");
    s.ok("fork pid=1 child=2");
    s.ok("fork pid=1 child=3");
    for i in 0..6 {
        assert_eq!(s.smaps_field(1, c(2 * i), "Pss"), "1 kB");
    }
    assert_eq!(s.smaps_field(1, c(20), "Pss"), "2 kB");
    // rollup: (6·5592405 + 2·5592405) >> 12 >> 10 = 10 kB (per-VMA lines sum to 8)
    assert_eq!(rollup_kb(&s.rollup(1), "Pss"), 10);
    s.ok("exit pid=3");
    // G: two pages shared by 2 → 4 kB; parent writes G's second page → 2 + 4 = 6 kB.
    touch(&mut s, 1, 21, 1, "write");
    assert_eq!(s.smaps_field(1, c(20), "Pss"), "6 kB");
}

/// §4.2: the rollup example exactly: six VMAs of one page shared by 3 → 7 kB.
#[test]
fn pss_rollup_six_vmas_shared_by_three() {
    let mut s = bare();
    for i in 0..6 {
        anon(&mut s, 1, 2 * i, 1);
        touch(&mut s, 1, 2 * i, 1, "write");
    }
    s.ok("fork pid=1 child=2");
    s.ok("fork pid=1 child=3");
    let per_vma: u64 = (0..6).map(|i| s.kb(1, c(2 * i)).pss).sum::<u64>();
    assert_eq!(per_vma, 6);
    assert_eq!(rollup_kb(&s.rollup(1), "Pss"), 7);
    assert_eq!(rollup_kb(&s.rollup(1), "Rss"), 24);
}

/// §4.3: the smaps_rollup header spans the first VMA's start to the last VMA's end, `---p`,
/// padded like a named line, then `[rollup]`; Pss_Anon/Pss_File/Pss_Shmem split the PSS.
#[test]
fn smaps_rollup_header_and_pss_split() {
    // c0    c2    c4         c10  c12
    // |anon | shm |          |file|
    let s = anon_shmem_file(10);
    let text = s.rollup(1);
    let first = text.lines().next().unwrap();
    let prefix = format!("{:x}-{:x} ---p 00000000 00:00 0 ", c(0), c(12));
    assert_eq!(first, format!("{prefix:<72} [rollup]"));
    assert_eq!(
        (
            rollup_kb(&text, "Rss"),
            rollup_kb(&text, "Pss_Anon"),
            rollup_kb(&text, "Pss_File"),
            rollup_kb(&text, "Pss_Shmem"),
            rollup_kb(&text, "Anonymous"),
        ),
        (24, 8, 8, 8, 8)
    );
}
