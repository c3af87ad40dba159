//! Helpers the mm modules share: a bare process, merge.c's carve-out, and one-line wrappers
//! around the command lines the tests run most (mmap, touch, mprotect, mremap, munmap, madvise,
//! naming, reclaim), all in pages above the arena `C` (`c(n)`), plus the readings several
//! modules take (the `[stack]` VMA, the rmap's mappers, the status high-water marks).

use anonmap_abi::{Errno, Outcome};
use anonmap_proc::view::RmapView;
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

/// `addr=… len=…` for `pages` pages at page `page`.
fn range(page: u64, pages: u64) -> String {
    format!("addr={:#x} len={}", c(page), pages * P)
}

/// Runs `line`; its errno if it fails.
fn errno(s: &mut Sim, line: &str) -> Result<(), Errno> {
    s.run(line).map(|_| ()).map_err(|e| e.errno)
}

/// mmap of `pages` pages at page `page` with `flags` and MAP_FIXED.
pub fn mmap(s: &mut Sim, pid: u32, page: u64, pages: u64, prot: &str, flags: &str) {
    let at = range(page, pages);
    s.ok(&format!(
        "mmap pid={pid} {at} prot={prot} flags={flags},fixed"
    ));
}

/// A private MAP_FIXED mapping of `path` from offset 0.
pub fn mmap_file(s: &mut Sim, pid: u32, page: u64, pages: u64, prot: &str, path: &str) {
    let at = range(page, pages);
    s.ok(&format!(
        "mmap pid={pid} {at} prot={prot} flags=private,fixed file={path}"
    ));
}

/// A private anonymous read-write MAP_FIXED mapping.
pub fn anon(s: &mut Sim, pid: u32, page: u64, pages: u64) {
    mmap(s, pid, page, pages, "rw-", "private,anonymous");
}

/// [`anon`], then every page of it written.
pub fn anon_written(s: &mut Sim, pid: u32, page: u64, pages: u64) {
    anon(s, pid, page, pages);
    touch(s, pid, page, pages, "write");
}

/// `touch` with `access` (`read` or `write`).
pub fn touch(s: &mut Sim, pid: u32, page: u64, pages: u64, access: &str) {
    let at = range(page, pages);
    s.ok(&format!("touch pid={pid} {at} access={access}"));
}

pub fn mprotect(s: &mut Sim, pid: u32, page: u64, pages: u64, prot: &str) {
    let at = range(page, pages);
    s.ok(&format!("mprotect pid={pid} {at} prot={prot}"));
}

pub fn munmap(s: &mut Sim, pid: u32, page: u64, pages: u64) {
    let at = range(page, pages);
    s.ok(&format!("munmap pid={pid} {at}"));
}

/// mremap of `pages` pages from page `from` to page `to` (MREMAP_MAYMOVE|MREMAP_FIXED).
pub fn mv(s: &mut Sim, pid: u32, from: u64, pages: u64, to: u64) {
    let more = format!(" flags=maymove,fixed new_addr={:#x}", c(to));
    assert_eq!(mremap(s, pid, from, pages, pages, &more), Ok(c(to)));
}

/// mremap of `old` pages at page `page` to `new` pages, `more` (` flags=…`, ` new_addr=…`)
/// appended: the address it returned, or its errno.
pub fn mremap(
    s: &mut Sim,
    pid: u32,
    page: u64,
    old: u64,
    new: u64,
    more: &str,
) -> Result<u64, Errno> {
    let line = format!(
        "mremap pid={pid} addr={:#x} old_len={} new_len={}{more}",
        c(page),
        old * P,
        new * P
    );
    match s.run(&line) {
        Ok(Outcome::Addr(a)) => Ok(a),
        Ok(o) => panic!("{line}: replied {o:?}"),
        Err(e) => Err(e.errno),
    }
}

pub fn madvise(s: &mut Sim, pid: u32, page: u64, pages: u64, advice: &str) -> Result<(), Errno> {
    let at = range(page, pages);
    errno(s, &format!("madvise pid={pid} {at} advice={advice}"))
}

pub fn dontneed(s: &mut Sim, pid: u32, page: u64, pages: u64) -> Result<(), Errno> {
    madvise(s, pid, page, pages, "dontneed")
}

pub fn name(s: &mut Sim, pid: u32, page: u64, pages: u64, text: &str) -> Result<(), Errno> {
    let at = range(page, pages);
    errno(s, &format!("name pid={pid} {at} name=\"{text}\""))
}

pub fn clear(s: &mut Sim, pid: u32, page: u64, pages: u64) -> Result<(), Errno> {
    let at = range(page, pages);
    errno(s, &format!("name pid={pid} {at} clear"))
}

/// `reclaim`: how many pages it reclaimed, or its errno.
pub fn reclaim(s: &mut Sim, pid: u32, page: u64, pages: u64) -> Result<u64, Errno> {
    let line = format!("reclaim pid={pid} {}", range(page, pages));
    match s.run(&line) {
        Ok(Outcome::Pages(n)) => Ok(n),
        Ok(o) => panic!("{line}: replied {o:?}"),
        Err(e) => Err(e.errno),
    }
}

/// The `[stack]` VMA of a spawned process as `(start, end)`.
pub fn stack(s: &Sim, pid: u32) -> (u64, u64) {
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

/// The rmap's mappers of a page as `(pid, vaddr)`, in walk order.
pub fn mappers(r: &RmapView) -> Vec<(u32, u64)> {
    r.mappers.iter().map(|m| (m.pid, m.vaddr)).collect()
}

/// Asserts the name table, `(text, refcount, vmas)` per object in object order.
#[track_caller]
pub fn assert_names(s: &Sim, want: &[(&str, u64, u64)]) {
    let want: Vec<(String, u64, u64)> = want
        .iter()
        .map(|&(text, refs, vmas)| (text.to_string(), refs, vmas))
        .collect();
    assert_eq!(s.names(), want);
}

/// `(VmRSS, VmHWM, VmSize, VmPeak)` in kB: the counters and their high-water marks.
pub fn marks(s: &Sim, pid: u32) -> (u64, u64, u64, u64) {
    let st = s.status(pid);
    (st.vm_rss_kb, st.vm_hwm_kb, st.vm_size_kb, st.vm_peak_kb)
}
