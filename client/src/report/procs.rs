//! `anonmap procs`: one row per process (procrank's view), a TOTAL row, the RAM line from
//! meminfo and the PSS check (sum of PSS over processes against AnonPages + Mapped).
//!
//! A process's numbers come from its smaps_rollup (PSS summed by the kernel in fixed point);
//! with a filter that drops VMAs, from the sum of its kept VMAs instead.

use super::{
    proc_counters, pss_check, ram_line, sort_by, summary_cells, summary_columns, total, Filter,
    SortKey,
};
use crate::model::{Counters, Machine};
use crate::table::{Cell, ColKind, Column, Row, Table};

#[derive(Debug, Clone, Default)]
pub struct ProcsOpts {
    pub sort: SortKey,
    pub reverse: bool,
    pub filter: Filter,
}

fn cells(pid: Cell, vmas: u64, c: &Counters, cmd: String) -> Vec<Cell> {
    summary_cells([pid, vmas.into()], c, [cmd.into()])
}

pub fn report(m: &Machine, o: &ProcsOpts) -> Table {
    let f = &o.filter;
    let mut rows: Vec<(u32, String, u64, Counters)> = f
        .procs(m)
        .map(|p| {
            let vmas = p.vmas.iter().filter(|v| f.keeps(v)).count() as u64;
            (p.pid, p.cmd.clone(), vmas, proc_counters(p, f))
        })
        .filter(|r| !f.selects_vmas() || r.2 > 0)
        .collect();
    sort_by(&mut rows, o.sort, o.reverse, |r| (&r.3, &r.1));
    let t = total(m, f);
    let vmas = rows.iter().map(|r| r.2).sum();
    let mut notes = Vec::new();
    let mut json_extra = Vec::new();
    if let Some(mem) = &m.mem {
        notes.push(ram_line(mem));
    }
    if !f.selects_vmas() && f.pids.is_empty() {
        let (lines, v) = pss_check(m);
        notes.extend(lines);
        json_extra.push(("pss_check".to_string(), v));
    }
    if let Some(mem) = &m.mem {
        json_extra.push((
            "meminfo".to_string(),
            serde_json::to_value(mem).expect("meminfo"),
        ));
    }
    Table {
        columns: summary_columns(
            [
                Column::new("pid", "PID", ColKind::Count),
                Column::new("vmas", "VMAs", ColKind::Count),
            ],
            [Column::new("cmd", "Command", ColKind::Text)],
        ),
        rows: rows
            .into_iter()
            .map(|(pid, cmd, vmas, c)| Row::new(cells(u64::from(pid).into(), vmas, &c, cmd)))
            .collect(),
        total: Some(Row::new(cells(Cell::Empty, vmas, &t, "TOTAL".into()))),
        notes,
        json_extra,
    }
}
