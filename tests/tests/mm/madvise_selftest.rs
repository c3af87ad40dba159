//! The cases of the kernel's tools/testing/selftests/mm/madv_populate.c (MADV_POPULATE_READ
//! and MADV_POPULATE_WRITE), run against the simulator as vectors. As in the selftest, every
//! case works on `SIZE` = 2 MiB of private anonymous memory placed by the kernel (no hint),
//! and "populated" is vm_util's `pagemap_is_populated`: PM_PRESENT or PM_SWAP in the page's
//! pagemap entry; "soft-dirty" is `pagemap_is_softdirty`: PM_SOFT_DIRTY.
//!
//! Every case of the selftest is here:
//!
//! | selftest | test |
//! |---|---|
//! | `sense_support` | [`sense_support`] |
//! | `test_prot_read` | [`prot_read`] |
//! | `test_prot_write` | [`prot_write`] |
//! | `test_holes` | [`holes`] |
//! | `test_populate_read` | [`populate_read`] |
//! | `test_populate_write` | [`populate_write`] |
//! | `test_softdirty` (run when `softdirty_supported()`) | [`softdirty`], on a machine made with soft-dirty tracking |
//!
//! Nothing is left out. What the selftest does not reach is pinned next to its checks, as the
//! kernel does it: a refused populate changes nothing, the pages before a hole stay populated
//! and none after it is touched, a read populate of private anonymous memory maps the shared
//! zero page (present, pfn 0, Rss 0) and a write populate gives each page a frame of its own.
//! The selftest's `SIZE` is a multiple of 2 MiB, so on a kernel with transparent huge pages
//! the range may be backed by a huge (zero) page; the simulated machine has no THP, which the
//! selftest does not distinguish (it only reads the populated bits).

use anonmap_abi::pagemap::{PM_MMAP_EXCLUSIVE, PM_PFRAME_MASK, PM_PRESENT, PM_SOFT_DIRTY, PM_SWAP};
use anonmap_abi::Errno;
use anonmap_mm::MachineConfig;
use anonmap_testkit::sim::{Sim, P};

use crate::common::bare;

/// The selftest's `SIZE`: 2 MiB.
const SIZE: u64 = 2 << 20;

/// `mmap(0, SIZE, prot, MAP_ANONYMOUS | MAP_PRIVATE, 0, 0)`: the address the kernel chose.
fn map(s: &mut Sim, prot: &str) -> u64 {
    s.ok(&format!(
        "mmap pid=1 len={SIZE} prot={prot} flags=private,anonymous"
    ))
}

/// `madvise(addr, len, MADV_<advice>)`: Ok, or its errno.
fn madvise(s: &mut Sim, addr: u64, len: u64, advice: &str) -> Result<(), Errno> {
    s.run(&format!(
        "madvise pid=1 addr={addr:#x} len={len} advice={advice}"
    ))
    .map(|_| ())
    .map_err(|e| e.errno)
}

/// The pagemap entries of the `len` bytes at `addr`, one per page.
fn entries(s: &Sim, addr: u64, len: u64) -> Vec<u64> {
    s.m.pagemap(1, addr / P, len / P).expect("live pid")
}

/// vm_util's `pagemap_is_populated`.
fn populated(e: u64) -> bool {
    e & (PM_PRESENT | PM_SWAP) != 0
}

/// The selftest's `range_is_populated`: every page of the range is populated.
fn range_is_populated(s: &Sim, addr: u64, len: u64) -> bool {
    entries(s, addr, len).into_iter().all(populated)
}

/// The selftest's `range_is_not_populated`: no page of the range is populated.
fn range_is_not_populated(s: &Sim, addr: u64, len: u64) -> bool {
    !entries(s, addr, len).into_iter().any(populated)
}

/// The selftest's `range_is_softdirty`: every page of the range is soft-dirty.
fn range_is_softdirty(s: &Sim, addr: u64, len: u64) -> bool {
    entries(s, addr, len)
        .into_iter()
        .all(|e| e & PM_SOFT_DIRTY != 0)
}

/// The selftest's `range_is_not_softdirty`: no page of the range is soft-dirty.
fn range_is_not_softdirty(s: &Sim, addr: u64, len: u64) -> bool {
    !entries(s, addr, len)
        .into_iter()
        .any(|e| e & PM_SOFT_DIRTY != 0)
}

/// Every page of the range maps the shared zero page: present, pfn 0, no other bit.
fn range_is_zero_page(s: &Sim, addr: u64, len: u64) -> bool {
    entries(s, addr, len).into_iter().all(|e| e == PM_PRESENT)
}

/// Every page of the range maps a written anonymous page of its own: present, exclusive, a
/// real pfn, no two the same.
fn range_is_written(s: &Sim, addr: u64, len: u64) -> bool {
    let es = entries(s, addr, len);
    let mut pfns: Vec<u64> = es.iter().map(|e| e & PM_PFRAME_MASK).collect();
    pfns.sort_unstable();
    pfns.dedup();
    es.iter()
        .all(|&e| e & PM_PRESENT != 0 && e & PM_MMAP_EXCLUSIVE != 0 && e & PM_PFRAME_MASK != 0)
        && pfns.len() == es.len()
}

/// `sense_support`: on one read-write page both advices succeed (the selftest skips
/// everything otherwise), and the page is populated, written, afterwards.
#[test]
fn sense_support() {
    let mut s = bare();
    let addr = s.ok("mmap pid=1 len=4K prot=rw- flags=private,anonymous");
    assert_eq!(madvise(&mut s, addr, P, "populate_read"), Ok(()));
    assert!(range_is_zero_page(&s, addr, P));
    assert_eq!(madvise(&mut s, addr, P, "populate_write"), Ok(()));
    assert!(range_is_written(&s, addr, P));
    s.ok(&format!("munmap pid=1 addr={addr:#x} len=4K"));
}

/// `test_prot_read`: on a PROT_READ mapping MADV_POPULATE_READ succeeds and
/// MADV_POPULATE_WRITE is EINVAL (GUP's check_vma_flags refuses a write without VM_WRITE,
/// which madvise_populate reports as EINVAL). The read populate mapped the zero page
/// everywhere; the refused write populate changed nothing.
#[test]
fn prot_read() {
    let mut s = bare();
    let addr = map(&mut s, "r--");
    assert_eq!(madvise(&mut s, addr, SIZE, "populate_read"), Ok(()));
    assert!(range_is_populated(&s, addr, SIZE));
    assert!(range_is_zero_page(&s, addr, SIZE));
    assert_eq!(
        madvise(&mut s, addr, SIZE, "populate_write"),
        Err(Errno::EINVAL)
    );
    assert!(range_is_zero_page(&s, addr, SIZE));
    assert_eq!(s.kb(1, addr).rss, 0);
    s.ok(&format!("munmap pid=1 addr={addr:#x} len={SIZE}"));
}

/// `test_prot_write`: on a PROT_WRITE-only mapping (no VM_READ, as x86 leaves it)
/// MADV_POPULATE_READ is EINVAL and MADV_POPULATE_WRITE succeeds. The refused read populate
/// populated nothing; the write populate wrote every page.
#[test]
fn prot_write() {
    let mut s = bare();
    let addr = map(&mut s, "-w-");
    assert_eq!(
        madvise(&mut s, addr, SIZE, "populate_read"),
        Err(Errno::EINVAL)
    );
    assert!(range_is_not_populated(&s, addr, SIZE));
    assert_eq!(madvise(&mut s, addr, SIZE, "populate_write"), Ok(()));
    assert!(range_is_populated(&s, addr, SIZE));
    assert!(range_is_written(&s, addr, SIZE));
    assert_eq!(s.kb(1, addr).rss, SIZE >> 10);
    s.ok(&format!("munmap pid=1 addr={addr:#x} len={SIZE}"));
}

/// `test_holes`: with page 1 of the mapping unmapped, both advices are ENOMEM over a hole in
/// the middle (the whole range), at the end (`addr, 2 pages`) and at the beginning (the hole
/// alone). The kernel faults the range in page by page, so page 0, before the hole, is
/// populated by the first call (the zero page) and written by the second, while no page after
/// the hole is touched.
#[test]
fn holes() {
    let mut s = bare();
    let addr = map(&mut s, "rw-");
    s.ok(&format!("munmap pid=1 addr={:#x} len=4K", addr + P));
    let after = addr + 2 * P;
    let after_len = SIZE - 2 * P;

    // Hole in the middle.
    assert_eq!(
        madvise(&mut s, addr, SIZE, "populate_read"),
        Err(Errno::ENOMEM),
        "MADV_POPULATE_READ with holes in the middle"
    );
    assert!(range_is_zero_page(&s, addr, P), "page 0 read-populated");
    assert!(range_is_not_populated(&s, after, after_len));
    assert_eq!(
        madvise(&mut s, addr, SIZE, "populate_write"),
        Err(Errno::ENOMEM),
        "MADV_POPULATE_WRITE with holes in the middle"
    );
    assert!(range_is_written(&s, addr, P), "page 0 write-populated");
    assert!(range_is_not_populated(&s, after, after_len));

    // Hole at the end.
    assert_eq!(
        madvise(&mut s, addr, 2 * P, "populate_read"),
        Err(Errno::ENOMEM),
        "MADV_POPULATE_READ with holes at the end"
    );
    assert_eq!(
        madvise(&mut s, addr, 2 * P, "populate_write"),
        Err(Errno::ENOMEM),
        "MADV_POPULATE_WRITE with holes at the end"
    );

    // Hole at the beginning.
    assert_eq!(
        madvise(&mut s, addr + P, P, "populate_read"),
        Err(Errno::ENOMEM),
        "MADV_POPULATE_READ with holes at the beginning"
    );
    assert_eq!(
        madvise(&mut s, addr + P, P, "populate_write"),
        Err(Errno::ENOMEM),
        "MADV_POPULATE_WRITE with holes at the beginning"
    );

    assert!(range_is_written(&s, addr, P));
    assert_eq!(s.pagemap(1, addr + P), 0, "the hole");
    assert!(range_is_not_populated(&s, after, after_len));
    assert_eq!(s.status(1).vm_rss_kb, 4);
    s.ok(&format!("munmap pid=1 addr={addr:#x} len={SIZE}"));
}

/// `test_populate_read`: a fresh read-write mapping is not populated; MADV_POPULATE_READ
/// succeeds and populates all of it, with the shared zero page (private anonymous memory read
/// allocates nothing: Rss 0).
#[test]
fn populate_read() {
    let mut s = bare();
    let addr = map(&mut s, "rw-");
    assert!(
        range_is_not_populated(&s, addr, SIZE),
        "read range initially not populated"
    );
    assert_eq!(madvise(&mut s, addr, SIZE, "populate_read"), Ok(()));
    assert!(
        range_is_populated(&s, addr, SIZE),
        "read range is populated"
    );
    assert!(range_is_zero_page(&s, addr, SIZE));
    assert_eq!(s.kb(1, addr).rss, 0);
    s.ok(&format!("munmap pid=1 addr={addr:#x} len={SIZE}"));
}

/// `test_populate_write`: a fresh read-write mapping is not populated; MADV_POPULATE_WRITE
/// succeeds and populates all of it with written pages of its own (Rss and Anonymous 2 MiB,
/// all Private_Dirty).
#[test]
fn populate_write() {
    let mut s = bare();
    let addr = map(&mut s, "rw-");
    assert!(
        range_is_not_populated(&s, addr, SIZE),
        "write range initially not populated"
    );
    assert_eq!(madvise(&mut s, addr, SIZE, "populate_write"), Ok(()));
    assert!(
        range_is_populated(&s, addr, SIZE),
        "write range is populated"
    );
    assert!(range_is_written(&s, addr, SIZE));
    let k = s.kb(1, addr);
    assert_eq!(
        (k.rss, k.anonymous, k.private_dirty),
        (SIZE >> 10, SIZE >> 10, SIZE >> 10)
    );
    s.ok(&format!("munmap pid=1 addr={addr:#x} len={SIZE}"));
}

/// `test_softdirty`, on a soft-dirty kernel (`softdirty_supported`: a new mapping has `sd` in
/// VmFlags). After clear_refs 4 the range is not soft-dirty; MADV_POPULATE_READ succeeds and
/// leaves it clean (the zero page is mapped without the dirty bit); MADV_POPULATE_WRITE
/// succeeds and makes every page soft-dirty (the write fault's pte_mkdirty).
#[test]
fn softdirty() {
    let mut s = Sim::with_config(MachineConfig {
        ram_bytes: 64 << 20,
        swap_bytes: 0,
        soft_dirty: true,
        auto_reclaim: true,
    });
    s.ok("spawn pid=1 bare");
    let addr = map(&mut s, "rw-");
    assert!(
        s.smaps_field(1, addr, "VmFlags").contains(" sd"),
        "softdirty_supported: a new mapping is VM_SOFTDIRTY"
    );
    // Clear any softdirty bits.
    s.ok("clear_refs pid=1 value=4");
    assert!(
        range_is_not_softdirty(&s, addr, SIZE),
        "cleared range is not softdirty"
    );
    assert_eq!(madvise(&mut s, addr, SIZE, "populate_read"), Ok(()));
    assert!(
        range_is_not_softdirty(&s, addr, SIZE),
        "range is not softdirty after MADV_POPULATE_READ"
    );
    assert!(range_is_populated(&s, addr, SIZE));
    assert_eq!(madvise(&mut s, addr, SIZE, "populate_write"), Ok(()));
    assert!(
        range_is_softdirty(&s, addr, SIZE),
        "range is softdirty after MADV_POPULATE_WRITE"
    );
    s.ok(&format!("munmap pid=1 addr={addr:#x} len={SIZE}"));
}
