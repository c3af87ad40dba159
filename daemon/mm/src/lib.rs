//! anonmap-mm: the simulated Linux memory manager, a deterministic, synchronous state machine.
//!
//! [`Machine::apply`] takes one [`Call`] and changes the machine as Linux 6.18 would change a
//! real one; read-only accessors build the views the /proc renderers need (and
//! `impl anonmap_proc::Source for Machine` hands them to the tree). There is no I/O, no async
//! and no locking here, and no iteration over randomly seeded maps: the same call sequence
//! always yields the same pfns, ids and views, which is what makes journal replay exact. The
//! whole machine is `serde`-serializable for snapshots.
//!
//! Split by concern, in the kernel's vocabulary:
//! - [`types`], [`slab`]: units, ids, the deterministic arena.
//! - [`frames`]: page frames (struct page) and the frame allocator; pfn 0 is the zero page.
//! - [`lru`]: the five LRU lists through the frames, and the batches that feed them.
//! - [`pagetable`]: four-level page tables of x86-style PTEs.
//! - [`vma`]: the VMA and its flags; [`vma_tree`]: lookup, split, merge, modify (mm/vma.c).
//! - [`rmap`]: anon_vma, anon_vma_chain, file i_mmap, reverse-map walks (mm/rmap.c).
//! - [`names`]: refcounted `anon_vma_name` objects and the prctl text rules.
//! - [`files`]: simulated regular files and shmem objects with their page caches.
//! - [`process`]: processes and their mm counters; spawn, fork, exit (kernel/fork.c).
//! - `mmap`: mmap, munmap, brk (mm/mmap.c); `mremap` (mm/mremap.c); `placement`:
//!   get_unmapped_area.
//! - [`fault`]: page faults through `touch`, COW, fault-around, PTE zapping (mm/memory.c).
//! - `migrate`: page migration through the rmap (mm/migrate.c).
//! - [`swap`]: the swap device, the swap cache, reclaim through the rmap, swap-in
//!   (mm/swapfile.c, mm/vmscan.c).
//! - [`attrs`]: range attribute changes: mprotect, madvise, prctl naming (mm/mprotect.c,
//!   mm/madvise.c).
//! - `advice`: the hints that act on pages: MADV_FREE, COLD, PAGEOUT, WILLNEED, POPULATE_*,
//!   DONTNEED, and clear_refs (mm/madvise.c, fs/proc/task_mmu.c).
//! - `mlock`: mlock, munlock, mlockall and page-table population (mm/mlock.c, mm/gup.c).
//! - [`views`]: smaps/status/pagemap/rmap/name-table views (fs/proc/task_mmu.c).
//! - [`invariants`]: `check_invariants`, which recomputes every cached number.
//! - [`watermarks`]: the zone's min/low/high watermarks; [`vmscan`]: LRU aging, kswapd and
//!   direct reclaim (mm/vmscan.c); `oom`: the OOM killer and the kernel log (mm/oom_kill.c).
//! - `serde_array`: serde for the page tables' 512-entry arrays.

#![forbid(unsafe_code)]

mod advice;
mod attrs;
mod fault;
pub mod files;
pub mod frames;
mod invariants;
pub mod lru;
mod migrate;
mod mlock;
mod mmap;
mod mremap;
pub mod names;
mod oom;
pub mod pagetable;
mod placement;
pub mod process;
pub mod rmap;
mod serde_array;
pub mod slab;
pub mod swap;
pub mod types;
pub mod views;
pub mod vma;
mod vma_tree;
pub mod vmscan;
pub mod watermarks;

use std::collections::BTreeMap;

use anonmap_abi::{Call, Error, Kernel, Outcome};
use files::File;
use frames::Frames;
use names::Names;
use process::Process;
use rmap::AnonVma;
use slab::Slab;
use types::{FileId, Pid};
use vma::Vma;

/// Sizes of the simulated machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MachineConfig {
    /// RAM in bytes: the number of page frames is `ram_bytes / 4096`.
    pub ram_bytes: u64,
    /// The swap device in bytes: one header page, the rest swap slots; 0 for no swap.
    pub swap_bytes: u64,
    /// Soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY, as Debian's and Android's kernels have it):
    /// VM_SOFTDIRTY on new VMAs, the `sd` VmFlag, pagemap bit 55, clear_refs 4. Off by default,
    /// as on the kernel the oracle cases come from.
    #[serde(default)]
    pub soft_dirty: bool,
    /// Memory pressure as on Linux: an allocation that finds free memory low wakes kswapd (run
    /// when the call returns) and below the min watermark reclaims directly, and the OOM killer
    /// ends what reclaim cannot. Off, a fault that finds no free frame fails with ENOMEM and
    /// changes nothing (the machine the page-level reference model of the tests predicts).
    #[serde(default = "yes")]
    pub auto_reclaim: bool,
}

fn yes() -> bool {
    true
}

impl MachineConfig {
    /// `ram_bytes` of RAM and no swap.
    pub fn with_ram(ram_bytes: u64) -> MachineConfig {
        MachineConfig {
            ram_bytes,
            swap_bytes: 0,
            soft_dirty: false,
            auto_reclaim: true,
        }
    }
}

impl Default for MachineConfig {
    /// 4 GiB of RAM and 1 GiB of swap.
    fn default() -> Self {
        MachineConfig {
            ram_bytes: 4 << 30,
            swap_bytes: 1 << 30,
            soft_dirty: false,
            auto_reclaim: true,
        }
    }
}

/// The whole simulated machine.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Machine {
    config: MachineConfig,
    /// Every page frame of RAM.
    frames: Frames,
    /// The swap device and the swap cache.
    swap: swap::Swap,
    /// Every VMA of every process. Invariant: each live VMA is keyed by its `start` in exactly
    /// its own process's `Mm::vmas`.
    vmas: Slab<Vma>,
    /// Every anon_vma. Invariant: an anon_vma lives while its refcount is non-zero.
    anon_vmas: Slab<AnonVma>,
    /// Every name object.
    names: Names,
    /// Regular files (created by `file`) and shmem objects (one per shared anonymous mmap).
    files: Slab<File>,
    /// Regular files by path. Invariant: exactly the regular files of `files`.
    file_paths: BTreeMap<String, FileId>,
    /// Live processes by pid.
    procs: BTreeMap<Pid, Process>,
    /// The next pid `spawn` and `fork` try when none is given (cyclic, like pid_max).
    next_pid: Pid,
    /// The next inode number for a regular file, and for a shmem object.
    next_file_ino: u64,
    next_shmem_ino: u64,
    /// The mlock batch while a GUP walk runs (`mlock_fbatch`): pages `mlock_folio` marked
    /// PG_mlocked whose move to the unevictable list (`__mlock_folio`) waits for the walk's
    /// closing `lru_add_drain`. Invariant: `None` between calls; everywhere else a page's mlock
    /// takes effect at once.
    #[serde(skip)]
    mlock_batch: Option<Vec<types::Pfn>>,
    /// The LRU batches (`lru::Machine::lru_note`): frames whose list must be settled at the next
    /// drain, in the order the changes happened. Invariant: empty between calls.
    #[serde(skip)]
    lru_pending: Vec<types::Pfn>,
    /// The LRU's reclaim costs and kswapd's failure count.
    #[serde(default)]
    reclaim_state: vmscan::ReclaimState,
    /// The vmstat event counters.
    #[serde(default)]
    vm_events: vmscan::VmEvents,
    /// An allocation of this call went below the low watermark: kswapd runs when it returns.
    /// Invariant: false between calls.
    #[serde(skip)]
    kswapd_wanted: bool,
    /// The kernel log (`kmsg`), oldest first, bounded.
    #[serde(default)]
    kmsg: std::collections::VecDeque<String>,
}

impl Machine {
    pub fn new(config: MachineConfig) -> Machine {
        Machine {
            config,
            frames: Frames::new(config.ram_bytes),
            swap: swap::Swap::new(config.swap_bytes),
            vmas: Slab::default(),
            anon_vmas: Slab::default(),
            names: Names::default(),
            files: Slab::default(),
            file_paths: BTreeMap::new(),
            procs: BTreeMap::new(),
            next_pid: 1,
            next_file_ino: 1_000_000,
            next_shmem_ino: 1,
            mlock_batch: None,
            lru_pending: Vec::new(),
            reclaim_state: vmscan::ReclaimState::default(),
            vm_events: vmscan::VmEvents::default(),
            kswapd_wanted: false,
            kmsg: std::collections::VecDeque::new(),
        }
    }

    pub fn config(&self) -> MachineConfig {
        self.config
    }

    /// Applies one call. On error the machine is unchanged, except where Linux itself
    /// changes state before failing (naming over holes renames the mapped parts and returns
    /// ENOMEM; mprotect stops at the first hole; MAP_FIXED and MREMAP_FIXED unmap their target
    /// before a later check fails), exactly as the kernel does.
    pub fn apply(&mut self, call: &Call) -> Result<Outcome, Error> {
        let result = self.apply_call(call);
        // kswapd, woken by an allocation of the call, balances the node before the next call;
        // then the LRU batches settle (`lru_add_drain_all`).
        self.run_kswapd_if_woken();
        self.lru_add_drain();
        result
    }

    fn apply_call(&mut self, call: &Call) -> Result<Outcome, Error> {
        match call {
            Call::Spawn(a) => self.spawn(a).map(Outcome::Pid),
            Call::Exit(a) => self.exit(a).map(|()| Outcome::Done),
            Call::Fork(a) => self.fork(a).map(Outcome::Pid),
            Call::Mmap(a) => self.mmap(a).map(Outcome::Addr),
            Call::Munmap(a) => self.munmap(a).map(|()| Outcome::Done),
            Call::Mprotect(a) => self.mprotect(a).map(|()| Outcome::Done),
            Call::Mremap(a) => self.mremap(a).map(Outcome::Addr),
            Call::Madvise(a) => self.madvise(a).map(|()| Outcome::Done),
            Call::Brk(a) => self.brk(a).map(Outcome::Addr),
            Call::Name(a) => self.set_anon_name(a).map(|()| Outcome::Done),
            Call::Touch(a) => self.touch(a).map(|()| Outcome::Done),
            Call::Reclaim(a) => self.reclaim(a).map(Outcome::Pages),
            Call::Migrate(a) => self.migrate(a).map(Outcome::Pages),
            Call::File(a) => self.create_file(a).map(|_| Outcome::Done),
            Call::Mlock(a) => self.mlock(a).map(|()| Outcome::Done),
            Call::Munlock(a) => self.munlock(a).map(|()| Outcome::Done),
            Call::Mlockall(a) => self.mlockall(a).map(|()| Outcome::Done),
            Call::Munlockall(a) => self.munlockall(a).map(|()| Outcome::Done),
            Call::ClearRefs(a) => self.clear_refs(a).map(|()| Outcome::Done),
            Call::OomScoreAdj(a) => self
                .set_oom_score_adj(a.pid, a.value, !a.unprivileged)
                .map(|()| Outcome::Done),
        }
    }

    /// The process `pid`, or ESRCH.
    fn proc_ref(&self, pid: Pid) -> Result<&Process, Error> {
        self.procs
            .get(&pid)
            .ok_or_else(|| anonmap_abi::err!(ESRCH, "no process with pid {pid}"))
    }
}

impl Kernel for Machine {
    fn apply(&mut self, call: &Call) -> Result<Outcome, Error> {
        Machine::apply(self, call)
    }
}
