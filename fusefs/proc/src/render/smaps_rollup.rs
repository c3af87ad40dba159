//! `/proc/<pid>/smaps_rollup`: the memory block summed over the whole address space.
//!
//! Owns the rollup header (task_mmu.c `show_smaps_rollup`): the maps prefix from the first VMA's
//! start to the last real VMA's end (`00000000-00000000` with no VMAs), perms `---p`, offset 0,
//! device `00:00`, inode 0, padded like a named line and followed by `[rollup]`. The counters are
//! summed with [`SmapsCounters::add`] in fixed point and shifted only at display, so the rollup's
//! Pss can exceed the sum of the per-VMA Pss lines. The gate VMA is not part of the mm and is left
//! out.

use super::fmt::kb_line;
use super::maps::{write_header_line, HeaderFields};
use super::smaps::mem_lines;
use crate::view::{AddressSpaceView, SmapsCounters};

/// Appends the whole smaps_rollup file.
pub fn render_smaps_rollup(space: &AddressSpaceView, out: &mut Vec<u8>) {
    let (start, end) = match (space.vmas.first(), space.vmas.last()) {
        (Some(first), Some(last)) => (first.start, last.end),
        _ => (0, 0),
    };
    let header = HeaderFields {
        start,
        end,
        perms: *b"---p",
        offset: 0,
        dev_major: 0,
        dev_minor: 0,
        inode: 0,
    };
    write_header_line(out, &header, Some("[rollup]"));
    let mut total = SmapsCounters::default();
    for v in &space.vmas {
        total.add(&v.counters);
    }
    for l in mem_lines(&total) {
        kb_line(out, l.label, l.kb, l.width);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::PSS_SHIFT;
    use procfs_core::process::{MMPermissions, MMapPath, SmapsRollup};
    use procfs_core::FromBufRead;

    const PAGE: u64 = 4096;

    use crate::fake::fake_anon_vma as vma;

    fn render(space: &AddressSpaceView) -> String {
        crate::render::fmt::text(|out| render_smaps_rollup(space, out))
    }

    /// One dirty anon page mapped by three PTEs.
    fn page_shared_by_three() -> SmapsCounters {
        let pss = (PAGE << PSS_SHIFT) / 3;
        assert_eq!(pss, 5592405);
        SmapsCounters {
            rss: PAGE,
            pss,
            pss_dirty: pss,
            pss_anon: pss,
            shared_dirty: PAGE,
            referenced: PAGE,
            anonymous: PAGE,
            ..SmapsCounters::default()
        }
    }

    #[test]
    fn six_vmas_of_a_page_shared_by_three_sum_before_shifting() {
        let vmas = (0..6u64)
            .map(|i| {
                let start = 0x5651b1904000 + i * 0x2000;
                vma(start, start + PAGE, page_shared_by_three())
            })
            .collect();
        let got = render(&AddressSpaceView {
            vmas,
            has_gate_vma: true,
        });
        assert_eq!(
            got,
            "\
5651b1904000-5651b190f000 ---p 00000000 00:00 0                          [rollup]
Rss:                  24 kB
Pss:                   7 kB
Pss_Dirty:             7 kB
Pss_Anon:              7 kB
Pss_File:              0 kB
Pss_Shmem:             0 kB
Shared_Clean:          0 kB
Shared_Dirty:         24 kB
Private_Clean:         0 kB
Private_Dirty:         0 kB
Referenced:           24 kB
Anonymous:            24 kB
KSM:                   0 kB
LazyFree:              0 kB
AnonHugePages:         0 kB
ShmemPmdMapped:        0 kB
FilePmdMapped:         0 kB
Shared_Hugetlb:        0 kB
Private_Hugetlb:       0 kB
Swap:                  0 kB
SwapPss:               0 kB
Locked:                0 kB
"
        );
    }

    #[test]
    fn no_vmas_gives_a_zero_range() {
        let got = render(&AddressSpaceView {
            vmas: vec![],
            has_gate_vma: true,
        });
        assert!(got.starts_with(
            "00000000-00000000 ---p 00000000 00:00 0                                  [rollup]\nRss:"
        ));
        assert_eq!(got.lines().count(), 23);
    }

    #[test]
    fn pss_kinds_swap_and_locked_sum_in_fixed_point() {
        let third = (PAGE << PSS_SHIFT) / 3;
        let c = SmapsCounters {
            pss_file: third,
            pss_shmem: 2 * third,
            private_clean: PAGE,
            swap: 2 * PAGE,
            swap_pss: third,
            locked: third,
            lazyfree: PAGE,
            ..SmapsCounters::default()
        };
        let vmas = (0..3u64)
            .map(|i| vma(0x1000 + i * 0x1000, 0x2000 + i * 0x1000, c))
            .collect();
        let got = render(&AddressSpaceView {
            vmas,
            has_gate_vma: false,
        });
        let lines: Vec<_> = got.lines().collect();
        assert_eq!(
            lines[0],
            "00001000-00004000 ---p 00000000 00:00 0                                  [rollup]"
        );
        assert_eq!(lines[5], "Pss_File:              3 kB");
        assert_eq!(lines[6], "Pss_Shmem:             7 kB");
        assert_eq!(lines[9], "Private_Clean:        12 kB");
        assert_eq!(lines[14], "LazyFree:             12 kB");
        assert_eq!(lines[20], "Swap:                 24 kB");
        assert_eq!(lines[21], "SwapPss:               3 kB");
        assert_eq!(lines[22], "Locked:                3 kB");
    }

    #[test]
    fn procfs_parses_the_rollup() {
        let vmas = vec![
            vma(0x7f0000000000, 0x7f0000004000, page_shared_by_three()),
            vma(0x7f0000008000, 0x7f0000009000, page_shared_by_three()),
        ];
        let mut out = Vec::new();
        render_smaps_rollup(
            &AddressSpaceView {
                vmas,
                has_gate_vma: true,
            },
            &mut out,
        );
        let rollup = SmapsRollup::from_buf_read(&out[..]).unwrap();
        let maps = &rollup.memory_map_rollup.0;
        assert_eq!(maps.len(), 1);
        let m = &maps[0];
        assert_eq!(m.pathname, MMapPath::Rollup);
        assert_eq!(m.address, (0x7f0000000000, 0x7f0000009000));
        assert_eq!(m.perms, MMPermissions::PRIVATE);
        assert_eq!((m.offset, m.dev, m.inode), (0, (0, 0), 0));
        let map = &m.extension.map;
        assert_eq!(map.len(), 22);
        assert_eq!(map["Rss"], 8 * 1024);
        assert_eq!(map["Pss"], 2 * 1024);
        assert_eq!(map["Pss_Anon"], 2 * 1024);
        assert_eq!(map["Pss_File"], 0);
        assert_eq!(map["Shared_Dirty"], 8 * 1024);
        assert_eq!(map["Locked"], 0);
    }
}
