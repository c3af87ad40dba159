//! Every case of the kernel's tools/testing/selftests/prctl/set-anon-vma-name-test.c (§8.1),
//! run against the simulator: a good name shows in maps as `[anon:goodname]`, a name with a
//! control byte is EINVAL and leaves the old name, and naming memory that is not anonymous is
//! EINVAL (no mapping) or EBADF (a file mapping).
//!
//! `§N.M` are the sections of docs/kernel-semantics.md.

use anonmap_abi::{Call, Errno, NameArgs};
use anonmap_testkit::sim::{line, Sim, P};

use crate::common::bare;

/// A bare process with `mmap(NULL, 1024, RW, PRIVATE|ANON)` at `ptr` renamed to "goodname", as
/// the selftest's first two cases start; returns `ptr`.
fn goodname(s: &mut Sim) -> u64 {
    let ptr = s.ok("mmap pid=1 len=1024 prot=rw- flags=private,anonymous");
    s.ok(&format!(
        "name pid=1 addr={ptr:#x} len=1024 name=\"goodname\""
    ));
    ptr
}

/// Asserts that the only VMA is the page at `ptr`, `rw-p` and labelled `label`.
#[track_caller]
fn assert_one_page(s: &Sim, ptr: u64, label: &str) {
    assert_eq!(s.layout(1), vec![line(ptr, ptr + P, "rw-p", label)]);
}

/// §8.1 #1: rename(ptr_anon, 1024, "goodname") succeeds and maps shows `[anon:goodname]` as the
/// 8th token of the line starting at ptr_anon. 1024 bytes round up to one page (§1.5).
#[test]
fn st1_rename_goodname() {
    let mut s = bare();
    //   C    C+1
    //   |anon|        mmap(NULL, 1024, RW, PRIVATE|ANON)
    let ptr = goodname(&mut s);
    //   |[anon:goodname]|
    let maps = s.maps(1);
    let l = maps
        .lines()
        .find(|l| l.starts_with(&format!("{ptr:x}-")))
        .expect("a line starting at ptr_anon");
    // sscanf("%lx-%lx %7s %lx %u:%u %u %s"): the 8th conversion is the 6th blank-separated word.
    assert_eq!(l.split_whitespace().nth(5), Some("[anon:goodname]"));
    assert_one_page(&s, ptr, "[anon:goodname]");
}

/// §8.1 #2: "badname\1" (contains 0x01) → EINVAL and the name is unchanged.
#[test]
fn st1_rename_badname_is_einval() {
    let mut s = bare();
    let ptr = goodname(&mut s);
    // The command language cannot carry a control byte, so the call is built directly.
    let call = Call::Name(NameArgs {
        pid: 1,
        addr: ptr,
        len: 1024,
        name: Some("badname\u{1}".into()),
    });
    assert_eq!(s.apply(&call, "badname").unwrap_err().errno, Errno::EINVAL);
    assert_one_page(&s, ptr, "[anon:goodname]");
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
    assert_one_page(&s, ptr, "/etc/hostname");
}
