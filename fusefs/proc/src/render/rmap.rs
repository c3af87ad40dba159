//! `rmap/<pfn>`: one page frame and every (process, address) that maps it.
//!
//! anonmap's own file; the format is ours. A header of `key: value` lines, in this order:
//!
//! ```text
//! pfn: 0x<hex>
//! flags: <name> <name> ...          (`flags:` alone when no flag is set)
//! lru: <inactive_anon | active_anon | inactive_file | active_file | unevictable | none>
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
//! flags: anon swapbacked dirty referenced lru
//! lru: inactive_anon
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
//!
//! [`parse_rmap`] reads the file back into an [`RmapView`] (the client's `anonmap rmap` uses
//! it). A mapper's perms carry only four bits of its `vma_flags`, so only VM_READ, VM_WRITE,
//! VM_EXEC and VM_MAYSHARE (`s`) survive the round trip: `parse_rmap(render_rmap(v)) == v` for
//! views whose mappers' `vma_flags` hold no other bit.

use anonmap_abi::vm_flags::{VM_EXEC, VM_MAYSHARE, VM_READ, VM_WRITE};

use super::fmt::{dec, hex_min};
use super::maps::perms;
use crate::view::{RmapMapper, RmapView};

/// Appends the whole rmap file for one page frame.
pub fn render_rmap(r: &RmapView, out: &mut Vec<u8>) {
    out.extend_from_slice(b"pfn: 0x");
    hex_min(out, r.pfn, 0);
    out.extend_from_slice(b"\nflags:");
    for flag in &r.flags {
        out.push(b' ');
        out.extend_from_slice(flag.as_bytes());
    }
    out.extend_from_slice(b"\nlru: ");
    out.extend_from_slice(r.lru.as_bytes());
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

/// The perms column of a mapper with `vma_flags`: maps' four characters (`rw-p`).
pub fn mapper_perms(vma_flags: u64) -> String {
    String::from_utf8_lossy(&perms(vma_flags)).into_owned()
}

/// The `vma_flags` bits that perms `rw-p` stand for (see the module docs: only VM_READ,
/// VM_WRITE, VM_EXEC and VM_MAYSHARE).
fn parse_perms(p: &str) -> Result<u64, String> {
    let bad = || format!("bad perms {p:?} (expected 4 characters like rw-p)");
    let b: [u8; 4] = p.as_bytes().try_into().map_err(|_| bad())?;
    let bit = |c: u8, set: u8, mask: u64| match c {
        c if c == set => Ok(mask),
        b'-' => Ok(0),
        _ => Err(bad()),
    };
    let share = match b[3] {
        b's' => VM_MAYSHARE,
        b'p' => 0,
        _ => return Err(bad()),
    };
    Ok(bit(b[0], b'r', VM_READ)? | bit(b[1], b'w', VM_WRITE)? | bit(b[2], b'x', VM_EXEC)? | share)
}

/// Parses the text of an `rmap/<pfn>` file: the inverse of [`render_rmap`]. The header keys
/// must come in the documented order, and `mappers:` must count the lines that follow. Of a
/// mapper's `vma_flags` only the bits its perms show are recovered (see the module docs).
pub fn parse_rmap(text: &str) -> Result<RmapView, String> {
    let mut lines = text.lines();
    let mut field = |key: &str| -> Result<&str, String> {
        let line = lines
            .next()
            .ok_or_else(|| format!("the file ends before its `{key}:` line"))?;
        let value = line
            .strip_prefix(key)
            .and_then(|rest| rest.strip_prefix(':'))
            .ok_or_else(|| format!("expected the `{key}:` line, got {line:?}"))?;
        Ok(value.strip_prefix(' ').unwrap_or(value))
    };
    fn hex(s: &str) -> Result<u64, String> {
        u64::from_str_radix(s, 16).map_err(|_| format!("bad hex {s:?}"))
    }
    fn hex0x(s: &str) -> Result<u64, String> {
        s.strip_prefix("0x")
            .ok_or_else(|| format!("bad hex {s:?} (expected 0x...)"))
            .and_then(hex)
    }
    fn decimal(s: &str) -> Result<u64, String> {
        s.parse().map_err(|_| format!("bad number {s:?}"))
    }
    let pfn = hex0x(field("pfn")?)?;
    let flags = field("flags")?
        .split(' ')
        .filter(|f| !f.is_empty())
        .map(String::from)
        .collect();
    let lru = field("lru")?.to_string();
    let mapcount = decimal(field("mapcount")?)?;
    let refcount = decimal(field("refcount")?)?;
    let mapping = field("mapping")?.to_string();
    let index = hex0x(field("index")?)?;
    let anon_vmas_visited = decimal(field("anon_vmas_visited")?)?;
    let vmas_visited = decimal(field("vmas_visited")?)?;
    let count = field("mappers")?;
    let n: usize = count
        .parse()
        .map_err(|_| format!("bad mappers count {count:?}"))?;
    let mut mappers = Vec::new();
    for line in lines {
        let mut it = line.splitn(5, ' ');
        let (Some(pid), Some(vaddr), Some(range), Some(p)) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            return Err(format!("short mapper line {line:?}"));
        };
        let (start, end) = range
            .split_once('-')
            .ok_or_else(|| format!("bad range {range:?}"))?;
        mappers.push(RmapMapper {
            pid: pid.parse().map_err(|_| format!("bad pid {pid:?}"))?,
            vaddr: hex(vaddr)?,
            vma_start: hex(start)?,
            vma_end: hex(end)?,
            vma_flags: parse_perms(p)?,
            label: it.next().map(String::from),
        });
    }
    if mappers.len() != n {
        return Err(format!(
            "mappers: says {n} but {} lines follow",
            mappers.len()
        ));
    }
    Ok(RmapView {
        pfn,
        flags,
        lru,
        mapcount,
        refcount,
        mapping,
        index,
        anon_vmas_visited,
        vmas_visited,
        mappers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::RmapMapper;
    use anonmap_abi::vm_flags::*;

    fn render(r: &RmapView) -> String {
        crate::render::fmt::text(|out| render_rmap(r, out))
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
            flags: ["anon", "swapbacked", "dirty", "referenced"]
                .map(String::from)
                .to_vec(),
            lru: "active_anon".into(),
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
lru: active_anon
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
            lru: "none".into(),
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
            "pfn: 0x0\nflags:\nlru: none\nmapcount: 0\nrefcount: 1\nmapping: none\nindex: 0x0\n\
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

    #[test]
    fn parse_is_the_inverse_of_render() {
        let view = |flags: Vec<String>, mappers| RmapView {
            pfn: 0x3b32,
            flags,
            lru: "inactive_file".into(),
            mapcount: 3,
            refcount: 4,
            mapping: "file:/tmp/a file".into(),
            index: 0x10,
            anon_vmas_visited: 1,
            vmas_visited: 5,
            mappers,
        };
        let m = |pid, flags, label: Option<&str>| RmapMapper {
            vaddr: 0x401000 + u64::from(pid) * 0x1000,
            ..mapper(pid, flags, label)
        };
        let cases = [
            view(vec![], vec![]),
            view(
                ["anon", "swapbacked"].map(String::from).to_vec(),
                vec![
                    m(1, VM_READ | VM_WRITE, None),
                    m(2, VM_READ | VM_EXEC | VM_MAYSHARE, Some("[anon:x y]")),
                    m(3, 0, Some("")),
                    m(4, VM_WRITE | VM_MAYSHARE, Some("/tmp/a file")),
                ],
            ),
        ];
        for v in cases {
            let text = render(&v);
            assert_eq!(parse_rmap(&text).as_ref(), Ok(&v), "{text}");
        }
        // other vm_flags bits are not in the text: VM_SHARED, VM_MAY* and VM_ACCOUNT drop out
        let rich = view(
            vec![],
            vec![m(
                1,
                VM_READ | VM_SHARED | VM_MAYREAD | VM_MAYSHARE | VM_ACCOUNT,
                None,
            )],
        );
        let back = parse_rmap(&render(&rich)).unwrap();
        assert_eq!(back.mappers[0].vma_flags, VM_READ | VM_MAYSHARE);
        assert_eq!(mapper_perms(back.mappers[0].vma_flags), "r--s");
    }

    #[test]
    fn parses_the_documented_example() {
        let t = "pfn: 0x3b32\nflags: anon swapbacked dirty referenced\nlru: inactive_anon\nmapcount: 2\nrefcount: 2\nmapping: anon_vma:7\nindex: 0x200000000\nanon_vmas_visited: 1\nvmas_visited: 2\nmappers: 2\n1 200000000000 200000000000-200000004000 rw-p\n2 200000000000 200000000000-200000004000 rw-p [anon:dalvik-main space]\n";
        let f = parse_rmap(t).unwrap();
        assert_eq!(f.mapcount, 2);
        assert_eq!(f.flags, ["anon", "swapbacked", "dirty", "referenced"]);
        assert_eq!(
            f.mappers[1].label.as_deref(),
            Some("[anon:dalvik-main space]")
        );
        assert_eq!(f.mappers[0].label, None);
        assert_eq!(f.mappers[0].vaddr, 0x2000_0000_0000);
        assert_eq!(f.mappers[0].vma_flags, VM_READ | VM_WRITE);
        let header =
            "pfn: 0x1\nflags:\nlru: none\nmapcount: 1\nrefcount: 1\nmapping: none\nindex: 0x0\n\
                      anon_vmas_visited: 0\nvmas_visited: 0\n";
        assert!(parse_rmap(&format!("{header}mappers: 0\n")).is_ok());
        assert!(parse_rmap(&format!("{header}mappers: 2\n1 1000 1000-2000 rw-p\n")).is_err());
        assert!(parse_rmap(&format!("{header}mappers: 1\n1 1000 1000-2000 rwxq\n")).is_err());
        assert!(parse_rmap("pfn: 1\nmappers: 2\n1 1000 1000-2000 rw-p\n").is_err());
        assert!(parse_rmap("garbage").is_err());
    }
}
