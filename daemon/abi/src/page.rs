//! Page-size constants of x86_64 Linux with 4-level paging.

/// PAGE_SIZE.
pub const PAGE_SIZE: u64 = 4096;
/// PAGE_SHIFT: `PAGE_SIZE == 1 << PAGE_SHIFT`.
pub const PAGE_SHIFT: u32 = 12;
/// TASK_SIZE of a 64-bit process: the first address user space cannot map. pagemap ends at the
/// page below it.
pub const TASK_SIZE: u64 = 0x7fff_ffff_f000;

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
