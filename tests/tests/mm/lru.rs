//! The LRU lists (docs/kernel-semantics.md §15): where pages enter, and how the flag changes of
//! the calls that manage memory move them, as the kernel's batches do when they drain.

use anonmap_mm::lru::LruList;
use anonmap_testkit::sim::{Sim, P};

use crate::common::bare;

fn list(s: &Sim, l: LruList) -> Vec<u64> {
    s.m.lru_pfns(l)
}

/// The pfns of `pages` pages from `addr`, in address order.
fn pfns(s: &Sim, addr: u64, pages: u64) -> Vec<u64> {
    (0..pages).map(|i| s.pfn(1, addr + i * P)).collect()
}

fn rev(mut v: Vec<u64>) -> Vec<u64> {
    v.reverse();
    v
}

/// New anonymous pages enter the inactive anon list at its head in fault order (the tail is the
/// first faulted); page-cache pages the inactive file list; nothing is active.
#[test]
fn new_pages_enter_the_inactive_lists_at_the_head() {
    let mut s = bare();
    s.ok("file path=/lib/x.so size=16384");
    let a = s.ok("mmap pid=1 len=16K prot=rw- flags=private,anonymous");
    s.ok(&format!("touch pid=1 addr={a:#x} len=16K access=write"));
    let anon = pfns(&s, a, 4);
    assert_eq!(list(&s, LruList::InactiveAnon), rev(anon.clone()));
    assert_eq!(
        s.rmap_at(1, a).lru,
        "inactive_anon",
        "rmap/<pfn> names the list"
    );
    let f = s.ok("mmap pid=1 len=16K prot=r-- flags=private file=/lib/x.so");
    s.ok(&format!("touch pid=1 addr={f:#x} len=4K access=read"));
    // Fault-around maps the one page read in; only that page is in the cache.
    assert_eq!(list(&s, LruList::InactiveFile), vec![s.pfn(1, f)]);
    assert!(list(&s, LruList::ActiveAnon).is_empty() && list(&s, LruList::ActiveFile).is_empty());
    let m = s.m.meminfo_view();
    assert_eq!((m.inactive_anon_kb, m.inactive_file_kb), (16, 4));
    assert_eq!(
        (m.active_anon_kb, m.active_file_kb, m.unevictable_kb),
        (0, 0, 0)
    );
}

/// `folio_mark_accessed` (a GUP walk with FOLL_TOUCH: MADV_POPULATE_READ) marks an unreferenced
/// page referenced, and activates a referenced one: the second populate moves the pages to the
/// active list's head, in walk order. MADV_COLD takes them back to the inactive head.
#[test]
fn a_second_reference_activates_and_cold_deactivates() {
    let mut s = bare();
    let a = s.ok("mmap pid=1 len=12K prot=rw- flags=private,anonymous");
    s.ok(&format!("touch pid=1 addr={a:#x} len=12K access=write"));
    let p = pfns(&s, a, 3);
    s.ok(&format!(
        "madvise pid=1 addr={a:#x} len=12K advice=populate_read"
    ));
    assert_eq!(
        list(&s, LruList::InactiveAnon),
        rev(p.clone()),
        "referenced, still inactive"
    );
    s.ok(&format!(
        "madvise pid=1 addr={a:#x} len=8K advice=populate_read"
    ));
    assert_eq!(list(&s, LruList::ActiveAnon), vec![p[1], p[0]]);
    assert_eq!(list(&s, LruList::InactiveAnon), vec![p[2]]);
    s.ok(&format!(
        "madvise pid=1 addr={:#x} len=4K advice=cold",
        a + P
    ));
    assert_eq!(list(&s, LruList::ActiveAnon), vec![p[0]]);
    assert_eq!(list(&s, LruList::InactiveAnon), vec![p[1], p[2]]);
}

/// MADV_FREE makes a page lazyfree: no longer swap-backed, it moves to the inactive file list.
/// mlock moves pages to the unevictable list (Mlocked and Unevictable in meminfo); munlock puts
/// them back on the inactive anon list.
#[test]
fn lazyfree_pages_go_to_the_file_list_and_mlocked_ones_to_unevictable() {
    let mut s = bare();
    let a = s.ok("mmap pid=1 len=16K prot=rw- flags=private,anonymous");
    s.ok(&format!("touch pid=1 addr={a:#x} len=16K access=write"));
    let p = pfns(&s, a, 4);
    s.ok(&format!("madvise pid=1 addr={a:#x} len=4K advice=free"));
    assert_eq!(list(&s, LruList::InactiveFile), vec![p[0]]);
    s.ok(&format!("mlock pid=1 addr={:#x} len=8K", a + 2 * P));
    assert_eq!(list(&s, LruList::Unevictable), vec![p[3], p[2]]);
    assert_eq!(list(&s, LruList::InactiveAnon), vec![p[1]]);
    let m = s.m.meminfo_view();
    assert_eq!(
        (m.unevictable_kb, m.mlocked_kb, m.inactive_file_kb),
        (8, 8, 4)
    );
    s.ok(&format!("munlock pid=1 addr={:#x} len=8K", a + 2 * P));
    assert_eq!(list(&s, LruList::InactiveAnon), vec![p[3], p[2], p[1]]);
    assert_eq!(s.m.meminfo_view().mlocked_kb, 0);
}

/// Freed pages leave their lists; a page MADV_PAGEOUT swaps out stays, in the swap cache, on
/// the inactive anon list (put back through the lru_add batch) until its frame is freed.
#[test]
fn freed_pages_leave_and_pageout_puts_back() {
    let mut s = Sim::with_config(anonmap_mm::MachineConfig {
        ram_bytes: 64 << 20,
        swap_bytes: 16 << 20,
        soft_dirty: false,
        auto_reclaim: true,
    });
    s.ok("spawn pid=1 bare");
    let a = s.ok("mmap pid=1 len=12K prot=rw- flags=private,anonymous");
    s.ok(&format!("touch pid=1 addr={a:#x} len=12K access=write"));
    let p = pfns(&s, a, 3);
    s.ok(&format!("madvise pid=1 addr={a:#x} len=4K advice=dontneed"));
    assert_eq!(list(&s, LruList::InactiveAnon), vec![p[2], p[1]]);
    s.ok(&format!(
        "madvise pid=1 addr={:#x} len=4K advice=pageout",
        a + 2 * P
    ));
    assert_eq!(
        list(&s, LruList::InactiveAnon),
        vec![p[2], p[1]],
        "p2 is put back at the head"
    );
    assert_eq!(s.m.meminfo_view().swap_cached_kb, 4);
    s.ok("exit pid=1");
    assert_eq!(list(&s, LruList::InactiveAnon), Vec::<u64>::new());
}
