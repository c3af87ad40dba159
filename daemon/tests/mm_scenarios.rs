//! Simulator behaviour against the exact numbers of kernel-semantics.md: fork and COW in smaps
//! (PSS fixed point, Shared/Private_Dirty, Referenced; §4.2, §12), fault-around on read faults
//! of shmem and file pages (§11), brk and `[heap]` (§9.5), stack growth (§9.7), mremap growth
//! in place and moves (§6.7), munmap across VMAs (§9.3), mprotect stopping at a hole (§9.2),
//! MADV_DONTNEED over holes (§9.4), pagemap entries (§5), rmap walks over fork chains (§6.4,
//! §6.6) and the status counters (§4.4).
//!
//! Each step's VMA layout is drawn before it, as in the kernel's
//! tools/testing/vma/tests/merge.c. Addresses are pages above the arena `C` (`c(n)`).

mod common;

use anonmap_daemon::Errno;
use anonmap_fusefs::render::{pagemap_bits as pm, render_status};
use common::{c, l, line, Kb, Sim, P};

/// TASK_SIZE of the simulated x86_64 process: the initial stack ends here.
const TASK_SIZE: u64 = 0x7fff_ffff_f000;

fn bare(pid: u32) -> Sim {
    let mut s = Sim::new();
    s.ok(&format!("spawn pid={pid} bare"));
    s
}

fn mmap(s: &mut Sim, pid: u32, page: u64, pages: u64, prot: &str, flags: &str) {
    s.ok(&format!(
        "mmap pid={pid} addr={:#x} len={} prot={prot} flags={flags},fixed",
        c(page),
        pages * P
    ));
}

fn anon(s: &mut Sim, pid: u32, page: u64, pages: u64) {
    mmap(s, pid, page, pages, "rw-", "private,anonymous");
}

fn touch(s: &mut Sim, pid: u32, page: u64, pages: u64, access: &str) {
    s.ok(&format!(
        "touch pid={pid} addr={:#x} len={} access={access}",
        c(page),
        pages * P
    ));
}

fn dontneed(s: &mut Sim, pid: u32, page: u64, pages: u64) -> Result<(), Errno> {
    s.run(&format!(
        "madvise pid={pid} addr={:#x} len={} advice=dontneed",
        c(page),
        pages * P
    ))
    .map(|_| ())
    .map_err(|e| e.errno)
}

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

// ---------------------------------------------------------------------------------------------
// §4.2 fork / COW
// ---------------------------------------------------------------------------------------------

/// §4.2 "Observed HOST sequence": 8-page private anon VMA, pages 0 and 1 written, fork, COW,
/// child exit, MADV_DONTNEED.
#[test]
fn fork_cow_smaps_table() {
    let mut s = bare(1);
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
    let mut s = bare(1);
    s.ok("file path=/data/f size=8192");
    // c0   c2     c4    c6
    // |anon| shmem | file |
    anon(&mut s, 1, 0, 2);
    mmap(&mut s, 1, 2, 2, "rw-", "shared,anonymous");
    s.ok(&format!(
        "mmap pid=1 addr={:#x} len=8192 prot=r-- flags=private,fixed file=/data/f",
        c(4)
    ));
    touch(&mut s, 1, 0, 4, "write");
    touch(&mut s, 1, 4, 2, "read");
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
    let mut s = bare(1);
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
    let mut s = bare(1);
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
    let mut s = bare(1);
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

// ---------------------------------------------------------------------------------------------
// §11 fault-around
// ---------------------------------------------------------------------------------------------

/// §11 measured: 64-page MAP_SHARED|MAP_ANONYMOUS, pages 0-39 written, DONTNEED all; read page
/// 5 → 64 kB, page 20 → 128 kB, page 50 (never written) → 132 kB; Referenced == Rss.
#[test]
fn fault_around_shmem_measured() {
    let mut s = bare(1);
    // c0 (64 KiB and 2 MiB aligned)                         c64
    // | written 0..40                      |  never written  |
    mmap(&mut s, 1, 0, 64, "rw-", "shared,anonymous");
    touch(&mut s, 1, 0, 40, "write");
    assert_eq!(dontneed(&mut s, 1, 0, 64), Ok(()));
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
    let mut s = bare(1);
    anon(&mut s, 1, 0, 64);
    touch(&mut s, 1, 0, 40, "write");
    assert_eq!(dontneed(&mut s, 1, 0, 64), Ok(()));
    touch(&mut s, 1, 5, 1, "read");
    assert_eq!(s.kb(1, c(0)).rss, 0);
}

/// §11: write faults do not fault around (shmem: do_shared_fault; private file: do_cow_fault).
#[test]
fn no_fault_around_on_write_faults() {
    let mut s = bare(1);
    mmap(&mut s, 1, 0, 64, "rw-", "shared,anonymous");
    touch(&mut s, 1, 0, 40, "write");
    assert_eq!(dontneed(&mut s, 1, 0, 64), Ok(()));
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
    s.ok(&format!(
        "mmap pid={pid} addr={:#x} len={} prot=r-- flags=private,fixed file=/data/big",
        c(at),
        pages * P
    ));
    touch(s, pid, read, 1, "read");
    let rss = s.kb(pid, c(at)).rss;
    assert_eq!(s.status(pid).rss_file_kb, rss);
    rss
}

/// §11: the window is the 16-page (64 KiB) virtual block holding the fault, clipped to the VMA
/// and to the page table; every cached page in it is mapped.
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
    //    |R                  |              VMA not 64K aligned: block [0,16) → [3,16)
    assert_eq!(read_one(&mut s, 4, 3, 20, 3), 52);
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
    s.ok(&format!(
        "mmap pid=9 addr={:#x} len=64K prot=r-- flags=private,fixed file=/data/sparse",
        c(0)
    ));
    // pid 9 reads pages 0, 2 and 4 one at a time: each read caches its own page.
    for p in [0, 2, 4] {
        touch(&mut s, 9, p, 1, "read");
    }
    assert_eq!(s.kb(9, c(0)).rss, 12);
    // pid 1 reads page 1: pages 0, 2, 4 (cached) + page 1 (read in) → 16 kB.
    s.ok("spawn pid=1 bare");
    s.ok(&format!(
        "mmap pid=1 addr={:#x} len=64K prot=rw- flags=private,fixed file=/data/sparse",
        c(0)
    ));
    touch(&mut s, 1, 1, 1, "read");
    assert_eq!(s.kb(1, c(0)).rss, 16);
    // pid 2 writes page 8: one private anonymous copy, no fault-around.
    s.ok("spawn pid=2 bare");
    s.ok(&format!(
        "mmap pid=2 addr={:#x} len=64K prot=rw- flags=private,fixed file=/data/sparse",
        c(0)
    ));
    touch(&mut s, 2, 8, 1, "write");
    let st = s.status(2);
    assert_eq!((st.vm_rss_kb, st.rss_anon_kb, st.rss_file_kb), (4, 4, 0));
}

// ---------------------------------------------------------------------------------------------
// §9.5 brk, §9.7 stack
// ---------------------------------------------------------------------------------------------

/// §9.5: no heap VMA until brk grows; growth expands the brk VMA; a named heap VMA is not
/// expanded (NULL name) so growth adds a second `[heap]` VMA; shrinking unmaps; brk below
/// start_brk is refused (returns the old break).
#[test]
fn brk_and_heap() {
    let mut s = Sim::new();
    s.ok("spawn pid=1");
    let sb = s.ok("brk pid=1");
    assert!(!s.maps(1).contains("[heap]"));
    assert_eq!(s.status(1).vm_data_kb, 0);
    // |S  [heap] 1 page|
    assert_eq!(s.ok(&format!("brk pid=1 addr={:#x}", sb + 1)), sb + 1);
    assert_eq!(s.layout(1)[0], line(sb, sb + P, "rw-p", "[heap]"));
    assert_eq!(s.status(1).vm_data_kb, 4);
    // |S      [heap] 3 pages      |    expanded in place
    s.ok(&format!("brk pid=1 addr={:#x}", sb + 3 * P));
    assert_eq!(s.layout(1)[0], line(sb, sb + 3 * P, "rw-p", "[heap]"));
    assert_eq!(s.status(1).vm_data_kb, 12);
    assert_eq!(s.smaps_field(1, sb, "VmFlags"), "rd wr mr mw me ac");
    // named heap: growth creates a separate VMA, both labelled [heap]
    s.ok(&format!("name pid=1 addr={sb:#x} len={} name=\"h\"", 3 * P));
    s.ok(&format!("brk pid=1 addr={:#x}", sb + 5 * P));
    assert_eq!(
        s.layout(1)[..2],
        [
            line(sb, sb + 3 * P, "rw-p", "[heap]"),
            line(sb + 3 * P, sb + 5 * P, "rw-p", "[heap]"),
        ]
    );
    assert_eq!(s.status(1).vm_data_kb, 20);
    // shrink to 2 pages
    s.ok(&format!("brk pid=1 addr={:#x}", sb + 2 * P));
    assert_eq!(s.layout(1)[0], line(sb, sb + 2 * P, "rw-p", "[heap]"));
    assert_ne!(
        s.layout(1)[1],
        line(sb + 3 * P, sb + 5 * P, "rw-p", "[heap]")
    );
    assert_eq!(s.status(1).vm_data_kb, 8);
    // below start_brk: refused, the current break comes back
    assert_eq!(s.ok(&format!("brk pid=1 addr={:#x}", sb - P)), sb + 2 * P);
    assert_eq!(s.ok("brk pid=1"), sb + 2 * P);
}

/// `spawn brk=ADDR` puts the heap base there: the first `brk` returns it, growth makes the
/// `[heap]` VMA at it (and nothing is labelled `[heap]` at the default base), a fork inherits
/// it, and a bare process takes it too.
#[test]
fn spawn_brk_sets_the_heap_base() {
    const DEFAULT: u64 = 0x5555_5555_9000;
    const SB: u64 = 0x5563_6727_1000;
    let mut s = Sim::new();
    s.ok(&format!("spawn pid=1 comm=tracee brk={SB:#x}"));
    assert_eq!(s.ok("brk pid=1"), SB);
    assert!(!s.maps(1).contains("[heap]"));
    // an anonymous map at the default base is not the heap
    s.ok(&format!(
        "mmap pid=1 addr={DEFAULT:#x} len=4K prot=rw- flags=private,anonymous,fixed"
    ));
    assert_eq!(
        s.ok(&format!("brk pid=1 addr={:#x}", SB + 0x10000)),
        SB + 0x10000
    );
    assert_eq!(
        s.layout(1)[..2],
        [
            line(DEFAULT, DEFAULT + P, "rw-p", ""),
            line(SB, SB + 0x10000, "rw-p", "[heap]"),
        ]
    );
    assert_eq!(s.status(1).vm_data_kb, 4 + 64);
    // below the given base: refused, the current break comes back
    assert_eq!(s.ok(&format!("brk pid=1 addr={:#x}", SB - P)), SB + 0x10000);
    // shrink back to the base: the heap VMA goes
    assert_eq!(s.ok(&format!("brk pid=1 addr={SB:#x}")), SB);
    assert!(!s.maps(1).contains("[heap]"));
    s.ok(&format!("brk pid=1 addr={:#x}", SB + 3 * P));
    // the child inherits the base and the heap
    s.ok("fork pid=1 child=2");
    assert_eq!(s.ok("brk pid=2"), SB + 3 * P);
    assert!(s
        .layout(2)
        .contains(&line(SB, SB + 3 * P, "rw-p", "[heap]")));
    // a bare process with a low base (the lowest page allowed)
    s.ok("spawn pid=3 bare brk=64K");
    assert_eq!(s.ok("brk pid=3"), 0x10000);
    s.ok("brk pid=3 addr=0x12000");
    assert_eq!(s.layout(3), ["00010000-00012000 rw-p [heap]"]);
    // the canonical default, given explicitly, is the same layout
    s.ok(&format!("spawn pid=4 brk={DEFAULT:#x}"));
    s.ok("spawn pid=5");
    assert_eq!(s.ok("brk pid=4"), s.ok("brk pid=5"));
}

/// `spawn brk=` that is not page aligned, below MMAP_MIN_ADDR or not below TASK_SIZE is
/// EINVAL naming the value, and nothing is created (the pid stays free).
#[test]
fn spawn_brk_out_of_range_is_einval() {
    let mut s = Sim::new();
    for (value, why) in [
        ("0x556367271001", "not page aligned"),
        ("0x800", "not page aligned"),
        ("0", "outside user space"),
        ("0xf000", "outside user space"),
        ("0x7ffffffff000", "outside user space"),
        ("0x800000000000", "outside user space"),
        ("0xfffffffffffff000", "outside user space"),
    ] {
        let line = format!("spawn pid=9 bare brk={value}");
        let e = s.run(&line).unwrap_err();
        assert_eq!(e.errno, Errno::EINVAL, "{line}");
        assert!(
            e.message.contains(&format!("brk={value}")) && e.message.contains(why),
            "{line}: {e}"
        );
        assert!(s.m.pids().is_empty(), "{line}: created a process");
    }
    // the highest page below TASK_SIZE is accepted; the pid was never taken
    s.ok(&format!("spawn pid=9 bare brk={:#x}", TASK_SIZE - P));
    assert_eq!(s.ok("brk pid=9"), TASK_SIZE - P);
    // growth past TASK_SIZE is refused as brk refuses it
    assert_eq!(s.ok(&format!("brk pid=9 addr={TASK_SIZE:#x}")), TASK_SIZE);
    assert_eq!(
        s.ok(&format!("brk pid=9 addr={:#x}", TASK_SIZE + P)),
        TASK_SIZE
    );
}

/// The `[stack]` VMA of a spawned process as `(start, end)`.
fn stack(s: &Sim, pid: u32) -> (u64, u64) {
    let l = s
        .layout(pid)
        .into_iter()
        .find(|l| l.ends_with("[stack]"))
        .expect("a [stack] line");
    let (a, rest) = l.split_once('-').unwrap();
    let b = rest.split(' ').next().unwrap();
    (
        u64::from_str_radix(a, 16).unwrap(),
        u64::from_str_radix(b, 16).unwrap(),
    )
}

/// §9.7: the stack grows down on faults below it, within RLIMIT_STACK (8 MiB), counting into
/// VmStk; flags `rd wr mr mw me gd ac`.
#[test]
fn stack_growth() {
    let mut s = Sim::new();
    s.ok("spawn pid=1");
    let (lo, hi) = stack(&s, 1);
    assert_eq!((lo, hi), (TASK_SIZE - 33 * P, TASK_SIZE));
    assert_eq!(s.status(1).vm_stk_kb, 132);
    assert_eq!(s.smaps_field(1, lo, "VmFlags"), "rd wr mr mw me gd ac");
    //  lo-P  lo                 TASK_SIZE
    //   |w|  |     [stack]      |
    s.ok(&format!(
        "touch pid=1 addr={:#x} len=1 access=write",
        lo - P
    ));
    assert_eq!(stack(&s, 1), (lo - P, hi));
    assert_eq!(s.status(1).vm_stk_kb, 136);
    s.ok(&format!(
        "touch pid=1 addr={:#x} len=1 access=read",
        lo - 20 * P
    ));
    assert_eq!(stack(&s, 1), (lo - 20 * P, hi));
    assert_eq!(s.status(1).vm_stk_kb, (33 + 20) * 4);
    assert_eq!(s.status(1).vm_size_kb, (33 + 20) * 4);
    // 8 MiB below the top is the limit; one page more is SIGSEGV (EFAULT).
    s.ok(&format!(
        "touch pid=1 addr={:#x} len=1 access=read",
        TASK_SIZE - (8 << 20)
    ));
    assert_eq!(stack(&s, 1), (TASK_SIZE - (8 << 20), hi));
    assert_eq!(
        s.err(&format!(
            "touch pid=1 addr={:#x} len=1 access=read",
            TASK_SIZE - (8 << 20) - P
        )),
        Errno::EFAULT
    );
    assert_eq!(s.status(1).vm_stk_kb, 8 << 10);
}

/// §9.7 / §10: growth keeps a 256-page guard gap to the previous accessible VMA; a PROT_NONE
/// neighbour does not count.
#[test]
fn stack_guard_gap() {
    let mut s = Sim::new();
    s.ok("spawn pid=1");
    s.ok("spawn pid=2");
    let (lo, _) = stack(&s, 1);
    //  lo-400P   lo-300P        lo-50P   lo
    //  |  rw-    |   ≥256 gap   ...      |[stack]
    s.ok(&format!(
        "mmap pid=1 addr={:#x} len={} prot=rw- flags=private,anonymous,fixed",
        lo - 400 * P,
        100 * P
    ));
    s.ok(&format!(
        "touch pid=1 addr={:#x} len=1 access=read",
        lo - 44 * P
    ));
    assert_eq!(stack(&s, 1).0, lo - 44 * P); // gap 256 pages: allowed
    assert_eq!(
        s.err(&format!(
            "touch pid=1 addr={:#x} len=1 access=read",
            lo - 45 * P
        )),
        Errno::EFAULT
    ); // gap 255 pages
    assert_eq!(stack(&s, 1).0, lo - 44 * P);
    // The same with a PROT_NONE neighbour: not accessible, no gap enforced.
    s.ok(&format!(
        "mmap pid=2 addr={:#x} len={} prot=--- flags=private,anonymous,fixed",
        lo - 400 * P,
        100 * P
    ));
    s.ok(&format!(
        "touch pid=2 addr={:#x} len=1 access=read",
        lo - 250 * P
    ));
    assert_eq!(stack(&s, 2).0, lo - 250 * P);
}

// ---------------------------------------------------------------------------------------------
// §6.7 mremap, §9.3 munmap, §9.2 mprotect, §9.4 madvise
// ---------------------------------------------------------------------------------------------

/// §6.7: in-place growth extends vm_end; without MAYMOVE a blocked growth is ENOMEM.
#[test]
fn mremap_grow_in_place() {
    let mut s = bare(1);
    // c0      c4        c8 c9
    // |  A w  |  free   |B|
    anon(&mut s, 1, 0, 4);
    touch(&mut s, 1, 0, 4, "write");
    mmap(&mut s, 1, 8, 1, "r--", "private,anonymous");
    let got = s.ok(&format!(
        "mremap pid=1 addr={:#x} old_len=16K new_len=32K",
        c(0)
    ));
    // |      A (8)        |B|
    assert_eq!(got, c(0));
    assert_eq!(s.layout(1), vec![l(0, 8, "rw-p", ""), l(8, 9, "r--p", "")]);
    assert_eq!(s.kb(1, c(0)).rss, 16);
    assert_eq!(s.status(1).vm_size_kb, 36);
    assert_eq!(s.status(1).vm_data_kb, 32);
    // No room left above A: growing without maymove fails, nothing changes.
    assert_eq!(
        s.err(&format!(
            "mremap pid=1 addr={:#x} old_len=32K new_len=40K",
            c(0)
        )),
        Errno::ENOMEM
    );
    assert_eq!(s.layout(1), vec![l(0, 8, "rw-p", ""), l(8, 9, "r--p", "")]);
}

/// §6.7: growth that must move keeps the anonymous pgoff: pages move with their PTEs, keep
/// their index and anon_vma, and the rmap finds them at the new address; maps shows offset 0.
#[test]
fn mremap_move_keeps_pgoff_and_pages() {
    let mut s = bare(1);
    // c0      c4 c5
    // | A (w) |B|
    anon(&mut s, 1, 0, 4);
    touch(&mut s, 1, 0, 4, "write");
    mmap(&mut s, 1, 4, 1, "r--", "private,anonymous");
    let pfns: Vec<u64> = (0..4).map(|i| s.pfn(1, c(i))).collect();
    let av = s.mapping(1, c(0));
    let new = s.ok(&format!(
        "mremap pid=1 addr={:#x} old_len=16K new_len=32K flags=maymove",
        c(0)
    ));
    assert_ne!(new, c(0));
    //  hole   |B|   ...   new |  A (8)  |
    assert_eq!(s.vma(1, c(0)), None);
    assert_eq!(s.vma(1, new), Some((new, new + 8 * P)));
    assert!(s.maps(1).contains(&format!(
        "{new:x}-{:x} rw-p 00000000 00:00 0 \n",
        new + 8 * P
    )));
    for (i, &pfn) in pfns.iter().enumerate() {
        let i = i as u64;
        assert_eq!(s.pfn(1, new + i * P), pfn);
        let r = s.m.rmap_view(pfn).unwrap();
        assert_eq!(r.mapping, av);
        assert_eq!(r.index, c(i) / P, "index = the old vpn (pgoff kept)");
        assert_eq!(r.mappers.len(), 1);
        assert_eq!(r.mappers[0].vaddr, new + i * P);
    }
    assert_eq!(s.pagemap(1, c(0)), 0);
    assert_eq!(s.kb(1, new).rss, 16);
    // A new page written in the grown part gets the linear index of the moved VMA.
    s.ok(&format!(
        "touch pid=1 addr={:#x} len=1 access=write",
        new + 5 * P
    ));
    assert_eq!(s.rmap_at(1, new + 5 * P).index, c(5) / P);
}

/// A fixed same-size mremap spanning several VMAs moves each (6.17+); the gap between them is
/// kept at the destination.
#[test]
fn mremap_multi_vma_move() {
    let mut s = bare(1);
    // c0    c2    c4 c5  c6
    // | rw- | r-- |  | rw-|
    anon(&mut s, 1, 0, 2);
    mmap(&mut s, 1, 2, 2, "r--", "private,anonymous");
    anon(&mut s, 1, 5, 1);
    touch(&mut s, 1, 0, 2, "write");
    let pfn = s.pfn(1, c(1));
    let got = s.ok(&format!(
        "mremap pid=1 addr={:#x} old_len=24K new_len=24K flags=maymove,fixed new_addr={:#x}",
        c(0),
        c(100)
    ));
    assert_eq!(got, c(100));
    // c100  c102  c104 c105 c106
    // | rw- | r-- |    | rw-|
    assert_eq!(
        s.layout(1),
        vec![
            l(100, 102, "rw-p", ""),
            l(102, 104, "r--p", ""),
            l(105, 106, "rw-p", ""),
        ]
    );
    assert_eq!(s.pfn(1, c(101)), pfn);
}

/// §9.3: munmap across several VMAs splits the first and last and removes the middle; a range
/// with nothing mapped is fine; unaligned or empty ranges are EINVAL.
#[test]
fn munmap_across_vmas() {
    let mut s = bare(1);
    // c0          c4          c8          c12
    // |   rw- w   |    r--    |   rwx w   |
    anon(&mut s, 1, 0, 4);
    mmap(&mut s, 1, 4, 4, "r--", "private,anonymous");
    mmap(&mut s, 1, 8, 4, "rwx", "private,anonymous");
    touch(&mut s, 1, 0, 4, "write");
    touch(&mut s, 1, 8, 4, "write");
    assert_eq!(s.status(1).vm_rss_kb, 32);
    // munmap [c2, c10)
    // | rw- |                       | rwx |
    s.ok(&format!("munmap pid=1 addr={:#x} len=32K", c(2)));
    assert_eq!(
        s.layout(1),
        vec![l(0, 2, "rw-p", ""), l(10, 12, "rwxp", "")]
    );
    let st = s.status(1);
    assert_eq!((st.vm_size_kb, st.vm_rss_kb, st.vm_hwm_kb), (16, 16, 32));
    assert_eq!(st.vm_data_kb, 16); // rw- and rwx are both private writable: data
    s.ok(&format!("munmap pid=1 addr={:#x} len=4K", c(50)));
    assert_eq!(
        s.err(&format!("munmap pid=1 addr={:#x} len=4K", c(0) + 1)),
        Errno::EINVAL
    );
    assert_eq!(
        s.err(&format!("munmap pid=1 addr={:#x} len=0", c(0))),
        Errno::EINVAL
    );
}

/// §9.2: mprotect stops at the first hole with ENOMEM; the VMAs before it are already changed.
/// A range that starts in a hole changes nothing.
#[test]
fn mprotect_stops_at_hole() {
    let mut s = bare(1);
    // c0          c4   c5        c8
    // |    rw-    |hole|   rw-   |
    anon(&mut s, 1, 0, 4);
    anon(&mut s, 1, 5, 3);
    assert_eq!(s.status(1).vm_data_kb, 28);
    assert_eq!(
        s.err(&format!("mprotect pid=1 addr={:#x} len=32K prot=r--", c(0))),
        Errno::ENOMEM
    );
    // |    r--    |hole|   rw-   |
    assert_eq!(s.layout(1), vec![l(0, 4, "r--p", ""), l(5, 8, "rw-p", "")]);
    assert_eq!(s.status(1).vm_data_kb, 12);
    // starting in the hole: ENOMEM, no change
    assert_eq!(
        s.err(&format!("mprotect pid=1 addr={:#x} len=16K prot=---", c(4))),
        Errno::ENOMEM
    );
    assert_eq!(s.layout(1), vec![l(0, 4, "r--p", ""), l(5, 8, "rw-p", "")]);
    // §9.1: the unfaulted RW→RO VMA lost VM_ACCOUNT.
    assert_eq!(s.smaps_field(1, c(0), "VmFlags"), "rd mr mw me");
}

/// §9.1: a faulted RW→RO VMA keeps VM_ACCOUNT and so does not merge with a fresh RO neighbour;
/// an unfaulted one drops it and merges.
#[test]
fn mprotect_account_flag_and_merge() {
    let mut s = bare(1);
    // c0    c2    c4   |   c10   c12   c14
    // | rw f| r-- |    |   | rw  | r-- |
    anon(&mut s, 1, 0, 2);
    touch(&mut s, 1, 0, 1, "write");
    mmap(&mut s, 1, 2, 2, "r--", "private,anonymous");
    anon(&mut s, 1, 10, 2);
    mmap(&mut s, 1, 12, 2, "r--", "private,anonymous");
    s.ok(&format!("mprotect pid=1 addr={:#x} len=8K prot=r--", c(0)));
    s.ok(&format!("mprotect pid=1 addr={:#x} len=8K prot=r--", c(10)));
    assert_eq!(
        s.layout(1),
        vec![
            l(0, 2, "r--p", ""),
            l(2, 4, "r--p", ""),
            l(10, 14, "r--p", "")
        ]
    );
    assert_eq!(s.smaps_field(1, c(0), "VmFlags"), "rd mr mw me ac");
    assert_eq!(s.smaps_field(1, c(10), "VmFlags"), "rd mr mw me");
}

/// §9.4: MADV_DONTNEED zaps every mapped piece, skips holes and returns ENOMEM; it does not
/// split, merge, rename or drop the anon_vma; anon data reads back as the zero page; shmem
/// pages stay in the cache and come back.
#[test]
fn madvise_dontneed_over_holes() {
    let mut s = bare(1);
    // c0     c2   c3         c5   c6     c8
    // | A w  |hole| B w [b]  |hole| shm w |
    anon(&mut s, 1, 0, 2);
    anon(&mut s, 1, 3, 2);
    mmap(&mut s, 1, 6, 2, "rw-", "shared,anonymous");
    s.ok(&format!("name pid=1 addr={:#x} len=8K name=\"b\"", c(3)));
    touch(&mut s, 1, 0, 2, "write");
    touch(&mut s, 1, 3, 2, "write");
    touch(&mut s, 1, 6, 2, "write");
    let av = s.mapping(1, c(0));
    let shm_pfn = s.pfn(1, c(6));
    let before = s.layout(1);
    assert_eq!(dontneed(&mut s, 1, 0, 8), Err(Errno::ENOMEM));
    assert_eq!(s.layout(1), before);
    assert_eq!(s.status(1).vm_rss_kb, 0);
    for p in [0, 1, 3, 4, 6, 7] {
        assert_eq!(s.pagemap(1, c(p)), 0, "page {p} zapped");
    }
    // read: anon → zero page (present, pfn of the zero page, no other bit); shmem → same page
    touch(&mut s, 1, 0, 1, "read");
    assert_eq!(s.pagemap(1, c(0)), pm::PRESENT);
    touch(&mut s, 1, 6, 1, "read");
    assert_eq!(s.pfn(1, c(6)), shm_pfn);
    // write: a fresh page from the same anon_vma
    touch(&mut s, 1, 1, 1, "write");
    assert_eq!(s.mapping(1, c(1)), av);
    assert_eq!(s.names(), vec![("b".to_string(), 1, 1)]);
}

// ---------------------------------------------------------------------------------------------
// §5 pagemap
// ---------------------------------------------------------------------------------------------

/// §5 rules and HOST vectors: absent 0; never faulted 0; zero page bit 63 only; written anon
/// 63+56; after fork 56 cleared in both; parent COW → new page 63+56; shmem and private file
/// mapped once 63+61+56; after DONTNEED 0.
#[test]
fn pagemap_entries() {
    let mut s = bare(1);
    s.ok("file path=/data/f size=4096");
    // c0    c2     c4   c5
    // | anon | shm | file|
    anon(&mut s, 1, 0, 2);
    mmap(&mut s, 1, 2, 2, "rw-", "shared,anonymous");
    s.ok(&format!(
        "mmap pid=1 addr={:#x} len=4K prot=r-- flags=private,fixed file=/data/f",
        c(4)
    ));
    let flags = |e: u64| e & !pm::PFN_MASK;
    assert_eq!(s.pagemap(1, c(100)), 0); // no VMA
    assert_eq!(s.pagemap(1, c(0)), 0); // never faulted
    touch(&mut s, 1, 1, 1, "read");
    assert_eq!(flags(s.pagemap(1, c(1))), pm::PRESENT); // zero page
    touch(&mut s, 1, 0, 1, "write");
    let e = s.pagemap(1, c(0));
    assert_eq!(flags(e), pm::PRESENT | pm::EXCLUSIVE);
    let pfn = e & pm::PFN_MASK;
    assert_ne!(pfn, 0);
    touch(&mut s, 1, 2, 1, "write");
    assert_eq!(
        flags(s.pagemap(1, c(2))),
        pm::PRESENT | pm::FILE_SHARED | pm::EXCLUSIVE
    );
    touch(&mut s, 1, 4, 1, "read");
    assert_eq!(
        flags(s.pagemap(1, c(4))),
        pm::PRESENT | pm::FILE_SHARED | pm::EXCLUSIVE
    );
    s.ok("fork pid=1 child=2");
    assert_eq!(s.pagemap(1, c(0)), pm::PRESENT | pfn);
    assert_eq!(s.pagemap(2, c(0)), pm::PRESENT | pfn);
    // the child's shmem and file PTEs are not copied (§9.6)
    assert_eq!(s.pagemap(2, c(2)), 0);
    assert_eq!(s.pagemap(2, c(4)), 0);
    touch(&mut s, 1, 0, 1, "write");
    let e = s.pagemap(1, c(0));
    assert_eq!(flags(e), pm::PRESENT | pm::EXCLUSIVE);
    assert_ne!(e & pm::PFN_MASK, pfn);
    // the child is now the only mapper of the old page (mapcount 1)
    assert_eq!(s.pagemap(2, c(0)), pm::PRESENT | pm::EXCLUSIVE | pfn);
    assert_eq!(dontneed(&mut s, 1, 0, 5), Ok(()));
    for p in 0..5 {
        assert_eq!(s.pagemap(1, c(p)), 0);
    }
}

// ---------------------------------------------------------------------------------------------
// §6.4 / §6.6 rmap over fork chains
// ---------------------------------------------------------------------------------------------

/// Parent → child → grandchild. The walk of a page visits the page's own anon_vma only, and in
/// it only the VMAs linked there: the parent's anon_vma links all three VMAs; a COW copy made
/// in the child lives in the child's anon_vma (child + grandchild VMAs); one made in the
/// grandchild lives in its own (one VMA).
#[test]
fn rmap_fork_chain_visits() {
    let mut s = bare(1);
    // c0                 c4
    // | w |    rw-         |     in 1, then fork 1→2, fork 2→3
    anon(&mut s, 1, 0, 4);
    touch(&mut s, 1, 0, 1, "write");
    let orig = s.pfn(1, c(0));
    s.ok("fork pid=1 child=2");
    s.ok("fork pid=2 child=3");
    let pids = |r: &anonmap_fusefs::view::RmapView| -> Vec<u32> {
        r.mappers.iter().map(|m| m.pid).collect()
    };
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
        s.ok(&format!(
            "mmap pid={pid} addr={:#x} len=16K prot=r-- flags=private,fixed file=/data/f",
            c(0)
        ));
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
    assert_eq!(
        r.mappers
            .iter()
            .map(|m| (m.pid, m.vaddr))
            .collect::<Vec<_>>(),
        vec![(1, c(0)), (2, c(0))]
    );
}

// ---------------------------------------------------------------------------------------------
// §4.4 status
// ---------------------------------------------------------------------------------------------

/// §4.4: VmSize/VmData/VmLib/VmRSS/RssAnon/RssFile/RssShmem/VmHWM/VmPeak through a few ops,
/// and one rendered line's format.
#[test]
fn status_counters() {
    let mut s = bare(1);
    s.ok("file path=/data/f size=16K");
    // c0               c16   c20   c24   c28
    // |   rw- anon      | r-x | shm | file|
    anon(&mut s, 1, 0, 16);
    let st = s.status(1);
    assert_eq!((st.vm_size_kb, st.vm_data_kb, st.vm_peak_kb), (64, 64, 64));
    mmap(&mut s, 1, 16, 4, "r-x", "private,anonymous");
    mmap(&mut s, 1, 20, 4, "rw-", "shared,anonymous");
    s.ok(&format!(
        "mmap pid=1 addr={:#x} len=16K prot=r-- flags=private,fixed file=/data/f",
        c(24)
    ));
    let st = s.status(1);
    // exec: VM_EXEC without VM_WRITE → exec_vm (all "lib": no exe image is modelled);
    // shared and read-only mappings are not data.
    assert_eq!(
        (
            st.vm_size_kb,
            st.vm_data_kb,
            st.vm_lib_kb,
            st.vm_exe_kb,
            st.vm_stk_kb
        ),
        (112, 64, 16, 0, 0)
    );
    touch(&mut s, 1, 0, 8, "write");
    touch(&mut s, 1, 20, 4, "write");
    touch(&mut s, 1, 24, 4, "read");
    let st = s.status(1);
    assert_eq!(
        (
            st.vm_rss_kb,
            st.rss_anon_kb,
            st.rss_shmem_kb,
            st.rss_file_kb
        ),
        (64, 32, 16, 16)
    );
    assert_eq!(st.vm_hwm_kb, 64);
    // munmap 4 written anon pages: RSS and size drop, the high-water marks keep the peak
    s.ok(&format!("munmap pid=1 addr={:#x} len=16K", c(0)));
    let st = s.status(1);
    assert_eq!((st.vm_rss_kb, st.rss_anon_kb, st.vm_hwm_kb), (48, 16, 64));
    assert_eq!((st.vm_size_kb, st.vm_peak_kb, st.vm_data_kb), (96, 112, 48));
    // mprotect the rest of the data region read-only: it leaves data_vm
    s.ok(&format!("mprotect pid=1 addr={:#x} len=48K prot=r--", c(4)));
    assert_eq!(s.status(1).vm_data_kb, 0);
    // statm: size resident shared text lib data (pages)
    let st = s.status(1);
    assert_eq!(
        (
            st.statm_size,
            st.statm_resident,
            st.statm_shared,
            st.statm_data
        ),
        (24, 12, 8, 0)
    );
    let mut out = Vec::new();
    render_status(&st, &mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("VmRSS:\t      48 kB\n"), "{text}");
    assert!(text.contains("RssAnon:\t      16 kB\n"), "{text}");
}

/// §4.4 for a spawned (non-bare) process: the 132 KiB stack counts in VmStk, its written top
/// page in RssAnon.
#[test]
fn status_of_a_fresh_process() {
    let mut s = Sim::new();
    s.ok("spawn pid=1");
    let st = s.status(1);
    assert_eq!(
        (
            st.vm_size_kb,
            st.vm_stk_kb,
            st.vm_data_kb,
            st.vm_rss_kb,
            st.rss_anon_kb
        ),
        (132, 132, 0, 4, 4)
    );
    assert_eq!(st.statm_data, 33);
}

/// §4.4 / §9.4: hiwater_rss is refreshed just before RSS goes down, MADV_DONTNEED's zap
/// included: the peak survives the zap.
#[test]
fn status_hiwater_survives_dontneed() {
    let mut s = bare(1);
    // c0              c8
    // | w w w w w w w w |   then DONTNEED all
    anon(&mut s, 1, 0, 8);
    touch(&mut s, 1, 0, 8, "write");
    assert_eq!(dontneed(&mut s, 1, 0, 8), Ok(()));
    let st = s.status(1);
    assert_eq!((st.vm_rss_kb, st.vm_hwm_kb), (0, 32));
    // a lower second peak does not replace it
    touch(&mut s, 1, 0, 2, "write");
    assert_eq!(dontneed(&mut s, 1, 0, 8), Ok(()));
    assert_eq!(s.status(1).vm_hwm_kb, 32);
}

/// §4.4 / kernel/fork.c `dup_mm`: a forked child starts its high-water marks at its own RSS and
/// total_vm after the copy, not at the parent's peaks.
#[test]
fn status_hiwater_of_a_forked_child() {
    let mut s = bare(1);
    // c0                      c16
    // | w w w w w w w w |       |    then munmap [c2, c16)
    anon(&mut s, 1, 0, 16);
    touch(&mut s, 1, 0, 8, "write");
    s.ok(&format!("munmap pid=1 addr={:#x} len={}", c(2), 14 * P));
    let st = s.status(1);
    assert_eq!(
        (st.vm_rss_kb, st.vm_hwm_kb, st.vm_size_kb, st.vm_peak_kb),
        (8, 32, 8, 64)
    );
    // c0   c2
    // | w w |   fork
    s.ok("fork pid=1 child=2");
    let st = s.status(2);
    assert_eq!(
        (st.vm_rss_kb, st.vm_hwm_kb, st.vm_size_kb, st.vm_peak_kb),
        (8, 8, 8, 8)
    );
    // The child's own peak is then tracked from there.
    anon(&mut s, 2, 2, 2);
    touch(&mut s, 2, 2, 2, "write");
    s.ok(&format!("munmap pid=2 addr={:#x} len={}", c(0), 4 * P));
    let st = s.status(2);
    assert_eq!(
        (st.vm_rss_kb, st.vm_hwm_kb, st.vm_size_kb, st.vm_peak_kb),
        (0, 16, 0, 16)
    );
}

/// §9.1: mprotect that makes a private mapping writable adds VM_ACCOUNT; WIPEONFORK is for
/// private anonymous memory only (§9.4, EINVAL on shared anonymous).
#[test]
fn mprotect_write_adds_account_and_wipeonfork_rules() {
    let mut s = bare(1);
    // c0    c2     c4
    // | r-- | shm  |
    mmap(&mut s, 1, 0, 2, "r--", "private,anonymous");
    mmap(&mut s, 1, 2, 2, "rw-", "shared,anonymous");
    assert_eq!(s.smaps_field(1, c(0), "VmFlags"), "rd mr mw me");
    assert_eq!(s.smaps_field(1, c(2), "VmFlags"), "rd wr sh mr mw me ms");
    s.ok(&format!("mprotect pid=1 addr={:#x} len=8K prot=rw-", c(0)));
    assert_eq!(s.smaps_field(1, c(0), "VmFlags"), "rd wr mr mw me ac");
    assert_eq!(s.status(1).vm_data_kb, 8);
    assert_eq!(
        s.err(&format!(
            "madvise pid=1 addr={:#x} len=8K advice=wipeonfork",
            c(2)
        )),
        Errno::EINVAL
    );
}

/// §6.7: shrinking with mremap unmaps the tail in place.
#[test]
fn mremap_shrink_unmaps_tail() {
    let mut s = bare(1);
    // c0              c8           →   c0      c3
    // | w w w w w w w w |              | w w w |
    anon(&mut s, 1, 0, 8);
    touch(&mut s, 1, 0, 8, "write");
    let got = s.ok(&format!(
        "mremap pid=1 addr={:#x} old_len=32K new_len=12K",
        c(0)
    ));
    assert_eq!(got, c(0));
    assert_eq!(s.layout(1), vec![l(0, 3, "rw-p", "")]);
    let st = s.status(1);
    assert_eq!(
        (st.vm_rss_kb, st.vm_hwm_kb, st.vm_size_kb, st.vm_peak_kb),
        (12, 32, 12, 32)
    );
}

/// §6.3: the first anon page of a VMA reuses an adjacent compatible (flags equal but for
/// r/w/x, linear pgoff), never-forked neighbour's anon_vma; the two then merge once their
/// protections match. In a fork child the neighbour's chain is not singular: a new anon_vma.
#[test]
fn anon_vma_reused_from_compatible_neighbour() {
    let mut s = bare(1);
    // c0        c2        c4
    // | rw- w   | rwx     |
    anon(&mut s, 1, 0, 2);
    touch(&mut s, 1, 0, 1, "write");
    mmap(&mut s, 1, 2, 2, "rwx", "private,anonymous");
    touch(&mut s, 1, 2, 1, "write");
    assert_eq!(s.mapping(1, c(2)), s.mapping(1, c(0)));
    // | rw-               |   same anon_vma: merged
    s.ok(&format!("mprotect pid=1 addr={:#x} len=8K prot=rw-", c(2)));
    assert_eq!(s.layout(1), vec![l(0, 4, "rw-p", "")]);

    // In a fork child: A inherited (chain of 2), B new: B gets its own anon_vma.
    let mut s = bare(1);
    anon(&mut s, 1, 0, 2);
    touch(&mut s, 1, 0, 1, "write");
    s.ok("fork pid=1 child=2");
    touch(&mut s, 2, 1, 1, "write");
    mmap(&mut s, 2, 2, 2, "rwx", "private,anonymous");
    touch(&mut s, 2, 2, 1, "write");
    assert_ne!(s.mapping(2, c(2)), s.mapping(2, c(1)));
    s.ok(&format!("mprotect pid=2 addr={:#x} len=8K prot=rw-", c(2)));
    assert_eq!(s.layout(2), vec![l(0, 2, "rw-p", ""), l(2, 4, "rw-p", "")]);
}

/// §4.3: the smaps_rollup header spans the first VMA's start to the last VMA's end, `---p`,
/// padded like a named line, then `[rollup]`; Pss_Anon/Pss_File/Pss_Shmem split the PSS.
#[test]
fn smaps_rollup_header_and_pss_split() {
    let mut s = bare(1);
    s.ok("file path=/data/f size=8K");
    // c0    c2    c4         c10  c12
    // |anon | shm |          |file|
    anon(&mut s, 1, 0, 2);
    mmap(&mut s, 1, 2, 2, "rw-", "shared,anonymous");
    s.ok(&format!(
        "mmap pid=1 addr={:#x} len=8K prot=r-- flags=private,fixed file=/data/f",
        c(10)
    ));
    touch(&mut s, 1, 0, 4, "write");
    touch(&mut s, 1, 10, 2, "read");
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
