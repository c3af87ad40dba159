//! The extra vectors observed on Linux 6.18 (§8.3), run against the simulator: adjacent maps
//! merging, mprotect of a middle page and back, a read of a fresh page mapping the zero page,
//! munmap of a middle page, mremap of a faulted VMA inside PROT_NONE, a private read-only file
//! map, and MADV_DONTFORK / MADV_WIPEONFORK across fork.
//!
//! `§N.M` are the sections of docs/kernel-semantics.md.
//!
//! Each step's VMA layout is drawn before it, as in the kernel's
//! tools/testing/vma/tests/merge.c. Addresses are pages above the arena `C` (`c(n)`).

use anonmap_testkit::sim::{c, l, P};

use crate::common::{
    anon, anon_written, arena, bare, carveout, madvise, mprotect, munmap, mv, touch,
};

/// §8.3.1: two adjacent MAP_FIXED anon RW 4-page maps → one 8-page rw-p line.
#[test]
fn host_two_adjacent_maps_merge() {
    let mut s = bare();
    anon(&mut s, 1, 0, 4);
    anon(&mut s, 1, 4, 4);
    assert_eq!(s.layout(1), vec![l(0, 8, "rw-p", "")]);
    // The nameless line ends with "0 " (§3.1.10).
    assert_eq!(
        s.maps(1),
        format!("{:x}-{:x} rw-p 00000000 00:00 0 \n", c(0), c(8))
    );
}

/// §8.3.2: mprotect of the middle page RO → three lines; back to RW → one line.
#[test]
fn host_mprotect_middle_and_back() {
    let mut s = bare();
    anon(&mut s, 1, 0, 8);
    // | rw- | r-- | rw- |
    mprotect(&mut s, 1, 4, 1, "r--");
    assert_eq!(
        s.layout(1),
        vec![
            l(0, 4, "rw-p", ""),
            l(4, 5, "r--p", ""),
            l(5, 8, "rw-p", "")
        ]
    );
    mprotect(&mut s, 1, 4, 1, "rw-");
    assert_eq!(s.layout(1), vec![l(0, 8, "rw-p", "")]);
}

/// §8.3.3 / §5: a fresh anon page reads 0 in pagemap; after a read it is present (the zero
/// page), not exclusive, not file; Rss stays 0.
#[test]
fn host_fresh_page_read_maps_zero_page() {
    let mut s = bare();
    anon(&mut s, 1, 0, 1);
    assert_eq!(s.pagemap(1, c(0)), 0);
    touch(&mut s, 1, 0, 1, "read");
    let e = s.pagemap(1, c(0));
    assert_eq!(e >> 55, 1 << 8, "only bit 63 among the flag bits: {e:#x}");
    assert_eq!(s.kb(1, c(0)).rss, 0);
    assert_eq!(s.smaps_field(1, c(0), "Rss"), "0 kB");
}

/// §8.3.4: munmap of one page of an 8-page VMA → two VMAs (2 and 5 pages).
#[test]
fn host_munmap_middle_page() {
    let mut s = bare();
    anon(&mut s, 1, 0, 8);
    munmap(&mut s, 1, 2, 1);
    assert_eq!(s.layout(1), vec![l(0, 2, "rw-p", ""), l(3, 8, "rw-p", "")]);
}

/// §8.3.5: mremap of a faulted 8-page VMA inside PROT_NONE: the old range becomes a hole, the
/// destination line is `rw-p 00000000 00:00 0 ` and does not merge with the PROT_NONE around it.
#[test]
fn host_mremap_faulted_vma_to_new_address() {
    let mut s = carveout();
    // c0  c2          c10                      c30
    // |---|  rw- (8)  |          ---           |
    anon_written(&mut s, 1, 2, 8);
    // |---|   hole    |  ---  |  rw- (8)  | --- |
    mv(&mut s, 1, 2, 8, 15);
    assert_eq!(
        arena(&s, 1),
        vec![
            l(0, 2, "---p", ""),
            l(10, 15, "---p", ""),
            l(15, 23, "rw-p", ""),
            l(23, 30, "---p", ""),
        ]
    );
    let maps = s.maps(1);
    assert!(maps.contains(&format!("{:x}-{:x} rw-p 00000000 00:00 0 \n", c(15), c(23))));
    assert_eq!(s.kb(1, c(15)).rss, 32);
}

/// §8.3.6: a private read-only map of a 1-page file, read: the maps line, Rss 4,
/// Private_Clean 4, VmFlags `rd mr mw me `.
#[test]
fn host_private_readonly_file_map() {
    let mut s = bare();
    s.ok("file path=/etc/hostname size=9");
    let a = s.ok("mmap pid=1 len=4096 prot=r-- flags=private file=/etc/hostname");
    s.ok(&format!("touch pid=1 addr={a:#x} len=1 access=read"));
    let ino = s.m.address_space_view(1).unwrap().vmas[0].inode;
    let prefix = format!("{a:x}-{:x} r--p 00000000 fe:00 {ino} ", a + P);
    assert_eq!(s.maps(1), format!("{prefix:<72} /etc/hostname\n"));
    let k = s.kb(1, a);
    assert_eq!(
        (k.rss, k.private_clean, k.private_dirty, k.anonymous),
        (4, 4, 0, 0)
    );
    assert_eq!(s.smaps_field(1, a, "VmFlags"), "rd mr mw me");
    assert!(s.smaps(1).contains("VmFlags: rd mr mw me \n"));
}

/// §8.3.7 / §9.6: after fork a DONTFORK VMA is absent in the child; a WIPEONFORK VMA is there
/// but empty (Rss 0, and a read maps only the zero page).
#[test]
fn host_dontfork_and_wipeonfork() {
    let mut s = bare();
    // c0    c2    c3    c5
    // | dc  |     | wf  |
    anon(&mut s, 1, 0, 2);
    anon(&mut s, 1, 3, 2);
    touch(&mut s, 1, 0, 2, "write");
    touch(&mut s, 1, 3, 2, "write");
    assert_eq!(madvise(&mut s, 1, 0, 2, "dontfork"), Ok(()));
    assert_eq!(madvise(&mut s, 1, 3, 2, "wipeonfork"), Ok(()));
    s.ok("fork pid=1 child=2");
    assert_eq!(s.layout(2), vec![l(3, 5, "rw-p", "")]);
    assert_eq!(s.kb(2, c(3)).rss, 0);
    touch(&mut s, 2, 3, 2, "read");
    assert_eq!(s.kb(2, c(3)).rss, 0);
    // The parent keeps both, resident and unshared.
    assert_eq!(s.kb(1, c(0)).private_dirty, 8);
    assert_eq!(s.kb(1, c(3)).private_dirty, 8);
    assert_eq!(s.smaps_field(1, c(0), "VmFlags"), "rd wr mr mw me dc ac");
    assert_eq!(s.smaps_field(1, c(3), "VmFlags"), "rd wr mr mw me ac wf");
    // DONTCOPY pages are not in the child's VmSize (§9.6).
    assert_eq!(s.status(2).vm_size_kb, 8);
}
