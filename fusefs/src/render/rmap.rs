//! `rmap/<pfn>`: one page frame and every (process, address) that maps it.
//!
//! anonmap's own file; the format is ours. A header of `key: value` lines, in this order:
//!
//! ```text
//! pfn: 0x<hex>
//! flags: <name> <name> ...          (`flags:` alone when no flag is set)
//! mapcount: <decimal>
//! refcount: <decimal>
//! mapping: <anon_vma:ID | file:PATH | shmem:INODE | none>
//! index: 0x<hex>
//! anon_vmas_visited: <decimal>
//! vmas_visited: <decimal>
//! mappers: <decimal, the number of lines that follow>
//! ```
//!
//! then one line per mapper, in (pid, vaddr) order, fields separated by single spaces:
//!
//! ```text
//! <pid> <vaddr> <vma_start>-<vma_end> <perms>[ <label>]
//! ```
//!
//! Addresses are lowercase hex without `0x`, zero-padded to at least 8 digits as in maps; perms
//! are maps' four characters (`rw-p`). The label is maps' name column and comes last, so it may
//! contain spaces; it and its separating space are omitted for an unnamed VMA, so no line ends in
//! a space. Example:
//!
//! ```text
//! pfn: 0x3b32
//! flags: anon swapbacked dirty referenced
//! mapcount: 2
//! refcount: 2
//! mapping: anon_vma:7
//! index: 0x200000000
//! anon_vmas_visited: 1
//! vmas_visited: 2
//! mappers: 2
//! 1 200000000000 200000000000-200000004000 rw-p
//! 2 200000000000 200000000000-200000004000 rw-p [anon:dalvik-main space]
//! ```

use super::fmt::{dec, hex_min};
use super::maps::perms;
use crate::view::RmapView;

/// Appends the whole rmap file for one page frame.
pub fn render_rmap(r: &RmapView, out: &mut Vec<u8>) {
    out.extend_from_slice(b"pfn: 0x");
    hex_min(out, r.pfn, 0);
    out.extend_from_slice(b"\nflags:");
    for flag in &r.flags {
        out.push(b' ');
        out.extend_from_slice(flag.as_bytes());
    }
    out.extend_from_slice(b"\nmapcount: ");
    dec(out, r.mapcount);
    out.extend_from_slice(b"\nrefcount: ");
    dec(out, r.refcount);
    out.extend_from_slice(b"\nmapping: ");
    out.extend_from_slice(r.mapping.as_bytes());
    out.extend_from_slice(b"\nindex: 0x");
    hex_min(out, r.index, 0);
    out.extend_from_slice(b"\nanon_vmas_visited: ");
    dec(out, r.anon_vmas_visited);
    out.extend_from_slice(b"\nvmas_visited: ");
    dec(out, r.vmas_visited);
    out.extend_from_slice(b"\nmappers: ");
    dec(out, r.mappers.len() as u64);
    out.push(b'\n');
    for m in &r.mappers {
        dec(out, m.pid.into());
        out.push(b' ');
        hex_min(out, m.vaddr, 8);
        out.push(b' ');
        hex_min(out, m.vma_start, 8);
        out.push(b'-');
        hex_min(out, m.vma_end, 8);
        out.push(b' ');
        out.extend_from_slice(&perms(m.vma_flags));
        if let Some(label) = &m.label {
            out.push(b' ');
            out.extend_from_slice(label.as_bytes());
        }
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::vm_flags::*;
    use crate::view::RmapMapper;

    fn render(r: &RmapView) -> String {
        let mut out = Vec::new();
        render_rmap(r, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn mapper(pid: u32, flags: u64, label: Option<&str>) -> RmapMapper {
        RmapMapper {
            pid,
            vaddr: 0x200000000000,
            vma_start: 0x200000000000,
            vma_end: 0x200000004000,
            vma_flags: flags,
            label: label.map(str::to_string),
        }
    }

    #[test]
    fn anon_page_mapped_twice() {
        let rw = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ACCOUNT;
        let r = RmapView {
            pfn: 0x3b32,
            flags: vec!["anon", "swapbacked", "dirty", "referenced"],
            mapcount: 2,
            refcount: 2,
            mapping: "anon_vma:7".into(),
            index: 0x200000000,
            anon_vmas_visited: 1,
            vmas_visited: 2,
            mappers: vec![
                mapper(1, rw, None),
                mapper(2, rw, Some("[anon:dalvik-main space]")),
            ],
        };
        assert_eq!(
            render(&r),
            "\
pfn: 0x3b32
flags: anon swapbacked dirty referenced
mapcount: 2
refcount: 2
mapping: anon_vma:7
index: 0x200000000
anon_vmas_visited: 1
vmas_visited: 2
mappers: 2
1 200000000000 200000000000-200000004000 rw-p
2 200000000000 200000000000-200000004000 rw-p [anon:dalvik-main space]
"
        );
    }

    #[test]
    fn unmapped_page_with_no_flags_and_short_addresses() {
        let r = RmapView {
            pfn: 0,
            flags: vec![],
            mapcount: 0,
            refcount: 1,
            mapping: "none".into(),
            index: 0,
            anon_vmas_visited: 0,
            vmas_visited: 0,
            mappers: vec![],
        };
        assert_eq!(
            render(&r),
            "pfn: 0x0\nflags:\nmapcount: 0\nrefcount: 1\nmapping: none\nindex: 0x0\n\
             anon_vmas_visited: 0\nvmas_visited: 0\nmappers: 0\n"
        );
        let shared = RmapView {
            mappers: vec![RmapMapper {
                pid: 42,
                vaddr: 0x401000,
                vma_start: 0x400000,
                vma_end: 0x40c000,
                vma_flags: VM_READ | VM_SHARED | VM_MAYREAD | VM_MAYSHARE,
                label: Some("/tmp/a file".into()),
            }],
            mapping: "file:/tmp/a file".into(),
            ..r
        };
        assert!(render(&shared).ends_with(
            "mapping: file:/tmp/a file\nindex: 0x0\nanon_vmas_visited: 0\nvmas_visited: 0\n\
             mappers: 1\n42 00401000 00400000-0040c000 r--s /tmp/a file\n"
        ));
    }
}
