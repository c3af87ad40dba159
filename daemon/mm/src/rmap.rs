//! Reverse mapping: anon_vma and anon_vma_chain for anonymous pages (mm/rmap.c), i_mmap for
//! file pages, and the walk that finds every mapping of a page.
//!
//! An anon_vma holds the chains of the VMAs that may map its pages in an interval index keyed
//! by each VMA's page-offset range; a VMA's `chain` lists the anon_vmas it is linked to. Fork
//! gives the child VMA a chain to every anon_vma of the parent VMA plus one of its own (or
//! reuses an idle one), so a COW copy made in the child is found through the child's anon_vma
//! alone: the rmap walk visits only the VMAs that can map the page.

use std::collections::BTreeSet;

use super::frames::{Mapping, ZERO_PFN};
use super::types::{AnonVmaId, Pfn, Pid, VmaId};
use super::vma::{Vma, VM_ACCESS_FLAGS};
use super::Machine;

/// One anon_vma.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AnonVma {
    /// The oldest ancestor; itself for a root.
    pub root: AnonVmaId,
    /// The anon_vma this one was forked from; itself for a root.
    pub parent: AnonVmaId,
    /// Invariant: 1 (its own reference, dropped when its index empties) + one per live child
    /// anon_vma whose `root` is this one and that is not itself.
    pub refcount: u32,
    /// Invariant: the number of live anon_vmas whose `parent` is this one (a root counts
    /// itself), less those already unlinked.
    pub num_children: u32,
    /// Invariant: the number of VMAs whose `anon_vma` is this one.
    pub num_active_vmas: u32,
    /// The anon_vma_chains linked here, as `(vm_pgoff, last pgoff, vma)`: the kernel's
    /// `rb_root` interval tree. Invariant: one entry per VMA whose `chain` lists this anon_vma.
    pub chains: BTreeSet<(u64, u64, VmaId)>,
}

impl AnonVma {
    /// VMAs whose pgoff range contains `index` (the interval-tree query of `rmap_walk_anon`).
    pub fn mappers_of(&self, index: u64) -> impl Iterator<Item = VmaId> + '_ {
        self.chains
            .range(..=(index, u64::MAX, VmaId(u32::MAX)))
            .filter(move |&&(_, last, _)| last >= index)
            .map(|&(_, _, v)| v)
    }
}

/// One mapping found by an rmap walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RmapHit {
    pub pid: Pid,
    pub vaddr: u64,
    pub vma: VmaId,
}

/// The result of an rmap walk for one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RmapWalk {
    /// Every (process, address) whose PTE maps the page, in (pid, vaddr) order.
    pub hits: Vec<RmapHit>,
    /// anon_vmas (anon pages) or files (file pages) visited: at most 1 here, since the kernel
    /// walks only the page's own anon_vma or mapping.
    pub anon_vmas_visited: u64,
    /// VMAs the interval query returned and the walk examined.
    pub vmas_visited: u64,
}

impl Machine {
    /// The interval key of a VMA: `(vm_pgoff, last pgoff, vma)`.
    pub(super) fn rmap_key(&self, id: VmaId) -> (u64, u64, VmaId) {
        let v = &self.vmas[id.0];
        (v.pgoff, v.last_pgoff(), id)
    }

    /// Inserts `vma`'s entry into every anon_vma on its chain
    /// (`anon_vma_interval_tree_post_update_vma`).
    pub(super) fn anon_index_insert(&mut self, id: VmaId) {
        let key = self.rmap_key(id);
        for &av in &self.vmas[id.0].chain {
            let inserted = self.anon_vmas[av.0].chains.insert(key);
            debug_assert!(inserted);
        }
    }

    /// Removes `vma`'s entry from every anon_vma on its chain (the pre-update half).
    pub(super) fn anon_index_remove(&mut self, id: VmaId) {
        let key = self.rmap_key(id);
        for &av in &self.vmas[id.0].chain {
            let removed = self.anon_vmas[av.0].chains.remove(&key);
            debug_assert!(removed);
        }
    }

    /// Inserts `vma` into its file's i_mmap (`vma_link_file`).
    pub(super) fn file_index_insert(&mut self, id: VmaId) {
        if let Some(f) = self.vmas[id.0].file {
            let key = self.rmap_key(id);
            let inserted = self.files[f.0].i_mmap.insert(key);
            debug_assert!(inserted);
        }
    }

    /// Removes `vma` from its file's i_mmap.
    pub(super) fn file_index_remove(&mut self, id: VmaId) {
        if let Some(f) = self.vmas[id.0].file {
            let key = self.rmap_key(id);
            let removed = self.files[f.0].i_mmap.remove(&key);
            debug_assert!(removed);
        }
    }

    /// Adds `av` at the head of `vma`'s chain and links the chain into `av`'s index
    /// (`anon_vma_chain_link`). The VMA's range must be final.
    fn chain_link(&mut self, id: VmaId, av: AnonVmaId) {
        let key = self.rmap_key(id);
        self.vmas[id.0].chain.insert(0, av);
        let inserted = self.anon_vmas[av.0].chains.insert(key);
        debug_assert!(inserted);
    }

    /// `anon_vma_alloc`: refcount 1, no children, no VMAs, parent and root itself.
    fn anon_vma_alloc(&mut self) -> AnonVmaId {
        let id = AnonVmaId(self.anon_vmas.insert(AnonVma {
            root: AnonVmaId(u32::MAX),
            parent: AnonVmaId(u32::MAX),
            refcount: 1,
            num_children: 0,
            num_active_vmas: 0,
            chains: BTreeSet::new(),
        }));
        let av = &mut self.anon_vmas[id.0];
        av.root = id;
        av.parent = id;
        id
    }

    /// `anon_vma_compatible`: could `a` (below) and `b` (above) share an anon_vma?
    fn anon_vma_compatible(&self, a: &Vma, b: &Vma) -> bool {
        a.end == b.start
            && a.file == b.file
            && (a.flags ^ b.flags) & !VM_ACCESS_FLAGS == 0
            && b.pgoff == a.pgoff + ((b.start - a.start) >> 12)
    }

    /// `find_mergeable_anon_vma`: a neighbour's anon_vma this VMA may adopt (next first).
    fn find_mergeable_anon_vma(&self, id: VmaId) -> Option<AnonVmaId> {
        let v = &self.vmas[id.0];
        let reusable = |old: &Vma, a: &Vma, b: &Vma| {
            (self.anon_vma_compatible(a, b) && old.chain.len() == 1)
                .then_some(old.anon_vma)
                .flatten()
        };
        if let Some(next) = self.next_vma(v.pid, v.end) {
            let n = &self.vmas[next.0];
            if let Some(av) = reusable(n, v, n) {
                return Some(av);
            }
        }
        let prev = self.prev_vma(v.pid, v.start)?;
        let p = &self.vmas[prev.0];
        reusable(p, p, v)
    }

    /// `anon_vma_prepare`: makes sure `vma` has an anon_vma, reusing a compatible neighbour's
    /// or allocating a new root.
    pub(super) fn anon_vma_prepare(&mut self, id: VmaId) -> AnonVmaId {
        if let Some(av) = self.vmas[id.0].anon_vma {
            return av;
        }
        let av = match self.find_mergeable_anon_vma(id) {
            Some(av) => av,
            None => {
                let av = self.anon_vma_alloc();
                self.anon_vmas[av.0].num_children += 1; // self-parent link of a root
                av
            }
        };
        self.vmas[id.0].anon_vma = Some(av);
        self.chain_link(id, av);
        self.anon_vmas[av.0].num_active_vmas += 1;
        av
    }

    /// `anon_vma_clone(dst, src)`: links `dst` to every anon_vma on `src`'s chain, in the same
    /// order. When `dst` has no anon_vma yet (fork), an idle anon_vma on the chain (no active
    /// VMA, at most one child) is reused as its own. `dst`'s range must be final.
    pub(super) fn anon_vma_clone(&mut self, dst: VmaId, src: VmaId) {
        let (src_chain, src_has_av) = {
            let s = &self.vmas[src.0];
            (s.chain.clone(), s.anon_vma.is_some())
        };
        let mut dst_av = self.vmas[dst.0].anon_vma;
        for &av in src_chain.iter().rev() {
            self.chain_link(dst, av);
            let a = &self.anon_vmas[av.0];
            if dst_av.is_none() && src_has_av && a.num_children < 2 && a.num_active_vmas == 0 {
                dst_av = Some(av);
            }
        }
        self.vmas[dst.0].anon_vma = dst_av;
        if let Some(av) = dst_av {
            self.anon_vmas[av.0].num_active_vmas += 1;
        }
    }

    /// `anon_vma_fork(child, parent)`: links the child VMA to the parent's anon_vmas and gives
    /// it one of its own (new, or an idle one reused by the clone).
    pub(super) fn anon_vma_fork(&mut self, child: VmaId, parent: VmaId) {
        let Some(parent_av) = self.vmas[parent.0].anon_vma else {
            return;
        };
        self.vmas[child.0].anon_vma = None;
        self.anon_vma_clone(child, parent);
        if self.vmas[child.0].anon_vma.is_some() {
            return;
        }
        let av = self.anon_vma_alloc();
        let root = self.anon_vmas[parent_av.0].root;
        {
            let a = &mut self.anon_vmas[av.0];
            a.num_active_vmas = 1;
            a.root = root;
            a.parent = parent_av;
        }
        self.anon_vmas[root.0].refcount += 1; // get_anon_vma(root)
        self.anon_vmas[parent_av.0].num_children += 1;
        self.vmas[child.0].anon_vma = Some(av);
        self.chain_link(child, av);
    }

    /// `unlink_anon_vmas`: drops all of `vma`'s chains; anon_vmas left with no chains lose
    /// their own reference and are freed (with their root's reference) when it reaches zero.
    pub(super) fn unlink_anon_vmas(&mut self, id: VmaId) {
        self.anon_index_remove(id);
        let chain = std::mem::take(&mut self.vmas[id.0].chain);
        if let Some(av) = self.vmas[id.0].anon_vma.take() {
            self.anon_vmas[av.0].num_active_vmas -= 1;
        }
        let mut emptied = Vec::new();
        for av in chain {
            if self.anon_vmas[av.0].chains.is_empty() {
                let parent = self.anon_vmas[av.0].parent;
                self.anon_vmas[parent.0].num_children -= 1;
                emptied.push(av);
            }
        }
        for av in emptied {
            self.put_anon_vma(av);
        }
    }

    /// `put_anon_vma`: drops a reference; frees at zero, and then drops the root's reference
    /// held by a non-root anon_vma.
    fn put_anon_vma(&mut self, av: AnonVmaId) {
        let a = &mut self.anon_vmas[av.0];
        a.refcount -= 1;
        if a.refcount > 0 {
            return;
        }
        let root = a.root;
        debug_assert_eq!(a.num_active_vmas, 0);
        debug_assert!(a.chains.is_empty());
        self.anon_vmas.remove(av.0);
        if root != av {
            let r = &mut self.anon_vmas[root.0];
            r.refcount -= 1;
            if r.refcount == 0 {
                debug_assert!(r.chains.is_empty());
                self.anon_vmas.remove(root.0);
            }
        }
    }

    /// `dup_anon_vma(dst, src)` on merge: an unfaulted `dst` that absorbs `src`'s range takes
    /// `src`'s anon_vma and chains.
    pub(super) fn dup_anon_vma(&mut self, dst: VmaId, src: VmaId) {
        if let (Some(av), None) = (self.vmas[src.0].anon_vma, self.vmas[dst.0].anon_vma) {
            self.vmas[dst.0].anon_vma = Some(av);
            self.anon_vma_clone(dst, src);
        }
    }

    /// Every mapping of `pfn`: the anon walk (the page's anon_vma's interval query) or the
    /// file walk (the mapping's i_mmap query), keeping the VMAs whose PTE really maps it.
    pub fn rmap_walk(&self, pfn: Pfn) -> Option<RmapWalk> {
        if pfn == ZERO_PFN || !self.frames.is_allocated(u64::from(pfn.0)) {
            return None;
        }
        let frame = &self.frames[pfn];
        let candidates: Vec<VmaId> = match frame.mapping {
            Mapping::Anon(av) => self.anon_vmas[av.0].mappers_of(frame.index).collect(),
            Mapping::File(f) => self.files[f.0].mappers_of(frame.index).collect(),
            Mapping::None => Vec::new(),
        };
        let visited_objects = u64::from(frame.mapping != Mapping::None);
        let mut hits = Vec::new();
        for &vid in &candidates {
            let v = &self.vmas[vid.0];
            let Some(addr) = v.address_of(frame.index) else {
                continue;
            };
            let pte = self.procs[&v.pid].mm.pt.get(addr >> 12);
            if pte.is_present() && pte.pfn() == pfn {
                hits.push(RmapHit {
                    pid: v.pid,
                    vaddr: addr,
                    vma: vid,
                });
            }
        }
        hits.sort_by_key(|h| (h.pid, h.vaddr));
        Some(RmapWalk {
            hits,
            anon_vmas_visited: visited_objects,
            vmas_visited: candidates.len() as u64,
        })
    }
}
