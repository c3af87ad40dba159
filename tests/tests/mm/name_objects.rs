//! Anon names as refcounted objects (§2): the empty name is not "no name", names compare by
//! content for merging (§2.3, §7.4), renaming to the same name does not split, and the
//! refcount follows the VMAs holding the object across split, fork, mremap, munmap, exit,
//! flag-changing madvise (§9.4), a rename in a fork child and MAP_FIXED over a named VMA (§2.2).
//!
//! `§N.M` are the sections of docs/kernel-semantics.md.
//!
//! Each step's VMA layout is drawn before it, as in the kernel's
//! tools/testing/vma/tests/merge.c. Addresses are pages above the arena `C` (`c(n)`).

use anonmap_testkit::sim::l;

use crate::common::{anon, assert_names, bare, clear, madvise, mprotect, munmap, mv, name, touch};

/// §1.2.4 / §2.3: `""` is a valid name shown as `[anon:]`, and it is not equal to "no name":
/// the pieces stay apart until the name is cleared (NULL).
#[test]
fn empty_name_is_not_no_name() {
    let mut s = bare();
    //  c0           c2
    //  |  unnamed   |
    anon(&mut s, 1, 0, 2);
    assert_eq!(name(&mut s, 1, 1, 1, ""), Ok(()));
    //  | unnamed |[anon:]|
    assert_eq!(
        s.layout(1),
        vec![l(0, 1, "rw-p", ""), l(1, 2, "rw-p", "[anon:]")]
    );
    assert_names(&s, &[("", 1, 1)]);
    assert_eq!(clear(&mut s, 1, 1, 1), Ok(()));
    //  |  unnamed   |
    assert_eq!(s.layout(1), vec![l(0, 2, "rw-p", "")]);
    assert!(s.names().is_empty());
}

/// §2.3 / §7.4: names compare by content, so separately named pieces re-merge; the survivor
/// keeps the object it already had, and the other call's object is freed.
#[test]
fn names_compare_by_content_for_merge() {
    let mut s = bare();
    //  c0                  c3
    //  |      unnamed      |
    anon(&mut s, 1, 0, 3);
    assert_eq!(name(&mut s, 1, 1, 1, "m"), Ok(()));
    //  c0     c1      c2     c3
    //  |      |[anon:m]|      |
    assert_eq!(
        s.layout(1),
        vec![
            l(0, 1, "rw-p", ""),
            l(1, 2, "rw-p", "[anon:m]"),
            l(2, 3, "rw-p", ""),
        ]
    );
    let first = s.m.name_table_view()[0].id;
    assert_eq!(name(&mut s, 1, 0, 1, "m"), Ok(()));
    //  |   [anon:m]    |      |
    assert_eq!(
        s.layout(1),
        vec![l(0, 2, "rw-p", "[anon:m]"), l(2, 3, "rw-p", "")]
    );
    assert_eq!(name(&mut s, 1, 2, 1, "m"), Ok(()));
    //  |      [anon:m]        |
    assert_eq!(s.layout(1), vec![l(0, 3, "rw-p", "[anon:m]")]);
    let table = s.m.name_table_view();
    assert_eq!(table.len(), 1);
    assert_eq!(
        (table[0].id, table[0].refcount, table[0].vmas),
        (first, 1, 1)
    );

    // Clearing the middle's name splits it off again (§7.4).
    //  |[anon:m]|  unnamed |[anon:m]|
    assert_eq!(clear(&mut s, 1, 1, 1), Ok(()));
    assert_eq!(
        s.layout(1),
        vec![
            l(0, 1, "rw-p", "[anon:m]"),
            l(1, 2, "rw-p", ""),
            l(2, 3, "rw-p", "[anon:m]"),
        ]
    );
    assert_names(&s, &[("m", 2, 2)]);
    // Names differing in case do not merge.
    assert_eq!(name(&mut s, 1, 1, 1, "M"), Ok(()));
    assert_eq!(s.layout(1).len(), 3);
    assert_eq!(name(&mut s, 1, 1, 1, "m"), Ok(()));
    assert_eq!(s.layout(1), vec![l(0, 3, "rw-p", "[anon:m]")]);
}

/// §2.3 last bullet / §7.4: renaming a sub-range to the name it already has does nothing (no
/// split), and the call's own object is dropped.
#[test]
fn renaming_to_the_same_name_does_not_split() {
    let mut s = bare();
    anon(&mut s, 1, 0, 4);
    assert_eq!(name(&mut s, 1, 0, 4, "a"), Ok(()));
    let id = s.m.name_table_view()[0].id;
    //  |        [anon:a]         |   name [c1,c2) "a" again
    assert_eq!(name(&mut s, 1, 1, 1, "a"), Ok(()));
    assert_eq!(s.layout(1), vec![l(0, 4, "rw-p", "[anon:a]")]);
    let t = s.m.name_table_view();
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].id, t[0].refcount), (id, 1));
}

/// §2.2: refcount == number of VMAs holding the object, across split (mprotect), fork,
/// mremap (copy +1, unmap −1), munmap and exit.
#[test]
fn name_refcounts_across_split_fork_mremap_munmap_exit() {
    let mut s = bare();
    //  c0                     c4
    //  |        [anon:rc]       |
    anon(&mut s, 1, 0, 4);
    assert_eq!(name(&mut s, 1, 0, 4, "rc"), Ok(()));
    touch(&mut s, 1, 0, 4, "write");
    assert_names(&s, &[("rc", 1, 1)]);
    //  c0    c1    c2          c4
    //  | rw- | r-- |    rw-    |      all [anon:rc]
    mprotect(&mut s, 1, 1, 1, "r--");
    assert_names(&s, &[("rc", 3, 3)]);
    // fork: the child's three VMAs share the object.
    s.ok("fork pid=1 child=2");
    assert_names(&s, &[("rc", 6, 6)]);
    assert_eq!(s.m.name_table_view()[0].pids, vec![1, 2]);
    // child: move [c2,c4) far away: the copy takes a reference, the unmapped source drops one.
    //  c0    c1    c2        ...  c100        c102
    //  | rw- | r-- |              | [anon:rc] |
    mv(&mut s, 2, 2, 2, 100);
    assert_eq!(
        s.layout(2),
        vec![
            l(0, 1, "rw-p", "[anon:rc]"),
            l(1, 2, "r--p", "[anon:rc]"),
            l(100, 102, "rw-p", "[anon:rc]"),
        ]
    );
    assert_names(&s, &[("rc", 6, 6)]);
    // parent: munmap [c0,c1).
    munmap(&mut s, 1, 0, 1);
    assert_names(&s, &[("rc", 5, 5)]);
    s.ok("exit pid=2");
    assert_names(&s, &[("rc", 2, 2)]);
    s.ok("exit pid=1");
    assert!(s.names().is_empty());
}

/// §9.4: flag-changing madvise ops split like naming and keep the name on both halves.
#[test]
fn madvise_flag_change_preserves_names() {
    let mut s = bare();
    anon(&mut s, 1, 0, 4);
    assert_eq!(name(&mut s, 1, 0, 4, "keep"), Ok(()));
    assert_eq!(madvise(&mut s, 1, 1, 1, "dontdump"), Ok(()));
    //  | keep | keep,dd | keep      |
    assert_eq!(
        s.layout(1),
        vec![
            l(0, 1, "rw-p", "[anon:keep]"),
            l(1, 2, "rw-p", "[anon:keep]"),
            l(2, 4, "rw-p", "[anon:keep]"),
        ]
    );
    assert_names(&s, &[("keep", 3, 3)]);
    assert_eq!(madvise(&mut s, 1, 1, 1, "dodump"), Ok(()));
    assert_eq!(s.layout(1), vec![l(0, 4, "rw-p", "[anon:keep]")]);
    assert_names(&s, &[("keep", 1, 1)]);
}

/// §2.2: after fork both processes share the object; a rename in the child allocates a new
/// object for the child's VMA only; MAP_FIXED over a named VMA drops its reference.
#[test]
fn rename_after_fork_and_map_fixed_over_named() {
    let mut s = bare();
    // c0          c4
    // | [anon:p]   |
    anon(&mut s, 1, 0, 4);
    assert_eq!(name(&mut s, 1, 0, 4, "p"), Ok(()));
    s.ok("fork pid=1 child=2");
    assert_names(&s, &[("p", 2, 2)]);
    assert_eq!(name(&mut s, 2, 0, 4, "q"), Ok(()));
    assert_names(&s, &[("p", 1, 1), ("q", 1, 1)]);
    assert_eq!(s.layout(1), vec![l(0, 4, "rw-p", "[anon:p]")]);
    assert_eq!(s.layout(2), vec![l(0, 4, "rw-p", "[anon:q]")]);
    // c0   c1       c3  c4
    // | p  | new    | p |     MAP_FIXED over the middle of the parent's VMA
    anon(&mut s, 1, 1, 2);
    assert_eq!(
        s.layout(1),
        vec![
            l(0, 1, "rw-p", "[anon:p]"),
            l(1, 3, "rw-p", ""),
            l(3, 4, "rw-p", "[anon:p]"),
        ]
    );
    assert_names(&s, &[("p", 2, 2), ("q", 1, 1)]);
    munmap(&mut s, 1, 0, 4);
    assert_names(&s, &[("q", 1, 1)]);
}
