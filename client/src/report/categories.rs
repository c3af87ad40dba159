//! `anonmap categories`: every mapping name rolled up into a category (dumpsys meminfo's view),
//! with rules from [`crate::categories`]. `-v` lists the names under each category.
//! PSS rounding as in the names report: rows sum per-VMA kB values, TOTAL is the rollups' sum.

use std::collections::BTreeMap;

use super::names::{group, NameRow};
use super::{memory_cells, memory_columns, sort_by, total, Filter, SortKey};
use crate::categories::{categorize, Rule};
use crate::model::{Counters, Machine};
use crate::table::{Cell, ColKind, Column, Row, Table};

#[derive(Debug, Clone, Default)]
pub struct CategoriesOpts {
    pub sort: SortKey,
    pub reverse: bool,
    pub verbose: bool,
    pub filter: Filter,
    pub rules: Vec<Rule>,
}

fn cells(vmas: u64, procs: Cell, c: &Counters, name: String) -> Vec<Cell> {
    let mut v = vec![vmas.into(), procs];
    v.extend(memory_cells(c));
    v.extend([c.pss_slack.into(), name.into()]);
    v
}

/// (category, VMAs, pids, counters, names)
type CatRow = (String, u64, Vec<u32>, Counters, Vec<NameRow>);

pub fn report(m: &Machine, o: &CategoriesOpts) -> Table {
    // category -> (vmas, pids, counters, names)
    let mut by: BTreeMap<String, (u64, Vec<u32>, Counters, Vec<NameRow>)> = BTreeMap::new();
    for n in group(m, &o.filter) {
        let cat = categorize(&o.rules, &n.name, n.kind);
        let e = by.entry(cat).or_default();
        e.0 += n.vmas;
        e.1.extend(n.procs.iter().map(|p| p.0));
        e.2.add(&n.counters);
        e.3.push(n);
    }
    let mut cats: Vec<CatRow> = by
        .into_iter()
        .map(|(k, v)| (k, v.0, v.1, v.2, v.3))
        .collect();
    sort_by(&mut cats, o.sort, o.reverse, |c| (&c.3, &c.0));
    let rows = cats
        .into_iter()
        .map(|(cat, vmas, mut pids, c, mut names)| {
            pids.sort_unstable();
            pids.dedup();
            let mut row = Row::new(cells(vmas, (pids.len() as u64).into(), &c, cat));
            if o.verbose {
                sort_by(&mut names, o.sort, o.reverse, |n| (&n.counters, &n.name));
                row.detail = names
                    .into_iter()
                    .map(|n| {
                        Row::new(cells(
                            n.vmas,
                            (n.procs.len() as u64).into(),
                            &n.counters,
                            n.name,
                        ))
                    })
                    .collect();
            }
            row
        })
        .collect::<Vec<_>>();
    let t = total(m, &o.filter);
    let nprocs = m.procs.iter().filter(|p| o.filter.keeps_pid(p.pid)).count() as u64;
    let vmas = m
        .procs
        .iter()
        .filter(|p| o.filter.keeps_pid(p.pid))
        .flat_map(|p| p.vmas.iter())
        .filter(|v| o.filter.keeps(v))
        .count() as u64;
    Table {
        columns: [
            Column::new("vmas", "VMAs", ColKind::Count),
            Column::new("procs", "Procs", ColKind::Count),
        ]
        .into_iter()
        .chain(memory_columns())
        .chain([
            Column::machine("pss_slack", ColKind::Bytes),
            Column::new("category", "Category (detail rows: name)", ColKind::Text),
        ])
        .collect(),
        rows,
        total: Some(Row::new(cells(vmas, nprocs.into(), &t, "TOTAL".into()))),
        notes: vec![],
        json_extra: vec![],
    }
}
