//! The bits of a `/proc/<pid>/pagemap` entry, with the kernel's names (`fs/proc/task_mmu.c`,
//! `PM_*`; Documentation/admin-guide/mm/pagemap.rst).
//!
//! One little-endian u64 per virtual page. A present page carries its pfn in bits 0-54 (zero
//! for a reader without CAP_SYS_ADMIN); a swapped page carries its swap type in bits 0-4 and its
//! swap offset in bits 5-54.

/// Bits 0-54 of a present page: the pfn.
pub const PM_PFRAME_BITS: u32 = 55;
pub const PM_PFRAME_MASK: u64 = (1 << PM_PFRAME_BITS) - 1;
/// The PTE is soft-dirty (or the VMA is VM_SOFTDIRTY).
pub const PM_SOFT_DIRTY: u64 = 1 << 55;
/// The page is mapped exclusively: by this PTE only (the page's mapcount is 1).
pub const PM_MMAP_EXCLUSIVE: u64 = 1 << 56;
/// The page is a file page or shared anonymous (not PageAnon).
pub const PM_FILE: u64 = 1 << 61;
/// The page is swapped out.
pub const PM_SWAP: u64 = 1 << 62;
/// The page is present in RAM.
pub const PM_PRESENT: u64 = 1 << 63;
/// MAX_SWAPFILES_SHIFT: the swap offset starts above the 5 bits of the swap type.
pub const SWAP_TYPE_BITS: u32 = 5;

/// The frame bits of a swap entry: `swp_type | swp_offset << MAX_SWAPFILES_SHIFT`.
pub fn swap_frame(swap_type: u64, offset: u64) -> u64 {
    (swap_type | (offset << SWAP_TYPE_BITS)) & PM_PFRAME_MASK
}

/// The swap offset of a swapped entry (its bits 5-54).
pub fn swap_offset(entry: u64) -> u64 {
    (entry & PM_PFRAME_MASK) >> SWAP_TYPE_BITS
}
