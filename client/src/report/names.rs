//! `anonmap names`: one row per mapping name across all processes (librank's view).
//!
//! A name is maps' name column exactly; unnamed private anonymous memory is the row `[anon]`;
//! `[heap]`, `[stack]` and file mappings are rows too, and the `kind` column says which is which
//! (filter with `--kind`/`--exclude-kind`). `-v` adds one detail row per process under each name.
//!
//! PSS of a name is the sum of its VMAs' `Pss:` lines, each truncated to kB by the kernel, so it
//! is at most `pss_slack` = VMAs × 1023 bytes under the exact fixed-point value (the JSON/CSV
//! `pss_slack` column). The TOTAL row comes from the processes' smaps_rollups (exact to 1023
//! bytes per process) unless a filter drops VMAs.

use std::collections::BTreeMap;

use super::{sort_by, summary_cells, summary_columns, total, Filter, SortKey};
use crate::model::{Counters, Kind, Machine};
use crate::table::{Cell, ColKind, Column, Row, Table};

/// Options of the names report.
#[derive(Debug, Clone, Default)]
pub struct NamesOpts {
    pub sort: SortKey,
    pub reverse: bool,
    pub verbose: bool,
    pub filter: Filter,
}

/// One name's totals and its per-process parts.
#[derive(Debug, Clone)]
pub struct NameRow {
    pub name: String,
    pub kind: Kind,
    pub vmas: u64,
    pub counters: Counters,
    /// (pid, cmd, vmas, counters), one per process that maps the name.
    pub procs: Vec<(u32, String, u64, Counters)>,
}

/// Groups the kept VMAs of the kept processes by name.
pub fn group(m: &Machine, f: &Filter) -> Vec<NameRow> {
    let mut by: BTreeMap<&str, NameRow> = BTreeMap::new();
    for p in f.procs(m) {
        for v in p.vmas.iter().filter(|v| f.keeps(v)) {
            let row = by.entry(&v.name).or_insert_with(|| NameRow {
                name: v.name.clone(),
                kind: v.kind,
                vmas: 0,
                counters: Counters::default(),
                procs: Vec::new(),
            });
            row.vmas += 1;
            row.counters.add(&v.counters);
            match row.procs.last_mut() {
                Some(last) if last.0 == p.pid => {
                    last.2 += 1;
                    last.3.add(&v.counters);
                }
                _ => row.procs.push((p.pid, p.cmd.clone(), 1, v.counters)),
            }
        }
    }
    by.into_values().collect()
}

/// The columns of the names report and of the categories report that rolls it up: VMAs, Procs,
/// the memory columns, `pss_slack`, then `tail`.
pub(super) fn name_columns(tail: impl IntoIterator<Item = Column>) -> Vec<Column> {
    summary_columns(
        [
            Column::new("vmas", "VMAs", ColKind::Count),
            Column::new("procs", "Procs", ColKind::Count),
        ],
        [Column::machine("pss_slack", ColKind::Bytes)]
            .into_iter()
            .chain(tail),
    )
}

/// The cells of a [`name_columns`] row.
pub(super) fn name_cells(
    vmas: u64,
    procs: Cell,
    c: &Counters,
    tail: impl IntoIterator<Item = Cell>,
) -> Vec<Cell> {
    summary_cells(
        [vmas.into(), procs],
        c,
        [c.pss_slack.into()].into_iter().chain(tail),
    )
}

fn cells(
    vmas: u64,
    procs: Cell,
    pid: Option<Cell>,
    c: &Counters,
    kind: &str,
    name: String,
) -> Vec<Cell> {
    let tail = [kind.into()].into_iter().chain(pid).chain([name.into()]);
    name_cells(vmas, procs, c, tail)
}

pub fn report(m: &Machine, o: &NamesOpts) -> Table {
    let mut rows = group(m, &o.filter);
    sort_by(&mut rows, o.sort, o.reverse, |r| (&r.counters, &r.name));
    let pid = o.verbose.then(|| Column::new("pid", "PID", ColKind::Count));
    let columns = name_columns(
        [Column::new("kind", "Kind", ColKind::Text)]
            .into_iter()
            .chain(pid)
            .chain([Column::new(
                "name",
                "Name (detail rows: process)",
                ColKind::Text,
            )]),
    );
    let pid_cell = |c: Cell| o.verbose.then_some(c);
    let mut out = Vec::new();
    for r in &rows {
        let mut row = Row::new(cells(
            r.vmas,
            (r.procs.len() as u64).into(),
            pid_cell(Cell::Empty),
            &r.counters,
            r.kind.word(),
            r.name.clone(),
        ));
        if o.verbose {
            let mut procs = r.procs.clone();
            sort_by(&mut procs, o.sort, o.reverse, |p| (&p.3, &p.1));
            for (pid, cmd, vmas, c) in procs {
                row.detail.push(Row::new(cells(
                    vmas,
                    Cell::Empty,
                    pid_cell(u64::from(pid).into()),
                    &c,
                    "",
                    cmd,
                )));
            }
        }
        out.push(row);
    }
    let t = total(m, &o.filter);
    let nprocs = o.filter.procs(m).count() as u64;
    let vmas: u64 = rows.iter().map(|r| r.vmas).sum();
    let row_pss: u64 = rows.iter().map(|r| r.counters.pss).sum();
    let mut notes = Vec::new();
    if !o.filter.selects_vmas() {
        notes.push(format!(
            "PSS: rows sum per-VMA kB values ({row_pss} bytes); TOTAL is the smaps_rollup sum ({} bytes); each row is at most 1023 bytes per VMA under its exact fixed-point PSS",
            t.pss
        ));
    }
    Table {
        columns,
        rows: out,
        total: Some(Row::new(cells(
            vmas,
            nprocs.into(),
            pid_cell(Cell::Empty),
            &t,
            "",
            "TOTAL".into(),
        ))),
        notes,
        json_extra: vec![],
    }
}
