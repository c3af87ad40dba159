//! The kernel's tools/testing/selftests/mm/mlock2-tests.c and mlock-random-test.c (Linux
//! 6.18), as vectors run against the simulator.
//!
//! How the selftests' readings map here:
//!
//! - "the VMA is locked" (`is_vmflag_set(addr, "lo")`): the smaps `VmFlags:` of the VMA has
//!   `lo` (VM_LOCKED). Where the selftest means lock-on-fault we also require `lf`
//!   (VM_LOCKONFAULT), which the 6.18 selftest does not read but the kernel sets.
//! - "every page is in" (`lock_check`: `Rss:` == `Size:`) and "only some pages are in"
//!   (`is_vma_lock_on_fault`: `Rss:` < `Size:`): the same smaps fields, read the same way. The
//!   6.18 selftest no longer reads pagemap or kpageflags (KPF_MLOCKED / KPF_UNEVICTABLE); as a
//!   check beyond it, each page's pagemap PM_PRESENT bit stands for "the page is in", and smaps
//!   `Locked:` (the Pss of present pages of a VM_LOCKED VMA) standing equal to `Rss:` stands
//!   for "the present pages are mlocked".
//! - `VmLck:` of /proc/self/status (mlock-random-test's `get_proc_locked_vm_size`): the status
//!   view's `vm_lck_kb`.
//!
//! The selftests' cases and where they are:
//!
//! | selftest case | test here |
//! |---|---|
//! | mlock2-tests `main`'s probe: mlock2(MLOCK_ONFAULT) of 3 pages, ENOSYS skips all | [`probe_mlock2_onfault`] |
//! | `test_mlock_lock` (2 results: Locked, Unlocked) | [`test_mlock_lock`] |
//! | `test_mlock_onfault` (2 results) | [`test_mlock_onfault`] |
//! | `test_munlockall0` (2 results) | [`test_munlockall0`] |
//! | `test_munlockall1` (4 results) | [`test_munlockall1`] |
//! | `test_lock_onfault_of_present` (1 result) | [`test_lock_onfault_of_present`] |
//! | `test_vma_management(true)` (1 result) | [`test_vma_management_mlock`] |
//! | `test_mlockall` = mlockall(CURRENT\|ONFAULT\|FUTURE) + `test_vma_management(false)` (1 result) | [`test_mlockall`] |
//! | mlock-random-test `test_mlock_within_limit` | [`random_within_limit`] |
//! | mlock-random-test `test_mlock_outof_limit` | [`random_outof_limit`] |
//! | mlock-random-test `main` (both, in one process, munlock + free between) | [`random_main`] |
//! | (not in the selftests) mlockall(MCL_ONFAULT) alone is EINVAL (mm/mlock.c) | [`mlockall_onfault_alone_is_einval`] |
//!
//! Left out or adapted:
//!
//! - Nothing of mlock2-tests.c is left out: all 13 results of its plan are checked.
//! - mlock-random-test's `set_cap_limits(256 KiB)` (setrlimit + dropping CAP_IPC_LOCK): the
//!   simulator has no setrlimit; a process owned by a non-root uid has no CAP_IPC_LOCK and the
//!   fixed default RLIMIT_MEMLOCK of 8 MiB. So CHUNK_UNIT is scaled from 128 KiB to 4 MiB,
//!   keeping the selftest's ratios (limit = 2 chunks, within = 1 chunk, out of limit = 3).
//! - `malloc()` is modelled as glibc serves these sizes (at or above M_MMAP_THRESHOLD): an
//!   anonymous mmap one page larger, the pointer 16 bytes past its start, so the locked ranges
//!   are unaligned as in the selftest (hence its "+ page_size" slack on VmLck).
//! - `srand(time(NULL))` / `rand()`: a fixed-seed xorshift, so the run is reproducible; the
//!   draws are used with the selftest's exact formulas.
//! - `get_proc_page_size` (smaps `MMUPageSize:`): always 4 KiB here (no THP, no hugetlb).
//! - No case needs kpageflags, THP or signals.

use anonmap_abi::pagemap::PM_PRESENT;
use anonmap_abi::Errno;
use anonmap_testkit::sim::{line, Sim, P};

use crate::common::bare;

/// A number of kB from an smaps line value such as `"8 kB"`.
fn smaps_kb(s: &Sim, pid: u32, addr: u64, field: &str) -> u64 {
    let v = s.smaps_field(pid, addr, field);
    let n = v
        .strip_suffix(" kB")
        .unwrap_or_else(|| panic!("{field}: {v:?} is not in kB"));
    n.trim().parse().unwrap()
}

/// The mnemonics of the `VmFlags:` line of the VMA at `addr`.
fn vm_flags(s: &Sim, pid: u32, addr: u64) -> Vec<String> {
    s.smaps_field(pid, addr, "VmFlags")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// `is_vmflag_set(addr, flag)`.
fn is_vmflag_set(s: &Sim, pid: u32, addr: u64, flag: &str) -> bool {
    vm_flags(s, pid, addr).iter().any(|f| f == flag)
}

/// The page at `addr` is present (pagemap PM_PRESENT).
fn present(s: &Sim, pid: u32, addr: u64) -> bool {
    s.pagemap(pid, addr) & PM_PRESENT != 0
}

/// The selftest's `lock_check`: `lo` set and `Rss:` == `Size:`. Beyond it: not lock-on-fault
/// (`lf` clear), `Locked:` == `Size:`, every page of `[map, map + pages)` present.
#[track_caller]
fn assert_lock_check(s: &Sim, pid: u32, map: u64, pages: u64) {
    assert!(is_vmflag_set(s, pid, map, "lo"), "lock_check: no lo");
    let size = smaps_kb(s, pid, map, "Size");
    assert_eq!(
        smaps_kb(s, pid, map, "Rss"),
        size,
        "lock_check: Rss != Size"
    );
    assert!(!is_vmflag_set(s, pid, map, "lf"), "mlock'd VMA has lf");
    assert_eq!(smaps_kb(s, pid, map, "Locked"), size, "Locked != Size");
    for i in 0..pages {
        assert!(present(s, pid, map + i * P), "page {i} not present");
    }
}

/// The selftest's `unlock_lock_check`: `lo` clear. Beyond it: `lf` clear and `Locked:` 0.
#[track_caller]
fn assert_unlock_lock_check(s: &Sim, pid: u32, map: u64) {
    assert!(
        !is_vmflag_set(s, pid, map, "lo"),
        "VMA flag lo is present on page 1 after unlock"
    );
    assert!(!is_vmflag_set(s, pid, map, "lf"), "lf after unlock");
    assert_eq!(smaps_kb(s, pid, map, "Locked"), 0, "Locked after unlock");
}

/// The selftest's `is_vma_lock_on_fault`: `lo` set and `Rss:` < `Size:`.
fn is_vma_lock_on_fault(s: &Sim, pid: u32, addr: u64) -> bool {
    is_vmflag_set(s, pid, addr, "lo")
        && smaps_kb(s, pid, addr, "Rss") < smaps_kb(s, pid, addr, "Size")
}

/// Beyond the selftest, for a lock-on-fault VMA holding `addr`: `lf` set, and `Locked:` equal
/// to `Rss:` (the faulted-in pages are locked).
#[track_caller]
fn assert_onfault_flags(s: &Sim, pid: u32, addr: u64) {
    assert!(
        is_vmflag_set(s, pid, addr, "lf"),
        "lock-on-fault VMA has no lf"
    );
    assert_eq!(
        smaps_kb(s, pid, addr, "Locked"),
        smaps_kb(s, pid, addr, "Rss"),
        "faulted-in pages of a lock-on-fault VMA are not all Locked"
    );
}

/// The selftest's `onfault_check`: `*map = 'a'`, then the VMA must be lock-on-fault. Beyond
/// it: exactly the written page is present (4 kB Rss and Locked), `lf` set.
#[track_caller]
fn assert_onfault_check(s: &mut Sim, pid: u32, map: u64) {
    s.ok(&format!("touch pid={pid} addr={map:#x} len=1 access=write"));
    assert!(
        is_vma_lock_on_fault(s, pid, map),
        "VMA is not marked for lock on fault"
    );
    assert_onfault_flags(s, pid, map);
    assert_eq!(smaps_kb(s, pid, map, "Rss"), 4);
    assert!(present(s, pid, map));
    assert!(!present(s, pid, map + P));
}

/// The selftest's `unlock_onfault_check`: neither page is lock-on-fault.
#[track_caller]
fn assert_unlock_onfault_check(s: &Sim, pid: u32, map: u64) {
    assert!(
        !is_vma_lock_on_fault(s, pid, map) && !is_vma_lock_on_fault(s, pid, map + P),
        "VMA is still lock on fault after unlock"
    );
    assert_unlock_lock_check(s, pid, map);
}

/// `mmap(NULL, pages * page_size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE)`.
fn map_anon(s: &mut Sim, pid: u32, pages: u64) -> u64 {
    s.ok(&format!(
        "mmap pid={pid} len={} prot=rw- flags=private,anonymous",
        pages * P
    ))
}

/// mlock2-tests `main`'s probe: mlock2(map, 3 pages, MLOCK_ONFAULT) must not be ENOSYS (else
/// the selftest skips everything); it succeeds and the region is then unmapped.
#[test]
fn probe_mlock2_onfault() {
    let mut s = bare();
    let map = map_anon(&mut s, 1, 3);
    s.ok(&format!(
        "mlock pid=1 addr={map:#x} len={} flags=onfault",
        3 * P
    ));
    assert!(is_vmflag_set(&s, 1, map, "lo"));
    assert_eq!(s.status(1).vm_lck_kb, 12);
    s.ok(&format!("munmap pid=1 addr={map:#x} len={}", 3 * P));
    assert_eq!(s.status(1).vm_lck_kb, 0);
}

/// mlock2-tests `test_mlock_lock`: mlock2(map, 2 pages, 0) locks and populates the VMA
/// (`lock_check`), munlock clears `lo` (`unlock_lock_check`). VmLck follows (beyond it).
#[test]
fn test_mlock_lock() {
    let mut s = bare();
    let map = map_anon(&mut s, 1, 2);
    s.ok(&format!("mlock pid=1 addr={map:#x} len={}", 2 * P));
    // "test_mlock_lock: Locked"
    assert_lock_check(&s, 1, map, 2);
    assert_eq!(s.status(1).vm_lck_kb, 8);
    s.ok(&format!("munlock pid=1 addr={map:#x} len={}", 2 * P));
    // "test_mlock_lock: Unlocked"
    assert_unlock_lock_check(&s, 1, map);
    assert_eq!(s.status(1).vm_lck_kb, 0);
    // munlock leaves the pages where they are.
    assert_eq!(smaps_kb(&s, 1, map, "Rss"), 8);
}

/// mlock2-tests `test_mlock_onfault`: mlock2(map, 2 pages, MLOCK_ONFAULT) populates nothing;
/// writing the first page faults only it in, and the VMA is lock-on-fault (`onfault_check`);
/// after munlock neither page is (`unlock_onfault_check`).
#[test]
fn test_mlock_onfault() {
    let mut s = bare();
    let map = map_anon(&mut s, 1, 2);
    s.ok(&format!(
        "mlock pid=1 addr={map:#x} len={} flags=onfault",
        2 * P
    ));
    // Beyond the selftest: MLOCK_ONFAULT faults nothing in itself, yet counts in VmLck.
    assert_eq!(smaps_kb(&s, 1, map, "Rss"), 0);
    assert_eq!(s.status(1).vm_lck_kb, 8);
    // "test_mlock_onfault: VMA marked for lock on fault"
    assert_onfault_check(&mut s, 1, map);
    s.ok(&format!("munlock pid=1 addr={map:#x} len={}", 2 * P));
    // "VMA open lock after fault"
    assert_unlock_onfault_check(&s, 1, map);
    assert_eq!(s.status(1).vm_lck_kb, 0);
}

/// mlock2-tests `test_munlockall0`: mlockall(MCL_CURRENT) locks and populates the mapping
/// (`lock_check`); munlockall unlocks it (`unlock_lock_check`). In a process with the default
/// layout, as the selftest's process has other mappings.
#[test]
fn test_munlockall0() {
    let mut s = Sim::new();
    s.ok("spawn pid=1");
    let map = map_anon(&mut s, 1, 2);
    s.ok("mlockall pid=1 flags=current");
    // "test_munlockall0: Locked memory area"
    assert_lock_check(&s, 1, map, 2);
    s.ok("munlockall pid=1");
    // "test_munlockall0: No locked memory"
    assert_unlock_lock_check(&s, 1, map);
    assert_eq!(s.status(1).vm_lck_kb, 0);
}

/// mlock2-tests `test_munlockall1`: mlockall(MCL_CURRENT | MCL_ONFAULT) makes the mapping
/// lock-on-fault (`onfault_check` after writing the first page); munlockall undoes it
/// (`unlock_onfault_check`); mlockall(MCL_CURRENT | MCL_FUTURE) then locks and populates both
/// pages (`lock_check`); munlockall again (`unlock_lock_check`).
#[test]
fn test_munlockall1() {
    let mut s = Sim::new();
    s.ok("spawn pid=1");
    let map = map_anon(&mut s, 1, 2);
    s.ok("mlockall pid=1 flags=current,onfault");
    // Beyond the selftest: MCL_ONFAULT populates nothing.
    assert_eq!(smaps_kb(&s, 1, map, "Rss"), 0);
    // "test_munlockall1: VMA marked for lock on fault"
    assert_onfault_check(&mut s, 1, map);
    s.ok("munlockall pid=1");
    // "test_munlockall1: Unlocked"
    assert_unlock_onfault_check(&s, 1, map);
    s.ok("mlockall pid=1 flags=current,future");
    // "test_munlockall1: Locked"
    assert_lock_check(&s, 1, map, 2);
    s.ok("munlockall pid=1");
    // "test_munlockall1: No locked memory"
    assert_unlock_lock_check(&s, 1, map);
    assert_eq!(s.status(1).vm_lck_kb, 0);
    // Beyond the selftest: munlockall cleared MCL_FUTURE, so a new mapping is not locked.
    let next = map_anon(&mut s, 1, 1);
    assert!(!is_vmflag_set(&s, 1, next, "lo"));
}

/// mlock2-tests `test_lock_onfault_of_present`: the first page is written, then
/// mlock2(map, 2 pages, MLOCK_ONFAULT): the VMA is lock-on-fault (the present page counts,
/// the second is not faulted in), so `Rss:` < `Size:` with `lo` at map or map + page.
#[test]
fn test_lock_onfault_of_present() {
    let mut s = bare();
    let map = map_anon(&mut s, 1, 2);
    s.ok(&format!("touch pid=1 addr={map:#x} len=1 access=write"));
    s.ok(&format!(
        "mlock pid=1 addr={map:#x} len={} flags=onfault",
        2 * P
    ));
    // "VMA with present pages is not marked lock on fault"
    assert!(is_vma_lock_on_fault(&s, 1, map) || is_vma_lock_on_fault(&s, 1, map + P));
    // Beyond it: the page present before the lock is locked too.
    assert_onfault_flags(&s, 1, map);
    assert_eq!(smaps_kb(&s, 1, map, "Locked"), 4);
    assert!(present(&s, 1, map));
    assert!(!present(&s, 1, map + P));
}

/// The body of mlock2-tests `test_vma_management`, from just after the optional mlock2: the
/// three pages are one VMA; munlock of the middle page splits it into three; munlock of all
/// three merges them back into one. Beyond the selftest: the flags of each part and VmLck,
/// `others` kB being what the process's other mappings have locked.
#[track_caller]
fn vma_management(s: &mut Sim, map: u64, others: u64) {
    let area = |s: &Sim, i: u64| s.vma(1, map + i * P).expect("mapped");
    // "VMAs are not merged to start, aborting test"
    assert!(area(s, 0) == area(s, 1) && area(s, 1) == area(s, 2));
    assert!(is_vmflag_set(s, 1, map, "lo") && is_vmflag_set(s, 1, map, "lf"));
    s.ok(&format!("munlock pid=1 addr={:#x} len={P}", map + P));
    // "failed to split VMA for munlock"
    assert!(area(s, 0) != area(s, 1) && area(s, 1) != area(s, 2));
    assert_eq!(
        s.layout_in(1, map, map + 3 * P),
        vec![
            line(map, map + P, "rw-p", ""),
            line(map + P, map + 2 * P, "rw-p", ""),
            line(map + 2 * P, map + 3 * P, "rw-p", ""),
        ]
    );
    assert!(is_vmflag_set(s, 1, map, "lo") && is_vmflag_set(s, 1, map + 2 * P, "lo"));
    assert!(!is_vmflag_set(s, 1, map + P, "lo"));
    assert_eq!(s.status(1).vm_lck_kb, others + 8);
    s.ok(&format!("munlock pid=1 addr={map:#x} len={}", 3 * P));
    // "failed to merge VMAs after munlock"
    assert!(area(s, 0) == area(s, 1) && area(s, 1) == area(s, 2));
    assert_eq!(
        s.layout_in(1, map, map + 3 * P),
        vec![line(map, map + 3 * P, "rw-p", "")]
    );
    assert!(!is_vmflag_set(s, 1, map, "lo"));
    assert_eq!(s.status(1).vm_lck_kb, others);
    // Locked on fault and nothing touched: no page was ever faulted in.
    assert_eq!(smaps_kb(s, 1, map, "Rss"), 0);
}

/// mlock2-tests `test_vma_management(true)`: 3 pages, mlock2(MLOCK_ONFAULT) of all, then the
/// split on munlock of the middle page and the merge on munlock of all.
#[test]
fn test_vma_management_mlock() {
    let mut s = bare();
    let map = map_anon(&mut s, 1, 3);
    s.ok(&format!(
        "mlock pid=1 addr={map:#x} len={} flags=onfault",
        3 * P
    ));
    vma_management(&mut s, map, 0);
}

/// mlock2-tests `test_mlockall`: mlockall(MCL_CURRENT | MCL_ONFAULT | MCL_FUTURE), then
/// `test_vma_management(false)`: the new 3-page mapping is locked on fault by MCL_FUTURE alone
/// (the split and merge need it locked), then munlockall.
#[test]
fn test_mlockall() {
    let mut s = Sim::new();
    s.ok("spawn pid=1");
    s.ok("mlockall pid=1 flags=current,future,onfault");
    let map = map_anon(&mut s, 1, 3);
    // Beyond the selftest: the locked-on-fault new mapping is not populated.
    assert_eq!(smaps_kb(&s, 1, map, "Rss"), 0);
    let before = s.status(1).vm_lck_kb;
    assert!(before >= 12, "VmLck {before} kB lacks the new mapping");
    vma_management(&mut s, map, before - 12);
    s.ok("munlockall pid=1");
    assert_eq!(s.status(1).vm_lck_kb, 0);
}

/// Not in the selftests (mm/mlock.c's `mlockall` flag check): MCL_ONFAULT alone is EINVAL and
/// changes nothing; with MCL_CURRENT it is accepted.
#[test]
fn mlockall_onfault_alone_is_einval() {
    let mut s = bare();
    let map = map_anon(&mut s, 1, 2);
    assert_eq!(s.err("mlockall pid=1 flags=onfault"), Errno::EINVAL);
    assert!(!is_vmflag_set(&s, 1, map, "lo"));
    let next = map_anon(&mut s, 1, 1);
    assert!(!is_vmflag_set(&s, 1, next, "lo"), "EINVAL set MCL_FUTURE");
    s.ok("mlockall pid=1 flags=current,onfault");
    assert!(is_vmflag_set(&s, 1, map, "lo"));
}

// ---- mlock-random-test.c ----

/// CHUNK_UNIT, scaled from 128 KiB so that MLOCK_RLIMIT_SIZE is the simulator's fixed 8 MiB.
const CHUNK_UNIT: u64 = 4 << 20;
/// MLOCK_RLIMIT_SIZE: RLIMIT_MEMLOCK of a non-root owner.
const MLOCK_RLIMIT_SIZE: u64 = CHUNK_UNIT * 2;
const MLOCK_WITHIN_LIMIT_SIZE: u64 = CHUNK_UNIT;
const MLOCK_OUTOF_LIMIT_SIZE: u64 = CHUNK_UNIT * 3;
const TEST_LOOP: usize = 100;
/// glibc's offset of an mmapped chunk's user pointer from the mapping's start (2 * SIZE_SZ).
const MALLOC_HEADER: u64 = 16;

/// `rand()` stand-in: xorshift64 with a fixed seed, 31-bit results as `rand()` gives.
struct Rand(u64);

impl Rand {
    fn new() -> Rand {
        Rand(0x9e37_79b9_7f4a_7c15)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x >> 33
    }
}

/// A process owned by uid 1000: no CAP_IPC_LOCK, RLIMIT_MEMLOCK = MLOCK_RLIMIT_SIZE
/// (the selftest's `set_cap_limits`).
fn capless() -> Sim {
    let mut s = Sim::new();
    s.ok("spawn pid=1 uid=1000 bare");
    s
}

/// `malloc(size)` for sizes glibc serves by mmap: a private anonymous mapping of the chunk
/// (header included, rounded to pages); returns the user pointer, MALLOC_HEADER past its start.
fn malloc(s: &mut Sim, size: u64) -> u64 {
    let len = (size + MALLOC_HEADER).div_ceil(P) * P;
    let base = s.ok(&format!(
        "mmap pid=1 len={len} prot=rw- flags=private,anonymous"
    ));
    base + MALLOC_HEADER
}

/// `free(p)` of such a chunk: munmap of it.
fn free(s: &mut Sim, p: u64, size: u64) {
    let len = (size + MALLOC_HEADER).div_ceil(P) * P;
    s.ok(&format!(
        "munmap pid=1 addr={:#x} len={len}",
        p - MALLOC_HEADER
    ));
}

/// VmLck in bytes (`get_proc_locked_vm_size`).
fn locked_vm_size(s: &Sim) -> u64 {
    s.status(1).vm_lck_kb << 10
}

/// mlock (`is_mlock`) or mlock2(MLOCK_ONFAULT) of `[start, start + len)`.
fn lock_line(is_mlock: bool, start: u64, len: u64) -> String {
    let flags = if is_mlock { "" } else { " flags=onfault" };
    format!("mlock pid=1 addr={start:#x} len={len}{flags}")
}

/// The pages `[start, start + len)` covers once rounded to whole pages, as do_mlock counts.
fn pages_covered(start: u64, len: u64) -> u64 {
    ((start + len).div_ceil(P) * P - start / P * P) / P
}

/// mlock-random-test `test_mlock_within_limit(p, alloc_size)`: TEST_LOOP random mlock or
/// mlock2(MLOCK_ONFAULT) calls of random sub-ranges of the chunk all succeed, and VmLck is
/// then at most PAGE_ALIGN(alloc_size) + one page. Beyond the selftest: VmLck never exceeds
/// RLIMIT_MEMLOCK after any call.
fn within_limit(s: &mut Sim, rng: &mut Rand, p: u64, alloc_size: u64) {
    // "alloc_size < rlimit, lead to mlock failure"
    assert!(MLOCK_RLIMIT_SIZE >= alloc_size);
    for i in 0..TEST_LOOP {
        let is_mlock = !rng.next().is_multiple_of(2); // !!(rand() % 2)
        let lock_size = rng.next() % alloc_size;
        let start_offset = rng.next() % (alloc_size - lock_size);
        let l = lock_line(is_mlock, p + start_offset, lock_size);
        if let Err(e) = s.run(&l) {
            panic!("iteration {i}: {l}: failure ({e}) within the limit");
        }
        assert!(
            locked_vm_size(s) <= MLOCK_RLIMIT_SIZE,
            "iteration {i}: {l}: VmLck {} over RLIMIT_MEMLOCK",
            locked_vm_size(s)
        );
    }
    // get_proc_page_size: MMUPageSize of the chunk.
    let page_size = smaps_kb(s, 1, p, "MMUPageSize") << 10;
    assert_eq!(page_size, P);
    let locked = locked_vm_size(s);
    assert!(
        locked <= alloc_size.div_ceil(page_size) * page_size + page_size,
        "test_mlock_within_limit left VmLck:{locked} on {alloc_size} chunk"
    );
}

/// mlock-random-test `test_mlock_outof_limit(p, alloc_size)`: TEST_LOOP random mlock or
/// mlock2(MLOCK_ONFAULT) calls of lengths from RLIMIT_MEMLOCK up all fail, and VmLck is
/// unchanged. The selftest only asks for a failure; the kernel's (do_mlock) is ENOMEM for both
/// calls, which is asserted too.
fn outof_limit(s: &mut Sim, rng: &mut Rand, p: u64, alloc_size: u64) {
    let rlim_cur = MLOCK_RLIMIT_SIZE;
    // "alloc_size > rlimit, violates test condition"
    assert!(rlim_cur < alloc_size);
    let old_locked_vm_size = locked_vm_size(s);
    for i in 0..TEST_LOOP {
        let is_mlock = !rng.next().is_multiple_of(2); // !!(rand() % 2)
        let lock_size = rng.next() % (alloc_size - rlim_cur) + rlim_cur;
        let start_offset = rng.next() % (alloc_size - lock_size);
        let start = p + start_offset;
        // The selftest's premise: the rounded range is over the limit. (Only an aligned start
        // with lock_size == rlim_cur would not be; then the kernel would succeed.)
        assert!(
            old_locked_vm_size + pages_covered(start, lock_size) * P > rlim_cur,
            "iteration {i}: the draw is within the limit; pick another seed"
        );
        let l = lock_line(is_mlock, start, lock_size);
        // "mlock() succeeds?"
        assert_eq!(s.err(&l), Errno::ENOMEM, "iteration {i}: {l}");
    }
    let locked = locked_vm_size(s);
    assert_eq!(
        locked, old_locked_vm_size,
        "tests leads to new mlocked page: old[{old_locked_vm_size}], new[{locked}]"
    );
}

/// mlock-random-test `test_mlock_within_limit` on its own, from VmLck 0 as the selftest
/// assumes.
#[test]
fn random_within_limit() {
    let mut s = capless();
    let mut rng = Rand::new();
    let p = malloc(&mut s, MLOCK_WITHIN_LIMIT_SIZE);
    assert_eq!(locked_vm_size(&s), 0);
    within_limit(&mut s, &mut rng, p, MLOCK_WITHIN_LIMIT_SIZE);
    // Some call locked something: the loop did not pass vacuously.
    assert!(locked_vm_size(&s) > 0);
}

/// mlock-random-test `test_mlock_outof_limit` on its own, from VmLck 0.
#[test]
fn random_outof_limit() {
    let mut s = capless();
    let mut rng = Rand::new();
    let p = malloc(&mut s, MLOCK_OUTOF_LIMIT_SIZE);
    outof_limit(&mut s, &mut rng, p, MLOCK_OUTOF_LIMIT_SIZE);
    assert_eq!(locked_vm_size(&s), 0);
    // Nothing was populated either.
    assert_eq!(smaps_kb(&s, 1, p, "Rss"), 0);
}

/// mlock-random-test `main`: in one process, malloc(MLOCK_WITHIN_LIMIT_SIZE),
/// `test_mlock_within_limit`, munlock(p, MLOCK_WITHIN_LIMIT_SIZE), free; then
/// malloc(MLOCK_OUTOF_LIMIT_SIZE), `test_mlock_outof_limit`, munlock, free.
#[test]
fn random_main() {
    let mut s = capless();
    let mut rng = Rand::new();
    let p = malloc(&mut s, MLOCK_WITHIN_LIMIT_SIZE);
    within_limit(&mut s, &mut rng, p, MLOCK_WITHIN_LIMIT_SIZE);
    s.ok(&format!(
        "munlock pid=1 addr={p:#x} len={MLOCK_WITHIN_LIMIT_SIZE}"
    ));
    // The unaligned munlock covers every page the unaligned mlocks did.
    assert_eq!(locked_vm_size(&s), 0);
    free(&mut s, p, MLOCK_WITHIN_LIMIT_SIZE);

    let p = malloc(&mut s, MLOCK_OUTOF_LIMIT_SIZE);
    outof_limit(&mut s, &mut rng, p, MLOCK_OUTOF_LIMIT_SIZE);
    s.ok(&format!(
        "munlock pid=1 addr={p:#x} len={MLOCK_OUTOF_LIMIT_SIZE}"
    ));
    assert_eq!(locked_vm_size(&s), 0);
    free(&mut s, p, MLOCK_OUTOF_LIMIT_SIZE);
    assert!(s.layout(1).is_empty());
}
