//! `/proc/<pid>/smaps`: per VMA the maps line, the memory block and the VmFlags line.
//!
//! Owns the counter lines shared with smaps_rollup (task_mmu.c `__show_smap`) and the VmFlags
//! mnemonics (`show_smap_vma_flags`). Each value line is a 16-column label, the value in kB
//! right-aligned in 8 columns and ` kB` (`Private_Hugetlb: ` is the kernel's one 17-column label,
//! with a 7-column value). Plain counters are shown as `bytes >> 10`, the PSS-like ones (Pss,
//! Pss_Dirty, Pss_Anon/File/Shmem, SwapPss, Locked) as `(fixed >> PSS_SHIFT) >> 10`.
//! No `ProtectionKey:` line is printed: the simulated CPU has no protection keys.
//!
//! Speed: a block's kB lines all have the same length while their values fit their columns, so
//! a block is a copy of a zero-valued template with the nonzero values written into their slots.

use super::fmt::{dec_width, kb_line};
use super::maps::write_vma_header;
use crate::view::{gate_vma, AddressSpaceView, SmapsCounters, VmaView, PSS_SHIFT};
use std::ops::Range;
use std::sync::OnceLock;

/// Appends the whole smaps file: a block per VMA, then the gate VMA's block (all zero) if any.
pub fn render_smaps(space: &AddressSpaceView, out: &mut Vec<u8>) {
    // A block is about 700 bytes of counters plus its header line.
    out.reserve(space.vmas.len() * 800);
    space.for_each_shown(|v| write_smap(v, out));
}

/// Appends one VMA's block.
///
/// Every kB line of a block is [`LINE`] bytes as long as its value fits its width, so the common
/// case copies a zero-valued template of the whole body and writes only the nonzero values into
/// their slots; a block with a value too wide for its column takes the line-by-line path.
fn write_smap(v: &VmaView, out: &mut Vec<u8>) {
    write_vma_header(v, out);
    let lines = body_lines(v);
    if lines.iter().all(|l| l.kb < 10u64.pow(l.width as u32)) {
        let at = out.len();
        out.extend_from_slice(body_template());
        for (i, l) in lines.iter().enumerate() {
            if l.kb != 0 {
                let slot_end = at + i * LINE + LINE - KB_NL.len();
                let mut buf = itoa::Buffer::new();
                let digits = buf.format(l.kb).as_bytes();
                out[slot_end - digits.len()..slot_end].copy_from_slice(digits);
            }
        }
    } else {
        write_body(&lines, out);
    }
    write_vm_flags(v.flags, out);
}

/// The length of every kB line whose value fits its column: 24 columns, then ` kB\n`.
const LINE: usize = 28;
/// What ends a kB line.
const KB_NL: &str = " kB\n";
/// The counter lines of smaps_rollup, `Rss:` to `Locked:`.
const MEM_LINES: usize = 22;
/// Where Pss_Anon, Pss_File and Pss_Shmem sit among the [`mem_lines`]: only smaps_rollup
/// prints them.
const ROLLUP_ONLY: Range<usize> = 3..6;
/// The kB lines of an smaps block: Size, KernelPageSize, MMUPageSize and the counter lines.
const BODY_LINES: usize = 3 + MEM_LINES - (ROLLUP_ONLY.end - ROLLUP_ONLY.start);

/// One `label + value + " kB"` line.
#[derive(Debug, Clone, Copy)]
pub(super) struct KbLine {
    /// The label with its padding, as the kernel source spells it.
    pub label: &'static str,
    pub kb: u64,
    /// The value's column width.
    pub width: usize,
}

impl KbLine {
    fn new(label: &'static str, kb: u64) -> KbLine {
        KbLine {
            label,
            kb,
            width: 8,
        }
    }
}

/// The kB lines of `v`'s smaps block, in print order.
fn body_lines(v: &VmaView) -> [KbLine; BODY_LINES] {
    let mut lines = [KbLine::new("", 0); BODY_LINES];
    lines[0] = KbLine::new("Size:           ", (v.end - v.start) >> 10);
    lines[1] = KbLine::new("KernelPageSize: ", 4);
    lines[2] = KbLine::new("MMUPageSize:    ", 4);
    let mem = mem_lines(&v.counters);
    let (before, after) = (&mem[..ROLLUP_ONLY.start], &mem[ROLLUP_ONLY.end..]);
    lines[3..3 + before.len()].copy_from_slice(before);
    lines[3 + before.len()..].copy_from_slice(after);
    lines
}

/// Appends `lines`, then the THPeligible line.
fn write_body(lines: &[KbLine], out: &mut Vec<u8>) {
    for l in lines {
        kb_line(out, l.label, l.kb, l.width);
    }
    out.extend_from_slice(b"THPeligible:    ");
    dec_width(out, 0, 8);
    out.push(b'\n');
}

/// An smaps body with every value 0: the kB lines and THPeligible, without the VmFlags line.
fn body_template() -> &'static [u8] {
    static TEMPLATE: OnceLock<Vec<u8>> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let mut lines = body_lines(&gate_vma());
        for l in &mut lines {
            l.kb = 0;
        }
        let mut out = Vec::new();
        write_body(&lines, &mut out);
        out
    })
}

/// The counter lines from `Rss:` to `Locked:` as smaps_rollup prints them; smaps leaves out the
/// [`ROLLUP_ONLY`] ones.
pub(super) fn mem_lines(c: &SmapsCounters) -> [KbLine; MEM_LINES] {
    let pss = |fixed: u64| (fixed >> PSS_SHIFT) >> 10;
    [
        KbLine::new("Rss:            ", c.rss >> 10),
        KbLine::new("Pss:            ", pss(c.pss)),
        KbLine::new("Pss_Dirty:      ", pss(c.pss_dirty)),
        KbLine::new("Pss_Anon:       ", pss(c.pss_anon)),
        KbLine::new("Pss_File:       ", pss(c.pss_file)),
        KbLine::new("Pss_Shmem:      ", pss(c.pss_shmem)),
        KbLine::new("Shared_Clean:   ", c.shared_clean >> 10),
        KbLine::new("Shared_Dirty:   ", c.shared_dirty >> 10),
        KbLine::new("Private_Clean:  ", c.private_clean >> 10),
        KbLine::new("Private_Dirty:  ", c.private_dirty >> 10),
        KbLine::new("Referenced:     ", c.referenced >> 10),
        KbLine::new("Anonymous:      ", c.anonymous >> 10),
        KbLine::new("KSM:            ", 0),
        KbLine::new("LazyFree:       ", c.lazyfree >> 10),
        KbLine::new("AnonHugePages:  ", 0),
        KbLine::new("ShmemPmdMapped: ", 0),
        KbLine::new("FilePmdMapped:  ", 0),
        KbLine::new("Shared_Hugetlb: ", 0),
        KbLine {
            label: "Private_Hugetlb: ",
            kb: 0,
            width: 7,
        },
        KbLine::new("Swap:           ", c.swap >> 10),
        KbLine::new("SwapPss:        ", pss(c.swap_pss)),
        KbLine::new("Locked:         ", pss(c.locked)),
    ]
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
    use anonmap_abi::vm_flags::*;
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
            flags,
            ..crate::fake::fake_anon_vma(start, end, counters)
        }
    }

    fn render(vmas: Vec<VmaView>, has_gate_vma: bool) -> String {
        crate::render::fmt::text(|out| render_smaps(&AddressSpaceView { vmas, has_gate_vma }, out))
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
    fn template_lines_have_the_fixed_length_the_fast_path_assumes() {
        let t = std::str::from_utf8(body_template()).unwrap();
        let lines: Vec<&str> = t.split_inclusive('\n').collect();
        assert_eq!(lines.len(), BODY_LINES + 1);
        assert!(lines[..BODY_LINES].iter().all(|l| l.len() == LINE));
        assert_eq!(lines[BODY_LINES], "THPeligible:           0\n");
        assert_eq!(lines[1], "KernelPageSize:        0 kB\n");
    }

    #[test]
    fn fast_path_matches_line_by_line_rendering() {
        let kbs = [
            0,
            1,
            9,
            10,
            4_194_303,
            9_999_999,
            10_000_000,
            99_999_999,
            100_000_000,
        ];
        for (i, &kb) in kbs.iter().enumerate() {
            let bytes = kb << 10;
            let fixed = bytes << PSS_SHIFT;
            let c = SmapsCounters {
                rss: bytes,
                pss: fixed,
                pss_dirty: fixed / 3,
                shared_clean: bytes / 2,
                shared_dirty: bytes / 4,
                private_clean: bytes / 8,
                private_dirty: bytes,
                referenced: bytes,
                anonymous: bytes,
                lazyfree: bytes / 16,
                swap: bytes,
                swap_pss: fixed,
                locked: fixed,
                ..SmapsCounters::default()
            };
            let start = 0x7f00_0000_0000 + ((i as u64) << 40);
            let v = anon(
                start,
                start + (kbs[kbs.len() - 1 - i] << 10) + PAGE,
                ANON_RW,
                c,
            );
            let mut fast = Vec::new();
            write_smap(&v, &mut fast);
            let mut slow = Vec::new();
            write_vma_header(&v, &mut slow);
            write_body(&body_lines(&v), &mut slow);
            write_vm_flags(v.flags, &mut slow);
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(slow).unwrap()
            );
        }
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
        let mut vmas: Vec<VmaView> = (0..6u64)
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
        // The shmem VMA has a file: pgoff, the shmem device and an inode.
        vmas[2].offset = 0x2000;
        vmas[2].dev_minor = 1;
        vmas[2].inode = 1025;
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
            let dev = (v.dev_major as i32, v.dev_minor as i32);
            assert_eq!((m.offset, m.dev, m.inode), (v.offset, dev, v.inode));
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
