//! `/proc/<pid>/smaps`: per VMA the maps line, the memory block and the VmFlags line.
//!
//! Owns the memory block shared with smaps_rollup (task_mmu.c `__show_smap`) and the VmFlags
//! mnemonics (`show_smap_vma_flags`). Each value line is a 16-column label, the value in kB
//! right-aligned in 8 columns and ` kB` (`Private_Hugetlb: ` is the kernel's one 17-column label,
//! with a 7-column value). Plain counters are shown as `bytes >> 10`, the PSS-like ones (Pss,
//! Pss_Dirty, Pss_Anon/File/Shmem, SwapPss, Locked) as `(fixed >> PSS_SHIFT) >> 10`.
//! No `ProtectionKey:` line is printed: the simulated CPU has no protection keys.

use super::fmt::{dec_width, kb_line};
use super::maps::write_vma_header;
use crate::view::{gate_vma, AddressSpaceView, SmapsCounters, VmaView, PSS_SHIFT};

/// Appends the whole smaps file: a block per VMA, then the gate VMA's block (all zero) if any.
pub fn render_smaps(space: &AddressSpaceView, out: &mut Vec<u8>) {
    // A block is about 700 bytes of counters plus its header line.
    out.reserve(space.vmas.len() * 800);
    for v in &space.vmas {
        write_smap(v, out);
    }
    if space.has_gate_vma {
        write_smap(&gate_vma(), out);
    }
}

/// Appends one VMA's block.
fn write_smap(v: &VmaView, out: &mut Vec<u8>) {
    write_vma_header(v, out);
    kb_line(out, "Size:           ", (v.end - v.start) >> 10, 8);
    kb_line(out, "KernelPageSize: ", 4, 8);
    kb_line(out, "MMUPageSize:    ", 4, 8);
    write_mem_block(&v.counters, false, out);
    out.extend_from_slice(b"THPeligible:    ");
    dec_width(out, 0, 8);
    out.push(b'\n');
    write_vm_flags(v.flags, out);
}

/// Appends the counter lines from `Rss:` to `Locked:`; `rollup` adds the Pss_Anon/File/Shmem
/// lines that only smaps_rollup prints.
pub(super) fn write_mem_block(c: &SmapsCounters, rollup: bool, out: &mut Vec<u8>) {
    let pss = |fixed: u64| (fixed >> PSS_SHIFT) >> 10;
    kb_line(out, "Rss:            ", c.rss >> 10, 8);
    kb_line(out, "Pss:            ", pss(c.pss), 8);
    kb_line(out, "Pss_Dirty:      ", pss(c.pss_dirty), 8);
    if rollup {
        kb_line(out, "Pss_Anon:       ", pss(c.pss_anon), 8);
        kb_line(out, "Pss_File:       ", pss(c.pss_file), 8);
        kb_line(out, "Pss_Shmem:      ", pss(c.pss_shmem), 8);
    }
    kb_line(out, "Shared_Clean:   ", c.shared_clean >> 10, 8);
    kb_line(out, "Shared_Dirty:   ", c.shared_dirty >> 10, 8);
    kb_line(out, "Private_Clean:  ", c.private_clean >> 10, 8);
    kb_line(out, "Private_Dirty:  ", c.private_dirty >> 10, 8);
    kb_line(out, "Referenced:     ", c.referenced >> 10, 8);
    kb_line(out, "Anonymous:      ", c.anonymous >> 10, 8);
    kb_line(out, "KSM:            ", 0, 8);
    kb_line(out, "LazyFree:       ", c.lazyfree >> 10, 8);
    kb_line(out, "AnonHugePages:  ", 0, 8);
    kb_line(out, "ShmemPmdMapped: ", 0, 8);
    kb_line(out, "FilePmdMapped:  ", 0, 8);
    kb_line(out, "Shared_Hugetlb: ", 0, 8);
    kb_line(out, "Private_Hugetlb: ", 0, 7);
    kb_line(out, "Swap:           ", c.swap >> 10, 8);
    kb_line(out, "SwapPss:        ", pss(c.swap_pss), 8);
    kb_line(out, "Locked:         ", pss(c.locked), 8);
}

/// The two-letter VmFlags code of each of the low 32 vm_flags bits (include/linux/mm.h numbering).
const MNEMONICS: [&[u8; 2]; 32] = [
    b"rd", b"wr", b"ex", b"sh", b"mr", b"mw", b"me", b"ms", // 0-7
    b"gd", b"um", b"pf", b"gu", b"uw", b"lo", b"io", b"sr", // 8-15
    b"rr", b"dc", b"de", b"lf", b"ac", b"nr", b"ht", b"sf", // 16-23
    b"ar", b"wf", b"dd", b"sd", b"mm", b"hg", b"nh", b"mg", // 24-31
];

/// Appends `VmFlags: ` and each set bit's code plus a space, in ascending bit order; bits above
/// 31 have no code here and print `??`.
fn write_vm_flags(flags: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(b"VmFlags: ");
    let mut rest = flags;
    while rest != 0 {
        let bit = rest.trailing_zeros() as usize;
        rest &= rest - 1;
        out.extend_from_slice(MNEMONICS.get(bit).copied().unwrap_or(b"??"));
        out.push(b' ');
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::maps::perms;
    use crate::view::vm_flags::*;
    use procfs_core::process::{MMapPath, MemoryMaps, VmFlags};
    use procfs_core::FromBufRead;

    const PAGE: u64 = 4096;
    /// One page's PSS contribution when `n` PTEs map it.
    fn share(n: u64) -> u64 {
        (PAGE << PSS_SHIFT) / n
    }

    const ANON_RW: u64 = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ACCOUNT;

    fn anon(start: u64, end: u64, flags: u64, counters: SmapsCounters) -> VmaView {
        VmaView {
            start,
            end,
            flags,
            offset: 0,
            dev_major: 0,
            dev_minor: 0,
            inode: 0,
            label: None,
            counters,
        }
    }

    fn render(vmas: Vec<VmaView>, has_gate_vma: bool) -> String {
        let mut out = Vec::new();
        render_smaps(&AddressSpaceView { vmas, has_gate_vma }, &mut out);
        String::from_utf8(out).unwrap()
    }

    /// Two blocks of the kernel oracle's seed-003/expected.1.smaps (lines 183-234), without
    /// their `ProtectionKey:` lines: 13 dirty anon pages shared by 2, then 3 such pages in a
    /// read-only VMA.
    const SEED_003: &str = "\
200000071000-200000086000 rw-p 00000000 00:00 0 
Size:                 84 kB
KernelPageSize:        4 kB
MMUPageSize:           4 kB
Rss:                  52 kB
Pss:                  26 kB
Pss_Dirty:            26 kB
Shared_Clean:          0 kB
Shared_Dirty:         52 kB
Private_Clean:         0 kB
Private_Dirty:         0 kB
Referenced:           52 kB
Anonymous:            52 kB
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
THPeligible:           0
VmFlags: rd wr mr mw me ac 
200000086000-20000008e000 r--p 00000000 00:00 0 
Size:                 32 kB
KernelPageSize:        4 kB
MMUPageSize:           4 kB
Rss:                  12 kB
Pss:                   6 kB
Pss_Dirty:             6 kB
Shared_Clean:          0 kB
Shared_Dirty:         12 kB
Private_Clean:         0 kB
Private_Dirty:         0 kB
Referenced:           12 kB
Anonymous:            12 kB
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
THPeligible:           0
VmFlags: rd mr mw me ac 
";

    /// `pages` dirty, referenced anon pages each mapped by `mappers` PTEs.
    fn dirty_anon(pages: u64, mappers: u64) -> SmapsCounters {
        let bytes = pages * PAGE;
        let pss = pages * share(mappers);
        let (shared_dirty, private_dirty) = if mappers >= 2 { (bytes, 0) } else { (0, bytes) };
        SmapsCounters {
            rss: bytes,
            pss,
            pss_dirty: pss,
            pss_anon: pss,
            shared_dirty,
            private_dirty,
            referenced: bytes,
            anonymous: bytes,
            ..SmapsCounters::default()
        }
    }

    #[test]
    fn kernel_blocks_with_shared_pages() {
        let ro = ANON_RW & !VM_WRITE;
        let got = render(
            vec![
                anon(0x200000071000, 0x200000086000, ANON_RW, dirty_anon(13, 2)),
                anon(0x200000086000, 0x20000008e000, ro, dirty_anon(3, 2)),
            ],
            false,
        );
        assert_eq!(got, SEED_003);
    }

    /// The first two blocks of seed-001/expected.1.smaps (no ProtectionKey): an untouched rw
    /// VMA and a PROT_NONE guard VMA.
    const SEED_001: &str = "\
200000000000-200000004000 rw-p 00000000 00:00 0 
Size:                 16 kB
KernelPageSize:        4 kB
MMUPageSize:           4 kB
Rss:                   0 kB
Pss:                   0 kB
Pss_Dirty:             0 kB
Shared_Clean:          0 kB
Shared_Dirty:          0 kB
Private_Clean:         0 kB
Private_Dirty:         0 kB
Referenced:            0 kB
Anonymous:             0 kB
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
THPeligible:           0
VmFlags: rd wr mr mw me ac 
200000004000-200000005000 ---p 00000000 00:00 0 
Size:                  4 kB
KernelPageSize:        4 kB
MMUPageSize:           4 kB
Rss:                   0 kB
Pss:                   0 kB
Pss_Dirty:             0 kB
Shared_Clean:          0 kB
Shared_Dirty:          0 kB
Private_Clean:         0 kB
Private_Dirty:         0 kB
Referenced:            0 kB
Anonymous:             0 kB
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
THPeligible:           0
VmFlags: mr mw me 
";

    #[test]
    fn kernel_blocks_untouched_and_guard() {
        let none = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
        let got = render(
            vec![
                anon(
                    0x200000000000,
                    0x200000004000,
                    ANON_RW,
                    SmapsCounters::default(),
                ),
                anon(
                    0x200000004000,
                    0x200000005000,
                    none,
                    SmapsCounters::default(),
                ),
            ],
            false,
        );
        assert_eq!(got, SEED_001);
    }

    /// The lines of the first block of `text` from `Rss:` to `Pss_Dirty:`.
    fn pss_lines(text: &str) -> Vec<&str> {
        text.lines().skip(4).take(3).collect()
    }

    #[test]
    fn pss_of_pages_shared_by_three_truncates_per_vma() {
        let one = render(vec![anon(0x1000, 0x3000, ANON_RW, dirty_anon(1, 3))], false);
        assert_eq!(
            pss_lines(&one),
            [
                "Rss:                   4 kB",
                "Pss:                   1 kB",
                "Pss_Dirty:             1 kB"
            ]
        );
        let two = render(vec![anon(0x1000, 0x3000, ANON_RW, dirty_anon(2, 3))], false);
        assert_eq!(
            pss_lines(&two),
            [
                "Rss:                   8 kB",
                "Pss:                   2 kB",
                "Pss_Dirty:             2 kB"
            ]
        );
    }

    #[test]
    fn gate_block_is_all_zero_with_ex() {
        let got = render(vec![], true);
        let mut lines = got.lines();
        assert_eq!(
            lines.next(),
            Some("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]")
        );
        assert_eq!(lines.next(), Some("Size:                  4 kB"));
        assert_eq!(got.lines().count(), 25);
        assert!(got.ends_with("THPeligible:           0\nVmFlags: ex \n"));
    }

    #[test]
    fn wide_values_are_not_truncated_and_swap_locked_use_their_scales() {
        let c = SmapsCounters {
            swap: 3 * PAGE,
            swap_pss: share(1) + share(2),
            locked: 2 * share(1),
            lazyfree: PAGE,
            ..SmapsCounters::default()
        };
        let huge = anon(0, 1 << 40, ANON_RW | VM_LOCKED, c);
        let got = render(vec![huge], false);
        assert!(got.contains("\nSize:           1073741824 kB\n"));
        assert!(got.contains("\nLazyFree:              4 kB\n"));
        assert!(got.contains("\nSwap:                 12 kB\n"));
        assert!(got.contains("\nSwapPss:               6 kB\n"));
        assert!(got.contains("\nLocked:                8 kB\n"));
        assert!(got.contains("\nVmFlags: rd wr mr mw me lo ac \n"));
    }

    #[test]
    fn vm_flags_in_ascending_bit_order_with_unknown_high_bits() {
        let line = |flags: u64| {
            let mut out = Vec::new();
            write_vm_flags(flags, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(line(0), "VmFlags: \n");
        assert_eq!(
            line(u64::from(u32::MAX)),
            "VmFlags: rd wr ex sh mr mw me ms gd um pf gu uw lo io sr rr dc de lf ac nr ht sf ar wf \
             dd sd mm hg nh mg \n"
        );
        assert_eq!(
            line(VM_READ | (1 << 32) | (1 << 63)),
            "VmFlags: rd ?? ?? \n"
        );
        let stack = ANON_RW | VM_GROWSDOWN;
        assert_eq!(line(stack), "VmFlags: rd wr mr mw me gd ac \n");
        let shared = VM_READ | VM_WRITE | VM_SHARED | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
        assert_eq!(
            line(shared | VM_MAYSHARE),
            "VmFlags: rd wr sh mr mw me ms \n"
        );
    }

    /// procfs-core's own bit for a kernel VmFlags code (its numbering differs from the kernel's).
    fn procfs_flag(code: &str) -> VmFlags {
        match code {
            "rd" => VmFlags::RD,
            "wr" => VmFlags::WR,
            "ex" => VmFlags::EX,
            "sh" => VmFlags::SH,
            "mr" => VmFlags::MR,
            "mw" => VmFlags::MW,
            "me" => VmFlags::ME,
            "ms" => VmFlags::MS,
            "gd" => VmFlags::GD,
            "lo" => VmFlags::LO,
            "dc" => VmFlags::DC,
            "de" => VmFlags::DE,
            "ac" => VmFlags::AC,
            "nr" => VmFlags::NR,
            "wf" => VmFlags::WF,
            "dd" => VmFlags::DD,
            other => panic!("no procfs flag for {other}"),
        }
    }

    #[test]
    fn procfs_round_trip() {
        let flag_sets = [
            ANON_RW,
            ANON_RW | VM_GROWSDOWN,
            (ANON_RW | VM_SHARED | VM_MAYSHARE) & !VM_ACCOUNT,
            ANON_RW | VM_LOCKED | VM_DONTCOPY | VM_DONTEXPAND | VM_WIPEONFORK | VM_DONTDUMP,
            (ANON_RW | VM_NORESERVE) & !VM_ACCOUNT,
            VM_READ | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC,
        ];
        let labels = [
            Some("[anon:dalvik-main space]"),
            Some("[stack]"),
            Some("[anon_shmem:a b]"),
            Some("[anon: glibc: malloc arena]"),
            Some("[anon:a/b:c]"),
            None,
        ];
        let vmas: Vec<VmaView> = (0..6u64)
            .map(|i| VmaView {
                label: labels[i as usize].map(str::to_string),
                ..anon(
                    0x7f00_0000_0000 + i * 0x10000,
                    0x7f00_0000_8000 + i * 0x10000,
                    flag_sets[i as usize],
                    dirty_anon(i + 1, i % 3 + 1),
                )
            })
            .collect();
        let mut out = Vec::new();
        render_smaps(
            &AddressSpaceView {
                vmas: vmas.clone(),
                has_gate_vma: true,
            },
            &mut out,
        );
        let maps = MemoryMaps::from_buf_read(&out[..]).unwrap();
        assert_eq!(maps.len(), 7);
        let paths: Vec<_> = maps.iter().map(|m| m.pathname.clone()).collect();
        assert_eq!(
            paths,
            [
                MMapPath::Other("anon:dalvik-main space".into()),
                MMapPath::Stack,
                MMapPath::Other("anon_shmem:a b".into()),
                MMapPath::Other("anon: glibc: malloc arena".into()),
                MMapPath::Other("anon:a/b:c".into()),
                MMapPath::Anonymous,
                MMapPath::Vsyscall,
            ]
        );
        for (v, m) in vmas.iter().chain([&gate_vma()]).zip(maps.iter()) {
            assert_eq!(m.address, (v.start, v.end));
            assert_eq!(m.perms.as_str().as_bytes(), perms(v.flags));
            let c = &v.counters;
            let kb = |bytes: u64| (bytes >> 10) * 1024;
            let pss = |fixed: u64| ((fixed >> PSS_SHIFT) >> 10) * 1024;
            let map = &m.extension.map;
            let expect = [
                ("Size", kb(v.end - v.start)),
                ("KernelPageSize", 4096),
                ("MMUPageSize", 4096),
                ("Rss", kb(c.rss)),
                ("Pss", pss(c.pss)),
                ("Pss_Dirty", pss(c.pss_dirty)),
                ("Shared_Clean", kb(c.shared_clean)),
                ("Shared_Dirty", kb(c.shared_dirty)),
                ("Private_Clean", kb(c.private_clean)),
                ("Private_Dirty", kb(c.private_dirty)),
                ("Referenced", kb(c.referenced)),
                ("Anonymous", kb(c.anonymous)),
                ("KSM", 0),
                ("LazyFree", kb(c.lazyfree)),
                ("AnonHugePages", 0),
                ("ShmemPmdMapped", 0),
                ("FilePmdMapped", 0),
                ("Shared_Hugetlb", 0),
                ("Private_Hugetlb", 0),
                ("Swap", kb(c.swap)),
                ("SwapPss", pss(c.swap_pss)),
                ("Locked", pss(c.locked)),
                ("THPeligible", 0),
            ];
            assert_eq!(map.len(), expect.len());
            for (key, value) in expect {
                assert_eq!(map.get(key), Some(&value), "{key} of {:x}", v.start);
            }
            let mut flags_line = Vec::new();
            write_vm_flags(v.flags, &mut flags_line);
            let want = std::str::from_utf8(&flags_line)
                .unwrap()
                .split_ascii_whitespace()
                .skip(1)
                .map(procfs_flag)
                .fold(VmFlags::NONE, |a, b| a | b);
            assert_eq!(m.extension.vm_flags, want);
        }
        // The stack VMA holds two pages, each mapped twice: Pss 4 kB.
        assert_eq!(maps.0[1].extension.map["Pss"], 4 * 1024);
    }

    #[test]
    fn sixty_four_thousand_vmas() {
        const N: u64 = 64_000;
        let base = 0x7f00_0000_0000u64;
        let vmas: Vec<VmaView> = (0..N)
            .map(|i| VmaView {
                label: (i % 2 == 1).then(|| format!("[anon:buf {i}]")),
                ..anon(
                    base + i * 0x3000,
                    base + i * 0x3000 + 0x2000,
                    ANON_RW,
                    dirty_anon(i % 3, 1 + i % 2),
                )
            })
            .collect();
        let space = AddressSpaceView {
            vmas,
            has_gate_vma: true,
        };
        let mut out = Vec::new();
        render_smaps(&space, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count() as u64, (N + 1) * 25);
        assert_eq!(
            text.lines().next(),
            Some("7f0000000000-7f0000002000 rw-p 00000000 00:00 0 ")
        );
        let last = base + (N - 1) * 0x3000;
        let last_header = text.lines().nth((N as usize - 1) * 25).unwrap();
        assert_eq!(
            last_header,
            format!(
                "{last:x}-{:x} rw-p 00000000 00:00 0                          [anon:buf 63999]",
                last + 0x2000
            )
        );
        assert!(text.ends_with("THPeligible:           0\nVmFlags: ex \n"));
        // Each block: its header, 22 kB lines of 28 bytes, THPeligible (25) and VmFlags.
        let body = 22 * 28 + 25;
        let vma_flags = "VmFlags: rd wr mr mw me ac \n".len();
        let headers: usize = (0..N)
            .map(|i| match i % 2 {
                0 => 49,
                _ => 73 + format!("[anon:buf {i}]").len() + 1,
            })
            .sum();
        let gate = 84 + body + "VmFlags: ex \n".len();
        assert_eq!(text.len(), headers + N as usize * (body + vma_flags) + gate);
    }
}
