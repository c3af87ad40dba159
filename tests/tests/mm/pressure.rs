//! Memory pressure (docs/kernel-semantics.md §16): a 64 MiB machine that fills up reclaims
//! through kswapd and direct reclaim, ages its LRU lists with the second chance, swaps, and
//! finally kills with the OOM killer, as Linux does.

use anonmap_abi::pagemap::{PM_PRESENT, PM_SWAP};
use anonmap_abi::Errno;
use anonmap_mm::lru::LruList;
use anonmap_mm::MachineConfig;
use anonmap_testkit::sim::{Sim, P};

const MIB: u64 = 1 << 20;

/// A machine of `ram` MiB of RAM and `swap` MiB of swap with memory pressure on.
fn machine(ram: u64, swap: u64) -> Sim {
    Sim::with_config(MachineConfig {
        ram_bytes: ram * MIB,
        swap_bytes: swap * MIB,
        soft_dirty: false,
        auto_reclaim: true,
    })
}

/// `mib` MiB of private anonymous memory in `pid`, named `name`, written once.
fn region(s: &mut Sim, pid: u32, name: &str, mib: u64) -> u64 {
    let a = s.ok(&format!(
        "mmap pid={pid} len={}M prot=rw- flags=private,anonymous",
        mib
    ));
    s.ok(&format!(
        "name pid={pid} addr={a:#x} len={mib}M name={name}"
    ));
    s.ok(&format!(
        "touch pid={pid} addr={a:#x} len={mib}M access=write"
    ));
    a
}

fn touch(s: &mut Sim, pid: u32, addr: u64, mib: u64, access: &str) {
    s.ok(&format!(
        "touch pid={pid} addr={addr:#x} len={mib}M access={access}"
    ));
}

/// smaps `Swap:` of the VMA at `addr`, in kB.
fn swap_kb(s: &Sim, pid: u32, addr: u64) -> u64 {
    let v = s.smaps_field(pid, addr, "Swap");
    v.trim_end_matches(" kB")
        .trim()
        .parse()
        .expect("a kB value")
}

/// The hot/cold scenario: two 8 MiB regions written once, then 64 MiB more written 4 MiB at a
/// time while the hot region is read after every step. The hot pages are young at every scan
/// (referenced twice: activated), the cold ones only from their first fault (kept once, then
/// reclaimed), so the cold region goes to swap whole before a single hot page does, and the hot
/// region ends on the active list.
#[test]
fn the_cold_region_is_reclaimed_first_and_the_hot_one_keeps_its_pages() {
    let mut s = machine(64, 32);
    s.ok("spawn pid=2 comm=app bare");
    let cold = region(&mut s, 2, "cold", 8);
    let hot = region(&mut s, 2, "hot", 8);
    let fill = s.ok("mmap pid=2 len=64M prot=rw- flags=private,anonymous");
    for i in 0..16 {
        touch(&mut s, 2, fill + i * 4 * MIB, 4, "write");
        touch(&mut s, 2, hot, 8, "read");
        assert_eq!(swap_kb(&s, 2, hot), 0, "step {i}: a hot page was swapped");
        if swap_kb(&s, 2, cold) < 8 * 1024 {
            // Until the cold region is gone, reclaim takes nothing else.
            let fill_swap = swap_kb(&s, 2, fill);
            assert_eq!(
                fill_swap, 0,
                "step {i}: the fill was swapped before the cold region"
            );
        }
    }
    assert_eq!(swap_kb(&s, 2, cold), 8 * 1024);
    assert_eq!(s.kb(2, cold).rss, 0);
    assert_eq!(s.kb(2, hot).rss, 8 * 1024);
    let active = s.m.lru_pfns(LruList::ActiveAnon);
    for i in 0..(8 * MIB / P) {
        assert!(
            active.contains(&s.pfn(2, hot + i * P)),
            "hot page {i} is not active"
        );
    }
    let ev = s.m.vm_events();
    assert!(ev.pswpout >= 2048 && ev.pgscan_direct + ev.pgscan_kswapd > ev.pswpout);
    assert!(ev.pgactivate >= 2048, "{ev:?}");
    // kswapd balanced the node after the last call: more than the high watermark is free.
    assert!(s.m.meminfo_view().mem_free_kb / 4 > s.m.watermarks().high);
}

/// An mlocked region stays whole under the same pressure: on the unevictable list, never
/// scanned; the other regions go to swap instead.
#[test]
fn mlocked_pages_never_leave() {
    let mut s = machine(64, 32);
    s.ok("spawn pid=2 comm=app bare");
    let locked = region(&mut s, 2, "locked", 8);
    s.ok(&format!("mlock pid=2 addr={locked:#x} len=8M"));
    let cold = region(&mut s, 2, "cold", 8);
    let fill = s.ok("mmap pid=2 len=64M prot=rw- flags=private,anonymous");
    for i in 0..16 {
        touch(&mut s, 2, fill + i * 4 * MIB, 4, "write");
    }
    assert_eq!(s.kb(2, locked).rss, 8 * 1024);
    assert_eq!(swap_kb(&s, 2, locked), 0);
    assert_eq!(swap_kb(&s, 2, cold), 8 * 1024);
    let m = s.m.meminfo_view();
    assert_eq!((m.unevictable_kb, m.mlocked_kb), (8 * 1024, 8 * 1024));
}

/// fork's shared COW pages are reclaimed from both processes at once (one rmap walk replaces
/// both PTEs with the same swap entry) and come back shared: the first process to read a page
/// swaps it in, and the other finds it in the swap cache.
#[test]
fn shared_cow_pages_leave_both_processes_at_once_and_come_back_shared() {
    let mut s = machine(64, 32);
    s.ok("spawn pid=2 comm=parent bare");
    let shared = region(&mut s, 2, "shared", 8);
    s.ok("fork pid=2 child=3");
    s.ok("spawn pid=4 comm=hog bare");
    let fill = s.ok("mmap pid=4 len=64M prot=rw- flags=private,anonymous");
    for i in 0..16 {
        touch(&mut s, 4, fill + i * 4 * MIB, 4, "write");
    }
    let pages = 8 * MIB / P;
    let (parent, child) = (
        s.m.pagemap(2, shared / P, pages).unwrap(),
        s.m.pagemap(3, shared / P, pages).unwrap(),
    );
    assert_eq!(
        parent, child,
        "every page is present in both or swapped in both, at one slot"
    );
    let swapped = parent.iter().filter(|&&e| e & PM_SWAP != 0).count();
    assert_eq!(
        swapped as u64, pages,
        "the untouched shared pages went first"
    );
    assert_eq!(swap_kb(&s, 2, shared), swap_kb(&s, 3, shared));
    touch(&mut s, 2, shared, 8, "read");
    touch(&mut s, 3, shared, 8, "read");
    for i in 0..pages {
        let (a, b) = (s.pagemap(2, shared + i * P), s.pagemap(3, shared + i * P));
        assert!(a & PM_PRESENT != 0 && a == b, "page {i}: {a:#x} vs {b:#x}");
    }
}

/// When reclaim cannot keep up (swap full), the OOM killer takes the process with the highest
/// badness; `oom_score_adj` -1000 exempts a larger one; the allocation that asked goes on; the
/// kernel log names the victim.
#[test]
fn oom_kills_the_largest_killable_process() {
    let mut s = machine(64, 16);
    s.ok("spawn pid=2 comm=big bare");
    s.ok("spawn pid=3 comm=small bare");
    s.ok("spawn pid=4 comm=exempt bare");
    s.m.set_oom_score_adj(4, -1000, true).unwrap();
    region(&mut s, 4, "exempt", 40);
    region(&mut s, 2, "big", 24);
    let big_pte_kb = s.status(2).vm_pte_kb;
    assert_eq!(s.m.oom_score(4), Some(0));
    let small = s.ok("mmap pid=3 len=32M prot=rw- flags=private,anonymous");
    for i in 0..8 {
        touch(&mut s, 3, small + i * 4 * MIB, 4, "write");
    }
    assert!(!s.m.pids().contains(&2), "big was killed");
    assert!(s.m.pids().contains(&3) && s.m.pids().contains(&4));
    assert_eq!(s.m.vm_events().oom_kill, 1);
    let log: Vec<&str> = s.m.kmsg_lines().collect();
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(
        log[0].starts_with("Out of memory: Killed process 2 (big) total-vm:24576kB, anon-rss:"),
        "{log:?}"
    );
    let tail = format!(" UID:0 pgtables:{big_pte_kb}kB oom_score_adj:0");
    assert!(log[0].ends_with(&tail), "{log:?}");
}

/// A process that is itself the largest is killed during its own fault: the touch fails with
/// EINTR and the pid is gone, its memory freed.
#[test]
fn the_faulting_process_itself_can_be_the_victim() {
    let mut s = machine(64, 16);
    s.ok("spawn pid=2 comm=hog bare");
    let a = s.ok("mmap pid=2 len=128M prot=rw- flags=private,anonymous");
    let e = s.err(&format!("touch pid=2 addr={a:#x} len=128M access=write"));
    assert_eq!(e, Errno::EINTR);
    assert!(s.m.pids().is_empty());
    let m = s.m.meminfo_view();
    assert_eq!(m.swap_free_kb, m.swap_total_kb);
    assert!(m.mem_free_kb > 60 * 1024);
}

/// `oom_score_adj ... unprivileged` is a write without CAP_SYS_RESOURCE (`__set_oom_adj`): it
/// may not go below the floor a privileged write set, and it leaves the floor where it is.
#[test]
fn an_unprivileged_oom_score_adj_keeps_the_floor() {
    let mut s = machine(64, 0);
    s.ok("spawn pid=2");
    s.ok("oom_score_adj pid=2 value=-500");
    assert_eq!(
        s.err("oom_score_adj pid=2 value=-501 unprivileged"),
        Errno::EACCES
    );
    s.ok("oom_score_adj pid=2 value=200 unprivileged");
    // The floor is still -500: an unprivileged write may come back down to it.
    s.ok("oom_score_adj pid=2 value=-500 unprivileged");
    let floor = anonmap_proc::Source::oom(&s.m, 2).map(|o| o.score_adj_min);
    assert_eq!(floor, Some(-500));
    // A privileged write moves it.
    s.ok("oom_score_adj pid=2 value=100");
    assert_eq!(
        s.err("oom_score_adj pid=2 value=99 unprivileged"),
        Errno::EACCES
    );
}
