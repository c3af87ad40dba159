//! `anonmap rmap PFN` and `anonmap rmap --pid P --addr A`: who maps a page.
//!
//! By address: the page's pagemap entry gives its pfn (or says it is swapped or not present),
//! then `rmap/<pfn>` (anonmap's own file, format in fusefs `render/rmap.rs`) lists every
//! (process, address) that maps it. Only the daemon's tree has `rmap/`; a real /proc does not.

use crate::source::{Source, SourceError};
use crate::table::{ColKind, Column, Row, Table};

/// Why an rmap query failed.
#[derive(Debug, thiserror::Error)]
pub enum RmapError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("pid {pid} address {addr:#x}: {why}")]
    NotResident { pid: u32, addr: u64, why: String },
    #[error("rmap/{pfn}: malformed file: {why}")]
    Malformed { pfn: u64, why: String },
}

/// One parsed `rmap/<pfn>` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RmapFile {
    /// The header `key: value` lines, in order.
    pub header: Vec<(String, String)>,
    /// (pid, vaddr, vma_start, vma_end, perms, label)
    pub mappers: Vec<(u32, u64, u64, u64, String, String)>,
}

/// Parses the text of an `rmap/<pfn>` file.
pub fn parse_rmap(text: &str) -> Result<RmapFile, String> {
    let mut header = Vec::new();
    let mut lines = text.lines();
    let mut n_mappers = None;
    for line in lines.by_ref() {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| format!("header line without `:`: {line:?}"))?;
        let v = v.trim_start().to_string();
        if k == "mappers" {
            n_mappers = Some(
                v.parse::<usize>()
                    .map_err(|_| format!("bad mappers count {v:?}"))?,
            );
            header.push((k.to_string(), v));
            break;
        }
        header.push((k.to_string(), v));
    }
    let n = n_mappers.ok_or("no `mappers:` line")?;
    let hex = |s: &str| u64::from_str_radix(s, 16).map_err(|_| format!("bad hex {s:?}"));
    let mut mappers = Vec::new();
    for line in lines {
        let mut it = line.splitn(5, ' ');
        let (Some(pid), Some(vaddr), Some(range), Some(perms)) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            return Err(format!("short mapper line {line:?}"));
        };
        let label = it.next().unwrap_or("[anon]").to_string();
        let (s, e) = range
            .split_once('-')
            .ok_or_else(|| format!("bad range {range:?}"))?;
        mappers.push((
            pid.parse().map_err(|_| format!("bad pid {pid:?}"))?,
            hex(vaddr)?,
            hex(s)?,
            hex(e)?,
            perms.to_string(),
            label,
        ));
    }
    if mappers.len() != n {
        return Err(format!(
            "mappers: says {n} but {} lines follow",
            mappers.len()
        ));
    }
    Ok(RmapFile { header, mappers })
}

/// The pfn of `pid`'s page at `addr`, from pagemap.
pub fn pfn_of(src: &mut Source, pid: u32, addr: u64) -> Result<u64, RmapError> {
    let e = src.pagemap_entry(pid, addr)?;
    let not = |why: String| RmapError::NotResident { pid, addr, why };
    if e & (1 << 62) != 0 {
        return Err(not(format!(
            "the page is swapped out (swap type {}, offset {:#x}); no pfn maps it",
            e & 0x1f,
            (e & ((1 << 55) - 1)) >> 5
        )));
    }
    if e & (1 << 63) == 0 {
        return Err(not(
            "no page is present there (never touched, or unmapped)".into()
        ));
    }
    let pfn = e & ((1 << 55) - 1);
    if pfn == 0 {
        return Err(not(
            "present, but pagemap hides the pfn (reading pfns needs CAP_SYS_ADMIN)".into(),
        ));
    }
    Ok(pfn)
}

pub fn report(src: &mut Source, pfn: u64) -> Result<Table, RmapError> {
    let body = src.read(&format!("rmap/{pfn}"))?;
    let text = String::from_utf8_lossy(&body);
    let f = parse_rmap(&text).map_err(|why| RmapError::Malformed { pfn, why })?;
    let rows = f
        .mappers
        .iter()
        .map(|(pid, va, s, e, perms, label)| {
            Row::new(vec![
                u64::from(*pid).into(),
                format!("{va:08x}").into(),
                format!("{s:08x}-{e:08x}").into(),
                perms.as_str().into(),
                label.as_str().into(),
            ])
        })
        .collect();
    Ok(Table {
        columns: vec![
            Column::new("pid", "PID", ColKind::Count),
            Column::new("vaddr", "Address", ColKind::Text),
            Column::new("vma", "VMA", ColKind::Text),
            Column::new("perms", "Perms", ColKind::Text),
            Column::new("name", "Name", ColKind::Text),
        ],
        rows,
        total: None,
        notes: f.header.iter().map(|(k, v)| format!("{k}: {v}")).collect(),
        json_extra: vec![(
            "page".into(),
            serde_json::Value::Object(
                f.header
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect(),
            ),
        )],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let t = "pfn: 0x3b32\nflags: anon swapbacked dirty referenced\nmapcount: 2\nrefcount: 2\nmapping: anon_vma:7\nindex: 0x200000000\nanon_vmas_visited: 1\nvmas_visited: 2\nmappers: 2\n1 200000000000 200000000000-200000004000 rw-p\n2 200000000000 200000000000-200000004000 rw-p [anon:dalvik-main space]\n";
        let f = parse_rmap(t).unwrap();
        assert_eq!(f.header[2], ("mapcount".into(), "2".into()));
        assert_eq!(f.mappers[1].5, "[anon:dalvik-main space]");
        assert_eq!(f.mappers[0].5, "[anon]");
        assert_eq!(f.mappers[0].1, 0x2000_0000_0000);
        assert!(parse_rmap("pfn: 1\nmappers: 2\n1 1000 1000-2000 rw-p\n").is_err());
        assert!(parse_rmap("garbage").is_err());
    }
}
