//! Attribute changes over an address range: mprotect (mm/mprotect.c), madvise, and
//! prctl(PR_SET_VMA_ANON_NAME) naming (mm/madvise.c). Each splits the VMAs at the range
//! edges or merges them with matching neighbours through `vma_modify`.
//!
//! The two range walks differ as the kernel's do: mprotect stops at the first hole with
//! ENOMEM (VMAs before it already changed); madvise and naming skip holes, change every mapped
//! piece, and report ENOMEM at the end.
//!
//! `reclaim` and `migrate` read their range by the same rules as madvise ([`Machine::mapped_pages`]).

use super::files::FileKind;
use super::frames::{page_flags, ZERO_PFN};
use super::mmap::prot_bits;
use super::names;
use super::types::{page_align_up, page_aligned, pages, vpn, NameId, Pid, VmaId, PAGE_SIZE};
use super::vma::*;
use super::vma_tree::MergeAttrs;
use super::Machine;
use anonmap_abi::{Advice, MadviseArgs, MprotectArgs, NameArgs};
use anonmap_abi::{Errno, Error};

impl Machine {
    /// `mprotect`.
    pub(super) fn mprotect(&mut self, args: &MprotectArgs) -> Result<(), Error> {
        let MprotectArgs {
            pid,
            addr,
            len,
            prot,
        } = *args;
        self.proc_ref(pid)?;
        if !page_aligned(addr) {
            return Err(anonmap_abi::err!(
                EINVAL,
                "mprotect: addr {addr:#x} is not page aligned"
            ));
        }
        if len == 0 {
            return Ok(());
        }
        let end = page_align_up(len)
            .and_then(|l| addr.checked_add(l))
            .filter(|&e| e > addr)
            .ok_or_else(|| anonmap_abi::err!(ENOMEM, "mprotect: [{addr:#x}, +{len:#x}) wraps"))?;
        self.fixup_walk(pid, addr, end, "mprotect", |m, vma, prev, start, end| {
            let oldflags = m.vmas[vma.0].flags;
            let newflags = prot_bits(prot) | (oldflags & !VM_ACCESS_FLAGS);
            if (newflags & !(newflags >> 4)) & VM_ACCESS_FLAGS != 0 {
                return Err(anonmap_abi::err!(
                    EACCES,
                    "mprotect: prot={prot} exceeds what the mapping at {:#x} allows",
                    m.vmas[vma.0].start
                ));
            }
            m.mprotect_fixup(vma, prev, start, end, newflags)
        })
    }

    /// The walk of mprotect and mlock (`do_mprotect_pkey`, `apply_vma_lock_flags`): visits the
    /// VMAs of `[start, end)` in order and stops at the first hole with ENOMEM, the VMAs
    /// before it already changed. `fixup` gets the VMA, the previous VMA (updated by the
    /// fixup) and the piece, and returns the VMA that covers the piece afterwards (a merge may
    /// have replaced the one it got); `start < end`.
    pub(super) fn fixup_walk(
        &mut self,
        pid: Pid,
        start: u64,
        end: u64,
        what: &str,
        mut fixup: impl FnMut(&mut Machine, VmaId, &mut Option<VmaId>, u64, u64) -> Result<VmaId, Error>,
    ) -> Result<(), Error> {
        let hole =
            || anonmap_abi::err!(ENOMEM, "{what}: [{start:#x}, {end:#x}) is not fully mapped");
        let first = self
            .find_vma(pid, start)
            .filter(|&v| self.vmas[v.0].start <= start)
            .ok_or_else(hole)?;
        let mut prev = if start > self.vmas[first.0].start {
            Some(first)
        } else {
            self.prev_vma(pid, start)
        };
        let mut nstart = start;
        let mut tmp = self.vmas[first.0].start;
        let mut cur = Some(first);
        while let Some(vma) = cur {
            if self.vmas[vma.0].start != tmp {
                return Err(hole());
            }
            tmp = self.vmas[vma.0].end.min(end);
            let done = fixup(self, vma, &mut prev, nstart, tmp)?;
            tmp = self.vmas[done.0].end;
            nstart = tmp;
            if nstart >= end {
                break;
            }
            cur = self
                .find_vma(pid, nstart)
                .filter(|&v| self.vmas[v.0].start < end);
        }
        if tmp < end {
            return Err(hole());
        }
        Ok(())
    }

    /// `mprotect_fixup` for `[start, end)` inside `vma`; returns the VMA now covering it.
    fn mprotect_fixup(
        &mut self,
        vma: VmaId,
        prev: &mut Option<VmaId>,
        start: u64,
        end: u64,
        mut newflags: u64,
    ) -> Result<VmaId, Error> {
        let v = &self.vmas[vma.0];
        let oldflags = v.flags;
        if newflags == oldflags {
            *prev = Some(vma);
            return Ok(vma);
        }
        if newflags & VM_WRITE != 0 {
            if oldflags & (VM_ACCOUNT | VM_WRITE | VM_SHARED | VM_NORESERVE) == 0 {
                newflags |= VM_ACCOUNT;
            }
        } else if oldflags & VM_ACCOUNT != 0 && v.is_anonymous() && v.anon_vma.is_none() {
            newflags &= !VM_ACCOUNT;
        }
        let attrs = MergeAttrs {
            flags: newflags,
            file: v.file,
            name: v.name,
            anon_vma: v.anon_vma,
        };
        let (done, _) = self.vma_modify(vma, *prev, start, end, &attrs)?;
        *prev = Some(done);
        self.vmas[done.0].flags = newflags;
        let pid = self.vmas[done.0].pid;
        if newflags & VM_WRITE == 0 {
            // change_protection: write-protect the range's PTEs.
            let pt = &mut self.procs.get_mut(&pid).expect("live").mm.pt;
            pt.update(vpn(start), vpn(end), |_, pte| {
                if pte.is_present() {
                    *pte = pte.with_write(false);
                }
            });
        } else {
            // change_protection: a shared VMA without write notification has a writable
            // vm_page_prot, which every present PTE takes; otherwise (MM_CP_TRY_CHANGE_WRITABLE)
            // only the PTEs a write fault would make writable without more ado become writable
            // now (`can_change_pte_writable`): a private VMA's exclusive anonymous pages, a
            // notifying shared VMA's dirty PTEs.
            let shared = newflags & VM_SHARED != 0;
            let notify = self.wants_writenotify(done);
            let armed = self.soft_dirty_armed(newflags);
            let Machine { procs, frames, .. } = self;
            let pt = &mut procs.get_mut(&pid).expect("live").mm.pt;
            pt.update(vpn(start), vpn(end), |_, pte| {
                // pte_needs_soft_dirty_wp: a clean soft-dirty bit must see the next write.
                if !pte.is_present() || pte.write() || (armed && !pte.soft_dirty()) {
                    return;
                }
                let upgrade = match (shared, notify) {
                    (true, false) => true,
                    (true, true) => pte.dirty(),
                    (false, _) => {
                        let f = &frames[pte.pfn()];
                        pte.pfn() != ZERO_PFN && f.is_anon() && f.has(page_flags::EXCLUSIVE)
                    }
                };
                if upgrade {
                    *pte = pte.with_write(true);
                }
            });
        }
        if oldflags & (VM_WRITE | VM_SHARED | VM_LOCKED) == VM_LOCKED && newflags & VM_WRITE != 0 {
            // mprotect_fixup: a locked private VMA made writable is populated with write
            // faults, to break COW now (populate_vma_page_range; nothing with VM_LOCKONFAULT).
            let _ = self.mm_populate(pid, start, end, true);
        }
        let n = pages(start, end) as i64;
        let c = &mut self
            .procs
            .get_mut(&self.vmas[done.0].pid)
            .expect("live")
            .mm
            .counters;
        c.stat_account(oldflags, -n);
        c.stat_account(newflags, n);
        Ok(done)
    }

    /// `madvise_walk_vmas`: visits each mapped piece of `[start, end)`; holes are skipped and
    /// reported as ENOMEM once every piece has been visited. `visit` gets the VMA, the previous
    /// VMA (updated by the visit) and the piece.
    pub(super) fn madvise_walk(
        &mut self,
        pid: Pid,
        mut start: u64,
        end: u64,
        what: &str,
        mut visit: impl FnMut(&mut Machine, VmaId, &mut Option<VmaId>, u64, u64) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut vma = self.find_vma(pid, start);
        let mut prev = match vma {
            Some(v) if start > self.vmas[v.0].start => Some(v),
            Some(v) => self.prev_vma(pid, self.vmas[v.0].start),
            None => None,
        };
        let mut unmapped = false;
        let range = (start, end);
        loop {
            let Some(v) = vma else {
                return Err(anonmap_abi::err!(
                    ENOMEM,
                    "{what}: no mapping at or above {start:#x} in [{:#x}, {:#x})",
                    range.0,
                    range.1
                ));
            };
            if start < self.vmas[v.0].start {
                unmapped = true;
                start = self.vmas[v.0].start;
                if start >= end {
                    break;
                }
            }
            let tmp = self.vmas[v.0].end.min(end);
            visit(self, v, &mut prev, start, tmp)?;
            start = tmp;
            if let Some(p) = prev {
                start = start.max(self.vmas[p.0].end);
            }
            if start >= end {
                break;
            }
            vma = match prev {
                Some(p) => self.find_vma(pid, self.vmas[p.0].end),
                None => self.find_vma(pid, start),
            };
        }
        if unmapped {
            return Err(anonmap_abi::err!(
                ENOMEM,
                "{what}: [{:#x}, {:#x}) has unmapped holes (the mapped parts were changed)",
                range.0,
                range.1
            ));
        }
        Ok(())
    }

    /// `madvise_update_vma`: gives `[start, end)` of `vma` the flags and name, merging or
    /// splitting as needed; a range that already has both is left alone.
    fn madvise_update_vma(
        &mut self,
        vma: VmaId,
        prev: &mut Option<VmaId>,
        start: u64,
        end: u64,
        new_flags: u64,
        new_name: Option<NameId>,
    ) -> Result<(), Error> {
        let v = &self.vmas[vma.0];
        if new_flags == v.flags && self.names.eq(v.name, new_name) {
            *prev = Some(vma);
            return Ok(());
        }
        let attrs = MergeAttrs {
            flags: new_flags,
            file: v.file,
            name: new_name,
            anon_vma: v.anon_vma,
        };
        let (done, _) = self.vma_modify(vma, *prev, start, end, &attrs)?;
        *prev = Some(done);
        self.vmas[done.0].flags = new_flags;
        self.replace_anon_vma_name(done, new_name);
        Ok(())
    }

    /// `replace_anon_vma_name`.
    fn replace_anon_vma_name(&mut self, vma: VmaId, new: Option<NameId>) {
        let old = self.vmas[vma.0].name;
        match new {
            None => {
                self.vmas[vma.0].name = None;
                if let Some(o) = old {
                    self.names.put(o);
                }
            }
            Some(_) if self.names.eq(old, new) => {}
            Some(n) => {
                let dup = self.names.dup(n);
                self.vmas[vma.0].name = Some(dup);
                if let Some(o) = old {
                    self.names.put(o);
                }
            }
        }
    }

    /// Validates a madvise/prctl range: returns its end, or `None` for an empty range.
    pub(super) fn madvise_range(what: &str, addr: u64, len: u64) -> Result<Option<u64>, Error> {
        if !page_aligned(addr) {
            return Err(anonmap_abi::err!(
                EINVAL,
                "{what}: addr {addr:#x} is not page aligned"
            ));
        }
        let rounded = page_align_up(len).filter(|&l| len == 0 || l != 0);
        let end = rounded
            .and_then(|l| addr.checked_add(l))
            .ok_or_else(|| anonmap_abi::err!(EINVAL, "{what}: [{addr:#x}, +{len:#x}) wraps"))?;
        Ok((end != addr).then_some(end))
    }

    /// The pages of `pid` that have a VMA in a range with madvise's rules (`reclaim` and
    /// `migrate` use them): ESRCH for no such process, EINVAL for an unaligned `addr` or a
    /// wrapping range, `None` for an empty one; otherwise the addresses of the range's pages
    /// whose PTE maps a frame other than the zero page, in address order, and whether the range
    /// has unmapped gaps.
    pub(super) fn mapped_pages(
        &self,
        pid: Pid,
        addr: u64,
        len: u64,
        what: &'static str,
    ) -> Result<Option<MappedPages>, Error> {
        self.proc_ref(pid)?;
        let Some(end) = Self::madvise_range(what, addr, len)? else {
            return Ok(None);
        };
        let mut pages = Vec::new();
        let mut hole = false;
        let mut cursor = addr;
        for id in self.vmas_in(pid, addr, end) {
            let v = &self.vmas[id.0];
            hole |= v.start > cursor;
            let (from, to) = (v.start.max(addr), v.end.min(end));
            cursor = v.end;
            self.procs[&pid]
                .mm
                .pt
                .for_each(vpn(from), vpn(to), |page, pte| {
                    if pte.is_present() && pte.pfn() != ZERO_PFN {
                        pages.push(page * PAGE_SIZE);
                    }
                });
        }
        hole |= cursor < end;
        Ok(Some(MappedPages {
            pages,
            hole: hole.then_some((addr, end)),
        }))
    }

    /// prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, addr, len, name): `None` clears the name.
    pub(super) fn set_anon_name(&mut self, args: &NameArgs) -> Result<(), Error> {
        let NameArgs {
            pid,
            addr,
            len,
            ref name,
        } = *args;
        let name = name.as_deref();
        self.proc_ref(pid)?;
        if let Some(text) = name {
            names::validate(text).map_err(|why| anonmap_abi::err!(EINVAL, "name: {why}"))?;
        }
        let Some(end) = Self::madvise_range("name", addr, len)? else {
            return Ok(());
        };
        let obj = name.map(|t| self.names.alloc(t));
        let result = self.madvise_walk(pid, addr, end, "name", |m, vma, prev, s, e| {
            let v = &m.vmas[vma.0];
            if let Some(f) = v.file {
                if m.files[f.0].kind != FileKind::Shmem {
                    return Err(anonmap_abi::err!(
                        EBADF,
                        "name: the VMA at {:#x} maps the file {}; only anonymous memory can be named",
                        v.start,
                        m.files[f.0].path
                    ));
                }
            }
            let flags = v.flags;
            m.madvise_update_vma(vma, prev, s, e, flags, obj)
                .map_err(enomem_to_eagain)
        });
        if let Some(o) = obj {
            self.names.put(o);
        }
        result
    }

    /// `madvise`.
    pub(super) fn madvise(&mut self, args: &MadviseArgs) -> Result<(), Error> {
        let MadviseArgs {
            pid,
            addr,
            len,
            advice,
        } = *args;
        self.proc_ref(pid)?;
        let what = format!("madvise {}", advice.name());
        let Some(end) = Self::madvise_range(&what, addr, len)? else {
            return Ok(());
        };
        if !advice_changes_flags(advice) {
            return self.madvise_manage(pid, addr, end, advice, &what);
        }
        self.madvise_walk(pid, addr, end, &what, |m, vma, prev, s, e| {
            let v = &m.vmas[vma.0];
            let flags = v.flags;
            let new_flags = match advice {
                Advice::DontFork => flags | VM_DONTCOPY,
                Advice::DoFork => flags & !VM_DONTCOPY,
                Advice::WipeOnFork => {
                    if v.file.is_some() || flags & VM_SHARED != 0 {
                        return Err(anonmap_abi::err!(
                            EINVAL,
                            "madvise wipeonfork: the VMA at {:#x} is not private anonymous memory",
                            v.start
                        ));
                    }
                    flags | VM_WIPEONFORK
                }
                Advice::KeepOnFork => flags & !VM_WIPEONFORK,
                Advice::DontDump => flags | VM_DONTDUMP,
                Advice::DoDump => {
                    if flags & VM_SPECIAL != 0 {
                        return Err(anonmap_abi::err!(EINVAL, "madvise dodump: special mapping"));
                    }
                    flags & !VM_DONTDUMP
                }
                _ => unreachable!("an advice of madvise_manage"),
            };
            // The VMA's own name object: held across the modify, whose merge may drop the
            // VMA's reference to it (`anon_vma_name_get` in madvise_vma_behavior).
            let name = v.name.map(|n| m.names.dup(n));
            let result = m
                .madvise_update_vma(vma, prev, s, e, new_flags, name)
                .map_err(enomem_to_eagain);
            if let Some(n) = name {
                m.names.put(n);
            }
            result
        })
    }
}

/// Whether the advice changes VMA flags (splitting and merging) rather than acting on pages.
fn advice_changes_flags(advice: Advice) -> bool {
    matches!(
        advice,
        Advice::DontFork
            | Advice::DoFork
            | Advice::WipeOnFork
            | Advice::KeepOnFork
            | Advice::DontDump
            | Advice::DoDump
    )
}

/// madvise reports a failed split as EAGAIN ("resources temporarily unavailable").
fn enomem_to_eagain(e: Error) -> Error {
    if e.errno == Errno::ENOMEM {
        Error::new(Errno::EAGAIN, e.message)
    } else {
        e
    }
}

/// What [`Machine::mapped_pages`] found.
pub(super) struct MappedPages {
    /// The addresses whose PTE mapped a frame (not the zero page) when the range was read.
    pub pages: Vec<u64>,
    /// The range, if it has unmapped gaps.
    pub hole: Option<(u64, u64)>,
}

impl MappedPages {
    /// The call's result once its pages are done: `done` pages, or ENOMEM for a range with
    /// gaps (after the mapped parts were processed, as madvise does).
    pub fn finish(&self, what: &str, done: u64, participle: &str) -> Result<u64, Error> {
        match self.hole {
            Some((addr, end)) => Err(anonmap_abi::err!(
                ENOMEM,
                "{what}: [{addr:#x}, {end:#x}) has unmapped gaps ({done} pages of its mapped parts were {participle})"
            )),
            None => Ok(done),
        }
    }
}
