//! `anonmap snapshot` and `anonmap diff A B`.
//!
//! A snapshot is the collected [`Machine`] as JSON, with a format tag and version:
//! `{"format":"anonmap-snapshot","version":1,"machine":{...}}`. The diff compares two snapshots
//! by name (all processes together) and by process (pid and command), and lists what appeared,
//! vanished, grew and shrank (by PSS, RSS or swap), largest PSS change first.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::names::group;
use super::Filter;
use crate::model::{Counters, Machine};
use crate::table::{Cell, ColKind, Column, Row, Table};

pub const FORMAT: &str = "anonmap-snapshot";
pub const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub struct Snapshot {
    pub format: String,
    pub version: u32,
    pub machine: Machine,
}

/// Why a snapshot cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{file}: not an anonmap snapshot: {why}")]
    Bad { file: String, why: String },
}

pub fn to_json(m: &Machine) -> String {
    let s = Snapshot {
        format: FORMAT.into(),
        version: VERSION,
        machine: m.clone(),
    };
    let mut out = serde_json::to_string_pretty(&s).expect("snapshot JSON");
    out.push('\n');
    out
}

pub fn from_json(text: &str, file: &str) -> Result<Machine, SnapshotError> {
    let bad = |why: String| SnapshotError::Bad {
        file: file.into(),
        why,
    };
    let s: Snapshot = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    if s.format != FORMAT || s.version != VERSION {
        return Err(bad(format!(
            "format {:?} version {} (expected {FORMAT:?} version {VERSION})",
            s.format, s.version
        )));
    }
    Ok(s.machine)
}

fn change(a: Option<&Counters>, b: Option<&Counters>) -> Option<&'static str> {
    match (a, b) {
        (None, Some(_)) => Some("appeared"),
        (Some(_), None) => Some("vanished"),
        (Some(a), Some(b)) => {
            if (b.pss, b.rss, b.swap) == (a.pss, a.rss, a.swap) {
                None
            } else if b.pss > a.pss || (b.pss == a.pss && b.rss + b.swap > a.rss + a.swap) {
                Some("grew")
            } else {
                Some("shrank")
            }
        }
        (None, None) => None,
    }
}

fn d(a: u64, b: u64) -> Cell {
    Cell::Delta(b as i64 - a as i64)
}

/// The diff of two machines as one table: `by` is `name` or `process`.
pub fn diff(a: &Machine, b: &Machine, f: &Filter) -> Table {
    let mut items: Vec<(&'static str, &'static str, String, Counters, Counters)> = Vec::new();
    let names = |m: &Machine| -> BTreeMap<String, Counters> {
        group(m, f)
            .into_iter()
            .map(|n| (n.name, n.counters))
            .collect()
    };
    let procs = |m: &Machine| -> BTreeMap<String, Counters> {
        f.procs(m)
            .map(|p| (format!("{} [{}]", p.cmd, p.pid), p.rollup))
            .collect()
    };
    for (by, ma, mb) in [
        ("name", names(a), names(b)),
        ("process", procs(a), procs(b)),
    ] {
        let keys: std::collections::BTreeSet<&String> = ma.keys().chain(mb.keys()).collect();
        for k in keys {
            let (ca, cb) = (ma.get(k), mb.get(k));
            if let Some(ch) = change(ca, cb) {
                items.push((
                    by,
                    ch,
                    k.clone(),
                    ca.copied().unwrap_or_default(),
                    cb.copied().unwrap_or_default(),
                ));
            }
        }
    }
    items.sort_by(|x, y| {
        x.0.cmp(y.0)
            .then_with(|| (y.4.pss.abs_diff(y.3.pss)).cmp(&x.4.pss.abs_diff(x.3.pss)))
            .then_with(|| x.2.cmp(&y.2))
    });
    let rows = items
        .into_iter()
        .map(|(by, ch, k, ca, cb)| diff_row(by, ch, &ca, &cb, k))
        .collect();
    // The processes' rollups summed, before (a) and after (b).
    let rollups = |m: &Machine| -> Counters { f.procs(m).map(|p| &p.rollup).sum() };
    Table {
        columns: vec![
            Column::new("by", "By", ColKind::Text),
            Column::new("change", "Change", ColKind::Text),
            Column::new("pss_before", "PSS before", ColKind::Bytes),
            Column::new("pss_after", "PSS after", ColKind::Bytes),
            Column::new("pss_delta", "ΔPSS", ColKind::Bytes),
            Column::new("rss_delta", "ΔRSS", ColKind::Bytes),
            Column::new("uss_delta", "ΔUSS", ColKind::Bytes),
            Column::new("swap_delta", "ΔSwap", ColKind::Bytes),
            Column::new("key", "Name or process", ColKind::Text),
        ],
        rows,
        total: Some(diff_row(
            "",
            "",
            &rollups(a),
            &rollups(b),
            "TOTAL (all processes, from smaps_rollup)".into(),
        )),
        notes: vec![],
        json_extra: vec![],
    }
}

/// A row of the diff: `a` before and `b` after.
fn diff_row(by: &str, change: &str, a: &Counters, b: &Counters, key: String) -> Row {
    Row::new(vec![
        by.into(),
        change.into(),
        a.pss.into(),
        b.pss.into(),
        d(a.pss, b.pss),
        d(a.rss, b.rss),
        d(a.uss, b.uss),
        d(a.swap, b.swap),
        key.into(),
    ])
}
