//! `render`: apply a scenario script to a simulated machine in-process and print files of its
//! /proc-like tree, exactly as the renderers produce them. No daemon, socket or FUSE mount.
//!
//! ```text
//! cargo run -p anonmap-daemon --example render -- [SCRIPT] [FILE...]
//! ```
//!
//! SCRIPT is a file in the command language (`*.anonmap`); without it the built-in demo
//! (`daemon/scenarios/demo.anonmap`) runs. The first argument is taken as SCRIPT if it names a
//! file on disk. Every line is applied with `check_invariants()` after it; the first failure
//! stops the run with `file:line: the line: ERRNO message` on stderr and exit code 1.
//!
//! Each FILE is a path of the tree (`anonmap_proc::tree`): `PID/maps`, `PID/smaps`, `PID/smaps_rollup`,
//! `PID/status`, `PID/statm`, `PID/comm`, `PID/pagemap`, `rmap` (the resident pfns: the
//! directory's listing), `rmap/PFN` (decimal or 0x-hex), `names`, `meminfo`. `PID/pagemap` is binary in the
//! tree; here it is printed as a hex dump of its non-zero entries only, one `vpn entry` line per
//! page (both hex), after a `#` line saying so. Without FILE arguments: `names`, then `maps` of
//! every pid. When more than one file is printed, each starts with a `==> FILE <==` line. An
//! unknown file name, pid or pfn is an error with exit code 2.

use std::io::Write;
use std::process::ExitCode;

use anonmap_abi::page::{vpn, PAGE_SIZE};
use anonmap_abi::Pid;
use anonmap_daemon::DEMO;
use anonmap_lang::Session;
use anonmap_mm::{Machine, MachineConfig};
use anonmap_proc::tree::{self, Node, ProcFile};
use anyhow::{anyhow, Context};

/// How the built-in scenario is named in error messages.
const DEMO_PATH: &str = "daemon/scenarios/demo.anonmap";

const USAGE: &str = "usage: render [SCRIPT] [FILE...]
  SCRIPT  a command-language script (default: the built-in demo, daemon/scenarios/demo.anonmap)
  FILE    PID/maps PID/smaps PID/smaps_rollup PID/status PID/statm PID/pagemap
          PID/oom_score PID/oom_score_adj rmap rmap/PFN names meminfo vmstat kmsg
          (default: names, then PID/maps of every pid)
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

/// Prints one file of the tree (a path as `tree::lookup` takes it) into `out`. `PID/pagemap`
/// becomes a hex dump of its non-zero entries and `rmap` the list of resident pfns.
fn show(m: &Machine, path: &str, out: &mut Vec<u8>) -> anyhow::Result<()> {
    let node = tree::lookup(m, path).map_err(|e| BadFile(e.to_string()))?;
    match node {
        Node::ProcFile(pid, ProcFile::Pagemap) => pagemap_dump(m, pid, out)?,
        Node::RmapDir => {
            for (name, _) in tree::list_dir(m, node)? {
                writeln!(out, "{name}")?;
            }
        }
        _ => out.extend_from_slice(&tree::render(m, node).map_err(|e| BadFile(e.to_string()))?),
    }
    Ok(())
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
    for v in &space.vmas {
        let first = vpn(v.start);
        let bytes = tree::read_pagemap(
            m,
            pid,
            first * 8,
            ((v.end - v.start) / PAGE_SIZE * 8) as u32,
        )?;
        for (page, chunk) in (first..).zip(bytes.chunks_exact(8)) {
            let entry = u64::from_le_bytes(chunk.try_into()?);
            if entry != 0 {
                writeln!(out, "{page:x} {entry:016x}")?;
            }
        }
    }
    Ok(())
}

/// Applies the script `text`, checking the invariants after each op.
fn run_script(path: &str, text: &str) -> anyhow::Result<Machine> {
    let mut m = Machine::new(MachineConfig::default());
    Session::new()
        .run_script_with(&mut m, text, |m, _, _| {
            m.check_invariants()
                .map_err(|e| format!("invariant broken: {e}"))
        })
        .map_err(|e| anyhow!("{path}:{}: {}: {}", e.line_no, e.line.trim(), e.message))?;
    Ok(m)
}

fn run(args: Vec<String>) -> anyhow::Result<()> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    // The first argument is the script if it names a file on disk.
    let mut args = args.into_iter().peekable();
    let script = match args.peek() {
        Some(first) if std::path::Path::new(first).is_file() => {
            let path = args.next().expect("peeked");
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
            Some((path, text))
        }
        _ => None,
    };
    let mut files: Vec<String> = args.collect();
    let m = match &script {
        Some((path, text)) => run_script(path, text)?,
        None => run_script(DEMO_PATH, DEMO)?,
    };
    if files.is_empty() {
        files.push("names".to_string());
        files.extend(m.pids().iter().map(|pid| format!("{pid}/maps")));
    }
    let headers = files.len() > 1;
    let mut stdout = std::io::stdout().lock();
    let mut out = Vec::new();
    for (i, name) in files.iter().enumerate() {
        out.clear();
        if headers {
            let gap = if i > 0 { "\n" } else { "" };
            writeln!(out, "{gap}==> {name} <==")?;
        }
        show(&m, name, &mut out).with_context(|| format!("cannot show {name}"))?;
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
