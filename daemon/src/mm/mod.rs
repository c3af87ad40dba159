//! The simulated memory manager: a deterministic, synchronous state machine.
//!
//! [`Machine::apply`] takes one resolved [`Op`] and changes the machine as Linux 6.18 would
//! change a real one; read-only accessors build the views the /proc renderers need. There is no
//! I/O, no async and no locking here, and no iteration over randomly seeded maps: the same op
//! sequence always yields the same pfns, ids and views, which is what makes journal replay
//! exact.
//!
//! Split by concern, in the kernel's vocabulary:
//! - [`types`], [`slab`]: units, ids, the deterministic arena.
//! - [`frames`]: page frames (struct page) and the frame allocator; pfn 0 is the zero page.
//! - [`pagetable`]: four-level page tables of x86-style PTEs.
//! - [`vma`]: the VMA and its flags; [`vma_tree`]: lookup, split, merge, modify (mm/vma.c).
//! - [`rmap`]: anon_vma, anon_vma_chain, file i_mmap, reverse-map walks (mm/rmap.c).
//! - [`names`]: refcounted `anon_vma_name` objects and the prctl text rules.
//! - [`files`]: simulated regular files and shmem objects with their page caches.
//! - [`process`]: processes and their mm counters; spawn, fork, exit (kernel/fork.c).
//! - [`mmap`]: mmap, munmap, mremap, brk and address placement (mm/mmap.c, mm/mremap.c).
//! - [`fault`]: page faults through `touch`, COW, fault-around, PTE zapping (mm/memory.c).
//! - [`swap`]: the swap device, the swap cache, reclaim through the rmap, swap-in
//!   (mm/swapfile.c, mm/vmscan.c).
//! - [`attrs`]: range attribute changes: mprotect, madvise, prctl naming (mm/mprotect.c,
//!   mm/madvise.c).
//! - [`views`]: smaps/status/pagemap/rmap/name-table views (fs/proc/task_mmu.c).
//! - [`invariants`]: `check_invariants`, which recomputes every cached number.

mod attrs;
mod fault;
pub mod files;
pub mod frames;
mod invariants;
mod mmap;
pub mod names;
pub mod pagetable;
pub mod process;
pub mod rmap;
pub mod slab;
pub mod swap;
pub mod types;
pub mod views;
pub mod vma;
mod vma_tree;

use std::collections::BTreeMap;

use crate::command::Op;
use crate::errno::Error;
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
}

impl MachineConfig {
    /// `ram_bytes` of RAM and no swap.
    pub fn with_ram(ram_bytes: u64) -> MachineConfig {
        MachineConfig {
            ram_bytes,
            swap_bytes: 0,
        }
    }
}

impl Default for MachineConfig {
    /// 4 GiB of RAM and 1 GiB of swap.
    fn default() -> Self {
        MachineConfig {
            ram_bytes: 4 << 30,
            swap_bytes: 1 << 30,
        }
    }
}

/// What a successful op returns (the `key=value` results of an `ok` reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `ok`
    Done,
    /// `ok pid=N` (spawn, fork)
    Pid(Pid),
    /// `ok addr=A` (mmap, mremap, brk)
    Addr(u64),
    /// `ok pages=N` (reclaim: how many pages were reclaimed)
    Pages(u64),
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
        }
    }

    pub fn config(&self) -> MachineConfig {
        self.config
    }

    /// Applies one operation. On error the machine is unchanged, except where Linux itself
    /// changes state before failing (naming over holes renames the mapped parts and returns
    /// ENOMEM; mprotect stops at the first hole; MAP_FIXED and MREMAP_FIXED unmap their target
    /// before a later check fails), exactly as the kernel does.
    pub fn apply(&mut self, op: &Op<u64>) -> Result<Outcome, Error> {
        match op {
            Op::Spawn {
                pid,
                comm,
                uid,
                start_brk,
                bare,
            } => self
                .spawn(*pid, comm.as_deref(), uid.unwrap_or(0), *start_brk, *bare)
                .map(Outcome::Pid),
            Op::Exit { pid } => self.exit(*pid).map(|()| Outcome::Done),
            Op::Fork { pid, child } => self.fork(*pid, *child).map(Outcome::Pid),
            Op::Mmap {
                pid,
                addr,
                len,
                prot,
                flags,
                file,
                offset,
                label: _,
            } => self
                .mmap(
                    *pid,
                    addr.unwrap_or(0),
                    *len,
                    *prot,
                    *flags,
                    file.as_deref(),
                    offset.unwrap_or(0),
                )
                .map(Outcome::Addr),
            Op::Munmap { pid, addr, len } => self.munmap(*pid, *addr, *len).map(|()| Outcome::Done),
            Op::Mprotect {
                pid,
                addr,
                len,
                prot,
            } => self
                .mprotect(*pid, *addr, *len, *prot)
                .map(|()| Outcome::Done),
            Op::Mremap {
                pid,
                addr,
                old_len,
                new_len,
                flags,
                new_addr,
                label: _,
            } => self
                .mremap(
                    *pid,
                    *addr,
                    *old_len,
                    *new_len,
                    *flags,
                    new_addr.unwrap_or(0),
                )
                .map(Outcome::Addr),
            Op::Madvise {
                pid,
                addr,
                len,
                advice,
            } => self
                .madvise(*pid, *addr, *len, *advice)
                .map(|()| Outcome::Done),
            Op::Brk { pid, addr } => self.brk(*pid, *addr).map(Outcome::Addr),
            Op::Name {
                pid,
                addr,
                len,
                name,
            } => self
                .set_anon_name(*pid, *addr, *len, name.as_deref())
                .map(|()| Outcome::Done),
            Op::Touch {
                pid,
                addr,
                len,
                access,
            } => self
                .touch(*pid, *addr, *len, *access)
                .map(|()| Outcome::Done),
            Op::Reclaim { pid, addr, len } => self.reclaim(*pid, *addr, *len).map(Outcome::Pages),
            Op::File { path, size } => self.create_file(path, *size).map(|_| Outcome::Done),
            Op::Read { path } => Err(crate::err!(
                EINVAL,
                "read path={path}: reading the tree is the daemon's job, not the simulator's"
            )),
        }
    }

    /// The process `pid`, or ESRCH.
    fn proc_ref(&self, pid: Pid) -> Result<&Process, Error> {
        self.procs
            .get(&pid)
            .ok_or_else(|| crate::err!(ESRCH, "no process with pid {pid}"))
    }
}
