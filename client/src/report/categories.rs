//! `anonmap categories`: every mapping name rolled up into a category (dumpsys meminfo's view),
//! with rules from [`crate::categories`]. `-v` lists the names under each category.
//! PSS rounding as in the names report: rows sum per-VMA kB values, TOTAL is the rollups' sum.

use std::collections::BTreeMap;

use super::names::{group, name_cells, name_columns, NameRow};
use super::{sort_by, total, Filter, SortKey};
use crate::categories::{categorize, Rule};
use crate::model::{Counters, Machine};
use crate::table::{ColKind, Column, Row, Table};

#[derive(Debug, Clone, Default)]
pub struct CategoriesOpts {
    pub sort: SortKey,
    pub reverse: bool,
    pub verbose: bool,
    pub filter: Filter,
    pub rules: Vec<Rule>,
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
    let vmas = cats.iter().map(|c| c.1).sum();
    sort_by(&mut cats, o.sort, o.reverse, |c| (&c.3, &c.0));
    let rows = cats
        .into_iter()
        .map(|(cat, vmas, mut pids, c, mut names)| {
            pids.sort_unstable();
            pids.dedup();
            let mut row = Row::new(name_cells(
                vmas,
                (pids.len() as u64).into(),
                &c,
                [cat.into()],
            ));
            if o.verbose {
                sort_by(&mut names, o.sort, o.reverse, |n| (&n.counters, &n.name));
                row.detail = names
                    .into_iter()
                    .map(|n| {
                        Row::new(name_cells(
                            n.vmas,
                            (n.procs.len() as u64).into(),
                            &n.counters,
                            [n.name.into()],
                        ))
                    })
                    .collect();
            }
            row
        })
        .collect::<Vec<_>>();
    let t = total(m, &o.filter);
    let nprocs = o.filter.procs(m).count() as u64;
    Table {
        columns: name_columns([Column::new(
            "category",
            "Category (detail rows: name)",
            ColKind::Text,
        )]),
        rows,
        total: Some(Row::new(name_cells(
            vmas,
            nprocs.into(),
            &t,
            ["TOTAL".into()],
        ))),
        notes: vec![],
        json_extra: vec![],
    }
}
