//! Zone watermarks (mm/page_alloc.c `calculate_min_free_kbytes`, `__setup_per_zone_wmarks`,
//! `calculate_totalreserve_pages`) for the simulated machine's one zone, whose managed pages
//! are all of its RAM.
//!
//! `min_free_kbytes = clamp(int_sqrt(lowmem_kB * 16), 128, 262144)`, computed at boot when no
//! watermark is set yet, so `lowmem_kB` is all of RAM. `min` is that in pages; the kswapd
//! distance `d = max(min / 4, managed * watermark_scale_factor / 10000)` with the default
//! factor of 10; `low = min + d`, `high = low + d`. For a 64 MiB machine: min 256, low 320,
//! high 384 pages; for 4 GiB: min 2048, low 3096, high 4144.

use super::types::PAGE_SIZE;
use super::Machine;

/// `watermark_scale_factor`'s default, in ten-thousandths of the zone.
const WATERMARK_SCALE_FACTOR: u64 = 10;

/// The zone's watermarks, in pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermarks {
    /// `min_free_kbytes`.
    pub min_free_kbytes: u64,
    /// WMARK_MIN: below it only direct reclaim lets an allocation through.
    pub min: u64,
    /// WMARK_LOW: an allocation that leaves fewer free pages wakes kswapd.
    pub low: u64,
    /// WMARK_HIGH: kswapd reclaims until more pages than this are free.
    pub high: u64,
}

impl Watermarks {
    /// The watermarks of a zone of `managed` pages, the machine's only one.
    pub fn for_zone(managed: u64) -> Watermarks {
        let lowmem_kbytes = managed * (PAGE_SIZE >> 10);
        let min_free_kbytes = int_sqrt(lowmem_kbytes * 16).clamp(128, 262_144);
        let min = min_free_kbytes >> 2;
        let d = (min >> 2).max(managed * WATERMARK_SCALE_FACTOR / 10_000);
        Watermarks {
            min_free_kbytes,
            min,
            low: min + d,
            high: min + 2 * d,
        }
    }

    /// `totalreserve_pages`: the high watermark (the zone has no lowmem reserve), capped at the
    /// zone's size.
    pub fn total_reserve(&self, managed: u64) -> u64 {
        self.high.min(managed)
    }
}

impl Machine {
    /// The watermarks of this machine's zone.
    pub fn watermarks(&self) -> Watermarks {
        Watermarks::for_zone(self.frames.total())
    }
}

/// `int_sqrt`: the floor of the square root.
pub fn int_sqrt(x: u64) -> u64 {
    if x < 2 {
        return x;
    }
    let mut r = (x as f64).sqrt() as u64;
    // Correct the float's rounding either way.
    while r * r > x {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= x {
        r += 1;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernels_examples() {
        // 4 GiB in one zone: the figures mm/page_alloc.c gives (min 2048, distance 1048).
        let w = Watermarks::for_zone(1 << 20);
        assert_eq!(
            (w.min_free_kbytes, w.min, w.low, w.high),
            (8192, 2048, 3096, 4144)
        );
        let w = Watermarks::for_zone(16384);
        assert_eq!(
            (w.min_free_kbytes, w.min, w.low, w.high),
            (1024, 256, 320, 384)
        );
        // A tiny machine is held at the 128 kB floor.
        let w = Watermarks::for_zone(48);
        assert_eq!((w.min_free_kbytes, w.min, w.low, w.high), (128, 32, 40, 48));
    }

    #[test]
    fn int_sqrt_floors() {
        for x in [
            0u64,
            1,
            2,
            3,
            4,
            15,
            16,
            17,
            1 << 40,
            u64::from(u32::MAX) * 7,
        ] {
            let r = int_sqrt(x);
            assert!(r * r <= x && (r + 1) * (r + 1) > x, "{x}: {r}");
        }
    }
}
