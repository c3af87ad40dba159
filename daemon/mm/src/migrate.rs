//! Page migration (mm/migrate.c `migrate_pages`, mm/rmap.c `try_to_migrate_one`,
//! `remove_migration_pte`): `migrate pid=N addr=A len=L` moves every page the process maps in
//! the range to a newly allocated frame, as `move_pages(2)` with MPOL_MF_MOVE_ALL does on a
//! machine with a second node.
//!
//! Each page is isolated from its LRU list, a destination frame is allocated, and the rmap
//! walk replaces the page in every page table that maps it, in every process at once. The
//! kernel does this in two steps, a migration entry in each PTE and then a new PTE for the new
//! page; on x86 the migration entry keeps every bit that matters (`swap_migration_ad_supported`:
//! young and dirty travel in the entry, soft-dirty in its swap bits, writable and
//! PG_anon_exclusive in its type), so each PTE ends up as it was with the new pfn. What moves:
//! - the page's identity: `mapping` (its anon_vma, or its file's page cache, whose slot now
//!   holds the new frame), `index`, and its place in the swap cache (`folio_migrate_mapping`);
//! - the flags `folio_migrate_flags` copies: referenced, active, workingset, dirty,
//!   swapbacked, anon-exclusive; and PG_dirty is set if any PTE was dirty
//!   (`try_to_migrate_one`'s `folio_mark_dirty`);
//! - the mlock: the new page is not PG_mlocked when it joins the LRU (`folio_add_lru`), and
//!   each VM_LOCKED VMA that maps it mlocks it again as its PTE is restored, which rebuilds
//!   `mlock_count` from the VMAs that actually lock it.
//!
//! The old frame is freed; the new one waits in the lru_add batch and joins the head of the
//! list its flags name when the call drains. A page that cannot be isolated (the zero page is
//! never migrated) or finds no free frame stays where it is and counts as `pgmigrate_fail`.
//! The destination is allocated as a fault's page is: below the watermarks it reclaims first
//! (the source page is isolated meanwhile, so reclaim cannot take it), and when reclaim cannot
//! free a frame the page is not moved; migration never invokes the OOM killer
//! (`__GFP_RETRY_MAYFAIL`).

use std::collections::BTreeSet;

use super::frames::{page_flags, ZERO_PFN};
use super::types::{vpn, Pfn};
use super::vma::VM_LOCKED;
use super::Machine;
use anonmap_abi::{Error, MigrateArgs};

impl Machine {
    /// `migrate pid=N addr=A len=L`: migrates every page `pid` maps in the range (see the module
    /// header), in address order. The range follows madvise's rules (`addr` page aligned, holes
    /// ENOMEM after the mapped parts were done). Returns how many pages moved.
    pub(super) fn migrate(&mut self, args: &MigrateArgs) -> Result<u64, Error> {
        let MigrateArgs { pid, addr, len } = *args;
        let Some(range) = self.mapped_pages(pid, addr, len, "migrate")? else {
            return Ok(0);
        };
        // migrate_prep: the batches drain first, so every page is on a list and isolable.
        self.lru_add_drain();
        // Frames this call allocated: a page the process maps twice is moved once.
        let mut moved_to: BTreeSet<Pfn> = BTreeSet::new();
        for &vaddr in &range.pages {
            let pte = self.procs[&pid].mm.pt.get(vpn(vaddr));
            if !pte.is_present() || pte.pfn() == ZERO_PFN || moved_to.contains(&pte.pfn()) {
                continue;
            }
            match self.migrate_folio(pte.pfn()) {
                Some(new) => {
                    moved_to.insert(new);
                    self.vm_events.pgmigrate_success += 1;
                }
                None => self.vm_events.pgmigrate_fail += 1,
            }
        }
        range.finish("migrate", moved_to.len() as u64, "migrated")
    }

    /// Moves one page to a new frame through the rmap: the new pfn, or `None` when the page
    /// could not be isolated or no frame could be had.
    fn migrate_folio(&mut self, old: Pfn) -> Option<Pfn> {
        self.frames.lru_del(old)?;
        let Some(new) = self.alloc_migration_target() else {
            self.lru_note(old); // putback_movable_pages
            return None;
        };
        let src = self.frames[old];
        // folio_migrate_flags, without PG_mlocked (see the module header); PG_lru comes with
        // the lru_add drain.
        let carried = src.flags
            & !(page_flags::LRU | page_flags::MLOCKED | page_flags::UNEVICTABLE | page_flags::FREE);
        {
            let dst = &mut self.frames[new];
            dst.flags = carried;
            dst.mapping = src.mapping;
            dst.index = src.index;
            // The caches' references move with their slots; the PTEs' with the walk below.
            dst.refcount = src.refcount - src.mapcount;
            dst.mapcount = 0;
        }
        if let Some(slot) = self.swap.slot_of(old) {
            self.swap_cache_replace(slot, old, new);
        }
        if let super::frames::Mapping::File(file) = src.mapping {
            if src.has(page_flags::CACHE) {
                self.files[file.0].cache.insert(src.index, new);
            }
        }
        self.lru_note(new); // folio_add_lru(dst)
        let walk = self.rmap_walk(old).expect("an allocated page");
        self.count_rmap_walk(walk.vmas_visited);
        for hit in walk.hits {
            let pt = &mut self.procs.get_mut(&hit.pid).expect("live").mm.pt;
            let pte = pt.get(vpn(hit.vaddr));
            // The same bits with the new pfn (remove_migration_pte on x86).
            pt.set(vpn(hit.vaddr), pte.with_pfn(new));
            if pte.dirty() {
                self.frames[new].flags |= page_flags::DIRTY;
            }
            self.frames[old].mapcount -= 1;
            self.frames[old].refcount -= 1;
            self.frames[new].mapcount += 1;
            self.frames[new].refcount += 1;
            if self.vmas[hit.vma.0].flags & VM_LOCKED != 0 {
                self.mlock_vma_folio(new, hit.vma);
            }
        }
        // What is left is the cache's reference, which moved above, and the isolation's.
        let f = &mut self.frames[old];
        debug_assert_eq!(f.mapcount, 0);
        f.refcount = 0;
        self.frames.free(old);
        Some(new)
    }

    /// A frame for a migration target, taken as a fault takes one (reclaiming first below the
    /// watermarks) but never through the OOM killer.
    fn alloc_migration_target(&mut self) -> Option<Pfn> {
        if self.config.auto_reclaim && !self.alloc_pages_reclaim(1) {
            return None;
        }
        self.frames.alloc(0, super::frames::Mapping::None, 0)
    }
}
