//! Fault-around on read faults (§11): the measured shmem sequence, none for private anonymous
//! memory or on write faults, the 16-page window clipped to the VMA and to the page table for
//! file pages, and uncached pages left unmapped.
//!
//! `§N.M` are the sections of docs/kernel-semantics.md.
//!
//! Each step's VMA layout is drawn before it, as in the kernel's
//! tools/testing/vma/tests/merge.c. Addresses are pages above the arena `C` (`c(n)`).

use anonmap_testkit::sim::{c, Sim};

use crate::common::{bare, dontneed, mmap, mmap_file, touch};

/// A bare process 1 with a 64-page read-write mapping at c0 (`flags`), pages 0-39 written,
/// then all of it MADV_DONTNEEDed.
fn written_then_dropped(flags: &str) -> Sim {
    let mut s = bare();
    mmap(&mut s, 1, 0, 64, "rw-", flags);
    touch(&mut s, 1, 0, 40, "write");
    assert_eq!(dontneed(&mut s, 1, 0, 64), Ok(()));
    s
}

/// §11 measured: 64-page MAP_SHARED|MAP_ANONYMOUS, pages 0-39 written, DONTNEED all; read page
/// 5 → 64 kB, page 20 → 128 kB, page 50 (never written) → 132 kB; Referenced == Rss.
#[test]
fn fault_around_shmem_measured() {
    // c0 (64 KiB and 2 MiB aligned)                         c64
    // | written 0..40                      |  never written  |
    let mut s = written_then_dropped("shared,anonymous");
    assert_eq!(s.kb(1, c(0)).rss, 0);
    for (page, rss) in [(5, 64), (20, 128), (50, 132)] {
        touch(&mut s, 1, page, 1, "read");
        let k = s.kb(1, c(0));
        assert_eq!(
            (k.rss, k.referenced),
            (rss, rss),
            "after reading page {page}"
        );
        assert_eq!(s.status(1).rss_shmem_kb, rss);
    }
}

/// §11: private anonymous memory has no fault-around: reading page 5 after DONTNEED maps the
/// zero page, Rss 0.
#[test]
fn no_fault_around_for_private_anon() {
    let mut s = written_then_dropped("private,anonymous");
    touch(&mut s, 1, 5, 1, "read");
    assert_eq!(s.kb(1, c(0)).rss, 0);
}

/// §11: write faults do not fault around (shmem: do_shared_fault; private file: do_cow_fault).
#[test]
fn no_fault_around_on_write_faults() {
    let mut s = written_then_dropped("shared,anonymous");
    touch(&mut s, 1, 5, 1, "write");
    assert_eq!(s.kb(1, c(0)).rss, 4);
}

/// A machine whose page cache holds every page of the 1024-page file /data/big (process 9
/// read it all), so fault-around finds every neighbour cached.
fn cached_file() -> Sim {
    let mut s = Sim::new();
    s.script(
        "file path=/data/big size=4M
         spawn pid=9 bare
         mmap pid=9 len=4M prot=r-- flags=private file=/data/big as=all
         touch pid=9 addr=all len=4M access=read",
    );
    s
}

/// Maps `pages` pages of /data/big at page `at` in a new bare process `pid`, reads page
/// `read` (relative to C) and returns the VMA's Rss in kB.
fn read_one(s: &mut Sim, pid: u32, at: u64, pages: u64, read: u64) -> u64 {
    s.ok(&format!("spawn pid={pid} bare"));
    mmap_file(s, pid, at, pages, "r--", "/data/big");
    touch(s, pid, read, 1, "read");
    let rss = s.kb(pid, c(at)).rss;
    assert_eq!(s.status(pid).rss_file_kb, rss);
    rss
}

/// §11: the window is the 16-page (64 KiB) virtual block holding the fault, or 16 pages from
/// the VMA's start when the VMA starts inside that block, cut at the VMA's end and the page
/// table's end; every cached page in it is mapped.
#[test]
fn fault_around_file_positions() {
    let mut s = cached_file();
    // c0                              c64
    // |R                               |    read page 0 → block [0,16)
    assert_eq!(read_one(&mut s, 1, 0, 64, 0), 64);
    // |                |     R         |    read page 37 → block [32,48)
    assert_eq!(read_one(&mut s, 2, 0, 64, 37), 64);
    // c0                         c40
    // |                       ...R|         read page 39 → [32,40) clipped to the VMA end
    assert_eq!(read_one(&mut s, 3, 0, 40, 39), 32);
    //    c3                 c23
    //    |R                  |              VMA not 64K aligned: window [3,19), into the next
    //                                       block (measured on 6.18: a 32-page file VMA that
    //                                       starts at page 0, 3, 6, 9, 12 or 15 of a block
    //                                       shows Rss 64 kB after a read of its first page)
    assert_eq!(read_one(&mut s, 4, 3, 20, 3), 64);
    for (pid, start) in [(6, 6), (7, 9), (8, 12), (10, 15)] {
        assert_eq!(
            read_one(&mut s, pid, 64 + start, 32, 64 + start),
            64,
            "VMA at {start}"
        );
    }
    // PTE-table boundary at c512 (C + 2 MiB):
    //  c504      c512      c520
    //  |        R|          |               read c511 → [504,512): nothing past the table
    assert_eq!(read_one(&mut s, 5, 504, 16, 511), 32);
    //  |         |R         |               then c512 → [512,520) added
    touch(&mut s, 5, 512, 1, "read");
    assert_eq!(s.kb(5, c(504)).rss, 64);
    assert_eq!(s.kb(5, c(504)).referenced, 64);
}

/// §11: pages of the window that are not in the cache stay unmapped; a private file write
/// fault maps just one (anonymous COW) page.
#[test]
fn fault_around_skips_uncached_pages_and_writes() {
    let mut s = Sim::new();
    s.script(
        "file path=/data/sparse size=64K
         spawn pid=9 bare",
    );
    mmap_file(&mut s, 9, 0, 16, "r--", "/data/sparse");
    // pid 9 reads pages 0, 2 and 4 one at a time: each read caches its own page.
    for p in [0, 2, 4] {
        touch(&mut s, 9, p, 1, "read");
    }
    assert_eq!(s.kb(9, c(0)).rss, 12);
    // pid 1 reads page 1: pages 0, 2, 4 (cached) + page 1 (read in) → 16 kB.
    s.ok("spawn pid=1 bare");
    mmap_file(&mut s, 1, 0, 16, "rw-", "/data/sparse");
    touch(&mut s, 1, 1, 1, "read");
    assert_eq!(s.kb(1, c(0)).rss, 16);
    // pid 2 writes page 8: one private anonymous copy, no fault-around.
    s.ok("spawn pid=2 bare");
    mmap_file(&mut s, 2, 0, 16, "rw-", "/data/sparse");
    touch(&mut s, 2, 8, 1, "write");
    let st = s.status(2);
    assert_eq!((st.vm_rss_kb, st.rss_anon_kb, st.rss_file_kb), (4, 4, 0));
}
