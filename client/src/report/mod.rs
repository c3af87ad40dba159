//! The reports. Each builds a [`Table`](crate::table::Table) from a collected
//! [`Machine`](crate::model::Machine); sorting, filtering, the TOTAL and the columns of the
//! summary reports are shared and live here.
//!
//! - [`names`]: one row per mapping name across processes (librank's view).
//! - [`procs`]: one row per process (procrank's view), with the RAM line and the PSS check.
//! - [`map`]: one process grouped by name (showmap's view).
//! - [`categories`]: names rolled up into categories (dumpsys meminfo's view).
//! - [`rmap`]: who maps a page.
//! - [`snapshot`]: snapshots and their diff.

pub mod categories;
pub mod map;
pub mod names;
pub mod procs;
pub mod rmap;
pub mod snapshot;

use regex::Regex;

use crate::model::{Counters, Kind, Machine, MemSummary, Proc, Vma};
use crate::table::{human, Cell, ColKind, Column};

/// The sort key of a report (`--sort`); descending unless `--reverse`, names ascending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SortKey {
    #[default]
    Pss,
    Rss,
    Uss,
    Vss,
    Swap,
    Name,
}

/// Sorts `items` by `key` (bytes descending, name ascending; ties by name), reversed if asked.
pub fn sort_by<T>(
    items: &mut [T],
    key: SortKey,
    reverse: bool,
    f: impl Fn(&T) -> (&Counters, &str),
) {
    items.sort_by(|a, b| {
        let (ca, na) = f(a);
        let (cb, nb) = f(b);
        let v = |c: &Counters| match key {
            SortKey::Pss => c.pss,
            SortKey::Rss => c.rss,
            SortKey::Uss => c.uss,
            SortKey::Vss => c.vss,
            SortKey::Swap => c.swap,
            SortKey::Name => 0,
        };
        let ord = if key == SortKey::Name {
            na.cmp(nb)
        } else {
            v(cb).cmp(&v(ca)).then_with(|| na.cmp(nb))
        };
        if reverse {
            ord.reverse()
        } else {
            ord
        }
    });
}

/// The columns of the summary reports (procs, names, categories): `lead`, the memory columns
/// (VSS, RSS, PSS, USS, Swap, SwapPSS), then `tail`.
pub(crate) fn summary_columns(
    lead: [Column; 2],
    tail: impl IntoIterator<Item = Column>,
) -> Vec<Column> {
    let memory = [
        Column::new("vss", "VSS", ColKind::Bytes),
        Column::new("rss", "RSS", ColKind::Bytes),
        Column::new("pss", "PSS", ColKind::Bytes),
        Column::new("uss", "USS", ColKind::Bytes),
        Column::new("swap", "Swap", ColKind::Bytes),
        Column::new("swap_pss", "SwapPSS", ColKind::Bytes),
    ];
    lead.into_iter().chain(memory).chain(tail).collect()
}

/// The cells of a [`summary_columns`] row: `lead`, the memory counters of `c`, then `tail`.
pub(crate) fn summary_cells(
    lead: [Cell; 2],
    c: &Counters,
    tail: impl IntoIterator<Item = Cell>,
) -> Vec<Cell> {
    let memory = [c.vss, c.rss, c.pss, c.uss, c.swap, c.swap_pss].map(Cell::from);
    lead.into_iter().chain(memory).chain(tail).collect()
}

/// Which VMAs and processes a report looks at.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Keep names matching this regex.
    pub name_regex: Option<Regex>,
    /// Keep names starting with this prefix.
    pub prefix: Option<String>,
    /// Keep only these pids (empty: all).
    pub pids: Vec<u32>,
    /// Keep VMAs whose maps permissions match: 4 characters, `?` matches any one (`rw?p`).
    pub perms: Option<String>,
    /// Keep only these kinds (empty: all).
    pub kinds: Vec<Kind>,
    /// Drop these kinds.
    pub exclude_kinds: Vec<Kind>,
}

impl Filter {
    pub fn keeps_pid(&self, pid: u32) -> bool {
        self.pids.is_empty() || self.pids.contains(&pid)
    }

    /// The processes of `m` the filter keeps.
    pub fn procs<'m>(&self, m: &'m Machine) -> impl Iterator<Item = &'m Proc> + use<'_, 'm> {
        m.procs.iter().filter(|p| self.keeps_pid(p.pid))
    }

    pub fn keeps(&self, v: &Vma) -> bool {
        if let Some(r) = &self.name_regex {
            if !r.is_match(&v.name) {
                return false;
            }
        }
        if let Some(p) = &self.prefix {
            if !v.name.starts_with(p.as_str()) {
                return false;
            }
        }
        if let Some(p) = &self.perms {
            if p.len() != v.perms.len()
                || !p
                    .chars()
                    .zip(v.perms.chars())
                    .all(|(a, b)| a == '?' || a == b)
            {
                return false;
            }
        }
        if !self.kinds.is_empty() && !self.kinds.contains(&v.kind) {
            return false;
        }
        !self.exclude_kinds.contains(&v.kind)
    }

    /// Whether the filter drops some VMAs (then TOTAL rows sum the rows, not the rollups).
    pub fn selects_vmas(&self) -> bool {
        self.name_regex.is_some()
            || self.prefix.is_some()
            || self.perms.is_some()
            || !self.kinds.is_empty()
            || !self.exclude_kinds.is_empty()
    }
}

/// A process's numbers under `f`: its smaps_rollup (PSS summed by the kernel in fixed point)
/// when no VMA is filtered out, else the sum of its kept VMAs.
pub fn proc_counters(p: &Proc, f: &Filter) -> Counters {
    if f.selects_vmas() {
        p.vmas
            .iter()
            .filter(|v| f.keeps(v))
            .map(|v| &v.counters)
            .sum()
    } else {
        p.rollup
    }
}

/// The machine-wide TOTAL: the sum of [`proc_counters`] over the processes a filter keeps.
pub fn total(m: &Machine, f: &Filter) -> Counters {
    f.procs(m).map(|p| proc_counters(p, f)).sum()
}

/// The PSS check: the sum of PSS over all processes (from their smaps_rollups) against the
/// memory meminfo says is mapped into processes (AnonPages + Mapped), with the reasons they may
/// differ. Returns the lines to print and the numbers for JSON.
pub fn pss_check(m: &Machine) -> (Vec<String>, serde_json::Value) {
    let sum_pss: u64 = m.procs.iter().map(|p| p.rollup.pss).sum();
    let slack = 1023 * m.procs.len() as u64;
    let Some(mem) = m.mem else {
        return (
            vec![format!(
                "PSS check: sum of PSS {} (no meminfo to compare with)",
                human(sum_pss)
            )],
            serde_json::json!({"sum_pss": sum_pss}),
        );
    };
    let mapped = mem.mapped_resident();
    let diff = mapped as i128 - sum_pss as i128;
    let mut lines = vec![format!(
        "PSS check: sum of PSS over {} processes {} ({} bytes); meminfo AnonPages + Mapped {} ({} bytes)",
        m.procs.len(),
        human(sum_pss),
        sum_pss,
        human(mapped),
        mapped
    )];
    let agrees = diff >= 0 && diff <= slack as i128;
    if agrees {
        lines.push(format!(
            "PSS check: equal within the kB truncation of each smaps_rollup (<= {slack} bytes)"
        ));
    } else {
        lines.push(format!("PSS check: differs by {diff} bytes, because:"));
        if !m.unreadable.is_empty() {
            lines.push(format!(
                "  - {} processes could not be read (permission or exited), so their PSS is missing",
                m.unreadable.len()
            ));
        }
        lines.push(
            "  - pages counted in meminfo but in no readable process (kernel threads, processes that changed between reads)"
                .into(),
        );
        lines.push(
            "  - on a live system the counters move while the files are read one after another"
                .into(),
        );
    }
    let unmapped_cache = mem.cached.saturating_sub(mem.mapped);
    lines.push(format!(
        "PSS check: not in any PSS: page cache not mapped {} (Cached - Mapped), swap cache, buffers, slab, free",
        human(unmapped_cache)
    ));
    (
        lines,
        serde_json::json!({
            "sum_pss": sum_pss, "anon_pages_plus_mapped": mapped,
            "difference": diff as i64, "truncation_bound": slack, "agrees": agrees,
            "unreadable_processes": m.unreadable.len(),
        }),
    )
}

/// procrank's RAM line.
pub fn ram_line(mem: &MemSummary) -> String {
    format!(
        "RAM: {} total, {} free, {} buffers, {} cached, {} shmem, {} slab; swap {} total, {} free",
        human(mem.total),
        human(mem.free),
        human(mem.buffers),
        human(mem.cached),
        human(mem.shmem),
        human(mem.slab),
        human(mem.swap_total),
        human(mem.swap_free)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vma(name: &str, perms: &str, kind: Kind) -> Vma {
        Vma {
            start: 0,
            end: 4096,
            perms: perms.into(),
            name: name.into(),
            kind,
            counters: Counters::default(),
        }
    }

    #[test]
    fn filters_by_regex_prefix_perms_kind() {
        let v = vma("[anon:dalvik-main space]", "rw-p", Kind::AnonNamed);
        let mut f = Filter::default();
        assert!(f.keeps(&v));
        f.name_regex = Some(Regex::new("main space").unwrap());
        assert!(f.keeps(&v));
        f.prefix = Some("[anon:dalvik-".into());
        assert!(f.keeps(&v));
        f.perms = Some("rw?p".into());
        assert!(f.keeps(&v));
        f.perms = Some("r--p".into());
        assert!(!f.keeps(&v));
        f.perms = None;
        f.exclude_kinds = vec![Kind::AnonNamed];
        assert!(!f.keeps(&v));
        f.exclude_kinds.clear();
        f.kinds = vec![Kind::File];
        assert!(!f.keeps(&v));
        f.kinds.clear();
        f.prefix = Some("[anon:scudo".into());
        assert!(!f.keeps(&v));
    }

    #[test]
    fn sorts_by_key_then_name_and_reverses() {
        let c = |pss, rss| Counters {
            pss,
            rss,
            ..Default::default()
        };
        let mut items = vec![(c(1, 9), "b"), (c(3, 1), "a"), (c(1, 5), "a")];
        sort_by(&mut items, SortKey::Pss, false, |x| (&x.0, x.1));
        assert_eq!(
            items.iter().map(|x| (x.0.pss, x.1)).collect::<Vec<_>>(),
            [(3, "a"), (1, "a"), (1, "b")]
        );
        sort_by(&mut items, SortKey::Rss, false, |x| (&x.0, x.1));
        assert_eq!(items.iter().map(|x| x.0.rss).collect::<Vec<_>>(), [9, 5, 1]);
        sort_by(&mut items, SortKey::Name, true, |x| (&x.0, x.1));
        assert_eq!(items[0].1, "b");
    }
}
