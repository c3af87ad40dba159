//! /proc/<pid>/pagemap entries (§5) for anonymous, shmem and file pages through read and write
//! faults, fork, COW and MADV_DONTNEED.
//!
//! `§N.M` are the sections of docs/kernel-semantics.md.
//!
//! Each step's VMA layout is drawn before it, as in the kernel's
//! tools/testing/vma/tests/merge.c. Addresses are pages above the arena `C` (`c(n)`).

use anonmap_abi::pagemap::{PM_FILE, PM_MMAP_EXCLUSIVE, PM_PFRAME_MASK, PM_PRESENT};
use anonmap_testkit::sim::c;

use crate::common::{anon, bare, dontneed, mmap, mmap_file, touch};

/// §5 rules and HOST vectors: absent 0; never faulted 0; zero page bit 63 only; written anon
/// 63+56; after fork 56 cleared in both; parent COW → new page 63+56; shmem and private file
/// mapped once 63+61+56; after DONTNEED 0.
#[test]
fn pagemap_entries() {
    let mut s = bare();
    s.ok("file path=/data/f size=4096");
    // c0    c2     c4   c5
    // | anon | shm | file|
    anon(&mut s, 1, 0, 2);
    mmap(&mut s, 1, 2, 2, "rw-", "shared,anonymous");
    mmap_file(&mut s, 1, 4, 1, "r--", "/data/f");
    let flags = |e: u64| e & !PM_PFRAME_MASK;
    assert_eq!(s.pagemap(1, c(100)), 0); // no VMA
    assert_eq!(s.pagemap(1, c(0)), 0); // never faulted
    touch(&mut s, 1, 1, 1, "read");
    assert_eq!(flags(s.pagemap(1, c(1))), PM_PRESENT); // zero page
    touch(&mut s, 1, 0, 1, "write");
    let e = s.pagemap(1, c(0));
    assert_eq!(flags(e), PM_PRESENT | PM_MMAP_EXCLUSIVE);
    let pfn = e & PM_PFRAME_MASK;
    assert_ne!(pfn, 0);
    touch(&mut s, 1, 2, 1, "write");
    assert_eq!(
        flags(s.pagemap(1, c(2))),
        PM_PRESENT | PM_FILE | PM_MMAP_EXCLUSIVE
    );
    touch(&mut s, 1, 4, 1, "read");
    assert_eq!(
        flags(s.pagemap(1, c(4))),
        PM_PRESENT | PM_FILE | PM_MMAP_EXCLUSIVE
    );
    s.ok("fork pid=1 child=2");
    assert_eq!(s.pagemap(1, c(0)), PM_PRESENT | pfn);
    assert_eq!(s.pagemap(2, c(0)), PM_PRESENT | pfn);
    // the child's shmem and file PTEs are not copied (§9.6)
    assert_eq!(s.pagemap(2, c(2)), 0);
    assert_eq!(s.pagemap(2, c(4)), 0);
    touch(&mut s, 1, 0, 1, "write");
    let e = s.pagemap(1, c(0));
    assert_eq!(flags(e), PM_PRESENT | PM_MMAP_EXCLUSIVE);
    assert_ne!(e & PM_PFRAME_MASK, pfn);
    // the child is now the only mapper of the old page (mapcount 1)
    assert_eq!(s.pagemap(2, c(0)), PM_PRESENT | PM_MMAP_EXCLUSIVE | pfn);
    assert_eq!(dontneed(&mut s, 1, 0, 5), Ok(()));
    for p in 0..5 {
        assert_eq!(s.pagemap(1, c(p)), 0);
    }
}
