//! The VMA (`struct vm_area_struct`) and its flag helpers.

use super::types::{pages, AnonVmaId, FileId, NameId, Pid, PAGE_SHIFT};
pub use anonmap_abi::vm_flags::*;

/// VM_READ | VM_WRITE | VM_EXEC.
pub const VM_ACCESS_FLAGS: u64 = VM_READ | VM_WRITE | VM_EXEC;
/// VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP: never merged. Only VM_DONTEXPAND is
/// modelled.
pub const VM_SPECIAL: u64 = VM_DONTEXPAND;
/// VM_STACK on x86: VM_GROWSDOWN.
pub const VM_STACK: u64 = VM_GROWSDOWN;

/// One virtual memory area.
///
/// Every change to `start`, `end` or `pgoff` of a VMA that has chains or a file goes through
/// `Machine::vma_set_range`, which keeps the anon_vma interval indexes and the file's i_mmap in
/// step.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Vma {
    /// The process whose address space holds this VMA.
    pub pid: Pid,
    /// vm_start. Invariant: page aligned, `start < end`.
    pub start: u64,
    /// vm_end (exclusive). Invariant: page aligned.
    pub end: u64,
    /// vm_pgoff: for file VMAs the file offset of `start` in pages; for private anonymous VMAs
    /// the linear index of `start` (its own vpn when created, kept across mremap moves).
    pub pgoff: u64,
    /// vm_flags (kernel bit numbering).
    pub flags: u64,
    /// vm_file: the file or shmem object mapped, `None` for anonymous VMAs.
    pub file: Option<FileId>,
    /// vm->anon_vma: where this VMA's new anonymous pages go; `None` while unfaulted.
    /// Invariant: `Some(av)` implies `chain` contains `av` and is non-empty; `None` implies
    /// `chain` is empty.
    pub anon_vma: Option<AnonVmaId>,
    /// The anon_vma_chain list (`same_vma`): every anon_vma this VMA may find pages in,
    /// newest first, so the root's chain is last. Invariant: each listed anon_vma's interval
    /// index holds an entry for this VMA with its current pgoff range.
    pub chain: Vec<AnonVmaId>,
    /// vm->anon_name: the name object, `None` when unnamed. Invariant: the object's refcount
    /// counts this reference.
    pub name: Option<NameId>,
}

impl Vma {
    /// A VMA as mmap, brk and the initial stack create it: not faulted yet (no anon_vma, an
    /// empty chain) and unnamed.
    pub fn new(
        pid: Pid,
        start: u64,
        end: u64,
        pgoff: u64,
        flags: u64,
        file: Option<FileId>,
    ) -> Vma {
        Vma {
            pid,
            start,
            end,
            pgoff,
            flags,
            file,
            anon_vma: None,
            chain: Vec::new(),
            name: None,
        }
    }

    pub fn pages(&self) -> u64 {
        pages(self.start, self.end)
    }

    /// The last page index covered (`vma_last_pgoff`).
    pub fn last_pgoff(&self) -> u64 {
        self.pgoff + self.pages() - 1
    }

    /// `linear_page_index`: the page index of `addr` in this VMA.
    pub fn linear_index(&self, addr: u64) -> u64 {
        self.pgoff + ((addr - self.start) >> PAGE_SHIFT)
    }

    /// `vma_address` for a single page: where page `index` sits in this VMA, if it does.
    pub fn address_of(&self, index: u64) -> Option<u64> {
        if index < self.pgoff {
            return None;
        }
        let addr = self.start.checked_add((index - self.pgoff) << PAGE_SHIFT)?;
        (addr < self.end).then_some(addr)
    }

    /// `vma_is_anonymous`: no file and no special ops. (Shared anonymous memory has a shmem
    /// file, so it is not anonymous in this sense.)
    pub fn is_anonymous(&self) -> bool {
        self.file.is_none()
    }

    /// `vma_is_fork_child`: faulted and linked to more than one anon_vma.
    pub fn is_fork_child(&self) -> bool {
        self.anon_vma.is_some() && self.chain.len() != 1
    }

    /// `is_cow_mapping`: private and may be written.
    pub fn is_cow_mapping(&self) -> bool {
        self.flags & (VM_SHARED | VM_MAYWRITE) == VM_MAYWRITE
    }

    /// Whether any access is permitted (`vma_is_accessible`).
    pub fn is_accessible(&self) -> bool {
        self.flags & VM_ACCESS_FLAGS != 0
    }

    /// vm_start_gap: the start less the stack guard gap for a grows-down VMA.
    pub fn start_gap(&self) -> u64 {
        if self.flags & VM_GROWSDOWN != 0 {
            self.start
                .saturating_sub(super::types::STACK_GUARD_GAP)
                .max(super::types::PAGE_SIZE)
        } else {
            self.start
        }
    }
}

/// Accounting class of a mapping (`vm_stat_account`): exec, stack, data or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmClass {
    Exec,
    Stack,
    Data,
    Other,
}

/// `is_exec_mapping` / `is_stack_mapping` / `is_data_mapping`, in the kernel's order.
pub fn vm_class(flags: u64) -> VmClass {
    if flags & (VM_EXEC | VM_WRITE | VM_STACK) == VM_EXEC {
        VmClass::Exec
    } else if flags & VM_STACK == VM_STACK {
        VmClass::Stack
    } else if flags & (VM_WRITE | VM_SHARED | VM_STACK) == VM_WRITE {
        VmClass::Data
    } else {
        VmClass::Other
    }
}
