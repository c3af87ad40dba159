//! Kernel test vectors, run against the simulator: every case of
//! tools/testing/selftests/prctl/set-anon-vma-name-test.c (kernel-semantics.md §8.1), every case
//! of tools/testing/selftests/mm/merge.c (§8.2), the extra vectors observed on Linux 6.18
//! (§8.3), and the naming rules of §1 and §2 (validation order, holes, file VMAs, shared
//! anonymous memory, equality by content, name-object refcounts across split, fork, mremap,
//! munmap and exit).
//!
//! Each step's VMA layout is drawn before it, as in the kernel's
//! tools/testing/vma/tests/merge.c. Addresses are pages above the arena `C` (`c(n)`); merge.c's
//! "carveout" is the 30-page PROT_NONE region at `C`.

mod common;

use anonmap_daemon::command::Op;
use anonmap_daemon::Errno;
use common::{c, l, line, Sim, C, P};

/// A bare process 1 with merge.c's 30-page PROT_NONE carveout at `C`.
fn carveout() -> Sim {
    let mut s = Sim::new();
    s.script(&format!(
        "spawn pid=1 bare
         mmap pid=1 addr={C:#x} len={} prot=--- flags=private,anonymous,fixed",
        30 * P
    ));
    s
}

/// A bare process 1 with nothing mapped.
fn bare() -> Sim {
    let mut s = Sim::new();
    s.ok("spawn pid=1 bare");
    s
}

fn mmap(s: &mut Sim, pid: u32, page: u64, pages: u64, prot: &str, extra: &str) {
    s.ok(&format!(
        "mmap pid={pid} addr={:#x} len={} prot={prot} flags=private,anonymous,fixed{extra}",
        c(page),
        pages * P
    ));
}

/// mremap of `pages` pages from page `from` to page `to` (MREMAP_MAYMOVE|MREMAP_FIXED).
fn mv(s: &mut Sim, pid: u32, from: u64, pages: u64, to: u64) {
    let got = s.ok(&format!(
        "mremap pid={pid} addr={:#x} old_len={} new_len={} flags=maymove,fixed new_addr={:#x}",
        c(from),
        pages * P,
        pages * P,
        c(to)
    ));
    assert_eq!(got, c(to));
}

fn write(s: &mut Sim, pid: u32, page: u64, pages: u64) {
    s.ok(&format!(
        "touch pid={pid} addr={:#x} len={} access=write",
        c(page),
        pages * P
    ));
}

fn mprotect(s: &mut Sim, pid: u32, page: u64, pages: u64, prot: &str) {
    s.ok(&format!(
        "mprotect pid={pid} addr={:#x} len={} prot={prot}",
        c(page),
        pages * P
    ));
}

fn name(s: &mut Sim, pid: u32, page: u64, pages: u64, text: &str) -> Result<(), Errno> {
    s.run(&format!(
        "name pid={pid} addr={:#x} len={} name=\"{text}\"",
        c(page),
        pages * P
    ))
    .map(|_| ())
    .map_err(|e| e.errno)
}

fn clear(s: &mut Sim, pid: u32, page: u64, pages: u64) -> Result<(), Errno> {
    s.run(&format!(
        "name pid={pid} addr={:#x} len={} clear",
        c(page),
        pages * P
    ))
    .map(|_| ())
    .map_err(|e| e.errno)
}

/// The carveout's layout: every VMA inside the 30 pages at `C`.
fn arena(s: &Sim, pid: u32) -> Vec<String> {
    s.layout_in(pid, C, c(30))
}

// ---------------------------------------------------------------------------------------------
// §8.1 set-anon-vma-name-test.c
// ---------------------------------------------------------------------------------------------

/// §8.1 #1: rename(ptr_anon, 1024, "goodname") succeeds and maps shows `[anon:goodname]` as the
/// 8th token of the line starting at ptr_anon. 1024 bytes round up to one page (§1.5).
#[test]
fn st1_rename_goodname() {
    let mut s = bare();
    //   C    C+1
    //   |anon|        mmap(NULL, 1024, RW, PRIVATE|ANON)
    let ptr = s.ok("mmap pid=1 len=1024 prot=rw- flags=private,anonymous");
    s.ok(&format!(
        "name pid=1 addr={ptr:#x} len=1024 name=\"goodname\""
    ));
    //   |[anon:goodname]|
    let maps = s.maps(1);
    let l = maps
        .lines()
        .find(|l| l.starts_with(&format!("{ptr:x}-")))
        .expect("a line starting at ptr_anon");
    // sscanf("%lx-%lx %7s %lx %u:%u %u %s"): the 8th conversion is the 6th blank-separated word.
    assert_eq!(l.split_whitespace().nth(5), Some("[anon:goodname]"));
    assert_eq!(
        s.layout(1),
        vec![line(ptr, ptr + P, "rw-p", "[anon:goodname]")]
    );
}

/// §8.1 #2: "badname\1" (contains 0x01) → EINVAL and the name is unchanged.
#[test]
fn st1_rename_badname_is_einval() {
    let mut s = bare();
    let ptr = s.ok("mmap pid=1 len=1024 prot=rw- flags=private,anonymous");
    s.ok(&format!(
        "name pid=1 addr={ptr:#x} len=1024 name=\"goodname\""
    ));
    // The command language cannot carry a control byte, so the op is built directly.
    let op = Op::Name {
        pid: 1,
        addr: ptr,
        len: 1024,
        name: Some("badname\u{1}".into()),
    };
    assert_eq!(s.apply(&op, "badname").unwrap_err().errno, Errno::EINVAL);
    assert_eq!(
        s.layout(1),
        vec![line(ptr, ptr + P, "rw-p", "[anon:goodname]")]
    );
}

/// §8.1 #3: ptr_not_anon is MAP_FAILED ((void*)-1) because mmap of a tty/pipe stdin fails, so
/// the prctl sees an unaligned address → EINVAL. If stdin were a regular file the mapping would
/// exist and the answer would be EBADF (§8.1 note, §1.4).
#[test]
fn st1_rename_not_anon() {
    let mut s = bare();
    assert_eq!(
        s.err("name pid=1 addr=0xffffffffffffffff len=1024 name=\"goodname\""),
        Errno::EINVAL
    );
    // stdin redirected from a regular file: the private file mapping exists.
    s.ok("file path=/etc/hostname size=5");
    let ptr = s.ok("mmap pid=1 len=1024 prot=rw- flags=private file=/etc/hostname");
    assert_eq!(
        s.err(&format!(
            "name pid=1 addr={ptr:#x} len=1024 name=\"goodname\""
        )),
        Errno::EBADF
    );
    assert_eq!(
        s.layout(1),
        vec![line(ptr, ptr + P, "rw-p", "/etc/hostname")]
    );
}

// ---------------------------------------------------------------------------------------------
// §1.2 name validation
// ---------------------------------------------------------------------------------------------

/// §1.2.2: 80 bytes include the NUL, so 79 characters is the longest name; 80 → EINVAL.
#[test]
fn name_length_limit_is_79_chars() {
    let mut s = bare();
    mmap(&mut s, 1, 0, 1, "rw-", "");
    let n79 = "n".repeat(79);
    assert_eq!(name(&mut s, 1, 0, 1, &n79), Ok(()));
    assert_eq!(s.layout(1), vec![l(0, 1, "rw-p", &format!("[anon:{n79}]"))]);
    assert_eq!(name(&mut s, 1, 0, 1, &"m".repeat(80)), Err(Errno::EINVAL));
    assert_eq!(s.layout(1), vec![l(0, 1, "rw-p", &format!("[anon:{n79}]"))]);
}

/// §1.2.3: printable ASCII 0x20..=0x7e except `\` `` ` `` `$` `[` `]`; tab, DEL and bytes
/// ≥ 0x80 are refused; space, quotes, `/`, `:`, parentheses and braces are accepted.
#[test]
fn name_charset() {
    let mut s = bare();
    mmap(&mut s, 1, 0, 1, "rw-", "");
    for bad in [
        "a\\b",
        "a`b",
        "a$b",
        "a[b",
        "a]b",
        "tab\there",
        "del\u{7f}",
        "é",
    ] {
        let op = Op::Name {
            pid: 1,
            addr: c(0),
            len: P,
            name: Some(bad.into()),
        };
        assert_eq!(
            s.apply(&op, bad).unwrap_err().errno,
            Errno::EINVAL,
            "{bad:?} must be refused"
        );
    }
    assert_eq!(s.layout(1), vec![l(0, 1, "rw-p", "")]);
    for good in ["'", "/", ":", "()", "{}", "dalvik-main space", "a\"b"] {
        let op = Op::Name {
            pid: 1,
            addr: c(0),
            len: P,
            name: Some(good.into()),
        };
        s.apply(&op, good).unwrap();
        assert_eq!(
            s.layout(1),
            vec![l(0, 1, "rw-p", &format!("[anon:{good}]"))],
            "{good:?} must be accepted"
        );
    }
}

/// §1.2 then §1.3: the name is validated before any address check, so a bad name is EINVAL
/// even where the range alone would give 0 (len 0) or ENOMEM (unmapped).
#[test]
fn name_is_validated_before_the_range() {
    let mut s = bare();
    // Nothing is mapped at all.
    assert_eq!(name(&mut s, 1, 5, 1, "ok"), Err(Errno::ENOMEM));
    assert_eq!(name(&mut s, 1, 5, 1, "a$"), Err(Errno::EINVAL));
    assert_eq!(name(&mut s, 1, 5, 0, "ok"), Ok(())); // §1.3.4 len 0 → 0, no lookup
    assert_eq!(name(&mut s, 1, 5, 0, &"x".repeat(80)), Err(Errno::EINVAL));
}

/// §1.3.1–3: unaligned addr → EINVAL; a length that wraps → EINVAL; len 0 → 0 even unmapped.
#[test]
fn name_range_checks() {
    let mut s = bare();
    mmap(&mut s, 1, 0, 2, "rw-", "");
    assert_eq!(
        s.err(&format!(
            "name pid=1 addr={:#x} len=4096 name=\"x\"",
            c(0) + 8
        )),
        Errno::EINVAL
    );
    // round_up(size) overflows to 0 with size != 0.
    assert_eq!(
        s.err(&format!(
            "name pid=1 addr={:#x} len=0xffffffffffffffff name=\"x\"",
            c(0)
        )),
        Errno::EINVAL
    );
    // end wraps past 2^64.
    assert_eq!(
        s.err(&format!(
            "name pid=1 addr={:#x} len=0xfffffffffffff000 name=\"x\"",
            c(0)
        )),
        Errno::EINVAL
    );
    s.ok("name pid=1 addr=0x1000 len=0 name=\"x\"");
    assert_eq!(s.layout(1), vec![l(0, 2, "rw-p", "")]);
    assert!(s.names().is_empty());
}

// ---------------------------------------------------------------------------------------------
// §1.3.6 the range walk: holes, file VMAs, no VMA
// ---------------------------------------------------------------------------------------------

/// §1.3.6: holes are skipped, the mapped parts are renamed, and the call returns ENOMEM.
#[test]
fn name_over_holes_renames_mapped_parts_then_enomem() {
    let mut s = bare();
    //  c0      c2     c3      c5
    //  |   A   | hole |   B   |
    mmap(&mut s, 1, 0, 2, "rw-", "");
    mmap(&mut s, 1, 3, 2, "rw-", "");
    assert_eq!(name(&mut s, 1, 0, 5, "x"), Err(Errno::ENOMEM));
    //  |[anon:x]| hole |[anon:x]|
    assert_eq!(
        s.layout(1),
        vec![l(0, 2, "rw-p", "[anon:x]"), l(3, 5, "rw-p", "[anon:x]")]
    );
    // One prctl call, one object, held by the two VMAs that adopted it (§2.2).
    assert_eq!(s.names(), vec![("x".to_string(), 2, 2)]);

    // A range starting in the hole: B is renamed, still ENOMEM.
    //  c0      c2     c3      c5
    //  |[anon:x]| hole |[anon:y]|
    assert_eq!(name(&mut s, 1, 2, 3, "y"), Err(Errno::ENOMEM));
    assert_eq!(
        s.layout(1),
        vec![l(0, 2, "rw-p", "[anon:x]"), l(3, 5, "rw-p", "[anon:y]")]
    );
    // A range wholly inside the hole (first VMA found starts at its end): ENOMEM, no change.
    assert_eq!(name(&mut s, 1, 2, 1, "z"), Err(Errno::ENOMEM));
    // No VMA at or above addr: ENOMEM, no change.
    assert_eq!(name(&mut s, 1, 9, 1, "z"), Err(Errno::ENOMEM));
    assert_eq!(
        s.layout(1),
        vec![l(0, 2, "rw-p", "[anon:x]"), l(3, 5, "rw-p", "[anon:y]")]
    );
    assert_eq!(
        s.names(),
        vec![("x".to_string(), 1, 1), ("y".to_string(), 1, 1)]
    );
}

/// §1.3.6 / §1.4: a file VMA in the range aborts the walk with EBADF; pieces already renamed
/// keep their name, pieces after the file VMA are untouched. Clearing hits the same check.
#[test]
fn name_file_vma_is_ebadf_without_rollback() {
    let mut s = bare();
    s.ok("file path=/data/f size=8192");
    //  c0      c2      c4      c6
    //  |   A   |  file |   B   |
    mmap(&mut s, 1, 0, 2, "rw-", "");
    s.ok(&format!(
        "mmap pid=1 addr={:#x} len=8192 prot=rw- flags=private,fixed file=/data/f",
        c(2)
    ));
    mmap(&mut s, 1, 4, 2, "rw-", "");
    assert_eq!(name(&mut s, 1, 0, 6, "n"), Err(Errno::EBADF));
    //  |[anon:n]| file |   B   |
    assert_eq!(
        s.layout(1),
        vec![
            l(0, 2, "rw-p", "[anon:n]"),
            l(2, 4, "rw-p", "/data/f"),
            l(4, 6, "rw-p", ""),
        ]
    );
    assert_eq!(clear(&mut s, 1, 2, 2), Err(Errno::EBADF));
    assert_eq!(clear(&mut s, 1, 0, 2), Ok(()));
    assert_eq!(s.layout(1)[0], l(0, 2, "rw-p", ""));
}

/// §1.4 (6.2+) and §3.3.1a: MAP_SHARED|MAP_ANONYMOUS can be named; maps shows
/// `[anon_shmem:NAME]` instead of `/dev/zero (deleted)`.
#[test]
fn name_shared_anonymous() {
    let mut s = bare();
    s.ok(&format!(
        "mmap pid=1 addr={:#x} len=8192 prot=rw- flags=shared,anonymous,fixed",
        c(0)
    ));
    assert_eq!(s.layout(1), vec![l(0, 2, "rw-s", "/dev/zero (deleted)")]);
    assert_eq!(name(&mut s, 1, 0, 2, "shared anon"), Ok(()));
    assert_eq!(
        s.layout(1),
        vec![l(0, 2, "rw-s", "[anon_shmem:shared anon]")]
    );
    // Naming half splits the shmem VMA like any other.
    assert_eq!(name(&mut s, 1, 1, 1, "other"), Ok(()));
    assert_eq!(
        s.layout(1),
        vec![
            l(0, 1, "rw-s", "[anon_shmem:shared anon]"),
            l(1, 2, "rw-s", "[anon_shmem:other]"),
        ]
    );
}

/// §1.2.4 / §2.3: `""` is a valid name shown as `[anon:]`, and it is not equal to "no name":
/// the pieces stay apart until the name is cleared (NULL).
#[test]
fn empty_name_is_not_no_name() {
    let mut s = bare();
    //  c0           c2
    //  |  unnamed   |
    mmap(&mut s, 1, 0, 2, "rw-", "");
    assert_eq!(name(&mut s, 1, 1, 1, ""), Ok(()));
    //  | unnamed |[anon:]|
    assert_eq!(
        s.layout(1),
        vec![l(0, 1, "rw-p", ""), l(1, 2, "rw-p", "[anon:]")]
    );
    assert_eq!(s.names(), vec![(String::new(), 1, 1)]);
    assert_eq!(clear(&mut s, 1, 1, 1), Ok(()));
    //  |  unnamed   |
    assert_eq!(s.layout(1), vec![l(0, 2, "rw-p", "")]);
    assert!(s.names().is_empty());
}

/// §2.3 / §7.4: names compare by content, so separately named pieces re-merge; the survivor
/// keeps the object it already had, and the other call's object is freed.
#[test]
fn names_compare_by_content_for_merge() {
    let mut s = bare();
    //  c0                  c3
    //  |      unnamed      |
    mmap(&mut s, 1, 0, 3, "rw-", "");
    assert_eq!(name(&mut s, 1, 1, 1, "m"), Ok(()));
    //  c0     c1      c2     c3
    //  |      |[anon:m]|      |
    assert_eq!(
        s.layout(1),
        vec![
            l(0, 1, "rw-p", ""),
            l(1, 2, "rw-p", "[anon:m]"),
            l(2, 3, "rw-p", ""),
        ]
    );
    let first = s.m.name_table_view()[0].id;
    assert_eq!(name(&mut s, 1, 0, 1, "m"), Ok(()));
    //  |   [anon:m]    |      |
    assert_eq!(
        s.layout(1),
        vec![l(0, 2, "rw-p", "[anon:m]"), l(2, 3, "rw-p", "")]
    );
    assert_eq!(name(&mut s, 1, 2, 1, "m"), Ok(()));
    //  |      [anon:m]        |
    assert_eq!(s.layout(1), vec![l(0, 3, "rw-p", "[anon:m]")]);
    let table = s.m.name_table_view();
    assert_eq!(table.len(), 1);
    assert_eq!(
        (table[0].id, table[0].refcount, table[0].vmas),
        (first, 1, 1)
    );

    // Clearing the middle's name splits it off again (§7.4).
    //  |[anon:m]|  unnamed |[anon:m]|
    assert_eq!(clear(&mut s, 1, 1, 1), Ok(()));
    assert_eq!(
        s.layout(1),
        vec![
            l(0, 1, "rw-p", "[anon:m]"),
            l(1, 2, "rw-p", ""),
            l(2, 3, "rw-p", "[anon:m]"),
        ]
    );
    assert_eq!(s.names(), vec![("m".to_string(), 2, 2)]);
    // Names differing in case do not merge.
    assert_eq!(name(&mut s, 1, 1, 1, "M"), Ok(()));
    assert_eq!(s.layout(1).len(), 3);
    assert_eq!(name(&mut s, 1, 1, 1, "m"), Ok(()));
    assert_eq!(s.layout(1), vec![l(0, 3, "rw-p", "[anon:m]")]);
}

/// §2.3 last bullet / §7.4: renaming a sub-range to the name it already has does nothing (no
/// split), and the call's own object is dropped.
#[test]
fn renaming_to_the_same_name_does_not_split() {
    let mut s = bare();
    mmap(&mut s, 1, 0, 4, "rw-", "");
    assert_eq!(name(&mut s, 1, 0, 4, "a"), Ok(()));
    let id = s.m.name_table_view()[0].id;
    //  |        [anon:a]         |   name [c1,c2) "a" again
    assert_eq!(name(&mut s, 1, 1, 1, "a"), Ok(()));
    assert_eq!(s.layout(1), vec![l(0, 4, "rw-p", "[anon:a]")]);
    let t = s.m.name_table_view();
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].id, t[0].refcount), (id, 1));
}

/// §1.4 / §3.3: the heap and the stack can be named; maps still prints `[heap]`/`[stack]`.
#[test]
fn heap_and_stack_can_be_named_but_keep_their_labels() {
    let mut s = Sim::new();
    s.ok("spawn pid=7");
    let start_brk = s.ok("brk pid=7");
    s.ok(&format!("brk pid=7 addr={:#x}", start_brk + 3 * P));
    s.ok(&format!(
        "name pid=7 addr={start_brk:#x} len={} name=\"heapname\"",
        3 * P
    ));
    let stack = s
        .layout(7)
        .into_iter()
        .find(|l| l.ends_with("[stack]"))
        .unwrap();
    let (lo, rest) = stack.split_once('-').unwrap();
    let hi = rest.split(' ').next().unwrap();
    let (lo, hi) = (
        u64::from_str_radix(lo, 16).unwrap(),
        u64::from_str_radix(hi, 16).unwrap(),
    );
    s.ok(&format!(
        "name pid=7 addr={lo:#x} len={} name=\"stackname\"",
        hi - lo
    ));
    assert_eq!(
        s.layout(7),
        vec![
            line(start_brk, start_brk + 3 * P, "rw-p", "[heap]"),
            line(lo, hi, "rw-p", "[stack]"),
        ]
    );
    assert_eq!(
        s.names(),
        vec![
            ("heapname".to_string(), 1, 1),
            ("stackname".to_string(), 1, 1)
        ]
    );
}

/// §1.3.6 / §7.3: a split refused at vm.max_map_count (65530) is ENOMEM inside, reported as
/// EAGAIN by the naming walk; mprotect reports the same failure as ENOMEM.
#[test]
fn split_failure_at_max_map_count_is_eagain() {
    let mut s = bare();
    // 65530 two-page VMAs with one-page gaps (built without per-op invariant checks: the
    // checks are quadratic here; they run once at the end).
    for i in 0..65530u64 {
        let op = Op::Mmap {
            pid: 1,
            addr: Some(c(3 * i)),
            len: 2 * P,
            prot: anonmap_daemon::command::Prot::RW,
            flags: anonmap_daemon::command::MmapFlags {
                private: true,
                anonymous: true,
                fixed: true,
                ..Default::default()
            },
            file: None,
            offset: None,
            label: None,
        };
        s.m.apply(&op).unwrap();
    }
    s.m.check_invariants().unwrap();
    //  c0   c1   c2      naming [c0,c1) must split the first VMA
    //  | A  : A  | hole | ...65529 more
    assert_eq!(name(&mut s, 1, 0, 1, "x"), Err(Errno::EAGAIN));
    assert_eq!(
        s.err(&format!(
            "mprotect pid=1 addr={:#x} len=4096 prot=r--",
            c(0)
        )),
        Errno::ENOMEM
    );
    // Naming a whole VMA needs no split and succeeds.
    assert_eq!(name(&mut s, 1, 0, 2, "x"), Ok(()));
    assert_eq!(s.vma(1, c(0)), Some((c(0), c(2))));
    assert_eq!(s.names(), vec![("x".to_string(), 1, 1)]);
}

/// §2.2: refcount == number of VMAs holding the object, across split (mprotect), fork,
/// mremap (copy +1, unmap −1), munmap and exit.
#[test]
fn name_refcounts_across_split_fork_mremap_munmap_exit() {
    let mut s = bare();
    //  c0                     c4
    //  |        [anon:rc]       |
    mmap(&mut s, 1, 0, 4, "rw-", "");
    assert_eq!(name(&mut s, 1, 0, 4, "rc"), Ok(()));
    write(&mut s, 1, 0, 4);
    assert_eq!(s.names(), vec![("rc".to_string(), 1, 1)]);
    //  c0    c1    c2          c4
    //  | rw- | r-- |    rw-    |      all [anon:rc]
    mprotect(&mut s, 1, 1, 1, "r--");
    assert_eq!(s.names(), vec![("rc".to_string(), 3, 3)]);
    // fork: the child's three VMAs share the object.
    s.ok("fork pid=1 child=2");
    assert_eq!(s.names(), vec![("rc".to_string(), 6, 6)]);
    assert_eq!(s.m.name_table_view()[0].pids, vec![1, 2]);
    // child: move [c2,c4) far away: the copy takes a reference, the unmapped source drops one.
    //  c0    c1    c2        ...  c100        c102
    //  | rw- | r-- |              | [anon:rc] |
    mv(&mut s, 2, 2, 2, 100);
    assert_eq!(
        s.layout(2),
        vec![
            l(0, 1, "rw-p", "[anon:rc]"),
            l(1, 2, "r--p", "[anon:rc]"),
            l(100, 102, "rw-p", "[anon:rc]"),
        ]
    );
    assert_eq!(s.names(), vec![("rc".to_string(), 6, 6)]);
    // parent: munmap [c0,c1).
    s.ok(&format!("munmap pid=1 addr={:#x} len=4096", c(0)));
    assert_eq!(s.names(), vec![("rc".to_string(), 5, 5)]);
    s.ok("exit pid=2");
    assert_eq!(s.names(), vec![("rc".to_string(), 2, 2)]);
    s.ok("exit pid=1");
    assert!(s.names().is_empty());
}

// ---------------------------------------------------------------------------------------------
// §8.2 merge.c
// ---------------------------------------------------------------------------------------------

/// §8.2 mprotect_unfaulted_left.
#[test]
fn merge_mprotect_unfaulted_left() {
    let mut s = carveout();
    // c1                      c11
    // |       unfaulted       |            RW, MAP_NORESERVE
    mmap(&mut s, 1, 1, 10, "rw-", ",noreserve");
    //      RO          RW
    // |-----------|-----------|
    // | unfaulted | unfaulted |
    mprotect(&mut s, 1, 1, 5, "r--");
    //      RO          RW
    // | unfaulted |  faulted  |
    write(&mut s, 1, 6, 1);
    //             RO
    // |        faulted        |
    mprotect(&mut s, 1, 6, 5, "r--");
    assert_eq!(
        arena(&s, 1),
        vec![
            l(0, 1, "---p", ""),
            l(1, 11, "r--p", ""),
            l(11, 30, "---p", "")
        ]
    );
    // The merged VMA holds the faulted page's anon_vma: the rmap finds it there.
    let r = s.rmap_at(1, c(6));
    assert_eq!(r.mappers.len(), 1);
    assert_eq!(
        (r.mappers[0].vma_start, r.mappers[0].vma_end),
        (c(1), c(11))
    );
}

/// §8.2 mprotect_unfaulted_right.
#[test]
fn merge_mprotect_unfaulted_right() {
    let mut s = carveout();
    // |       unfaulted       |
    mmap(&mut s, 1, 1, 10, "rw-", ",noreserve");
    //      RW          RO
    // | unfaulted | unfaulted |
    mprotect(&mut s, 1, 6, 5, "r--");
    // |  faulted  | unfaulted |
    write(&mut s, 1, 1, 1);
    //             RO
    // |        faulted        |
    mprotect(&mut s, 1, 1, 5, "r--");
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(11))));
    assert_eq!(arena(&s, 1)[1], l(1, 11, "r--p", ""));
    let r = s.rmap_at(1, c(1));
    assert_eq!(
        (r.mappers[0].vma_start, r.mappers[0].vma_end),
        (c(1), c(11))
    );
}

/// §8.2 mprotect_unfaulted_both.
#[test]
fn merge_mprotect_unfaulted_both() {
    let mut s = carveout();
    // c2                                  c11
    // |             unfaulted             |
    mmap(&mut s, 1, 2, 9, "rw-", ",noreserve");
    //      RO          RW          RO
    // | unfaulted | unfaulted | unfaulted |
    mprotect(&mut s, 1, 2, 3, "r--");
    mprotect(&mut s, 1, 8, 3, "r--");
    // | unfaulted |  faulted  | unfaulted |
    write(&mut s, 1, 5, 1);
    //                   RO
    // |              faulted              |
    mprotect(&mut s, 1, 5, 3, "r--");
    assert_eq!(
        arena(&s, 1),
        vec![
            l(0, 2, "---p", ""),
            l(2, 11, "r--p", ""),
            l(11, 30, "---p", "")
        ]
    );
}

/// §8.2 mprotect_faulted_left_unfaulted_right.
#[test]
fn merge_mprotect_faulted_left_unfaulted_right() {
    let mut s = carveout();
    mmap(&mut s, 1, 2, 9, "rw-", ",noreserve");
    //             RW               RO
    // |       unfaulted       | unfaulted |
    mprotect(&mut s, 1, 8, 3, "r--");
    // |        faulted        | unfaulted |
    write(&mut s, 1, 2, 1);
    //      RO          RW          RO
    // |  faulted  |  faulted  | unfaulted |
    mprotect(&mut s, 1, 2, 3, "r--");
    //                   RO
    // |              faulted              |
    mprotect(&mut s, 1, 5, 3, "r--");
    assert_eq!(s.vma(1, c(2)), Some((c(2), c(11))));
    assert_eq!(arena(&s, 1)[1], l(2, 11, "r--p", ""));
}

/// §8.2 mprotect_unfaulted_left_faulted_right.
#[test]
fn merge_mprotect_unfaulted_left_faulted_right() {
    let mut s = carveout();
    mmap(&mut s, 1, 2, 9, "rw-", ",noreserve");
    //      RO                RW
    // | unfaulted |       unfaulted       |
    mprotect(&mut s, 1, 2, 3, "r--");
    // | unfaulted |        faulted        |
    write(&mut s, 1, 5, 1);
    //      RO          RW          RO
    // | unfaulted |  faulted  |  faulted  |
    mprotect(&mut s, 1, 8, 3, "r--");
    //                   RO
    // |              faulted              |
    mprotect(&mut s, 1, 5, 3, "r--");
    assert_eq!(s.vma(1, c(2)), Some((c(2), c(11))));
    assert_eq!(arena(&s, 1)[1], l(2, 11, "r--p", ""));
}

/// §8.2 forked_target_vma: in the child, a new VMA next to an inherited faulted VMA does not
/// merge, even after every page was unCOWed (the AVC to the parent's anon_vma stays).
#[test]
fn merge_forked_target_vma() {
    let mut s = carveout();
    // c1          c6
    // |  faulted  |
    mmap(&mut s, 1, 1, 5, "rw-", "");
    write(&mut s, 1, 1, 1);
    s.ok("fork pid=1 child=2");
    // child: unCOW everything
    write(&mut s, 2, 1, 5);
    //     forked
    // |  faulted  | unfaulted |
    //      ptr         ptr2
    mmap(&mut s, 2, 6, 5, "rw-", "");
    assert_eq!(s.vma(2, c(1)), Some((c(1), c(6))));
    assert_eq!(
        arena(&s, 2),
        vec![
            l(0, 1, "---p", ""),
            l(1, 6, "rw-p", ""),
            l(6, 11, "rw-p", ""),
            l(11, 30, "---p", ""),
        ]
    );
}

/// §8.2 forked_source_vma: mprotecting the forked VMA to match an unfaulted neighbour does not
/// merge either.
#[test]
fn merge_forked_source_vma() {
    let mut s = carveout();
    mmap(&mut s, 1, 1, 5, "rw-", ",noreserve");
    write(&mut s, 1, 1, 1);
    s.ok("fork pid=1 child=2");
    write(&mut s, 2, 1, 5);
    //   forked RW      RWX
    // |  faulted  | unfaulted |
    mmap(&mut s, 2, 6, 5, "rwx", ",noreserve");
    assert_eq!(s.vma(2, c(6)), Some((c(6), c(11))));
    //  forked RWX      RWX
    // |  faulted  | unfaulted |    must NOT merge
    mprotect(&mut s, 2, 1, 5, "rwx");
    assert_eq!(s.vma(2, c(6)), Some((c(6), c(11))));
    assert_eq!(
        arena(&s, 2),
        vec![
            l(0, 1, "---p", ""),
            l(1, 6, "rwxp", ""),
            l(6, 11, "rwxp", ""),
            l(11, 30, "---p", ""),
        ]
    );
}

/// §8.2 handle_uprobe_upon_merged_vma, without the uprobe (the simulator has none): a 10-page
/// PROT_EXEC private file mapping, its first page moved to +5 as two pages, then one page moved
/// back. Must not crash; the layout follows from munmap/mremap rules.
#[test]
fn merge_handle_uprobe_upon_merged_vma_without_uprobe() {
    let mut s = carveout();
    s.ok("file path=/tmp/foo size=4096");
    // c1                                  c11
    // |        --x file, pgoff 0..10      |
    s.ok(&format!(
        "mmap pid=1 addr={:#x} len={} prot=--x flags=private,fixed file=/tmp/foo",
        c(1),
        10 * P
    ));
    // mremap(ptr1, 1 page, 2 pages, MAYMOVE|FIXED, ptr1 + 5 pages)
    //  c1   c2          c6          c8          c11
    //  |hole| pgoff 1.. | pgoff 0,1 | pgoff 7.. |
    let got = s.ok(&format!(
        "mremap pid=1 addr={:#x} old_len=4096 new_len=8192 flags=maymove,fixed new_addr={:#x}",
        c(1),
        c(6)
    ));
    assert_eq!(got, c(6));
    // mremap(ptr2, 1 page, 1 page, MAYMOVE|FIXED, ptr1)
    let got = s.ok(&format!(
        "mremap pid=1 addr={:#x} old_len=4096 new_len=4096 flags=maymove,fixed new_addr={:#x}",
        c(6),
        c(1)
    ));
    assert_eq!(got, c(1));
    // The first move left [c2,c6) at pgoff 1, the copy [c6,c8) at pgoff 0 and [c8,c11) at
    // pgoff 7. Moving page c6 (pgoff 0) to c1 merges it in front of [c2,c6) (same file,
    // contiguous offsets); [c7,c8) keeps pgoff 1 and cannot merge with pgoff 7.
    let av = s.m.address_space_view(1).unwrap();
    let offs: Vec<(u64, u64, u64)> = av
        .vmas
        .iter()
        .filter(|v| v.start >= C && v.end <= c(30))
        .map(|v| (v.start, v.end, v.offset))
        .collect();
    assert_eq!(
        offs,
        vec![
            (c(0), c(1), 0),
            (c(1), c(6), 0),
            (c(7), c(8), P),
            (c(8), c(11), 7 * P),
            (c(11), c(30), 0),
        ]
    );
}

/// §8.2 ksm_merge, the part that needs no KSM: two adjacent 1-page maps merge; after unmapping
/// the second, a new adjacent map merges again; unmapping both and mapping twice merges.
#[test]
fn merge_ksm_merge_without_ksm() {
    let mut s = carveout();
    // |    R/W    |    R/W    |
    //      ptr         ptr2
    mmap(&mut s, 1, 1, 1, "rw-", "");
    mmap(&mut s, 1, 2, 1, "rw-", "");
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(3))));
    s.ok(&format!("munmap pid=1 addr={:#x} len=4096", c(2)));
    mmap(&mut s, 1, 2, 1, "rw-", "");
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(3))));
    s.ok(&format!("munmap pid=1 addr={:#x} len=8192", c(1)));
    mmap(&mut s, 1, 1, 1, "rw-", "");
    mmap(&mut s, 1, 2, 1, "rw-", "");
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(3))));
}

/// §8.2 mremap_unfaulted_to_faulted.
#[test]
fn merge_mremap_unfaulted_to_faulted() {
    let mut s = carveout();
    // c1          c6 c7          c12
    // | unfaulted |  | unfaulted |
    //      ptr            ptr2
    mmap(&mut s, 1, 1, 5, "rw-", "");
    mmap(&mut s, 1, 7, 5, "rw-", "");
    mv(&mut s, 1, 7, 5, 1007);
    // |  faulted  |  \  | unfaulted |   (ptr2 far away)
    write(&mut s, 1, 1, 1);
    // |  faulted  | unfaulted |  →  |       faulted        |
    mv(&mut s, 1, 1007, 5, 6);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(11))));
    // The moved part now allocates from ptr's anon_vma.
    write(&mut s, 1, 8, 1);
    assert_eq!(s.mapping(1, c(8)), s.mapping(1, c(1)));
}

/// §8.2 mremap_unfaulted_behind_faulted.
#[test]
fn merge_mremap_unfaulted_behind_faulted() {
    let mut s = carveout();
    // c6          c11   c14         c19
    // | unfaulted |     | unfaulted |
    mmap(&mut s, 1, 6, 5, "rw-", "");
    mmap(&mut s, 1, 14, 5, "rw-", "");
    mv(&mut s, 1, 14, 5, 1014);
    write(&mut s, 1, 6, 1);
    // | unfaulted |  faulted  |   ptr2 moved to c1, just before ptr
    //      ptr2        ptr
    mv(&mut s, 1, 1014, 5, 1);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(11))));
}

/// §8.2 mremap_unfaulted_between_faulted: A and C have different anon_vmas, so only A+B merge.
#[test]
fn merge_mremap_unfaulted_between_faulted() {
    let mut s = carveout();
    // c1    c6 c7    c12  c14   c19
    // |  A  |  |  B  |    |  C  |
    mmap(&mut s, 1, 1, 5, "rw-", "");
    mmap(&mut s, 1, 7, 5, "rw-", "");
    mmap(&mut s, 1, 14, 5, "rw-", "");
    mv(&mut s, 1, 14, 5, 2014);
    mv(&mut s, 1, 7, 5, 1007);
    // |faulted A| \ |unfaulted B| \ |faulted C|
    write(&mut s, 1, 1, 1);
    write(&mut s, 1, 2014, 1);
    assert_ne!(s.mapping(1, c(1)), s.mapping(1, c(2014)));
    // |faulted A|           |faulted C|   C moved back to A+10
    mv(&mut s, 1, 2014, 5, 11);
    // |faulted A|unfaulted B|faulted C|  →  |      A+B      |  C  |
    mv(&mut s, 1, 1007, 5, 6);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(11))));
    assert_eq!(s.vma(1, c(11)), Some((c(11), c(16))));
}

/// §8.2 mremap_unfaulted_between_faulted_unfaulted: only A faulted, all three merge.
#[test]
fn merge_mremap_unfaulted_between_faulted_unfaulted() {
    let mut s = carveout();
    mmap(&mut s, 1, 1, 5, "rw-", "");
    mmap(&mut s, 1, 7, 5, "rw-", "");
    mmap(&mut s, 1, 14, 5, "rw-", "");
    mv(&mut s, 1, 14, 5, 2014);
    mv(&mut s, 1, 7, 5, 1007);
    write(&mut s, 1, 1, 1);
    // |faulted A|           |unfaulted C|
    mv(&mut s, 1, 2014, 5, 11);
    // |faulted A|unfaulted B|unfaulted C|  →  |            A+B+C            |
    mv(&mut s, 1, 1007, 5, 6);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(16))));
    // C's original place [c14,c19) was carved out of the PROT_NONE region; [c16,c19) stays a
    // hole.
    assert_eq!(
        arena(&s, 1),
        vec![
            l(0, 1, "---p", ""),
            l(1, 16, "rw-p", ""),
            l(19, 30, "---p", "")
        ]
    );
}

/// §8.2 mremap_unfaulted_between_correctly_placed_faulted.
#[test]
fn merge_mremap_unfaulted_between_correctly_placed_faulted() {
    let mut s = carveout();
    // c1                                  c16
    // |              faulted              |
    mmap(&mut s, 1, 1, 15, "rw-", "");
    write(&mut s, 1, 1, 1);
    // |  faulted  |           |  faulted  |
    s.ok(&format!("munmap pid=1 addr={:#x} len={}", c(6), 5 * P));
    // ... plus a fresh unfaulted ptr2 at c20
    mmap(&mut s, 1, 20, 5, "rw-", "");
    // |  faulted  | unfaulted |  faulted  |  →  one VMA of 15 pages
    mv(&mut s, 1, 20, 5, 6);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(16))));
}

/// §8.2 mremap_correct_placed_faulted: pieces of one faulted VMA merge whenever they return to
/// pgoff-consistent places. Every page is written so the moved page tables can be checked too.
#[test]
fn merge_mremap_correct_placed_faulted() {
    let mut s = carveout();
    // c1                                  c16
    // |              faulted              |
    mmap(&mut s, 1, 1, 15, "rw-", "");
    write(&mut s, 1, 1, 15);
    let av = s.mapping(1, c(1));
    // |  ptr  | \ | ptr2 | \ | ptr3 |     (middle +1000, last +2000)
    mv(&mut s, 1, 11, 5, 2011);
    mv(&mut s, 1, 6, 5, 1006);
    // |  ptr  | ptr2 | \ | ptr3 |   →  |  ptr (10)  | \ | ptr3 |
    mv(&mut s, 1, 1006, 5, 6);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(11))));
    //         | ptr2 | \ | ptr | \ | ptr3 |
    mv(&mut s, 1, 1, 5, 1001);
    // | ptr | ptr2 |  →  10 pages again
    mv(&mut s, 1, 1001, 5, 1);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(11))));
    //         | ptr2 | \ | ptr |      then ptr3 back next to ptr2
    mv(&mut s, 1, 1, 5, 1001);
    mv(&mut s, 1, 2011, 5, 11);
    //         | ptr2 | ptr3 |   → 10 pages starting at ptr2
    assert_eq!(s.vma(1, c(6)), Some((c(6), c(16))));
    // | ptr | ptr2 | ptr3 |  → 15 pages
    mv(&mut s, 1, 1001, 5, 1);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(16))));
    // middle away and back → 15
    mv(&mut s, 1, 6, 5, 1006);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(6))));
    mv(&mut s, 1, 1006, 5, 6);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(16))));
    // last away and back → 15
    mv(&mut s, 1, 11, 5, 2011);
    mv(&mut s, 1, 2011, 5, 11);
    assert_eq!(s.vma(1, c(1)), Some((c(1), c(16))));
    // §6.7: pages kept their anon_vma and index through every move; the rmap finds each one
    // at its original address.
    for p in 1..16 {
        let r = s.rmap_at(1, c(p));
        assert_eq!(r.mapping, av);
        assert_eq!(r.index, c(p) / P);
        assert_eq!(r.mappers.len(), 1);
        assert_eq!(r.mappers[0].vaddr, c(p));
    }
}

/// §8.2 merge_vmas_with_mseal, without mseal (not modelled): RW | RWX | RO, then the first made
/// RWX merges with the second; the third stays separate.
#[test]
fn merge_vmas_with_mseal_without_seal() {
    let mut s = carveout();
    // c1    c6    c11   c16
    // | RW  | RWX | RO  |
    mmap(&mut s, 1, 1, 5, "rw-", "");
    mmap(&mut s, 1, 6, 5, "rwx", "");
    mmap(&mut s, 1, 11, 5, "r--", "");
    // | RWX       | RO  |
    mprotect(&mut s, 1, 1, 5, "rwx");
    assert_eq!(
        arena(&s, 1),
        vec![
            l(0, 1, "---p", ""),
            l(1, 11, "rwxp", ""),
            l(11, 16, "r--p", ""),
            l(16, 30, "---p", ""),
        ]
    );
}

/// Runs a merge_with_fork case: `faulted` sets up and faults, then (when `forked`) the rest
/// runs in the child, as merge.c continues in the child after do_fork().
fn with_fork(forked: bool, setup: impl Fn(&mut Sim), rest: impl Fn(&mut Sim, u32)) -> Sim {
    let mut s = carveout();
    setup(&mut s);
    let pid = if forked {
        s.ok("fork pid=1 child=2");
        2
    } else {
        1
    };
    rest(&mut s, pid);
    s
}

/// §8.2 merge_with_fork/{forked,unforked} mremap_faulted_to_unfaulted_prev (MREMAP_DONTUNMAP
/// is not modelled; the final move is a plain fixed move, which gives the same destination).
#[test]
fn merge_with_fork_mremap_faulted_to_unfaulted_prev() {
    for forked in [false, true] {
        // c1    c4          c7
        // |  B  |  faulted A |
        let s = with_fork(
            forked,
            |s| {
                mmap(s, 1, 4, 3, "rw-", "");
                write(s, 1, 4, 1);
            },
            |s, pid| {
                mv(s, pid, 4, 3, 20);
                mmap(s, pid, 1, 3, "rw-", "");
                mv(s, pid, 20, 3, 4);
            },
        );
        let pid = if forked { 2 } else { 1 };
        let expect = if forked { c(4) } else { c(7) };
        assert_eq!(s.vma(pid, c(1)), Some((c(1), expect)), "forked={forked}");
    }
}

/// §8.2 merge_with_fork mremap_faulted_to_unfaulted_next.
#[test]
fn merge_with_fork_mremap_faulted_to_unfaulted_next() {
    for forked in [false, true] {
        // c1         c4    c7
        // | faulted A |  B  |
        let s = with_fork(
            forked,
            |s| {
                mmap(s, 1, 1, 3, "rw-", "");
                write(s, 1, 1, 1);
            },
            |s, pid| {
                mv(s, pid, 1, 3, 20);
                mmap(s, pid, 4, 3, "rw-", "");
                mv(s, pid, 20, 3, 1);
            },
        );
        let pid = if forked { 2 } else { 1 };
        let expect = if forked { c(4) } else { c(7) };
        assert_eq!(s.vma(pid, c(1)), Some((c(1), expect)), "forked={forked}");
    }
}

/// §8.2 merge_with_fork mremap_faulted_to_unfaulted_prev_unfaulted_next.
#[test]
fn merge_with_fork_mremap_faulted_to_unfaulted_prev_unfaulted_next() {
    for forked in [false, true] {
        // c1    c4          c7    c10
        // |  A  | faulted B |  C  |
        let s = with_fork(
            forked,
            |s| {
                mmap(s, 1, 4, 3, "rw-", "");
                write(s, 1, 4, 1);
            },
            |s, pid| {
                mv(s, pid, 4, 3, 20);
                mmap(s, pid, 1, 3, "rw-", "");
                mmap(s, pid, 7, 3, "rw-", "");
                mv(s, pid, 20, 3, 4);
            },
        );
        let pid = if forked { 2 } else { 1 };
        if forked {
            assert_eq!(s.vma(pid, c(1)), Some((c(1), c(4))));
            assert_eq!(s.vma(pid, c(4)), Some((c(4), c(7))));
            assert_eq!(s.vma(pid, c(7)), Some((c(7), c(10))));
        } else {
            assert_eq!(s.vma(pid, c(1)), Some((c(1), c(10))));
        }
    }
}

/// §8.2 merge_with_fork mremap_faulted_to_unfaulted_prev_faulted_next.
#[test]
fn merge_with_fork_mremap_faulted_to_unfaulted_prev_faulted_next() {
    for forked in [false, true] {
        // c1    c4    c7    c10
        // |  A  |  B  |  C  |      B+C one faulted VMA, B moved away and back
        let s = with_fork(
            forked,
            |s| {
                mmap(s, 1, 4, 6, "rw-", "");
                write(s, 1, 4, 1);
            },
            |s, pid| {
                mv(s, pid, 4, 3, 20);
                mmap(s, pid, 1, 3, "rw-", "");
                mv(s, pid, 20, 3, 4);
            },
        );
        let pid = if forked { 2 } else { 1 };
        if forked {
            assert_eq!(s.vma(pid, c(1)), Some((c(1), c(4))));
            assert_eq!(s.vma(pid, c(4)), Some((c(4), c(10))));
        } else {
            assert_eq!(s.vma(pid, c(1)), Some((c(1), c(10))));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// §8.3 extra vectors observed on 6.18
// ---------------------------------------------------------------------------------------------

/// §8.3.1: two adjacent MAP_FIXED anon RW 4-page maps → one 8-page rw-p line.
#[test]
fn host_two_adjacent_maps_merge() {
    let mut s = bare();
    mmap(&mut s, 1, 0, 4, "rw-", "");
    mmap(&mut s, 1, 4, 4, "rw-", "");
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
    mmap(&mut s, 1, 0, 8, "rw-", "");
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
    mmap(&mut s, 1, 0, 1, "rw-", "");
    assert_eq!(s.pagemap(1, c(0)), 0);
    s.ok(&format!(
        "touch pid=1 addr={:#x} len=4096 access=read",
        c(0)
    ));
    let e = s.pagemap(1, c(0));
    assert_eq!(e >> 55, 1 << 8, "only bit 63 among the flag bits: {e:#x}");
    assert_eq!(s.kb(1, c(0)).rss, 0);
    assert_eq!(s.smaps_field(1, c(0), "Rss"), "0 kB");
}

/// §8.3.4: munmap of one page of an 8-page VMA → two VMAs (2 and 5 pages).
#[test]
fn host_munmap_middle_page() {
    let mut s = bare();
    mmap(&mut s, 1, 0, 8, "rw-", "");
    s.ok(&format!("munmap pid=1 addr={:#x} len=4096", c(2)));
    assert_eq!(s.layout(1), vec![l(0, 2, "rw-p", ""), l(3, 8, "rw-p", "")]);
}

/// §8.3.5: mremap of a faulted 8-page VMA inside PROT_NONE: the old range becomes a hole, the
/// destination line is `rw-p 00000000 00:00 0 ` and does not merge with the PROT_NONE around it.
#[test]
fn host_mremap_faulted_vma_to_new_address() {
    let mut s = carveout();
    // c0  c2          c10                      c30
    // |---|  rw- (8)  |          ---           |
    mmap(&mut s, 1, 2, 8, "rw-", "");
    write(&mut s, 1, 2, 8);
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
    mmap(&mut s, 1, 0, 2, "rw-", "");
    mmap(&mut s, 1, 3, 2, "rw-", "");
    write(&mut s, 1, 0, 2);
    write(&mut s, 1, 3, 2);
    s.ok(&format!(
        "madvise pid=1 addr={:#x} len=8192 advice=dontfork",
        c(0)
    ));
    s.ok(&format!(
        "madvise pid=1 addr={:#x} len=8192 advice=wipeonfork",
        c(3)
    ));
    s.ok("fork pid=1 child=2");
    assert_eq!(s.layout(2), vec![l(3, 5, "rw-p", "")]);
    assert_eq!(s.kb(2, c(3)).rss, 0);
    s.ok(&format!(
        "touch pid=2 addr={:#x} len=8192 access=read",
        c(3)
    ));
    assert_eq!(s.kb(2, c(3)).rss, 0);
    // The parent keeps both, resident and unshared.
    assert_eq!(s.kb(1, c(0)).private_dirty, 8);
    assert_eq!(s.kb(1, c(3)).private_dirty, 8);
    assert_eq!(s.smaps_field(1, c(0), "VmFlags"), "rd wr mr mw me dc ac");
    assert_eq!(s.smaps_field(1, c(3), "VmFlags"), "rd wr mr mw me ac wf");
    // DONTCOPY pages are not in the child's VmSize (§9.6).
    assert_eq!(s.status(2).vm_size_kb, 8);
}

/// §9.4: flag-changing madvise ops split like naming and keep the name on both halves.
#[test]
fn madvise_flag_change_preserves_names() {
    let mut s = bare();
    mmap(&mut s, 1, 0, 4, "rw-", "");
    assert_eq!(name(&mut s, 1, 0, 4, "keep"), Ok(()));
    s.ok(&format!(
        "madvise pid=1 addr={:#x} len=4096 advice=dontdump",
        c(1)
    ));
    //  | keep | keep,dd | keep      |
    assert_eq!(
        s.layout(1),
        vec![
            l(0, 1, "rw-p", "[anon:keep]"),
            l(1, 2, "rw-p", "[anon:keep]"),
            l(2, 4, "rw-p", "[anon:keep]"),
        ]
    );
    assert_eq!(s.names(), vec![("keep".to_string(), 3, 3)]);
    s.ok(&format!(
        "madvise pid=1 addr={:#x} len=4096 advice=dodump",
        c(1)
    ));
    assert_eq!(s.layout(1), vec![l(0, 4, "rw-p", "[anon:keep]")]);
    assert_eq!(s.names(), vec![("keep".to_string(), 1, 1)]);
}

/// §2.2: after fork both processes share the object; a rename in the child allocates a new
/// object for the child's VMA only; MAP_FIXED over a named VMA drops its reference.
#[test]
fn rename_after_fork_and_map_fixed_over_named() {
    let mut s = bare();
    // c0          c4
    // | [anon:p]   |
    mmap(&mut s, 1, 0, 4, "rw-", "");
    assert_eq!(name(&mut s, 1, 0, 4, "p"), Ok(()));
    s.ok("fork pid=1 child=2");
    assert_eq!(s.names(), vec![("p".to_string(), 2, 2)]);
    assert_eq!(name(&mut s, 2, 0, 4, "q"), Ok(()));
    assert_eq!(
        s.names(),
        vec![("p".to_string(), 1, 1), ("q".to_string(), 1, 1)]
    );
    assert_eq!(s.layout(1), vec![l(0, 4, "rw-p", "[anon:p]")]);
    assert_eq!(s.layout(2), vec![l(0, 4, "rw-p", "[anon:q]")]);
    // c0   c1       c3  c4
    // | p  | new    | p |     MAP_FIXED over the middle of the parent's VMA
    mmap(&mut s, 1, 1, 2, "rw-", "");
    assert_eq!(
        s.layout(1),
        vec![
            l(0, 1, "rw-p", "[anon:p]"),
            l(1, 3, "rw-p", ""),
            l(3, 4, "rw-p", "[anon:p]"),
        ]
    );
    assert_eq!(
        s.names(),
        vec![("p".to_string(), 2, 2), ("q".to_string(), 1, 1)]
    );
    s.ok(&format!("munmap pid=1 addr={:#x} len={}", c(0), 4 * P));
    assert_eq!(s.names(), vec![("q".to_string(), 1, 1)]);
}
