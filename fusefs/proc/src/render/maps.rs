//! `/proc/<pid>/maps`: one line per VMA, then the gate VMA.
//!
//! Owns the VMA header line that maps, smaps and smaps_rollup share (task_mmu.c
//! `show_vma_header_prefix` + `show_map_vma`):
//! `%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu ` — start, end, perms (`r`/`w`/`x` from VM_READ,
//! VM_WRITE, VM_EXEC, then `s` if VM_MAYSHARE else `p`), offset, device major:minor in hex, inode
//! in decimal, and always one trailing space. A named line is padded with spaces to 72 columns,
//! gets one more space and then the name, so the name starts at column max(73, prefix + 1). A
//! nameless line ends right after the trailing space.

use super::fmt::{dec, hex_min, pad};
use crate::view::{AddressSpaceView, VmaView};
use anonmap_abi::vm_flags;

/// The seq_file width the kernel pads named lines to on 64-bit: `25 + 6 * sizeof(void *) - 1`.
const NAME_PAD: usize = 72;

/// Appends the whole maps file: every VMA, then `[vsyscall]` if the space has a gate VMA.
pub fn render_maps(space: &AddressSpaceView, out: &mut Vec<u8>) {
    // A named line is 73 bytes plus its name; most lines are shorter.
    out.reserve(space.vmas.len() * 96);
    space.for_each_shown(|v| write_vma_header(v, out));
}

/// Appends one maps line for `v` (with its `\n`); smaps uses it as each block's first line.
pub fn write_vma_header(v: &VmaView, out: &mut Vec<u8>) {
    write_header_line(
        out,
        &HeaderFields {
            start: v.start,
            end: v.end,
            perms: perms(v.flags),
            offset: v.offset,
            dev_major: v.dev_major,
            dev_minor: v.dev_minor,
            inode: v.inode,
        },
        v.label.as_deref(),
    );
}

/// The fields of a header line's fixed prefix (smaps_rollup prints one that is no real VMA).
#[derive(Debug, Clone, Copy)]
pub(super) struct HeaderFields {
    pub start: u64,
    pub end: u64,
    pub perms: [u8; 4],
    pub offset: u64,
    pub dev_major: u32,
    pub dev_minor: u32,
    pub inode: u64,
}

/// The four perms characters of a VMA, as maps prints them.
pub(super) fn perms(flags: u64) -> [u8; 4] {
    let bit = |mask: u64, c: u8| if flags & mask != 0 { c } else { b'-' };
    [
        bit(vm_flags::VM_READ, b'r'),
        bit(vm_flags::VM_WRITE, b'w'),
        bit(vm_flags::VM_EXEC, b'x'),
        if flags & vm_flags::VM_MAYSHARE != 0 {
            b's'
        } else {
            b'p'
        },
    ]
}

/// Appends the prefix, then the padded name if any, then `\n`.
pub(super) fn write_header_line(out: &mut Vec<u8>, h: &HeaderFields, label: Option<&str>) {
    let line_start = out.len();
    hex_min(out, h.start, 8);
    out.push(b'-');
    hex_min(out, h.end, 8);
    out.push(b' ');
    out.extend_from_slice(&h.perms);
    out.push(b' ');
    hex_min(out, h.offset, 8);
    out.push(b' ');
    hex_min(out, u64::from(h.dev_major), 2);
    out.push(b':');
    hex_min(out, u64::from(h.dev_minor), 2);
    out.push(b' ');
    dec(out, h.inode);
    out.push(b' ');
    if let Some(label) = label {
        pad(out, b' ', NAME_PAD.saturating_sub(out.len() - line_start));
        out.push(b' ');
        out.extend_from_slice(label.as_bytes());
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::SmapsCounters;
    use anonmap_abi::vm_flags::*;
    use procfs_core::process::{MMPermissions, MMapPath, MemoryMaps};
    use procfs_core::FromBufRead;

    const ANON_RW: u64 = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ACCOUNT;

    fn vma(start: u64, end: u64, flags: u64, label: Option<&str>) -> VmaView {
        VmaView {
            flags,
            label: label.map(str::to_string),
            ..crate::fake::fake_anon_vma(start, end, SmapsCounters::default())
        }
    }

    fn line(v: &VmaView) -> String {
        crate::render::fmt::text(|out| write_vma_header(v, out))
    }

    #[test]
    fn unnamed_anon_line_keeps_its_trailing_space() {
        let l = line(&vma(0x7f8b63679000, 0x7f8b63681000, ANON_RW, None));
        assert_eq!(l, "7f8b63679000-7f8b63681000 rw-p 00000000 00:00 0 \n");
        assert_eq!(l.len(), 48 + 1);
    }

    #[test]
    fn named_anon_line_starts_the_name_at_column_73() {
        let l = line(&vma(
            0x7f8b63679000,
            0x7f8b63681000,
            ANON_RW,
            Some("[anon:goodname]"),
        ));
        assert_eq!(
            l,
            "7f8b63679000-7f8b63681000 rw-p 00000000 00:00 0                          [anon:goodname]\n"
        );
        assert_eq!(l.find('[').unwrap(), 73);
    }

    #[test]
    fn heap_line_is_79_chars() {
        let l = line(&vma(
            0x55d227dc3000,
            0x55d227e05000,
            ANON_RW,
            Some("[heap]"),
        ));
        assert_eq!(
            l,
            "55d227dc3000-55d227e05000 rw-p 00000000 00:00 0                          [heap]\n"
        );
        assert_eq!(l.len(), 79 + 1);
    }

    #[test]
    fn file_line_shows_offset_dev_and_inode() {
        let v = VmaView {
            offset: 0x4000,
            dev_major: 0xfe,
            dev_minor: 0,
            inode: 326599,
            ..vma(
                0x7fd4c9351000,
                0x7fd4c9355000,
                VM_READ | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC,
                Some("/usr/lib/x86_64-linux-gnu/libz.so.1"),
            )
        };
        assert_eq!(
            line(&v),
            "7fd4c9351000-7fd4c9355000 r--p 00004000 fe:00 326599                     /usr/lib/x86_64-linux-gnu/libz.so.1\n"
        );
    }

    #[test]
    fn eight_digit_addresses_and_three_digit_major() {
        let v = VmaView {
            dev_major: 0x103,
            dev_minor: 2,
            inode: 261656,
            ..vma(
                0x400000,
                0x40c000,
                VM_READ | VM_EXEC | VM_MAYREAD | VM_MAYEXEC,
                Some("/bin/cat"),
            )
        };
        assert_eq!(
            line(&v),
            "00400000-0040c000 r-xp 00000000 103:02 261656                            /bin/cat\n"
        );
    }

    #[test]
    fn long_prefix_gets_two_spaces_before_the_name() {
        let v = VmaView {
            offset: 0x7fff_ffff_f000_0000,
            dev_major: 0xfff,
            dev_minor: 0xfffff,
            inode: u64::MAX,
            ..vma(
                0xffff_ffff_ff60_0000,
                0xffff_ffff_ff60_1000,
                VM_READ,
                Some("/x"),
            )
        };
        let l = line(&v);
        assert_eq!(
            l,
            "ffffffffff600000-ffffffffff601000 r--p 7ffffffff0000000 fff:fffff 18446744073709551615  /x\n"
        );
        assert!(l.len() - "/x\n".len() > NAME_PAD + 1);
    }

    #[test]
    fn shared_anon_line_is_rw_s() {
        let flags = VM_READ | VM_WRITE | VM_SHARED | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
        let v = VmaView {
            dev_minor: 1,
            inode: 1025,
            ..vma(
                0x7f8b63689000,
                0x7f8b6368b000,
                flags | VM_MAYSHARE,
                Some("[anon_shmem:x]"),
            )
        };
        assert_eq!(
            line(&v),
            "7f8b63689000-7f8b6368b000 rw-s 00000000 00:01 1025                       [anon_shmem:x]\n"
        );
        // A read-only MAP_SHARED mapping keeps `s` through VM_MAYSHARE alone.
        let ro = vma(0x1000, 0x2000, VM_READ | VM_MAYSHARE, None);
        assert_eq!(line(&ro), "00001000-00002000 r--s 00000000 00:00 0 \n");
    }

    #[test]
    fn gate_line_and_whole_file() {
        let space = AddressSpaceView {
            vmas: vec![
                vma(0x200000000000, 0x200000004000, ANON_RW, None),
                vma(
                    0x200000004000,
                    0x200000005000,
                    VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC,
                    None,
                ),
            ],
            has_gate_vma: true,
        };
        let mut out = Vec::new();
        render_maps(&space, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "200000000000-200000004000 rw-p 00000000 00:00 0 \n\
             200000004000-200000005000 ---p 00000000 00:00 0 \n\
             ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n"
        );
        let mut none = Vec::new();
        render_maps(&AddressSpaceView::default(), &mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn procfs_parses_labels_with_spaces_slashes_and_colons() {
        let file = VmaView {
            offset: 0x4000,
            dev_major: 0x103,
            dev_minor: 2,
            inode: 326599,
            ..vma(
                0x7fd4c9351000,
                0x7fd4c9355000,
                VM_READ,
                Some("/usr/lib/libz.so.1"),
            )
        };
        let space = AddressSpaceView {
            vmas: vec![
                vma(0x1000, 0x2000, ANON_RW, Some("[anon:dalvik-main space]")),
                vma(0x2000, 0x3000, ANON_RW, Some("[anon: glibc: malloc arena]")),
                vma(0x3000, 0x4000, ANON_RW, Some("[anon:a/b:c]")),
                vma(
                    0x4000,
                    0x5000,
                    ANON_RW | VM_MAYSHARE,
                    Some("[anon_shmem:x y]"),
                ),
                vma(0x5000, 0x6000, ANON_RW, Some("[heap]")),
                vma(0x6000, 0x7000, ANON_RW, None),
                file,
            ],
            has_gate_vma: true,
        };
        let mut out = Vec::new();
        render_maps(&space, &mut out);
        let maps = MemoryMaps::from_buf_read(&out[..]).unwrap();
        let got: Vec<_> = maps.iter().map(|m| m.pathname.clone()).collect();
        assert_eq!(
            got,
            vec![
                MMapPath::Other("anon:dalvik-main space".into()),
                MMapPath::Other("anon: glibc: malloc arena".into()),
                MMapPath::Other("anon:a/b:c".into()),
                MMapPath::Other("anon_shmem:x y".into()),
                MMapPath::Heap,
                MMapPath::Anonymous,
                MMapPath::Path("/usr/lib/libz.so.1".into()),
                MMapPath::Vsyscall,
            ]
        );
        let rw_p = MMPermissions::READ | MMPermissions::WRITE | MMPermissions::PRIVATE;
        assert_eq!(maps.0[0].address, (0x1000, 0x2000));
        assert_eq!(maps.0[0].perms, rw_p);
        assert_eq!(
            maps.0[3].perms,
            MMPermissions::READ | MMPermissions::WRITE | MMPermissions::SHARED
        );
        let f = &maps.0[6];
        assert_eq!(f.perms, MMPermissions::READ | MMPermissions::PRIVATE);
        assert_eq!((f.offset, f.dev, f.inode), (0x4000, (0x103, 2), 326599));
        assert_eq!(
            maps.0[7].perms,
            MMPermissions::EXECUTE | MMPermissions::PRIVATE
        );
    }
}
