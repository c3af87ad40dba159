//! `/proc/<pid>/pagemap`: one little-endian u64 per virtual page.
//!
//! Owns the byte encoding of the entries the daemon computes, the kernel's read rule
//! (`pagemap_read`: the file offset and the read size must both be multiples of 8, else EINVAL;
//! entry `i` describes virtual page `offset / 8 + i`). The entry bits are
//! [`anonmap_abi::pagemap`]'s.

use std::fmt;

use anonmap_abi::Errno;

/// The size of one pagemap entry in bytes.
const ENTRY_BYTES: u64 = 8;

/// A pagemap read the kernel refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PagemapError {
    /// The offset or the size is not a multiple of 8 (the kernel's EINVAL).
    Misaligned { offset: u64, size: u32 },
}

impl PagemapError {
    /// The errno the read fails with: EINVAL.
    pub fn errno(&self) -> Errno {
        match self {
            PagemapError::Misaligned { .. } => Errno::EINVAL,
        }
    }
}

impl fmt::Display for PagemapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PagemapError::Misaligned { offset, size } => write!(
                f,
                "pagemap read at offset {offset} of {size} bytes is not 8-byte aligned (EINVAL)"
            ),
        }
    }
}

impl std::error::Error for PagemapError {}

/// The pages a read of `size` bytes at file `offset` covers: `(first vpn, page count)`.
/// Clamping to the task size is the caller's business.
pub fn pagemap_range(offset: u64, size: u32) -> Result<(u64, u64), PagemapError> {
    // `% 8` as a mask: `u64::is_multiple_of` is newer than the workspace's rust-version.
    if (offset | u64::from(size)) & (ENTRY_BYTES - 1) != 0 {
        return Err(PagemapError::Misaligned { offset, size });
    }
    Ok((offset / ENTRY_BYTES, u64::from(size) / ENTRY_BYTES))
}

/// Appends `entries` as little-endian u64s.
pub fn render_pagemap(entries: &[u64], out: &mut Vec<u8>) {
    out.reserve(entries.len() * ENTRY_BYTES as usize);
    for e in entries {
        out.extend_from_slice(&e.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anonmap_abi::pagemap::*;

    #[test]
    fn aligned_reads_map_to_pages() {
        assert_eq!(pagemap_range(0, 0), Ok((0, 0)));
        assert_eq!(pagemap_range(0, 8), Ok((0, 1)));
        let vpn = 0x7f8b63679000u64 >> 12;
        assert_eq!(pagemap_range(vpn * 8, 4096), Ok((vpn, 512)));
        assert_eq!(pagemap_range(u64::MAX - 7, 8), Ok(((u64::MAX - 7) / 8, 1)));
    }

    #[test]
    fn misaligned_reads_are_einval() {
        for (offset, size) in [(1, 8), (4, 8), (8, 4), (8, 12), (7, 1), (0, u32::MAX)] {
            let err = pagemap_range(offset, size).unwrap_err();
            assert_eq!(err, PagemapError::Misaligned { offset, size });
            assert_eq!(err.errno(), Errno::EINVAL);
        }
        assert_eq!(
            pagemap_range(4, 8).unwrap_err().to_string(),
            "pagemap read at offset 4 of 8 bytes is not 8-byte aligned (EINVAL)"
        );
    }

    #[test]
    fn entries_are_little_endian() {
        let entries = [
            0,
            PM_PRESENT | PM_MMAP_EXCLUSIVE | 0x3b32,
            PM_PRESENT | PM_FILE | PM_MMAP_EXCLUSIVE,
            PM_SWAP | PM_SOFT_DIRTY,
        ];
        let mut out = Vec::new();
        render_pagemap(&entries, &mut out);
        assert_eq!(out.len(), 32);
        assert_eq!(&out[..8], &[0; 8]);
        assert_eq!(&out[8..16], &[0x32, 0x3b, 0, 0, 0, 0, 0, 0x81]);
        assert_eq!(&out[16..24], &[0, 0, 0, 0, 0, 0, 0, 0xa1]);
        assert_eq!(&out[24..32], &[0, 0, 0, 0, 0, 0, 0x80, 0x40]);
        assert_eq!(PM_PFRAME_MASK, 0x007f_ffff_ffff_ffff);
        assert_eq!(
            PM_PFRAME_MASK & (PM_PRESENT | PM_SWAP | PM_FILE | PM_MMAP_EXCLUSIVE | PM_SOFT_DIRTY),
            0
        );
    }
}
