//! `render`: apply a scenario script to a simulated machine in-process and print files of its
//! /proc-like tree, exactly as the renderers produce them. No daemon, socket or FUSE mount.
//!
//! ```text
//! cargo run -p anonmap-daemon --example render -- [SCRIPT] [FILE...]
//! ```
//!
//! SCRIPT is a file in the command language (`*.anonmap`); without it the built-in demo
//! (`daemon/scenarios/demo.anonmap`) runs. The first argument is taken as SCRIPT unless it is a
//! tree file name. Every line is applied with `check_invariants()` after it; the first failure
//! stops the run with `file:line: the line: ERRNO message` on stderr and exit code 1.
//!
//! Each FILE is a path of the tree: `PID/maps`, `PID/smaps`, `PID/smaps_rollup`, `PID/status`
//! (its memory lines), `PID/statm`, `PID/pagemap`, `rmap` (the resident pfns: the directory's
//! listing), `rmap/PFN` (decimal or 0x-hex), `names`, `meminfo`. `PID/pagemap` is binary in the
//! tree; here it is printed as a hex dump of its non-zero entries only, one `vpn entry` line per
//! page (both hex), after a `#` line saying so. Without FILE arguments: `names`, then `maps` of
//! every pid. When more than one file is printed, each starts with a `==> FILE <==` line. An
//! unknown file name, pid or pfn is an error with exit code 2.

use std::io::Write;
use std::process::ExitCode;

use anonmap_daemon::command::{parse_line, Labels};
use anonmap_daemon::mm::types::{vpn, Pid, PAGE_SIZE};
use anonmap_daemon::mm::{Machine, MachineConfig, Outcome};
use anonmap_fusefs::render;
use anyhow::{anyhow, bail, Context};

/// The built-in scenario, run when no SCRIPT is given.
const DEMO: &str = include_str!("../scenarios/demo.anonmap");
/// How the built-in scenario is named in error messages.
const DEMO_PATH: &str = "daemon/scenarios/demo.anonmap";

const USAGE: &str = "usage: render [SCRIPT] [FILE...]
  SCRIPT  a command-language script (default: the built-in demo, daemon/scenarios/demo.anonmap)
  FILE    PID/maps PID/smaps PID/smaps_rollup PID/status PID/statm PID/pagemap
          rmap rmap/PFN names meminfo   (default: names, then PID/maps of every pid)
  PID/pagemap prints the non-zero entries only, as hex `vpn entry` lines.";

/// A bad FILE argument (or a bad command line): exit code 2.
#[derive(Debug)]
struct BadFile(String);

impl std::fmt::Display for BadFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadFile {}

/// One file of the tree.
#[derive(Debug, Clone, Copy)]
enum TreeFile {
    Maps(Pid),
    Smaps(Pid),
    SmapsRollup(Pid),
    Status(Pid),
    Statm(Pid),
    Pagemap(Pid),
    RmapDir,
    Rmap(u64),
    Names,
    Meminfo,
}

impl TreeFile {
    /// Reads a tree path (`12/smaps`, `rmap/0x3b32`, `names`).
    fn parse(path: &str) -> Option<TreeFile> {
        match path.split_once('/') {
            None => match path {
                "names" => Some(TreeFile::Names),
                "meminfo" => Some(TreeFile::Meminfo),
                "rmap" => Some(TreeFile::RmapDir),
                _ => None,
            },
            Some(("rmap", pfn)) => {
                let pfn = match pfn.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16).ok()?,
                    None => pfn.parse().ok()?,
                };
                Some(TreeFile::Rmap(pfn))
            }
            Some((pid, file)) => {
                if !pid.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let pid: Pid = pid.parse().ok()?;
                Some(match file {
                    "maps" => TreeFile::Maps(pid),
                    "smaps" => TreeFile::Smaps(pid),
                    "smaps_rollup" => TreeFile::SmapsRollup(pid),
                    "status" => TreeFile::Status(pid),
                    "statm" => TreeFile::Statm(pid),
                    "pagemap" => TreeFile::Pagemap(pid),
                    _ => return None,
                })
            }
        }
    }

    /// The file's content, rendered from the machine's views.
    fn render(self, m: &Machine, out: &mut Vec<u8>) -> anyhow::Result<()> {
        let no_pid = |pid: Pid| BadFile(format!("no process with pid {pid}"));
        match self {
            TreeFile::Maps(pid) => {
                render::render_maps(&m.address_space_view(pid).ok_or(no_pid(pid))?, out)
            }
            TreeFile::Smaps(pid) => {
                render::render_smaps(&m.address_space_view(pid).ok_or(no_pid(pid))?, out)
            }
            TreeFile::SmapsRollup(pid) => {
                render::render_smaps_rollup(&m.address_space_view(pid).ok_or(no_pid(pid))?, out)
            }
            TreeFile::Status(pid) => {
                render::render_status(&m.status_view(pid).ok_or(no_pid(pid))?, out)
            }
            TreeFile::Statm(pid) => {
                render::render_statm(&m.status_view(pid).ok_or(no_pid(pid))?, out)
            }
            TreeFile::Pagemap(pid) => pagemap_dump(m, pid, out)?,
            TreeFile::RmapDir => {
                for pfn in m.resident_pfns() {
                    writeln!(out, "{pfn:#x}")?;
                }
            }
            TreeFile::Rmap(pfn) => {
                let view = m.rmap_view(pfn).ok_or_else(|| {
                    BadFile(format!(
                        "pfn {pfn:#x} is not an allocated frame (see `rmap`)"
                    ))
                })?;
                render::render_rmap(&view, out);
            }
            TreeFile::Names => render::render_names(&m.name_table_view(), out),
            TreeFile::Meminfo => render::render_meminfo(&m.meminfo_view(), out),
        }
        Ok(())
    }
}

/// `PID/pagemap` as text: the non-zero entries of every VMA's pages (outside the VMAs every
/// entry is zero), decoded back from the little-endian bytes the tree's file holds.
fn pagemap_dump(m: &Machine, pid: Pid, out: &mut Vec<u8>) -> anyhow::Result<()> {
    let space = m
        .address_space_view(pid)
        .ok_or_else(|| BadFile(format!("no process with pid {pid}")))?;
    writeln!(
        out,
        "# {pid}/pagemap: non-zero entries only, one \"vpn entry\" line per page, both hex"
    )?;
    let mut bytes = Vec::new();
    for v in &space.vmas {
        let first = vpn(v.start);
        let entries = m
            .pagemap(pid, first, (v.end - v.start) / PAGE_SIZE)
            .ok_or_else(|| anyhow!("pagemap of pid {pid} vanished"))?;
        bytes.clear();
        render::render_pagemap(&entries, &mut bytes);
        for (page, chunk) in (first..).zip(bytes.chunks_exact(8)) {
            let entry = u64::from_le_bytes(chunk.try_into()?);
            if entry != 0 {
                writeln!(out, "{page:x} {entry:016x}")?;
            }
        }
    }
    Ok(())
}

/// Applies every line of `text`, checking the invariants after each op.
fn run_script(path: &str, text: &str) -> anyhow::Result<Machine> {
    let mut m = Machine::new(MachineConfig::default());
    let mut labels = Labels::new();
    for (n, line) in text.lines().enumerate() {
        let at = || format!("{path}:{}: {}", n + 1, line.trim());
        let op = match parse_line(line) {
            Ok(Some(op)) => op,
            Ok(None) => continue,
            Err(e) => bail!("{}: {e}", at()),
        };
        let label = op.binds_label().map(str::to_string);
        let op = op.resolve(&labels).map_err(|e| anyhow!("{}: {e}", at()))?;
        let outcome = m.apply(&op).map_err(|e| anyhow!("{}: {e}", at()))?;
        if let (Some(label), Outcome::Addr(addr)) = (label, outcome) {
            labels.bind(label, addr);
        }
        m.check_invariants()
            .map_err(|e| anyhow!("{}: invariant broken: {e}", at()))?;
    }
    Ok(m)
}

fn run(args: Vec<String>) -> anyhow::Result<()> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let mut args = args.into_iter().peekable();
    let script = match args.peek() {
        Some(first) if TreeFile::parse(first).is_none() => {
            let path = args.next().expect("peeked");
            match std::fs::read_to_string(&path) {
                Ok(text) => Some((path, text)),
                Err(e) => {
                    return Err(BadFile(format!(
                        "{path:?} is neither a script ({e}) nor a tree file\n{USAGE}"
                    ))
                    .into())
                }
            }
        }
        _ => None,
    };
    let mut files = Vec::new();
    for name in args {
        let file = TreeFile::parse(&name)
            .ok_or_else(|| BadFile(format!("unknown tree file {name:?}\n{USAGE}")))?;
        files.push((name, file));
    }

    let m = match &script {
        Some((path, text)) => run_script(path, text)?,
        None => run_script(DEMO_PATH, DEMO)?,
    };

    if files.is_empty() {
        files.push(("names".to_string(), TreeFile::Names));
        for pid in m.pids() {
            files.push((format!("{pid}/maps"), TreeFile::Maps(pid)));
        }
    }
    let headers = files.len() > 1;
    let mut stdout = std::io::stdout().lock();
    let mut out = Vec::new();
    for (i, (name, file)) in files.iter().enumerate() {
        out.clear();
        if headers {
            let gap = if i > 0 { "\n" } else { "" };
            writeln!(out, "{gap}==> {name} <==")?;
        }
        file.render(&m, &mut out)
            .with_context(|| format!("cannot show {name}"))?;
        stdout.write_all(&out)?;
    }
    stdout.flush()?;
    Ok(())
}

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("render: {e:#}");
            if e.chain().any(|c| c.is::<BadFile>()) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
