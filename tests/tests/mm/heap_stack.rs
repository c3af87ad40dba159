//! brk and `[heap]` (§9.5): growth, a named heap, shrinking, brk below start_brk, `spawn brk=`
//! and its range checks; and the stack (§9.7): growth within RLIMIT_STACK and the guard gap.
//!
//! `§N.M` are the sections of docs/kernel-semantics.md.

use anonmap_abi::Errno;
use anonmap_testkit::sim::{line, Sim, P};

use crate::common::stack;

/// TASK_SIZE of the simulated x86_64 process: the initial stack ends here.
const TASK_SIZE: u64 = 0x7fff_ffff_f000;

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

/// A one-byte `touch` at `addr`: its errno if it faults.
fn touch_at(s: &mut Sim, pid: u32, addr: u64, access: &str) -> Result<(), Errno> {
    s.run(&format!(
        "touch pid={pid} addr={addr:#x} len=1 access={access}"
    ))
    .map(|_| ())
    .map_err(|e| e.errno)
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
    assert_eq!(touch_at(&mut s, 1, lo - P, "write"), Ok(()));
    assert_eq!(stack(&s, 1), (lo - P, hi));
    assert_eq!(s.status(1).vm_stk_kb, 136);
    assert_eq!(touch_at(&mut s, 1, lo - 20 * P, "read"), Ok(()));
    assert_eq!(stack(&s, 1), (lo - 20 * P, hi));
    assert_eq!(s.status(1).vm_stk_kb, (33 + 20) * 4);
    assert_eq!(s.status(1).vm_size_kb, (33 + 20) * 4);
    // 8 MiB below the top is the limit; one page more is SIGSEGV (EFAULT).
    assert_eq!(touch_at(&mut s, 1, TASK_SIZE - (8 << 20), "read"), Ok(()));
    assert_eq!(stack(&s, 1), (TASK_SIZE - (8 << 20), hi));
    assert_eq!(
        touch_at(&mut s, 1, TASK_SIZE - (8 << 20) - P, "read"),
        Err(Errno::EFAULT)
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
    // 100 pages at lo-400P with `prot`.
    let neighbour = |s: &mut Sim, pid: u32, prot: &str| {
        s.ok(&format!(
            "mmap pid={pid} addr={:#x} len={} prot={prot} flags=private,anonymous,fixed",
            lo - 400 * P,
            100 * P
        ));
    };
    //  lo-400P   lo-300P        lo-50P   lo
    //  |  rw-    |   ≥256 gap   ...      |[stack]
    neighbour(&mut s, 1, "rw-");
    assert_eq!(touch_at(&mut s, 1, lo - 44 * P, "read"), Ok(()));
    assert_eq!(stack(&s, 1).0, lo - 44 * P); // gap 256 pages: allowed
    assert_eq!(touch_at(&mut s, 1, lo - 45 * P, "read"), Err(Errno::EFAULT)); // gap 255 pages
    assert_eq!(stack(&s, 1).0, lo - 44 * P);
    // The same with a PROT_NONE neighbour: not accessible, no gap enforced.
    neighbour(&mut s, 2, "---");
    assert_eq!(touch_at(&mut s, 2, lo - 250 * P, "read"), Ok(()));
    assert_eq!(stack(&s, 2).0, lo - 250 * P);
}
