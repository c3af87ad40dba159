//! Naming with prctl(PR_SET_VMA_ANON_NAME): validation of the name (§1.2: length, charset,
//! checked before the range), the range checks (§1.3), and the walk over the range (§1.3.6):
//! holes skipped then ENOMEM, a file VMA aborting with EBADF, shared anonymous memory (§1.4),
//! the heap and the stack keeping their labels, and a split refused at vm.max_map_count.
//!
//! `§N.M` are the sections of docs/kernel-semantics.md.
//!
//! Each step's VMA layout is drawn before it, as in the kernel's
//! tools/testing/vma/tests/merge.c. Addresses are pages above the arena `C` (`c(n)`).

use anonmap_abi::{Call, Errno, MmapArgs, MmapFlags, NameArgs, Prot};
use anonmap_testkit::sim::{c, l, line, Sim, P};

use crate::common::{anon, assert_names, bare, clear, mmap, mmap_file, name, stack};

/// §1.2.2: 80 bytes include the NUL, so 79 characters is the longest name; 80 → EINVAL.
#[test]
fn name_length_limit_is_79_chars() {
    let mut s = bare();
    anon(&mut s, 1, 0, 1);
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
    anon(&mut s, 1, 0, 1);
    let call = |text: &str| {
        Call::Name(NameArgs {
            pid: 1,
            addr: c(0),
            len: P,
            name: Some(text.into()),
        })
    };
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
        assert_eq!(
            s.apply(&call(bad), bad).unwrap_err().errno,
            Errno::EINVAL,
            "{bad:?} must be refused"
        );
    }
    assert_eq!(s.layout(1), vec![l(0, 1, "rw-p", "")]);
    for good in ["'", "/", ":", "()", "{}", "dalvik-main space", "a\"b"] {
        s.apply(&call(good), good).unwrap();
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
    anon(&mut s, 1, 0, 2);
    for (addr, len, why) in [
        (c(0) + 8, "4096", "unaligned addr"),
        (
            c(0),
            "0xffffffffffffffff",
            "round_up(size) overflows to 0 with size != 0",
        ),
        (c(0), "0xfffffffffffff000", "end wraps past 2^64"),
    ] {
        assert_eq!(
            s.err(&format!("name pid=1 addr={addr:#x} len={len} name=\"x\"")),
            Errno::EINVAL,
            "{why}"
        );
    }
    s.ok("name pid=1 addr=0x1000 len=0 name=\"x\"");
    assert_eq!(s.layout(1), vec![l(0, 2, "rw-p", "")]);
    assert!(s.names().is_empty());
}

/// §1.3.6: holes are skipped, the mapped parts are renamed, and the call returns ENOMEM.
#[test]
fn name_over_holes_renames_mapped_parts_then_enomem() {
    let mut s = bare();
    //  c0      c2     c3      c5
    //  |   A   | hole |   B   |
    anon(&mut s, 1, 0, 2);
    anon(&mut s, 1, 3, 2);
    assert_eq!(name(&mut s, 1, 0, 5, "x"), Err(Errno::ENOMEM));
    //  |[anon:x]| hole |[anon:x]|
    assert_eq!(
        s.layout(1),
        vec![l(0, 2, "rw-p", "[anon:x]"), l(3, 5, "rw-p", "[anon:x]")]
    );
    // One prctl call, one object, held by the two VMAs that adopted it (§2.2).
    assert_names(&s, &[("x", 2, 2)]);

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
    assert_names(&s, &[("x", 1, 1), ("y", 1, 1)]);
}

/// §1.3.6 / §1.4: a file VMA in the range aborts the walk with EBADF; pieces already renamed
/// keep their name, pieces after the file VMA are untouched. Clearing hits the same check.
#[test]
fn name_file_vma_is_ebadf_without_rollback() {
    let mut s = bare();
    s.ok("file path=/data/f size=8192");
    //  c0      c2      c4      c6
    //  |   A   |  file |   B   |
    anon(&mut s, 1, 0, 2);
    mmap_file(&mut s, 1, 2, 2, "rw-", "/data/f");
    anon(&mut s, 1, 4, 2);
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
    mmap(&mut s, 1, 0, 2, "rw-", "shared,anonymous");
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
    let (lo, hi) = stack(&s, 7);
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
    assert_names(&s, &[("heapname", 1, 1), ("stackname", 1, 1)]);
}

/// §1.3.6 / §7.3: a split refused at vm.max_map_count (65530) is ENOMEM inside, reported as
/// EAGAIN by the naming walk; mprotect reports the same failure as ENOMEM.
#[test]
fn split_failure_at_max_map_count_is_eagain() {
    let mut s = bare();
    // 65530 two-page VMAs with one-page gaps (built without per-op invariant checks: the
    // checks are quadratic here; they run once at the end).
    for i in 0..65530u64 {
        let call = Call::Mmap(MmapArgs {
            pid: 1,
            addr: Some(c(3 * i)),
            len: 2 * P,
            prot: Prot::RW,
            flags: MmapFlags {
                private: true,
                anonymous: true,
                fixed: true,
                ..Default::default()
            },
            file: None,
            offset: None,
        });
        s.m.apply(&call).unwrap();
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
    assert_names(&s, &[("x", 1, 1)]);
}
