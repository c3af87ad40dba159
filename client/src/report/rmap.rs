//! `anonmap rmap PFN` and `anonmap rmap --pid P --addr A`: who maps a page.
//!
//! By address: the page's pagemap entry gives its pfn (or says it is swapped or not present),
//! then `rmap/<pfn>` (anonmap's own file; its format, renderer and parser
//! [`parse_rmap`] are in anonmap-proc's `render/rmap.rs`) lists every (process, address) that
//! maps it. Only the daemon's tree has `rmap/`; a real /proc does not. The pagemap bits are
//! [`anonmap_abi::pagemap`]'s.

use anonmap_abi::pagemap::{swap_offset, PM_PFRAME_MASK, PM_PRESENT, PM_SWAP, SWAP_TYPE_BITS};
use anonmap_proc::render::rmap::{mapper_perms, parse_rmap};
use anonmap_proc::view::RmapView;

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

/// The header of an `rmap/<pfn>` file, `key: value` as the file writes them, in its order.
fn header(v: &RmapView) -> Vec<(String, String)> {
    [
        ("pfn", format!("{:#x}", v.pfn)),
        ("flags", v.flags.join(" ")),
        ("lru", v.lru.clone()),
        ("mapcount", v.mapcount.to_string()),
        ("refcount", v.refcount.to_string()),
        ("mapping", v.mapping.clone()),
        ("index", format!("{:#x}", v.index)),
        ("anon_vmas_visited", v.anon_vmas_visited.to_string()),
        ("vmas_visited", v.vmas_visited.to_string()),
        ("mappers", v.mappers.len().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The pfn of `pid`'s page at `addr`, from pagemap.
pub fn pfn_of(src: &mut Source, pid: u32, addr: u64) -> Result<u64, RmapError> {
    let e = src.pagemap_entry(pid, addr)?;
    let not = |why: String| RmapError::NotResident { pid, addr, why };
    if e & PM_SWAP != 0 {
        return Err(not(format!(
            "the page is swapped out (swap type {}, offset {:#x}); no pfn maps it",
            e & ((1 << SWAP_TYPE_BITS) - 1),
            swap_offset(e)
        )));
    }
    if e & PM_PRESENT == 0 {
        return Err(not(
            "no page is present there (never touched, or unmapped)".into()
        ));
    }
    let pfn = e & PM_PFRAME_MASK;
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
        .map(|m| {
            Row::new(vec![
                u64::from(m.pid).into(),
                format!("{:08x}", m.vaddr).into(),
                format!("{:08x}-{:08x}", m.vma_start, m.vma_end).into(),
                mapper_perms(m.vma_flags).into(),
                m.label.as_deref().unwrap_or("[anon]").into(),
            ])
        })
        .collect();
    let header = header(&f);
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
        notes: header.iter().map(|(k, v)| format!("{k}: {v}")).collect(),
        json_extra: vec![(
            "page".into(),
            serde_json::Value::Object(
                header
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

    /// The header the report shows is the file's, line for line.
    #[test]
    fn the_header_is_the_files() {
        let t = "pfn: 0x3b32\nflags: anon swapbacked dirty referenced lru\nlru: inactive_anon\nmapcount: 2\nrefcount: 2\nmapping: anon_vma:7\nindex: 0x200000000\nanon_vmas_visited: 1\nvmas_visited: 2\nmappers: 2\n1 200000000000 200000000000-200000004000 rw-p\n2 200000000000 200000000000-200000004000 rw-p [anon:dalvik-main space]\n";
        let v = parse_rmap(t).unwrap();
        let lines: Vec<String> = header(&v)
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        assert_eq!(lines.join("\n"), t.split("\n1 ").next().unwrap());
        assert_eq!(mapper_perms(v.mappers[1].vma_flags), "rw-p");
        let empty = parse_rmap("pfn: 0x0\nflags:\nlru: none\nmapcount: 0\nrefcount: 1\nmapping: none\nindex: 0x0\nanon_vmas_visited: 0\nvmas_visited: 0\nmappers: 0\n").unwrap();
        assert_eq!(header(&empty)[1], ("flags".into(), String::new()));
    }
}
