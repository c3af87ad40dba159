//! /proc/<pid>/status memory lines and statm (§4.4): the counters through mmap, faults, munmap
//! and mprotect, a fresh process's stack, and the high-water marks across MADV_DONTNEED and
//! fork.
//!
//! `§N.M` are the sections of docs/kernel-semantics.md.
//!
//! Each step's VMA layout is drawn before it, as in the kernel's
//! tools/testing/vma/tests/merge.c. Addresses are pages above the arena `C` (`c(n)`).

use anonmap_proc::render::render_status;
use anonmap_testkit::sim::Sim;

use crate::common::{
    anon, anon_written, bare, dontneed, marks, mmap, mmap_file, mprotect, munmap, touch,
};

/// §4.4: VmSize/VmData/VmLib/VmRSS/RssAnon/RssFile/RssShmem/VmHWM/VmPeak through a few ops,
/// and one rendered line's format.
#[test]
fn status_counters() {
    let mut s = bare();
    s.ok("file path=/data/f size=16K");
    // c0               c16   c20   c24   c28
    // |   rw- anon      | r-x | shm | file|
    anon(&mut s, 1, 0, 16);
    let st = s.status(1);
    assert_eq!((st.vm_size_kb, st.vm_data_kb, st.vm_peak_kb), (64, 64, 64));
    mmap(&mut s, 1, 16, 4, "r-x", "private,anonymous");
    mmap(&mut s, 1, 20, 4, "rw-", "shared,anonymous");
    mmap_file(&mut s, 1, 24, 4, "r--", "/data/f");
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
    munmap(&mut s, 1, 0, 4);
    let st = s.status(1);
    assert_eq!((st.vm_rss_kb, st.rss_anon_kb, st.vm_hwm_kb), (48, 16, 64));
    assert_eq!((st.vm_size_kb, st.vm_peak_kb, st.vm_data_kb), (96, 112, 48));
    // mprotect the rest of the data region read-only: it leaves data_vm
    mprotect(&mut s, 1, 4, 12, "r--");
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
    let mut s = bare();
    // c0              c8
    // | w w w w w w w w |   then DONTNEED all
    anon_written(&mut s, 1, 0, 8);
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
    let mut s = bare();
    // c0                      c16
    // | w w w w w w w w |       |    then munmap [c2, c16)
    anon(&mut s, 1, 0, 16);
    touch(&mut s, 1, 0, 8, "write");
    munmap(&mut s, 1, 2, 14);
    assert_eq!(marks(&s, 1), (8, 32, 8, 64));
    // c0   c2
    // | w w |   fork
    s.ok("fork pid=1 child=2");
    assert_eq!(marks(&s, 2), (8, 8, 8, 8));
    // The child's own peak is then tracked from there.
    anon_written(&mut s, 2, 2, 2);
    munmap(&mut s, 2, 0, 4);
    assert_eq!(marks(&s, 2), (0, 16, 0, 16));
}
