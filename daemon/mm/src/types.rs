//! Units and small shared types of the simulator: the kernel's default limits, pfns, ids of
//! arena objects (page size and pids come from the ABI).
//!
//! Addresses are plain `u64` byte addresses (the kernel's `unsigned long`); page numbers are
//! derived with [`vpn`]. Arena ids are newtypes so a `VmaId` cannot be passed where an
//! `AnonVmaId` is meant.

pub use anonmap_abi::page::{page_align_up, page_aligned, vpn, PAGE_SHIFT, PAGE_SIZE, TASK_SIZE};
pub use anonmap_abi::Pid;

/// vm.mmap_min_addr default: hints below it are not honoured.
pub const MMAP_MIN_ADDR: u64 = 0x10000;
/// vm.max_map_count default.
pub const MAX_MAP_COUNT: usize = 65530;
/// stack_guard_gap default: 256 pages.
pub const STACK_GUARD_GAP: u64 = 256 * PAGE_SIZE;
/// PMD_SIZE: the span of one page-table page, and the THP alignment of large anonymous maps.
pub const PMD_SIZE: u64 = 2 << 20;

/// Number of pages in `[start, end)`.
#[inline]
pub fn pages(start: u64, end: u64) -> u64 {
    (end - start) >> PAGE_SHIFT
}

/// A page frame number: an index into the frame table.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Pfn(pub u32);

impl Pfn {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

macro_rules! arena_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[derive(serde::Serialize, serde::Deserialize)]
        pub struct $name(pub u32);

        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

arena_id!(
    /// A VMA in the machine's VMA arena.
    VmaId
);
arena_id!(
    /// An anon_vma in the machine's anon_vma arena.
    AnonVmaId
);
arena_id!(
    /// A name object (`struct anon_vma_name`) in the name arena.
    NameId
);
arena_id!(
    /// A simulated file (regular or shmem) in the file table.
    FileId
);
