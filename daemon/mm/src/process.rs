//! Processes and their mm: the VMA tree, page tables and the counters `status` reports;
//! spawn, fork (`dup_mmap`) and exit (`exit_mmap`).

use std::collections::BTreeMap;

use super::frames::{Mapping, ZERO_PFN};
use super::pagetable::{PageTable, Pte};
use super::types::{page_aligned, vpn, Pid, VmaId, MMAP_MIN_ADDR, PAGE_SIZE, TASK_SIZE};
use super::vma::{vm_class, VmClass, Vma, VM_ACCOUNT, VM_DONTCOPY, VM_GROWSDOWN, VM_MAYEXEC};
use super::vma::{VM_MAYREAD, VM_MAYWRITE, VM_READ, VM_WIPEONFORK, VM_WRITE};
use super::Machine;
use anonmap_abi::Error;
use anonmap_abi::{Access, ExitArgs, ForkArgs, SpawnArgs};

/// pid_max default: the highest pid is one less.
pub const PID_MAX: Pid = 4_194_304;
/// Where the heap starts (`start_brk`) in a process's default layout: the address of a
/// non-randomised x86_64 PIE's heap.
pub const DEFAULT_START_BRK: u64 = 0x5555_5555_9000;
/// The top of the default stack VMA (STACK_TOP without randomisation).
pub const STACK_TOP: u64 = TASK_SIZE;
/// Size of the initial stack VMA: 132 KiB, as a freshly exec'd process has.
pub const INITIAL_STACK: u64 = 33 * PAGE_SIZE;
/// mmap_base without randomisation: TASK_SIZE less the minimum 128 MiB gap.
pub const MMAP_BASE: u64 = TASK_SIZE - (128 << 20);

/// The counters of an mm, in pages unless noted. Each is maintained incrementally and
/// recomputed from primary data by `check_invariants`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct MmCounters {
    /// MM_ANONPAGES: present PTEs mapping anonymous pages. Invariant: recount of PTEs.
    pub rss_anon: u64,
    /// MM_FILEPAGES: present PTEs mapping regular-file page-cache pages.
    pub rss_file: u64,
    /// MM_SHMEMPAGES: present PTEs mapping shmem pages.
    pub rss_shmem: u64,
    /// MM_SWAPENTS: swap entries in the page tables.
    pub swap_ents: u64,
    /// total_vm: pages of all VMAs. Invariant: sum of VMA sizes.
    pub total_vm: u64,
    /// data_vm: pages of private writable non-stack VMAs.
    pub data_vm: u64,
    /// stack_vm: pages of VM_GROWSDOWN VMAs.
    pub stack_vm: u64,
    /// exec_vm: pages of executable, non-writable, non-stack VMAs.
    pub exec_vm: u64,
    /// locked_vm: pages of VM_LOCKED VMAs.
    pub locked_vm: u64,
    /// hiwater_rss: the RSS recorded just before RSS last went down (`update_hiwater_rss`);
    /// the reported peak is max(this, current RSS).
    pub hiwater_rss: u64,
    /// hiwater_vm: likewise for total_vm.
    pub hiwater_vm: u64,
}

impl MmCounters {
    pub fn rss(&self) -> u64 {
        self.rss_anon + self.rss_file + self.rss_shmem
    }

    /// `vm_stat_account(mm, flags, npages)` for a signed page delta.
    pub fn stat_account(&mut self, flags: u64, npages: i64) {
        let add = |c: &mut u64| *c = c.checked_add_signed(npages).expect("vm counter underflow");
        add(&mut self.total_vm);
        match vm_class(flags) {
            VmClass::Exec => add(&mut self.exec_vm),
            VmClass::Stack => add(&mut self.stack_vm),
            VmClass::Data => add(&mut self.data_vm),
            VmClass::Other => {}
        }
    }

    /// The RSS counter for `mm_counter_index` 0 (anon), 1 (file) or 2 (shmem).
    pub fn rss_mut(&mut self, index: usize) -> &mut u64 {
        match index {
            0 => &mut self.rss_anon,
            1 => &mut self.rss_file,
            _ => &mut self.rss_shmem,
        }
    }

    pub fn update_hiwater_rss(&mut self) {
        self.hiwater_rss = self.hiwater_rss.max(self.rss());
    }

    pub fn update_hiwater_vm(&mut self) {
        self.hiwater_vm = self.hiwater_vm.max(self.total_vm);
    }
}

/// An address space.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Mm {
    /// The VMA tree: vm_start -> VMA. Invariant: the VMAs do not overlap.
    pub vmas: BTreeMap<u64, VmaId>,
    pub pt: PageTable,
    pub counters: MmCounters,
    /// start_brk and brk: the heap's base and current break. `[heap]` is derived from them.
    pub start_brk: u64,
    pub brk: u64,
    /// start_stack: an address inside the initial stack (0 for a bare process: no `[stack]`).
    pub start_stack: u64,
    /// Below this, top-down placement starts.
    pub mmap_base: u64,
    /// Whether maps shows the x86_64 `[vsyscall]` gate VMA after the real ones.
    pub has_gate_vma: bool,
    /// def_flags: flags every new VMA gets (VM_LOCKED, with VM_LOCKONFAULT, after
    /// mlockall(MCL_FUTURE)). Not inherited by fork.
    #[serde(default)]
    pub def_flags: u64,
}

/// One simulated process.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Process {
    pub pid: Pid,
    /// The parent's pid, 0 when it has none in the simulation.
    pub ppid: Pid,
    /// The uid that spawned it (or its parent's, for a fork).
    pub uid: u32,
    /// comm: at most 15 bytes.
    pub comm: String,
    pub mm: Mm,
    /// `signal->oom_score_adj`, -1000..=1000 (`oom::OOM_SCORE_ADJ_MIN` never killed); fork
    /// copies it.
    #[serde(default)]
    pub oom_score_adj: i16,
    /// `signal->oom_score_adj_min`: the floor an unprivileged writer may not go below, set by
    /// each privileged write; fork copies it.
    #[serde(default)]
    pub oom_score_adj_min: i16,
}

/// TASK_COMM_LEN less the NUL.
const COMM_MAX: usize = 15;

fn truncate_comm(name: &str) -> String {
    let mut end = name.len().min(COMM_MAX);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_string()
}

impl Machine {
    /// Chooses the pid for spawn or fork: the given one (EEXIST if taken) or the next free
    /// one from the cyclic counter.
    fn choose_pid(&mut self, want: Option<Pid>) -> Result<Pid, Error> {
        if let Some(pid) = want {
            if pid == 0 || pid >= PID_MAX {
                return Err(anonmap_abi::err!(
                    EINVAL,
                    "pid {pid} is out of range (1..{PID_MAX})"
                ));
            }
            if self.procs.contains_key(&pid) {
                return Err(anonmap_abi::err!(EEXIST, "pid {pid} already exists"));
            }
            return Ok(pid);
        }
        if self.procs.len() as u64 >= u64::from(PID_MAX - 1) {
            return Err(anonmap_abi::err!(EAGAIN, "no free pid left"));
        }
        let mut pid = self.next_pid;
        while self.procs.contains_key(&pid) {
            pid = if pid + 1 >= PID_MAX { 1 } else { pid + 1 };
        }
        self.next_pid = if pid + 1 >= PID_MAX { 1 } else { pid + 1 };
        Ok(pid)
    }

    /// `spawn`: a new process. The default layout is a 132 KiB `[stack]` VMA below STACK_TOP
    /// whose top page holds the arguments (written, so resident), and a heap base at
    /// `start_brk` (DEFAULT_START_BRK when `None`) with no heap VMA yet; `bare` gives an empty
    /// address space (no stack, no gate VMA) with the same heap base. A `start_brk` that is
    /// not page aligned, below MMAP_MIN_ADDR or not below TASK_SIZE is EINVAL, before anything
    /// changes.
    pub(super) fn spawn(&mut self, args: &SpawnArgs) -> Result<Pid, Error> {
        let SpawnArgs {
            pid,
            ref comm,
            uid,
            start_brk,
            bare,
        } = *args;
        let (comm, uid) = (comm.as_deref(), uid.unwrap_or(0));
        let start_brk = start_brk.unwrap_or(DEFAULT_START_BRK);
        if !page_aligned(start_brk) {
            return Err(anonmap_abi::err!(
                EINVAL,
                "spawn: brk={start_brk:#x} is not page aligned"
            ));
        }
        if !(MMAP_MIN_ADDR..TASK_SIZE).contains(&start_brk) {
            return Err(anonmap_abi::err!(
                EINVAL,
                "spawn: brk={start_brk:#x} is outside user space \
                 [{MMAP_MIN_ADDR:#x}, {TASK_SIZE:#x})"
            ));
        }
        let pid = self.choose_pid(pid)?;
        let comm = truncate_comm(comm.unwrap_or("init"));
        self.procs.insert(
            pid,
            Process {
                pid,
                ppid: 0,
                uid,
                comm,
                oom_score_adj: 0,
                oom_score_adj_min: 0,
                mm: Mm {
                    start_brk,
                    brk: start_brk,
                    mmap_base: MMAP_BASE,
                    has_gate_vma: !bare,
                    ..Mm::default()
                },
            },
        );
        if !bare {
            let start = STACK_TOP - INITIAL_STACK;
            let flags = VM_READ
                | VM_WRITE
                | VM_MAYREAD
                | VM_MAYWRITE
                | VM_MAYEXEC
                | VM_GROWSDOWN
                | VM_ACCOUNT;
            let id = self.vma_alloc(Vma::new(pid, start, STACK_TOP, vpn(start), flags, None));
            self.mark_vma_soft_dirty(id);
            self.vma_link(id);
            let mm = &mut self.procs.get_mut(&pid).expect("just inserted").mm;
            mm.counters
                .stat_account(flags, (INITIAL_STACK / PAGE_SIZE) as i64);
            mm.start_stack = STACK_TOP - PAGE_SIZE;
            self.touch_range(pid, STACK_TOP - PAGE_SIZE, PAGE_SIZE, Access::Write)?;
        }
        Ok(pid)
    }

    /// `exit`: tears the address space down (every VMA unmapped, every frame it alone held
    /// freed) and removes the process. Its children are reparented to pid 1 if that exists,
    /// else to 0.
    pub(super) fn exit(&mut self, args: &ExitArgs) -> Result<(), Error> {
        let ExitArgs { pid } = *args;
        self.proc_ref(pid)?;
        let all: Vec<VmaId> = self.procs[&pid].mm.vmas.values().copied().collect();
        self.procs
            .get_mut(&pid)
            .expect("checked")
            .mm
            .counters
            .update_hiwater_rss();
        for id in all {
            let (s, e) = (self.vmas[id.0].start, self.vmas[id.0].end);
            self.zap_range(id, s, e);
            self.vma_remove(id);
        }
        self.procs
            .get_mut(&pid)
            .expect("checked")
            .mm
            .pt
            .free_tables(0, vpn(TASK_SIZE), 0, vpn(TASK_SIZE));
        self.procs.remove(&pid);
        let reaper = if self.procs.contains_key(&1) { 1 } else { 0 };
        for p in self.procs.values_mut() {
            if p.ppid == pid {
                p.ppid = reaper;
            }
        }
        Ok(())
    }

    /// `fork`: the child gets a copy of every VMA but VM_DONTCOPY ones, sharing name objects;
    /// VMAs with an anon_vma get `anon_vma_fork` and their page tables copied, with private
    /// writable pages write-protected in both (COW) and the child's PTEs old; VM_WIPEONFORK
    /// VMAs arrive empty.
    pub(super) fn fork(&mut self, args: &ForkArgs) -> Result<Pid, Error> {
        let ForkArgs { pid: parent, child } = *args;
        let (uid, comm, start_brk, brk, start_stack, mmap_base, has_gate) = {
            let p = self.proc_ref(parent)?;
            (
                p.uid,
                p.comm.clone(),
                p.mm.start_brk,
                p.mm.brk,
                p.mm.start_stack,
                p.mm.mmap_base,
                p.mm.has_gate_vma,
            )
        };
        let child = self.choose_pid(child)?;
        let parent_counters = self.procs[&parent].mm.counters.clone();
        let (oom_score_adj, oom_score_adj_min) = {
            let p = &self.procs[&parent];
            (p.oom_score_adj, p.oom_score_adj_min)
        };
        self.procs.insert(
            child,
            Process {
                pid: child,
                ppid: parent,
                uid,
                comm,
                oom_score_adj,
                oom_score_adj_min,
                mm: Mm {
                    start_brk,
                    brk,
                    start_stack,
                    mmap_base,
                    has_gate_vma: has_gate,
                    counters: super::process::MmCounters {
                        total_vm: parent_counters.total_vm,
                        data_vm: parent_counters.data_vm,
                        stack_vm: parent_counters.stack_vm,
                        exec_vm: parent_counters.exec_vm,
                        ..Default::default()
                    },
                    ..Mm::default()
                },
            },
        );
        let parent_vmas: Vec<VmaId> = self.procs[&parent].mm.vmas.values().copied().collect();
        for pv in parent_vmas {
            let flags = self.vmas[pv.0].flags;
            if flags & VM_DONTCOPY != 0 {
                // dup_mmap: vm_stat_account(mm, mpnt->vm_flags, -vma_pages(mpnt))
                let n = self.vmas[pv.0].pages() as i64;
                let c = &mut self.procs.get_mut(&child).expect("inserted").mm.counters;
                c.stat_account(flags, -n);
                continue;
            }
            let cv = self.vm_area_dup(pv);
            self.vmas[cv.0].pid = child;
            // dup_mmap: locking is not inherited (the child's locked_vm and def_flags are 0).
            self.vmas[cv.0].flags &= !super::mlock::VM_LOCKED_MASK;
            if flags & VM_WIPEONFORK != 0 {
                // The child's copy starts empty: no anon_vma, no page tables.
                self.vmas[cv.0].anon_vma = None;
                self.vma_link(cv);
                continue;
            }
            self.anon_vma_fork(cv, pv);
            self.vma_link(cv);
            if self.vmas[pv.0].anon_vma.is_some() {
                self.copy_page_range(cv, pv);
            }
        }
        // dup_mm: the child's high-water marks start at its own RSS and total_vm.
        let c = &mut self.procs.get_mut(&child).expect("inserted").mm.counters;
        c.hiwater_rss = c.rss();
        c.hiwater_vm = c.total_vm;
        Ok(child)
    }

    /// `copy_page_range` for one VMA: every PTE of the parent VMA is copied into the child;
    /// pages gain a mapping, lose exclusivity, and private writable entries become read-only in
    /// both (`copy_present_pte`); the child's copy is old. Swap entries are duplicated
    /// (`copy_nonpresent_pte`).
    fn copy_page_range(&mut self, child_vma: VmaId, parent_vma: VmaId) {
        let (start, end, cow, shared) = {
            let v = &self.vmas[parent_vma.0];
            (
                v.start,
                v.end,
                v.is_cow_mapping(),
                v.flags & super::vma::VM_SHARED != 0,
            )
        };
        let parent = self.vmas[parent_vma.0].pid;
        let child = self.vmas[child_vma.0].pid;
        let mut copies: Vec<(u64, Pte)> = Vec::new();
        let mut dup_slots: Vec<u32> = Vec::new();
        let frames = &mut self.frames;
        let mut rss = [0u64; 3];
        let pproc = self.procs.get_mut(&parent).expect("parent");
        pproc.mm.pt.update(vpn(start), vpn(end), |v, pte| {
            if pte.is_swap() {
                // copy_nonpresent_pte: swap_duplicate, and neither copy stays exclusive.
                *pte = pte.swp_clear_exclusive();
                dup_slots.push(pte.swap_slot());
                copies.push((v, *pte));
                return;
            }
            let pfn = pte.pfn();
            let mut p = *pte;
            if pfn != ZERO_PFN {
                let f = &mut frames[pfn];
                f.mapcount += 1;
                f.refcount += 1;
                f.flags &= !super::frames::page_flags::EXCLUSIVE;
                rss[mm_counter_index(f)] += 1;
            }
            if cow && p.write() {
                p = p.with_write(false);
                *pte = p;
            }
            let mut c = p.with_young(false);
            if shared {
                c = c.with_dirty(false);
            }
            copies.push((v, c));
        });
        let cproc = self.procs.get_mut(&child).expect("child");
        for (v, pte) in copies {
            cproc.mm.pt.set(v, pte);
        }
        let c = &mut cproc.mm.counters;
        c.rss_anon += rss[0];
        c.rss_file += rss[1];
        c.rss_shmem += rss[2];
        c.swap_ents += dup_slots.len() as u64;
        for slot in dup_slots {
            self.swap_entry_dup(slot);
        }
    }
}

/// `mm_counter`: which RSS counter a mapped page counts in: 0 anon, 1 file, 2 shmem.
pub(super) fn mm_counter_index(f: &super::frames::Frame) -> usize {
    if f.is_anon() {
        0
    } else if f.has(super::frames::page_flags::SWAPBACKED) {
        2
    } else {
        debug_assert!(matches!(f.mapping, Mapping::File(_)));
        1
    }
}
