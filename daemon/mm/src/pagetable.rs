//! Per-process page tables: a real four-level radix tree (PGD -> PUD -> PMD -> PTE table, 512
//! entries each) holding x86-style 64-bit PTEs.
//!
//! Memory per mapped page is the 8-byte PTE plus its share of a 4 KiB table, as in the kernel.
//! Lower-level tables are allocated on first use and freed by [`PageTable::free_tables`] only
//! where no VMA remains (the kernel's `free_pgtables` rule), so `VmPTE` moves as Linux's does.

use super::types::Pfn;

const ENTRIES: usize = 512;

/// One page-table entry.
///
/// Encoding: bit 0 present; if present, bit 1 writable, bit 5 young (accessed), bit 6 dirty and
/// bits 12.. the pfn. A non-zero entry that is not present is a swap entry: bit 9 set, bit 10
/// the swap PTE's exclusive marker (`pte_swp_exclusive`: the page was PageAnonExclusive when it
/// was unmapped) and the swap slot in bits 12... Zero is `pte_none`. Bit 11 is the soft-dirty
/// bit of either kind (`_PAGE_SOFT_DIRTY`, `_PAGE_SWP_SOFT_DIRTY`); it is only ever set on a
/// machine with soft-dirty tracking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Pte(pub u64);

impl Pte {
    pub const NONE: Pte = Pte(0);
    const PRESENT: u64 = 1 << 0;
    const WRITE: u64 = 1 << 1;
    const YOUNG: u64 = 1 << 5;
    const DIRTY: u64 = 1 << 6;
    const SWAP: u64 = 1 << 9;
    const SWP_EXCLUSIVE: u64 = 1 << 10;
    const SOFT_DIRTY: u64 = 1 << 11;

    /// A present PTE.
    pub fn present(pfn: Pfn, write: bool, dirty: bool, young: bool) -> Pte {
        let mut v = Self::PRESENT | (u64::from(pfn.0) << 12);
        if write {
            v |= Self::WRITE;
        }
        if dirty {
            v |= Self::DIRTY;
        }
        if young {
            v |= Self::YOUNG;
        }
        Pte(v)
    }

    /// A swap entry for `slot`, marked exclusive if the unmapped page was certainly exclusive.
    pub fn swap(slot: u32, exclusive: bool) -> Pte {
        let e = if exclusive { Self::SWP_EXCLUSIVE } else { 0 };
        Pte(Self::SWAP | e | (u64::from(slot) << 12))
    }
    /// `pte_swp_exclusive` of a swap entry.
    pub fn swp_exclusive(self) -> bool {
        debug_assert!(self.is_swap());
        self.0 & Self::SWP_EXCLUSIVE != 0
    }
    /// The same swap entry without the exclusive marker (`pte_swp_clear_exclusive`).
    pub fn swp_clear_exclusive(self) -> Pte {
        debug_assert!(self.is_swap());
        Pte(self.0 & !Self::SWP_EXCLUSIVE)
    }

    pub fn is_none(self) -> bool {
        self.0 == 0
    }
    pub fn is_present(self) -> bool {
        self.0 & Self::PRESENT != 0
    }
    pub fn is_swap(self) -> bool {
        !self.is_present() && self.0 & Self::SWAP != 0
    }
    /// The pfn of a present entry.
    pub fn pfn(self) -> Pfn {
        debug_assert!(self.is_present());
        Pfn((self.0 >> 12) as u32)
    }
    /// The slot of a swap entry.
    pub fn swap_slot(self) -> u32 {
        debug_assert!(self.is_swap());
        (self.0 >> 12) as u32
    }
    pub fn write(self) -> bool {
        self.0 & Self::WRITE != 0
    }
    pub fn dirty(self) -> bool {
        self.0 & Self::DIRTY != 0
    }
    pub fn young(self) -> bool {
        self.0 & Self::YOUNG != 0
    }
    pub fn soft_dirty(self) -> bool {
        self.0 & Self::SOFT_DIRTY != 0
    }
    /// The same present entry, bits and all, for another page (`remove_migration_pte`).
    pub fn with_pfn(self, pfn: Pfn) -> Pte {
        debug_assert!(self.is_present());
        Pte((self.0 & ((1 << 12) - 1)) | (u64::from(pfn.0) << 12))
    }
    pub fn with_soft_dirty(self, on: bool) -> Pte {
        self.set(Self::SOFT_DIRTY, on)
    }
    pub fn with_write(self, on: bool) -> Pte {
        self.set(Self::WRITE, on)
    }
    pub fn with_dirty(self, on: bool) -> Pte {
        self.set(Self::DIRTY, on)
    }
    pub fn with_young(self, on: bool) -> Pte {
        self.set(Self::YOUNG, on)
    }
    fn set(self, bit: u64, on: bool) -> Pte {
        if on {
            Pte(self.0 | bit)
        } else {
            Pte(self.0 & !bit)
        }
    }
}

/// A table of 512 PTEs.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct PteTable {
    #[serde(with = "crate::serde_array")]
    entries: Box<[Pte; ENTRIES]>,
    /// Invariant: the number of entries that are not `pte_none`.
    used: u16,
}

/// A directory level (PGD, PUD or PMD) of 512 optional children.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(bound(
    serialize = "T: serde::Serialize",
    deserialize = "T: serde::Deserialize<'de>"
))]
struct Dir<T> {
    #[serde(with = "crate::serde_array")]
    slots: Box<[Option<Box<T>>; ENTRIES]>,
}

impl<T> Dir<T> {
    fn new() -> Self {
        Dir {
            slots: Box::new([const { None }; ENTRIES]),
        }
    }
    fn is_empty(&self) -> bool {
        self.slots.iter().all(Option::is_none)
    }
}

type Pmd = Dir<PteTable>;
type Pud = Dir<Pmd>;

/// Index of `vpn` at each level.
#[inline]
fn split(vpn: u64) -> (usize, usize, usize, usize) {
    (
        ((vpn >> 27) & 511) as usize,
        ((vpn >> 18) & 511) as usize,
        ((vpn >> 9) & 511) as usize,
        (vpn & 511) as usize,
    )
}

/// Pages covered by one entry at each level.
const PTE_SPAN: u64 = 1;
const PMD_SPAN: u64 = 512;
const PUD_SPAN: u64 = 512 * 512;
const PGD_SPAN: u64 = 512 * 512 * 512;

/// A process's page tables.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PageTable {
    pgd: Dir<Pud>,
    /// Invariant: the number of PUD, PMD and PTE table pages allocated (the PGD is part of the
    /// mm and not counted, as in `mm_pgtables_bytes`).
    table_pages: u64,
}

impl Default for PageTable {
    fn default() -> Self {
        PageTable {
            pgd: Dir::new(),
            table_pages: 0,
        }
    }
}

impl PageTable {
    /// Page-table pages in use (for VmPTE and PageTables).
    pub fn table_pages(&self) -> u64 {
        self.table_pages
    }

    /// The entry for `vpn` (`pte_none` when no table covers it).
    pub fn get(&self, vpn: u64) -> Pte {
        let (a, b, c, d) = split(vpn);
        self.pgd.slots[a]
            .as_ref()
            .and_then(|pud| pud.slots[b].as_ref())
            .and_then(|pmd| pmd.slots[c].as_ref())
            .map_or(Pte::NONE, |t| t.entries[d])
    }

    /// Writes the entry for `vpn`, allocating tables on the way down as needed.
    pub fn set(&mut self, vpn: u64, pte: Pte) {
        let (a, b, c, d) = split(vpn);
        if pte.is_none() {
            // Clearing never allocates.
            if let Some(t) = self.pgd.slots[a]
                .as_mut()
                .and_then(|pud| pud.slots[b].as_mut())
                .and_then(|pmd| pmd.slots[c].as_mut())
            {
                if !t.entries[d].is_none() {
                    t.used -= 1;
                }
                t.entries[d] = Pte::NONE;
            }
            return;
        }
        let mut new_tables = 0;
        let pud = self.pgd.slots[a].get_or_insert_with(|| {
            new_tables += 1;
            Box::new(Dir::new())
        });
        let pmd = pud.slots[b].get_or_insert_with(|| {
            new_tables += 1;
            Box::new(Dir::new())
        });
        let t = pmd.slots[c].get_or_insert_with(|| {
            new_tables += 1;
            Box::new(PteTable {
                entries: Box::new([Pte::NONE; ENTRIES]),
                used: 0,
            })
        });
        if t.entries[d].is_none() {
            t.used += 1;
        }
        t.entries[d] = pte;
        self.table_pages += new_tables;
    }

    /// Calls `f(vpn, pte)` for every non-none entry with `start <= vpn < end`, in order.
    pub fn for_each(&self, start: u64, end: u64, mut f: impl FnMut(u64, Pte)) {
        self.walk(start, end, |vpn, pte| {
            f(vpn, *pte);
            false
        });
    }

    /// Calls `f(vpn, &mut pte)` for every non-none entry in `[start, end)`, in order; `f` may
    /// change the entry, including to `pte_none`.
    pub fn update(&mut self, start: u64, end: u64, mut f: impl FnMut(u64, &mut Pte)) {
        let mut cleared = Vec::new();
        self.walk_mut(start, end, &mut |vpn, pte: &mut Pte| {
            f(vpn, pte);
            if pte.is_none() {
                cleared.push(vpn);
            }
        });
        // `used` counts are fixed up here rather than inside the walk to keep it simple.
        for vpn in cleared {
            let (a, b, c, _) = split(vpn);
            if let Some(t) = self.pgd.slots[a]
                .as_mut()
                .and_then(|pud| pud.slots[b].as_mut())
                .and_then(|pmd| pmd.slots[c].as_mut())
            {
                t.used -= 1;
            }
        }
    }

    fn walk(&self, start: u64, end: u64, mut f: impl FnMut(u64, &Pte) -> bool) {
        if start >= end {
            return;
        }
        let (a0, ..) = split(start);
        let a1 = split(end - 1).0;
        for a in a0..=a1 {
            let Some(pud) = &self.pgd.slots[a] else {
                continue;
            };
            let base_a = a as u64 * PGD_SPAN;
            let (b0, b1) = sub_range(base_a, PUD_SPAN, start, end);
            for b in b0..=b1 {
                let Some(pmd) = &pud.slots[b] else { continue };
                let base_b = base_a + b as u64 * PUD_SPAN;
                let (c0, c1) = sub_range(base_b, PMD_SPAN, start, end);
                for c in c0..=c1 {
                    let Some(t) = &pmd.slots[c] else { continue };
                    if t.used == 0 {
                        continue;
                    }
                    let base_c = base_b + c as u64 * PMD_SPAN;
                    let (d0, d1) = sub_range(base_c, PTE_SPAN, start, end);
                    for d in d0..=d1 {
                        let pte = &t.entries[d];
                        if !pte.is_none() && f(base_c + d as u64, pte) {
                            return;
                        }
                    }
                }
            }
        }
    }

    fn walk_mut(&mut self, start: u64, end: u64, f: &mut dyn FnMut(u64, &mut Pte)) {
        if start >= end {
            return;
        }
        let (a0, ..) = split(start);
        let a1 = split(end - 1).0;
        for a in a0..=a1 {
            let Some(pud) = &mut self.pgd.slots[a] else {
                continue;
            };
            let base_a = a as u64 * PGD_SPAN;
            let (b0, b1) = sub_range(base_a, PUD_SPAN, start, end);
            for b in b0..=b1 {
                let Some(pmd) = &mut pud.slots[b] else {
                    continue;
                };
                let base_b = base_a + b as u64 * PUD_SPAN;
                let (c0, c1) = sub_range(base_b, PMD_SPAN, start, end);
                for c in c0..=c1 {
                    let Some(t) = &mut pmd.slots[c] else { continue };
                    if t.used == 0 {
                        continue;
                    }
                    let base_c = base_b + c as u64 * PMD_SPAN;
                    let (d0, d1) = sub_range(base_c, PTE_SPAN, start, end);
                    for d in d0..=d1 {
                        let pte = &mut t.entries[d];
                        if !pte.is_none() {
                            f(base_c + d as u64, pte);
                        }
                    }
                }
            }
        }
    }

    /// Frees the tables that cover only pages in `[floor, ceiling)` (page numbers; the gap
    /// left between the VMAs around an unmapped range) and that intersect `[start, end)`. All
    /// their entries must already be none. This is `free_pgtables`' rule: a table is freed only
    /// when no VMA can use any part of it.
    pub fn free_tables(&mut self, start: u64, end: u64, floor: u64, ceiling: u64) {
        self.free_tables_below(start, end, floor, ceiling, true);
    }

    /// Frees every PTE table whose whole 512-page span lies in `[start, end)` (page numbers);
    /// all their entries must already be none. This is what MADV_DONTNEED does after zapping on
    /// 6.18 (CONFIG_PT_RECLAIM, `zap_pte_range` → `try_get_and_clear_pmd`: only when the zapped
    /// range covers the whole PMD). The directories above stay, as the kernel keeps them.
    pub fn reclaim_empty_ptes(&mut self, start: u64, end: u64) {
        self.free_tables_below(start, end, start, end, false);
    }

    /// [`PageTable::free_tables`]; `directories` says whether emptied PMD and PUD pages go too.
    fn free_tables_below(
        &mut self,
        start: u64,
        end: u64,
        floor: u64,
        ceiling: u64,
        directories: bool,
    ) {
        if start >= end {
            return;
        }
        let inside = |base: u64, span: u64| base >= floor && base + span <= ceiling;
        let (a0, ..) = split(start);
        let a1 = split(end - 1).0;
        let mut freed = 0;
        for a in a0..=a1 {
            let base_a = a as u64 * PGD_SPAN;
            let Some(pud) = &mut self.pgd.slots[a] else {
                continue;
            };
            let (b0, b1) = sub_range(base_a, PUD_SPAN, start, end);
            for b in b0..=b1 {
                let base_b = base_a + b as u64 * PUD_SPAN;
                let Some(pmd) = &mut pud.slots[b] else {
                    continue;
                };
                let (c0, c1) = sub_range(base_b, PMD_SPAN, start, end);
                for c in c0..=c1 {
                    let base_c = base_b + c as u64 * PMD_SPAN;
                    if pmd.slots[c].is_some() && inside(base_c, PMD_SPAN) {
                        debug_assert_eq!(pmd.slots[c].as_ref().map(|t| t.used), Some(0));
                        pmd.slots[c] = None;
                        freed += 1;
                    }
                }
                if directories && inside(base_b, PUD_SPAN) && pmd.is_empty() {
                    pud.slots[b] = None;
                    freed += 1;
                }
            }
            if directories && inside(base_a, PGD_SPAN) && pud.is_empty() {
                self.pgd.slots[a] = None;
                freed += 1;
            }
        }
        self.table_pages -= freed;
    }

    /// Recounts table pages and per-table `used` counts (for the invariant check): returns
    /// (table pages, whether every `used` count matched).
    pub fn recount(&self) -> (u64, bool) {
        let mut pages = 0;
        let mut ok = true;
        for pud in self.pgd.slots.iter().flatten() {
            pages += 1;
            for pmd in pud.slots.iter().flatten() {
                pages += 1;
                for t in pmd.slots.iter().flatten() {
                    pages += 1;
                    let n = t.entries.iter().filter(|p| !p.is_none()).count();
                    ok &= n == t.used as usize;
                }
            }
        }
        (pages, ok)
    }
}

/// The child indexes `[first, last]` of a directory entry whose span starts at page `base`
/// (children of `child_span` pages each) that intersect `[start, end)`.
#[inline]
fn sub_range(base: u64, child_span: u64, start: u64, end: u64) -> (usize, usize) {
    let lo = start.max(base);
    let hi = (end - 1).min(base + child_span * ENTRIES as u64 - 1);
    (
        ((lo - base) / child_span) as usize,
        ((hi - base) / child_span) as usize,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_walk_and_free() {
        let mut pt = PageTable::default();
        let v = 0x2000_0000_0000u64 >> 12;
        pt.set(v, Pte::present(Pfn(7), true, true, true));
        pt.set(v + 600, Pte::present(Pfn(8), false, false, true));
        assert_eq!(pt.get(v).pfn(), Pfn(7));
        assert!(pt.get(v + 1).is_none());
        assert_eq!(pt.table_pages(), 4); // PUD, PMD, two PTE tables
        let mut seen = vec![];
        pt.for_each(v, v + 1000, |vpn, p| seen.push((vpn, p.pfn())));
        assert_eq!(seen, vec![(v, Pfn(7)), (v + 600, Pfn(8))]);
        pt.update(v, v + 1000, |_, p| *p = Pte::NONE);
        assert_eq!(pt.recount(), (4, true));
        pt.free_tables(v, v + 1000, 0, u64::MAX >> 12);
        assert_eq!(pt.table_pages(), 0);
        assert_eq!(pt.recount(), (0, true));
    }

    #[test]
    fn free_tables_keeps_tables_shared_with_a_neighbour() {
        let mut pt = PageTable::default();
        let v = 0x2000_0000_0000u64 >> 12;
        pt.set(v + 10, Pte::present(Pfn(1), true, true, true));
        pt.set(v + 10, Pte::NONE);
        // A VMA still covers [v, v+5): the PTE table for [v, v+512) must stay.
        pt.free_tables(v + 10, v + 20, v + 5, u64::MAX >> 12);
        assert_eq!(pt.table_pages(), 3);
    }
}
