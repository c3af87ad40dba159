//! Output of every report: one [`Table`] rendered as an aligned text table, CSV or JSON.
//!
//! - Text: a header row that says what each column holds, one row per item (detail rows
//!   indented under their item), a divider, the TOTAL row, then notes. Byte columns are shown in
//!   human units (`K` below 1 MiB, `M` with one decimal below 1 GiB, then `G`), or as exact
//!   bytes with `--bytes`. The last column (the name) is left-aligned and never padded, cut or
//!   quoted, so names with spaces, `/` and `:` print exactly.
//! - CSV (RFC 4180 quoting): a `row` column (`item`, `detail` or `total`), then every column by
//!   its key, byte values always in bytes; detail rows carry their item's name in `parent`.
//! - JSON: `{"columns":[...],"rows":[{key: value, ..., "detail":[...]}],"total":{...},"notes":[...]}`,
//!   byte values in bytes.

use serde_json::{json, Map, Value};

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColKind {
    /// A size in bytes.
    Bytes,
    /// A plain number (counts, pids).
    Count,
    /// Text.
    Text,
}

#[derive(Debug, Clone)]
pub struct Column {
    /// The machine-readable name (CSV header, JSON key).
    pub key: &'static str,
    /// The text-table header.
    pub header: &'static str,
    pub kind: ColKind,
    /// Shown only in CSV and JSON.
    pub machine_only: bool,
}

impl Column {
    pub const fn new(key: &'static str, header: &'static str, kind: ColKind) -> Column {
        Column {
            key,
            header,
            kind,
            machine_only: false,
        }
    }
    pub const fn machine(key: &'static str, kind: ColKind) -> Column {
        Column {
            key,
            header: key,
            kind,
            machine_only: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Num(u64),
    /// A signed change (diff); shown with its sign.
    Delta(i64),
    Text(String),
    Empty,
}

impl From<u64> for Cell {
    fn from(v: u64) -> Cell {
        Cell::Num(v)
    }
}
impl From<String> for Cell {
    fn from(v: String) -> Cell {
        Cell::Text(v)
    }
}
impl From<&str> for Cell {
    fn from(v: &str) -> Cell {
        Cell::Text(v.to_string())
    }
}

#[derive(Debug, Clone, Default)]
pub struct Row {
    pub cells: Vec<Cell>,
    pub detail: Vec<Row>,
}

impl Row {
    pub fn new(cells: Vec<Cell>) -> Row {
        Row {
            cells,
            detail: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
    pub total: Option<Row>,
    /// Lines printed after the table (text) or under `notes` (JSON); not in CSV.
    pub notes: Vec<String>,
    /// Extra top-level JSON members (e.g. the PSS check as numbers).
    pub json_extra: Vec<(String, Value)>,
}

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Csv,
    Json,
}

/// Formats a byte count in human units: `0`, `512K`, `12.3M`, `1.5G` (K is exact kB, rounded
/// down for values that are not whole kB; M and G have one decimal, rounded half up).
pub fn human(bytes: u64) -> String {
    const K: u64 = 1024;
    if bytes == 0 {
        "0".into()
    } else if bytes < K * K {
        format!("{}K", bytes / K)
    } else if bytes < K * K * K {
        let tenths = (bytes * 10 + K * K / 2) / (K * K);
        format!("{}.{}M", tenths / 10, tenths % 10)
    } else {
        let tenths = (bytes as u128 * 10 + (K * K * K / 2) as u128) / (K * K * K) as u128;
        format!("{}.{}G", tenths / 10, tenths % 10)
    }
}

fn cell_text(c: &Cell, kind: ColKind, bytes: bool) -> String {
    match c {
        Cell::Num(v) if kind == ColKind::Bytes && !bytes => human(*v),
        Cell::Num(v) => v.to_string(),
        Cell::Delta(d) if kind == ColKind::Bytes && !bytes => {
            let sign = if *d < 0 { "-" } else { "+" };
            format!("{sign}{}", human(d.unsigned_abs()))
        }
        Cell::Delta(d) => format!("{d:+}"),
        Cell::Text(t) => t.clone(),
        Cell::Empty => String::new(),
    }
}

fn cell_json(c: &Cell) -> Value {
    match c {
        Cell::Num(v) => json!(v),
        Cell::Delta(v) => json!(v),
        Cell::Text(t) => json!(t),
        Cell::Empty => Value::Null,
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl Table {
    pub fn render(&self, format: Format, bytes: bool) -> String {
        match format {
            Format::Text => self.text(bytes),
            Format::Csv => self.csv(),
            Format::Json => {
                let mut s = serde_json::to_string_pretty(&self.json()).expect("JSON of a table");
                s.push('\n');
                s
            }
        }
    }

    fn text(&self, bytes: bool) -> String {
        let shown: Vec<usize> = (0..self.columns.len())
            .filter(|&i| !self.columns[i].machine_only)
            .collect();
        let Some(&last) = shown.last() else {
            return String::new();
        };
        // Lines of cells: header, rows with their details (indent flag), total.
        let mut lines: Vec<(Vec<String>, bool)> = Vec::new();
        let fmt_row = |r: &Row| -> Vec<String> {
            shown
                .iter()
                .map(|&i| {
                    cell_text(
                        r.cells.get(i).unwrap_or(&Cell::Empty),
                        self.columns[i].kind,
                        bytes,
                    )
                })
                .collect()
        };
        for r in &self.rows {
            lines.push((fmt_row(r), false));
            for d in &r.detail {
                lines.push((fmt_row(d), true));
            }
        }
        let header: Vec<String> = shown
            .iter()
            .map(|&i| self.columns[i].header.to_string())
            .collect();
        let total = self.total.as_ref().map(fmt_row);
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for cells in lines.iter().map(|(c, _)| c).chain(total.iter()) {
            for (w, c) in widths.iter_mut().zip(cells) {
                *w = (*w).max(c.chars().count());
            }
        }
        let put = |cells: &[String], indent: bool, out: &mut String| {
            let mut parts = Vec::new();
            for (k, (&i, c)) in shown.iter().zip(cells).enumerate() {
                if i == last {
                    let pre = if indent { "  " } else { "" };
                    parts.push(format!("{pre}{c}"));
                } else if self.columns[i].kind == ColKind::Text {
                    parts.push(format!("{c:<w$}", w = widths[k]));
                } else {
                    parts.push(format!("{c:>w$}", w = widths[k]));
                }
            }
            out.push_str(parts.join("  ").trim_end_matches(' '));
            out.push('\n');
        };
        let mut out = String::new();
        put(&header, false, &mut out);
        for (cells, indent) in &lines {
            put(cells, *indent, &mut out);
        }
        if let Some(t) = &total {
            let width: usize = widths[..widths.len() - 1]
                .iter()
                .map(|w| w + 2)
                .sum::<usize>()
                + 5;
            out.push_str(&"-".repeat(width));
            out.push('\n');
            put(t, false, &mut out);
        }
        for n in &self.notes {
            out.push_str(n);
            out.push('\n');
        }
        out
    }

    fn csv(&self) -> String {
        let mut out = String::from("row");
        for c in &self.columns {
            out.push(',');
            out.push_str(c.key);
        }
        let has_detail = self.rows.iter().any(|r| !r.detail.is_empty());
        if has_detail {
            out.push_str(",parent");
        }
        out.push('\n');
        let name_col = self.columns.len().saturating_sub(1);
        let put = |kind: &str, r: &Row, parent: Option<&Row>, out: &mut String| {
            out.push_str(kind);
            for i in 0..self.columns.len() {
                out.push(',');
                let s = match r.cells.get(i).unwrap_or(&Cell::Empty) {
                    Cell::Num(v) => v.to_string(),
                    Cell::Delta(v) => v.to_string(),
                    Cell::Text(t) => csv_field(t),
                    Cell::Empty => String::new(),
                };
                out.push_str(&s);
            }
            if has_detail {
                out.push(',');
                if let Some(Cell::Text(t)) = parent.and_then(|p| p.cells.get(name_col)) {
                    out.push_str(&csv_field(t));
                }
            }
            out.push('\n');
        };
        for r in &self.rows {
            put("item", r, None, &mut out);
            for d in &r.detail {
                put("detail", d, Some(r), &mut out);
            }
        }
        if let Some(t) = &self.total {
            put("total", t, None, &mut out);
        }
        out
    }

    fn row_json(&self, r: &Row) -> Value {
        let mut m = Map::new();
        for (i, c) in self.columns.iter().enumerate() {
            m.insert(
                c.key.to_string(),
                cell_json(r.cells.get(i).unwrap_or(&Cell::Empty)),
            );
        }
        if !r.detail.is_empty() {
            m.insert(
                "detail".into(),
                Value::Array(r.detail.iter().map(|d| self.row_json(d)).collect()),
            );
        }
        Value::Object(m)
    }

    pub fn json(&self) -> Value {
        let cols: Vec<Value> = self
            .columns
            .iter()
            .map(|c| {
                json!({"key": c.key, "header": c.header, "unit": match c.kind {
                    ColKind::Bytes => "bytes", ColKind::Count => "count", ColKind::Text => "text" }})
            })
            .collect();
        let mut m = Map::new();
        m.insert("columns".into(), Value::Array(cols));
        m.insert(
            "rows".into(),
            Value::Array(self.rows.iter().map(|r| self.row_json(r)).collect()),
        );
        m.insert(
            "total".into(),
            self.total
                .as_ref()
                .map_or(Value::Null, |t| self.row_json(t)),
        );
        m.insert("notes".into(), json!(self.notes));
        for (k, v) in &self.json_extra {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut r = Row::new(vec![
            2048u64.into(),
            1u64.into(),
            "[anon:dalvik-main space]".into(),
        ]);
        r.detail.push(Row::new(vec![
            1024u64.into(),
            Cell::Empty,
            "zygote [100]".into(),
        ]));
        Table {
            columns: vec![
                Column::new("pss", "PSS", ColKind::Bytes),
                Column::new("procs", "Procs", ColKind::Count),
                Column::new("name", "Name", ColKind::Text),
            ],
            rows: vec![
                r,
                Row::new(vec![(3u64 << 20).into(), 2u64.into(), "a, \"b\"".into()]),
            ],
            total: Some(Row::new(vec![
                (5u64 << 20).into(),
                3u64.into(),
                "TOTAL".into(),
            ])),
            notes: vec!["note".into()],
            json_extra: vec![],
        }
    }

    #[test]
    fn units() {
        assert_eq!(human(0), "0");
        assert_eq!(human(4096), "4K");
        assert_eq!(human(1023 * 1024), "1023K");
        assert_eq!(human(1024 * 1024), "1.0M");
        assert_eq!(human(1536 * 1024), "1.5M");
        assert_eq!(human(64 << 20), "64.0M");
        assert_eq!(human(3 << 30), "3.0G");
        assert_eq!(human((1 << 30) + (1 << 29)), "1.5G");
    }

    #[test]
    fn text_table_keeps_names_whole_and_aligns_numbers() {
        let t = sample().render(Format::Text, false);
        assert_eq!(
            t,
            " PSS  Procs  Name\n\
             \x20 2K      1  [anon:dalvik-main space]\n\
             \x20 1K           zygote [100]\n\
             3.0M      2  a, \"b\"\n\
             ------------------\n\
             5.0M      3  TOTAL\n\
             note\n"
        );
        let b = sample().render(Format::Text, true);
        assert!(b.contains("3145728      2  a, \"b\"\n"), "{b}");
    }

    #[test]
    fn csv_quotes_and_flattens_detail_rows() {
        assert_eq!(
            sample().render(Format::Csv, false),
            "row,pss,procs,name,parent\n\
             item,2048,1,[anon:dalvik-main space],\n\
             detail,1024,,zygote [100],[anon:dalvik-main space]\n\
             item,3145728,2,\"a, \"\"b\"\"\",\n\
             total,5242880,3,TOTAL,\n"
        );
    }

    #[test]
    fn json_nests_detail_rows_in_bytes() {
        let v: Value = serde_json::from_str(&sample().render(Format::Json, false)).unwrap();
        assert_eq!(v["rows"][0]["name"], "[anon:dalvik-main space]");
        assert_eq!(v["rows"][0]["detail"][0]["pss"], 1024);
        assert_eq!(v["rows"][0]["detail"][0]["procs"], Value::Null);
        assert_eq!(v["total"]["pss"], 5242880);
        assert_eq!(v["columns"][0]["unit"], "bytes");
        assert_eq!(v["notes"][0], "note");
    }
}
