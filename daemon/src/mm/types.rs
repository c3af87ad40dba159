//! Units and small shared types of the simulator: page size, pids, pfns, ids of arena objects.
//!
//! Addresses are plain `u64` byte addresses (the kernel's `unsigned long`); page numbers are
//! derived with [`vpn`]. Arena ids are newtypes so a `VmaId` cannot be passed where an
//! `AnonVmaId` is meant.

/// PAGE_SIZE on x86_64.
pub const PAGE_SIZE: u64 = 4096;
/// PAGE_SHIFT on x86_64.
pub const PAGE_SHIFT: u32 = 12;
/// TASK_SIZE of a 64-bit x86 process with 4-level paging: the first address user space cannot map.
pub const TASK_SIZE: u64 = 0x7fff_ffff_f000;
/// vm.mmap_min_addr default: hints below it are not honoured.
pub const MMAP_MIN_ADDR: u64 = 0x10000;
/// vm.max_map_count default.
pub const MAX_MAP_COUNT: usize = 65530;
/// stack_guard_gap default: 256 pages.
pub const STACK_GUARD_GAP: u64 = 256 * PAGE_SIZE;
/// PMD_SIZE: the span of one page-table page, and the THP alignment of large anonymous maps.
pub const PMD_SIZE: u64 = 2 << 20;

/// The virtual page number of an address.
#[inline]
pub fn vpn(addr: u64) -> u64 {
    addr >> PAGE_SHIFT
}

/// Whether an address or length is a multiple of the page size.
#[inline]
pub fn page_aligned(x: u64) -> bool {
    x & (PAGE_SIZE - 1) == 0
}

/// Rounds up to a whole page; `None` on overflow.
#[inline]
pub fn page_align_up(x: u64) -> Option<u64> {
    x.checked_add(PAGE_SIZE - 1).map(|v| v & !(PAGE_SIZE - 1))
}

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

/// A process id.
pub type Pid = u32;
