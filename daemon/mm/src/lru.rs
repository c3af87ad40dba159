//! The LRU lists of the classic (non-MGLRU) reclaim design (mm/swap.c, include/linux/mm_inline.h):
//! one node, one lruvec, five lists of frames.
//!
//! A frame's list follows from its flags (`folio_lru_list`): unevictable if PG_unevictable,
//! else file if not PG_swapbacked (regular file pages and lazyfree anonymous pages; shmem is
//! swap-backed and so "anon"), active if PG_active. Lists are doubly linked through the frames
//! themselves (`Frame::lru_prev`, `lru_next`, pfn 0 ending a list: the zero page is never on
//! one); insertion is at the head (`lruvec_add_folio`) and reclaim scans from the tail.
//!
//! Flag changes reach the lists the way the kernel's per-CPU batches carry them (lru_add,
//! lru_activate, lru_deactivate, lru_lazyfree, mlock): the change is noted
//! ([`Machine::lru_note`]) and applied when the batch drains ([`Machine::lru_add_drain`]), which
//! moves every noted frame whose list changed, or that is on none yet, to the head of the list its
//! flags now name, in the order the changes were noted. A frame whose list did not change stays
//! where it is, as the kernel's batch handlers leave it (`folio_deactivate` ignores inactive
//! folios, `folio_activate` active ones). The machine drains at the end of every call (as if
//! `lru_add_drain_all()` ran after each, see docs/kernel-semantics.md §15) and wherever the
//! kernel drains inside one (reclaim drains before it isolates). Until then a new frame is on no
//! list: PG_lru is clear, as in the kernel, and reclaim cannot isolate it.

use super::frames::{page_flags, Frames};
use super::types::Pfn;
use super::Machine;

/// `enum lru_list`, in the kernel's order (`LRU_INACTIVE_ANON` = 0 ... `LRU_UNEVICTABLE` = 4).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum LruList {
    InactiveAnon = 0,
    ActiveAnon = 1,
    InactiveFile = 2,
    ActiveFile = 3,
    Unevictable = 4,
}

/// `NR_LRU_LISTS`.
pub const NR_LRU_LISTS: usize = 5;

impl LruList {
    pub const ALL: [LruList; NR_LRU_LISTS] = [
        LruList::InactiveAnon,
        LruList::ActiveAnon,
        LruList::InactiveFile,
        LruList::ActiveFile,
        LruList::Unevictable,
    ];
    /// The evictable lists, in `for_each_evictable_lru` order.
    pub const EVICTABLE: [LruList; 4] = [
        LruList::InactiveAnon,
        LruList::ActiveAnon,
        LruList::InactiveFile,
        LruList::ActiveFile,
    ];

    /// `folio_lru_list`: the list a frame with `flags` belongs on.
    pub fn of(flags: u32) -> LruList {
        if flags & page_flags::UNEVICTABLE != 0 {
            return LruList::Unevictable;
        }
        let file = flags & page_flags::SWAPBACKED == 0;
        let active = flags & page_flags::ACTIVE != 0;
        match (file, active) {
            (false, false) => LruList::InactiveAnon,
            (false, true) => LruList::ActiveAnon,
            (true, false) => LruList::InactiveFile,
            (true, true) => LruList::ActiveFile,
        }
    }

    /// `is_file_lru`.
    pub fn is_file(self) -> bool {
        matches!(self, LruList::InactiveFile | LruList::ActiveFile)
    }

    /// `is_active_lru`.
    pub fn is_active(self) -> bool {
        matches!(self, LruList::ActiveAnon | LruList::ActiveFile)
    }

    /// The active list of the same type (`inactive_lru + LRU_ACTIVE`).
    pub fn active(self) -> LruList {
        if self.is_file() {
            LruList::ActiveFile
        } else {
            LruList::ActiveAnon
        }
    }

    /// The name the rmap view and the docs use.
    pub fn name(self) -> &'static str {
        match self {
            LruList::InactiveAnon => "inactive_anon",
            LruList::ActiveAnon => "active_anon",
            LruList::InactiveFile => "inactive_file",
            LruList::ActiveFile => "active_file",
            LruList::Unevictable => "unevictable",
        }
    }

    fn from_index(i: u8) -> LruList {
        LruList::ALL[usize::from(i)]
    }
}

/// The ends and sizes of the five lists; the links live in the frames.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Lists {
    /// Per list, its head and tail pfn; 0 for an empty list. Invariant: following `lru_next`
    /// from the head visits exactly the frames whose `lru` is this list, ending at the tail.
    ends: [(u32, u32); NR_LRU_LISTS],
    /// Per list, how many frames it holds (`lruvec_page_state(NR_LRU_BASE + lru)`).
    sizes: [u64; NR_LRU_LISTS],
}

/// `Frame::lru` of a frame on no list.
pub const NO_LRU: u8 = u8::MAX;

impl Frames {
    /// The list `pfn` is on, if any (PG_lru).
    pub fn lru_of(&self, pfn: Pfn) -> Option<LruList> {
        let f = &self[pfn];
        (f.lru != NO_LRU).then(|| LruList::from_index(f.lru))
    }

    /// How many frames `list` holds.
    pub fn lru_size(&self, list: LruList) -> u64 {
        self.lists().sizes[list as usize]
    }

    /// The frame at the tail of `list` (the next one reclaim scans).
    pub fn lru_tail(&self, list: LruList) -> Option<Pfn> {
        let t = self.lists().ends[list as usize].1;
        (t != 0).then_some(Pfn(t))
    }

    /// The frames of `list` from head to tail.
    pub fn lru_iter(&self, list: LruList) -> impl Iterator<Item = Pfn> + '_ {
        let mut at = self.lists().ends[list as usize].0;
        std::iter::from_fn(move || {
            if at == 0 {
                return None;
            }
            let pfn = Pfn(at);
            at = self[pfn].lru_next;
            Some(pfn)
        })
    }

    /// `lruvec_add_folio`: `pfn`, on no list, goes to the head of `list` and gets PG_lru.
    pub fn lru_add_head(&mut self, pfn: Pfn, list: LruList) {
        debug_assert_eq!(self[pfn].lru, NO_LRU, "{pfn:?} is on a list already");
        let old_head = self.lists().ends[list as usize].0;
        {
            let f = &mut self[pfn];
            f.lru = list as u8;
            f.lru_prev = 0;
            f.lru_next = old_head;
            f.flags |= page_flags::LRU;
        }
        if old_head != 0 {
            self[Pfn(old_head)].lru_prev = pfn.0;
        }
        let l = self.lists_mut();
        l.ends[list as usize].0 = pfn.0;
        if old_head == 0 {
            l.ends[list as usize].1 = pfn.0;
        }
        l.sizes[list as usize] += 1;
    }

    /// `lruvec_del_folio`: `pfn` leaves its list (isolation, freeing, a change of list) and
    /// loses PG_lru. Returns the list it was on.
    pub fn lru_del(&mut self, pfn: Pfn) -> Option<LruList> {
        let list = self.lru_of(pfn)?;
        let (prev, next) = (self[pfn].lru_prev, self[pfn].lru_next);
        if prev != 0 {
            self[Pfn(prev)].lru_next = next;
        } else {
            self.lists_mut().ends[list as usize].0 = next;
        }
        if next != 0 {
            self[Pfn(next)].lru_prev = prev;
        } else {
            self.lists_mut().ends[list as usize].1 = prev;
        }
        let f = &mut self[pfn];
        f.lru = NO_LRU;
        f.lru_prev = 0;
        f.lru_next = 0;
        f.flags &= !page_flags::LRU;
        self.lists_mut().sizes[list as usize] -= 1;
        Some(list)
    }

    /// `folio_putback_lru` of an isolated frame: to the head of the list its flags name.
    pub fn lru_putback(&mut self, pfn: Pfn) {
        let list = LruList::of(self[pfn].flags);
        self.lru_add_head(pfn, list);
    }
}

impl Machine {
    /// Notes that `pfn` is new or that a flag naming its list changed (`folio_add_lru`,
    /// `folio_activate`, `folio_deactivate`, `folio_mark_lazyfree`, mlock and munlock): the next
    /// drain puts it where its flags say.
    pub(super) fn lru_note(&mut self, pfn: Pfn) {
        if pfn != super::frames::ZERO_PFN {
            self.lru_pending.push(pfn);
        }
    }

    /// `lru_add_drain`: every noted frame that is still allocated goes to the head of the list
    /// its flags name, unless it is on that list already. (Reclaim, which isolates frames,
    /// puts them back itself before anything drains.)
    pub(super) fn lru_add_drain(&mut self) {
        let pending = std::mem::take(&mut self.lru_pending);
        for pfn in pending {
            let f = &self.frames[pfn];
            if f.has(page_flags::FREE) {
                continue;
            }
            let want = LruList::of(f.flags);
            match self.frames.lru_of(pfn) {
                Some(now) if now == want => {}
                Some(_) => {
                    self.frames.lru_del(pfn);
                    self.frames.lru_add_head(pfn, want);
                }
                None => self.frames.lru_add_head(pfn, want),
            }
        }
    }
}

impl Machine {
    /// The LRU part of `check_invariants`: no batch is pending; every allocated frame is on the
    /// list its flags name, with PG_lru; each list links exactly its frames head to tail and
    /// has the size it counts.
    pub(super) fn check_lru(&self) -> Result<(), String> {
        if !self.lru_pending.is_empty() {
            return Err(format!(
                "{} LRU batch entries pending between calls",
                self.lru_pending.len()
            ));
        }
        let mut on_lists = 0u64;
        for list in LruList::ALL {
            let mut prev = 0u32;
            let mut n = 0u64;
            for pfn in self.frames.lru_iter(list) {
                let f = &self.frames[pfn];
                if f.lru != list as u8 || f.lru_prev != prev {
                    return Err(format!(
                        "pfn {}: linked on {} but says list {} (prev {} not {prev})",
                        pfn.0,
                        list.name(),
                        f.lru,
                        f.lru_prev
                    ));
                }
                prev = pfn.0;
                n += 1;
                if n > self.frames.total() {
                    return Err(format!("{} has a cycle", list.name()));
                }
            }
            if self.frames.lists().ends[list as usize].1 != prev {
                return Err(format!("{}: the tail is not the last frame", list.name()));
            }
            if self.frames.lru_size(list) != n {
                return Err(format!(
                    "{}: size {} but {n} frames linked",
                    list.name(),
                    self.frames.lru_size(list)
                ));
            }
            on_lists += n;
        }
        let mut allocated = 0u64;
        for pfn in self.frames.allocated() {
            allocated += 1;
            let f = &self.frames[pfn];
            let want = LruList::of(f.flags);
            if self.frames.lru_of(pfn) != Some(want) || !f.has(page_flags::LRU) {
                return Err(format!(
                    "pfn {}: flags {:#x} name {} but it is on {:?} (PG_lru {})",
                    pfn.0,
                    f.flags,
                    want.name(),
                    self.frames.lru_of(pfn).map(LruList::name),
                    f.has(page_flags::LRU)
                ));
            }
        }
        if allocated != on_lists {
            return Err(format!(
                "{allocated} frames allocated but {on_lists} on the LRU lists"
            ));
        }
        Ok(())
    }
}

impl Machine {
    /// The pfns on `list`, from its head (the most recently added) to its tail (the next one
    /// reclaim scans).
    pub fn lru_pfns(&self, list: LruList) -> Vec<u64> {
        self.frames.lru_iter(list).map(|p| u64::from(p.0)).collect()
    }
}
