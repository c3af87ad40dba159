//! `anonmap map PID`: one process grouped by name (showmap's view).
//!
//! Default: one row per name (VMAs with the same name summed, `#` says how many), sorted by the
//! sort key. `-v`: one row per VMA, with its permissions. `-a`: one row per VMA with its start
//! and end addresses (implies `-v`). `-t`: only rows that have private pages. Unlike showmap, an
//! unnamed VMA after a `.so` is not renamed `[bss]`: names are shown exactly as maps has them.
//! TOTAL is the process's smaps_rollup (unless a filter drops VMAs or `-t` drops rows).

use std::collections::BTreeMap;

use super::{sort_by, Filter, SortKey};
use crate::model::{Counters, Machine, Vma};
use crate::table::{Cell, ColKind, Column, Row, Table};

#[derive(Debug, Clone, Default)]
pub struct MapOpts {
    pub pid: u32,
    pub sort: SortKey,
    pub reverse: bool,
    /// `-a`
    pub addresses: bool,
    /// `-v`
    pub verbose: bool,
    /// `-t`
    pub terse: bool,
    pub filter: Filter,
}

/// Why a map report cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error("no process {0} in the source (or it could not be read)")]
    NoProcess(u32),
}

pub fn report(m: &Machine, o: &MapOpts) -> Result<Table, MapError> {
    let p = m
        .procs
        .iter()
        .find(|p| p.pid == o.pid)
        .ok_or(MapError::NoProcess(o.pid))?;
    let per_vma = o.verbose || o.addresses;
    let kept: Vec<&Vma> = p.vmas.iter().filter(|v| o.filter.keeps(v)).collect();
    // (name, kind, perms, start, end, count, counters)
    type Item = (String, String, String, u64, u64, u64, Counters);
    let mut items: Vec<Item> = if per_vma {
        kept.iter()
            .map(|v| {
                (
                    v.name.clone(),
                    v.kind.word().into(),
                    v.perms.clone(),
                    v.start,
                    v.end,
                    1,
                    v.counters,
                )
            })
            .collect()
    } else {
        let mut by: BTreeMap<&str, Item> = BTreeMap::new();
        for v in &kept {
            let e = by.entry(&v.name).or_insert_with(|| {
                (
                    v.name.clone(),
                    v.kind.word().into(),
                    String::new(),
                    v.start,
                    v.end,
                    0,
                    Counters::default(),
                )
            });
            e.5 += 1;
            e.6.add(&v.counters);
        }
        by.into_values().collect()
    };
    if o.terse {
        items.retain(|i| i.6.has_private());
    }
    if per_vma && o.sort == SortKey::Name {
        items.sort_by_key(|i| i.3);
        if o.reverse {
            items.reverse();
        }
    } else {
        sort_by(&mut items, o.sort, o.reverse, |i| (&i.6, &i.0));
    }
    let mut columns = Vec::new();
    if o.addresses {
        columns.push(Column::new("start", "start addr", ColKind::Text));
        columns.push(Column::new("end", "end addr", ColKind::Text));
    }
    columns.extend([
        Column::new("vss", "VSS", ColKind::Bytes),
        Column::new("rss", "RSS", ColKind::Bytes),
        Column::new("pss", "PSS", ColKind::Bytes),
        Column::new("shared_clean", "SharedClean", ColKind::Bytes),
        Column::new("shared_dirty", "SharedDirty", ColKind::Bytes),
        Column::new("private_clean", "PrivClean", ColKind::Bytes),
        Column::new("private_dirty", "PrivDirty", ColKind::Bytes),
        Column::new("swap", "Swap", ColKind::Bytes),
        Column::new("swap_pss", "SwapPSS", ColKind::Bytes),
        Column::new("vmas", "#", ColKind::Count),
    ]);
    if per_vma {
        columns.push(Column::new("perms", "Perms", ColKind::Text));
    }
    columns.push(Column::new("kind", "Kind", ColKind::Text));
    columns.push(Column::new("name", "Name", ColKind::Text));
    let mk = |start: Cell, end: Cell, c: &Counters, n: u64, perms: &str, kind: &str, name: &str| {
        let mut v = Vec::new();
        if o.addresses {
            v.push(start);
            v.push(end);
        }
        v.extend([
            c.vss.into(),
            c.rss.into(),
            c.pss.into(),
            c.shared_clean.into(),
            c.shared_dirty.into(),
            c.private_clean.into(),
            c.private_dirty.into(),
            c.swap.into(),
            c.swap_pss.into(),
            n.into(),
        ]);
        if per_vma {
            v.push(perms.into());
        }
        v.push(kind.into());
        v.push(name.into());
        Row::new(v)
    };
    let rows = items
        .iter()
        .map(|(name, kind, perms, s, e, n, c)| {
            mk(
                format!("{s:08x}").into(),
                format!("{e:08x}").into(),
                c,
                *n,
                perms,
                kind,
                name,
            )
        })
        .collect();
    let all = !o.filter.selects_vmas() && !o.terse;
    let t = if all {
        p.rollup
    } else {
        items.iter().map(|i| &i.6).sum()
    };
    let n = items.iter().map(|i| i.5).sum();
    Ok(Table {
        columns,
        rows,
        total: Some(mk(Cell::Empty, Cell::Empty, &t, n, "", "", "TOTAL")),
        notes: vec![format!("process {} ({})", p.pid, p.cmd)],
        json_extra: vec![
            ("pid".into(), p.pid.into()),
            ("cmd".into(), p.cmd.clone().into()),
        ],
    })
}
