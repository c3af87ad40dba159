//! The cases of the kernel's tools/testing/selftests/mm/mremap_dontunmap.c (mremap with
//! MREMAP_DONTUNMAP), run against the simulator as vectors.
//!
//! The selftest fills its mappings with bytes (`'a'` in the source, `'X'` in a destination
//! mapped beforehand) and compares whole pages after the move. The simulator holds no bytes,
//! so each content check is read as the page identity it stands for:
//!
//! - "the destination contains `'a'`": each destination page maps the very frame the source
//!   page mapped before the move (`pagemap` pfn), so its content moved with it;
//! - "the source contains 0" (private anonymous): the source range is still mapped (its VMA
//!   is there) but has no page table entries (pagemap 0, Rss 0); a read of it maps the shared
//!   zero page (present, pfn 0) and a write a new frame of its own;
//! - "the source still contains `'a'`" (shmem): the source maps the same shmem object, so
//!   after the move its PTEs are gone too, and a read faults the very same page-cache frames
//!   back in; both VMAs then map each page (Shared_* in smaps, two rmap mappers);
//! - "the destination keeps its `'X'`": those pages keep their frames.
//!
//! | selftest | test |
//! |---|---|
//! | `kernel_support_for_mremap_dontunmap` | [`kernel_support`] |
//! | `mremap_dontunmap_simple` | [`simple`] |
//! | `mremap_dontunmap_simple_shmem` | [`simple_shmem`] (the memfd is a `shared,anonymous` mapping: both are shmem objects) |
//! | `mremap_dontunmap_simple_fixed` | [`simple_fixed`] |
//! | `mremap_dontunmap_partial_mapping` | [`partial_mapping`] |
//! | `mremap_dontunmap_partial_mapping_overwrite` | [`partial_mapping_overwrite`] |
//!
//! Nothing is left out. `simple_shmem`'s fallback for kernels older than 5.13 (EINVAL: no
//! MREMAP_DONTUNMAP on shmem) is kernel version probing and does not apply: 6.18 supports it,
//! so the test requires success. `dump_maps` (printing maps on failure) is diagnostics only.

use anonmap_abi::pagemap::PM_PRESENT;
use anonmap_testkit::sim::{Sim, P};

use crate::common::{bare, mappers};

/// `mmap(NULL, pages * page_size, PROT_READ | PROT_WRITE, flags, -1, 0)`, then (as the
/// selftest's memset) every page written; returns the address.
fn mapped_written(s: &mut Sim, pages: u64, flags: &str) -> u64 {
    let a = s.ok(&format!(
        "mmap pid=1 len={} prot=rw- flags={flags}",
        pages * P
    ));
    touch(s, a, pages, "write");
    a
}

fn touch(s: &mut Sim, addr: u64, pages: u64, access: &str) {
    s.ok(&format!(
        "touch pid=1 addr={addr:#x} len={} access={access}",
        pages * P
    ));
}

/// `mremap(addr, len, len, MREMAP_DONTUNMAP | MREMAP_MAYMOVE [| MREMAP_FIXED], new_addr)`:
/// where it moved to.
fn dontunmap(s: &mut Sim, addr: u64, pages: u64, fixed_at: Option<u64>) -> u64 {
    let len = pages * P;
    let tail = match fixed_at {
        Some(to) => format!("flags=maymove,dontunmap,fixed new_addr={to:#x}"),
        None => "flags=maymove,dontunmap".to_string(),
    };
    s.ok(&format!(
        "mremap pid=1 addr={addr:#x} old_len={len} new_len={len} {tail}"
    ))
}

fn munmap(s: &mut Sim, addr: u64, pages: u64) {
    s.ok(&format!("munmap pid=1 addr={addr:#x} len={}", pages * P));
}

/// The selftests' teardown: every `(addr, pages)` range unmapped, which leaves nothing mapped.
#[track_caller]
fn unmap_all(s: &mut Sim, ranges: &[(u64, u64)]) {
    for &(addr, pages) in ranges {
        munmap(s, addr, pages);
    }
    assert_eq!(s.layout(1), Vec::<String>::new());
}

/// `pages` written pages of a `flags` mapping moved anywhere with DONTUNMAP: returns the
/// source, its frames before the move, and the destination, having checked that both ranges
/// are whole VMAs of their own.
#[track_caller]
fn move_written(s: &mut Sim, pages: u64, flags: &str) -> (u64, Vec<u64>, u64) {
    let src = mapped_written(s, pages, flags);
    let before = pfns(s, src, pages);
    let dst = dontunmap(s, src, pages, None);
    assert_ne!(dst, src);
    assert_eq!(s.vma(1, src), Some((src, src + pages * P)));
    assert_eq!(s.vma(1, dst), Some((dst, dst + pages * P)));
    (src, before, dst)
}

/// The pagemap entries of `pages` pages at `addr`.
fn entries(s: &Sim, addr: u64, pages: u64) -> Vec<u64> {
    s.m.pagemap(1, addr / P, pages).expect("live pid")
}

/// The pfns mapped at `pages` pages from `addr` (each must be present).
fn pfns(s: &Sim, addr: u64, pages: u64) -> Vec<u64> {
    (0..pages).map(|i| s.pfn(1, addr + i * P)).collect()
}

/// "Source should have no ptes": the range is still mapped, but nothing is in its page table.
#[track_caller]
fn assert_no_ptes(s: &Sim, addr: u64, pages: u64) {
    for i in 0..pages {
        assert!(
            s.vma(1, addr + i * P).is_some(),
            "page {i} at {addr:#x} is still mapped"
        );
    }
    assert_eq!(entries(s, addr, pages), vec![0; pages as usize]);
}

/// "The region contains 0" for private anonymous memory with no PTEs: a read maps the shared
/// zero page on every page (present, pfn 0, nothing allocated).
#[track_caller]
fn assert_reads_zero(s: &mut Sim, addr: u64, pages: u64) {
    let rss = s.status(1).vm_rss_kb;
    touch(s, addr, pages, "read");
    assert_eq!(entries(s, addr, pages), vec![PM_PRESENT; pages as usize]);
    assert_eq!(
        s.status(1).vm_rss_kb,
        rss,
        "a zero-page read allocates nothing"
    );
}

/// `kernel_support_for_mremap_dontunmap`: one PROT_NONE private anonymous page moves with
/// MREMAP_DONTUNMAP | MREMAP_MAYMOVE (the selftest's probe; it would skip on failure), and
/// both the destination and the source can be unmapped.
#[test]
fn kernel_support() {
    let mut s = bare();
    let src = s.ok("mmap pid=1 len=4K prot=--- flags=private,anonymous");
    let dst = dontunmap(&mut s, src, 1, None);
    assert_ne!(dst, src);
    // Both are mapped. The page was never faulted (no anon_vma), so copy_vma gives the copy
    // the pgoff of its new place and it may merge with the source when placed next to it.
    assert!(s.vma(1, src).is_some() && s.vma(1, dst).is_some());
    unmap_all(&mut s, &[(dst, 1), (src, 1)]);
}

/// `mremap_dontunmap_simple`: five written private anonymous pages moved anywhere with
/// DONTUNMAP. The destination holds the source's frames ("contains 'a'"); the source VMA is
/// still there with no PTEs and reads as the zero page ("contains 0"); a write to it is a new
/// frame, leaving the destination's alone.
#[test]
fn simple() {
    let mut s = bare();
    let (src, before, dst) = move_written(&mut s, 5, "private,anonymous");

    // pages did not migrate?
    assert_eq!(pfns(&s, dst, 5), before);
    assert_eq!(s.kb(1, dst).rss, 20);
    // source should have no ptes
    assert_no_ptes(&s, src, 5);
    assert_eq!(s.kb(1, src).rss, 0);
    assert_reads_zero(&mut s, src, 5);
    touch(&mut s, src, 1, "write");
    let fresh = s.pfn(1, src);
    assert!(fresh != 0 && !before.contains(&fresh), "a new frame");
    assert_eq!(pfns(&s, dst, 5), before);

    unmap_all(&mut s, &[(dst, 5), (src, 5)]);
}

/// `mremap_dontunmap_simple_shmem`: five written pages of a shared shmem mapping (the
/// selftest's memfd, here MAP_SHARED | MAP_ANONYMOUS, which is a shmem object too) moved
/// anywhere with DONTUNMAP (6.18 allows it; the selftest's EINVAL fallback is for kernels
/// before 5.13). The destination holds the source's frames ("contains 'a'"); the source's
/// PTEs moved away, but it maps the same object, so a read of it faults the very same frames
/// back in ("the source still contains 'a'"): each page is then mapped twice, Shared in
/// smaps, and a write through the source lands in the frame the destination maps.
#[test]
fn simple_shmem() {
    let mut s = bare();
    let (src, before, dst) = move_written(&mut s, 5, "shared,anonymous");

    // pages did not migrate?
    assert_eq!(pfns(&s, dst, 5), before);
    // The PTEs moved; the source maps the object but nothing yet.
    assert_no_ptes(&s, src, 5);
    assert_eq!(s.kb(1, src).rss, 0);
    // "Because the region is backed by shmem, we will actually see the same memory at the
    // source location still."
    touch(&mut s, src, 5, "read");
    assert_eq!(pfns(&s, src, 5), before);
    for a in [src, dst] {
        let k = s.kb(1, a);
        assert_eq!(k.rss, 20, "{a:#x}");
        assert_eq!(k.shared_clean + k.shared_dirty, 20, "{a:#x}: shared");
        assert_eq!(k.private_clean + k.private_dirty, 0, "{a:#x}: not private");
    }
    for i in 0..5 {
        let mut m = mappers(&s.rmap_at(1, src + i * P));
        m.sort_unstable();
        let mut want = vec![(1, src + i * P), (1, dst + i * P)];
        want.sort_unstable();
        assert_eq!(m, want, "page {i}: mapped by both ranges");
    }
    touch(&mut s, src, 5, "write");
    assert_eq!(pfns(&s, src, 5), before, "no copy-on-write: shared");
    assert_eq!(pfns(&s, dst, 5), before);

    unmap_all(&mut s, &[(dst, 5), (src, 5)]);
}

/// `mremap_dontunmap_simple_fixed`: a five-page destination written first ("X"), then five
/// written source pages ("a") moved onto it with DONTUNMAP | FIXED. mremap returns the
/// destination; the destination's own pages were unmapped and freed and it now holds the
/// source's frames ("contains 'a'"); the source is still mapped, with no PTEs, and reads as
/// the zero page ("contains 0").
#[test]
fn simple_fixed() {
    let mut s = bare();
    let dest = mapped_written(&mut s, 5, "private,anonymous");
    let xs = pfns(&s, dest, 5);
    let src = mapped_written(&mut s, 5, "private,anonymous");
    let before = pfns(&s, src, 5);
    assert_eq!(s.status(1).vm_rss_kb, 40);

    let remapped = dontunmap(&mut s, src, 5, Some(dest));
    assert_eq!(
        remapped, dest,
        "mremap should have placed the remapped mapping at dest_mapping"
    );
    assert_eq!(s.vma(1, src), Some((src, src + 5 * P)));
    assert_eq!(s.vma(1, dest), Some((dest, dest + 5 * P)));

    // The X pages are gone and replaced with the a pages.
    let now = pfns(&s, dest, 5);
    assert_eq!(now, before, "pages did not migrate");
    assert!(now.iter().all(|p| !xs.contains(p)));
    assert_eq!(s.status(1).vm_rss_kb, 20, "the X pages were freed");
    // And the source mapping has had its ptes dropped.
    assert_no_ptes(&s, src, 5);
    assert_reads_zero(&mut s, src, 5);

    unmap_all(&mut s, &[(dest, 5), (src, 5)]);
}

/// `mremap_dontunmap_partial_mapping`: the last five of ten written pages moved anywhere with
/// DONTUNMAP. The source VMA stays whole (nothing is unmapped, so nothing splits it); its
/// first five pages keep their frames ("aaaaa"), its last five have no PTEs and read as the
/// zero page ("00000"); the destination holds the moved frames ("aaaaa").
#[test]
fn partial_mapping() {
    let mut s = bare();
    let src = mapped_written(&mut s, 10, "private,anonymous");
    let before = pfns(&s, src, 10);
    let dst = dontunmap(&mut s, src + 5 * P, 5, None);
    assert_eq!(s.vma(1, src), Some((src, src + 10 * P)));
    assert_eq!(s.vma(1, dst), Some((dst, dst + 5 * P)));

    // first 5 pages of source should have original pages
    assert_eq!(pfns(&s, src, 5), before[..5]);
    // final 5 pages of source should have no ptes
    assert_no_ptes(&s, src + 5 * P, 5);
    assert_eq!(s.kb(1, src).rss, 20);
    // dest mapping should contain ptes from the source
    assert_eq!(pfns(&s, dst, 5), before[5..]);
    assert_reads_zero(&mut s, src + 5 * P, 5);
    assert_eq!(pfns(&s, src, 5), before[..5]);

    unmap_all(&mut s, &[(dst, 5), (src, 10)]);
}

/// `mremap_dontunmap_partial_mapping_overwrite`: five written source pages ("aaaaa") moved
/// with DONTUNMAP | FIXED onto the first half of a ten-page written destination
/// ("XXXXXXXXXX"). mremap returns the destination; the source has no PTEs and reads as the
/// zero page ("00000"); the destination's first five pages hold the source's frames
/// ("aaaaa"), its last five keep their own ("XXXXX"), and the five X frames it replaced are
/// freed.
#[test]
fn partial_mapping_overwrite() {
    let mut s = bare();
    let src = mapped_written(&mut s, 5, "private,anonymous");
    let before = pfns(&s, src, 5);
    let dest = mapped_written(&mut s, 10, "private,anonymous");
    let xs = pfns(&s, dest, 10);
    assert_eq!(s.status(1).vm_rss_kb, 60);

    let remapped = dontunmap(&mut s, src, 5, Some(dest));
    assert_eq!(remapped, dest, "expected to remap to dest_mapping");

    // first 5 pages of source should have no ptes
    assert_no_ptes(&s, src, 5);
    // the destination has 5 pages worth of a's
    assert_eq!(pfns(&s, dest, 5), before);
    // the last 5 pages were not touched
    assert_eq!(pfns(&s, dest + 5 * P, 5), xs[5..]);
    assert_eq!(
        s.status(1).vm_rss_kb,
        40,
        "the first five X pages were freed"
    );
    assert_reads_zero(&mut s, src, 5);

    unmap_all(&mut s, &[(dest, 10), (src, 5)]);
}
