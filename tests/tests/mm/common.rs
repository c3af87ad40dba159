//! Helpers the mm modules share: a bare process, merge.c's carve-out, and one-line wrappers
//! around the command lines the tests run most (mmap, touch, mprotect, mremap, MADV_DONTNEED,
//! naming), all in pages above the arena `C` (`c(n)`).

use anonmap_abi::Errno;
use anonmap_testkit::sim::{c, Sim, C, P};

/// A bare process 1 with nothing mapped.
pub fn bare() -> Sim {
    let mut s = Sim::new();
    s.ok("spawn pid=1 bare");
    s
}

/// A bare process 1 with merge.c's 30-page PROT_NONE carveout at `C`.
pub fn carveout() -> Sim {
    let mut s = Sim::new();
    s.script(&format!(
        "spawn pid=1 bare
         mmap pid=1 addr={C:#x} len={} prot=--- flags=private,anonymous,fixed",
        30 * P
    ));
    s
}

/// The carveout's layout: every VMA inside the 30 pages at `C`.
pub fn arena(s: &Sim, pid: u32) -> Vec<String> {
    s.layout_in(pid, C, c(30))
}

/// mmap of `pages` pages at page `page` with `flags` and MAP_FIXED.
pub fn mmap(s: &mut Sim, pid: u32, page: u64, pages: u64, prot: &str, flags: &str) {
    s.ok(&format!(
        "mmap pid={pid} addr={:#x} len={} prot={prot} flags={flags},fixed",
        c(page),
        pages * P
    ));
}

/// A private anonymous read-write MAP_FIXED mapping.
pub fn anon(s: &mut Sim, pid: u32, page: u64, pages: u64) {
    mmap(s, pid, page, pages, "rw-", "private,anonymous");
}

/// `touch` with `access` (`read` or `write`).
pub fn touch(s: &mut Sim, pid: u32, page: u64, pages: u64, access: &str) {
    s.ok(&format!(
        "touch pid={pid} addr={:#x} len={} access={access}",
        c(page),
        pages * P
    ));
}

pub fn mprotect(s: &mut Sim, pid: u32, page: u64, pages: u64, prot: &str) {
    s.ok(&format!(
        "mprotect pid={pid} addr={:#x} len={} prot={prot}",
        c(page),
        pages * P
    ));
}

/// mremap of `pages` pages from page `from` to page `to` (MREMAP_MAYMOVE|MREMAP_FIXED).
pub fn mv(s: &mut Sim, pid: u32, from: u64, pages: u64, to: u64) {
    let got = s.ok(&format!(
        "mremap pid={pid} addr={:#x} old_len={} new_len={} flags=maymove,fixed new_addr={:#x}",
        c(from),
        pages * P,
        pages * P,
        c(to)
    ));
    assert_eq!(got, c(to));
}

pub fn dontneed(s: &mut Sim, pid: u32, page: u64, pages: u64) -> Result<(), Errno> {
    s.run(&format!(
        "madvise pid={pid} addr={:#x} len={} advice=dontneed",
        c(page),
        pages * P
    ))
    .map(|_| ())
    .map_err(|e| e.errno)
}

pub fn name(s: &mut Sim, pid: u32, page: u64, pages: u64, text: &str) -> Result<(), Errno> {
    s.run(&format!(
        "name pid={pid} addr={:#x} len={} name=\"{text}\"",
        c(page),
        pages * P
    ))
    .map(|_| ())
    .map_err(|e| e.errno)
}

pub fn clear(s: &mut Sim, pid: u32, page: u64, pages: u64) -> Result<(), Errno> {
    s.run(&format!(
        "name pid={pid} addr={:#x} len={} clear",
        c(page),
        pages * P
    ))
    .map(|_| ())
    .map_err(|e| e.errno)
}
