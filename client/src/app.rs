//! Runs a parsed command line: picks the source, collects, builds the report, prints it.
//! `main` is a thin wrapper around [`execute`], which writes to any `Write` so tests can run
//! whole commands in-process.

use std::io::Write;
use std::path::PathBuf;

use anonmap_lang::parse_number;
use regex::Regex;

use crate::categories::{builtin, parse_rules, RuleError};
use crate::cli::{default_paths, Cli, Command, ReportArgs};
use crate::conn::{Conn, ConnError};
use crate::model::Kind;
use crate::report::{self, Filter};
use crate::run::{run_lines, script_lines, ScriptError, ScriptLine};
use crate::source::{Source, SourceError};
use crate::strace;
use crate::table::{Format, Table};

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Conn(#[from] ConnError),
    #[error(transparent)]
    Rules(#[from] RuleError),
    #[error(transparent)]
    Script(#[from] ScriptError),
    #[error(transparent)]
    Map(#[from] report::map::MapError),
    #[error(transparent)]
    Rmap(#[from] report::rmap::RmapError),
    #[error(transparent)]
    Snapshot(#[from] report::snapshot::SnapshotError),
    #[error("{path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("output: {0}")]
    Output(#[from] std::io::Error),
    /// A run or replay with failed lines (already printed).
    #[error("{0} lines failed")]
    LinesFailed(usize),
}

fn read_file(path: &str) -> Result<String, AppError> {
    let r = if path == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map(|_| s)
    } else {
        std::fs::read_to_string(path)
    };
    r.map_err(|source| AppError::File {
        path: path.into(),
        source,
    })
}

fn socket_path(cli: &Cli) -> PathBuf {
    cli.socket.clone().unwrap_or_else(|| default_paths().0)
}

/// The source of reports: `--proc DIR`, else the socket with `--via-socket`, else the mount.
pub fn open_source(cli: &Cli) -> Result<Source, AppError> {
    if let Some(d) = &cli.proc_dir {
        return Ok(Source::Dir(d.clone()));
    }
    if cli.via_socket {
        return Ok(Source::Socket(Conn::connect(&socket_path(cli))?));
    }
    let mount = cli.mount.clone().unwrap_or_else(|| default_paths().1);
    if !mount.join("meminfo").exists() {
        return Err(AppError::Usage(format!(
            "no anonmap tree at {} (is anonmapd running? use --mount, --via-socket, or --proc /proc)",
            mount.display()
        )));
    }
    Ok(Source::Dir(mount))
}

fn kinds(words: &[String]) -> Result<Vec<Kind>, AppError> {
    words
        .iter()
        .map(|w| {
            Kind::from_word(w).ok_or_else(|| {
                AppError::Usage(format!(
                    "unknown kind {w:?} (anon, anon_named, shmem, file, heap, stack, special)"
                ))
            })
        })
        .collect()
}

/// The filter a report's flags describe.
pub fn filter(r: &ReportArgs) -> Result<Filter, AppError> {
    if let Some(p) = &r.perms {
        if p.chars().count() != 4 {
            return Err(AppError::Usage(format!(
                "--perms {p:?}: expected 4 characters like maps shows them (rw-p; ? matches any)"
            )));
        }
    }
    Ok(Filter {
        name_regex: r
            .name
            .as_deref()
            .map(Regex::new)
            .transpose()
            .map_err(|e| AppError::Usage(format!("--name: {e}")))?,
        prefix: r.prefix.clone(),
        pids: r.pids.clone(),
        perms: r.perms.clone(),
        kinds: kinds(&r.kind)?,
        exclude_kinds: kinds(&r.exclude_kind)?,
    })
}

fn format_of(json: bool, csv: bool) -> Format {
    if json {
        Format::Json
    } else if csv {
        Format::Csv
    } else {
        Format::Text
    }
}

/// Prints a report once, or every `--watch` seconds (clearing the screen between).
fn show(
    cli: &Cli,
    r: &ReportArgs,
    out: &mut dyn Write,
    mut build: impl FnMut(&crate::model::Machine) -> Result<Table, AppError>,
) -> Result<(), AppError> {
    let mut src = open_source(cli)?;
    loop {
        let m = src.collect()?;
        let t = build(&m)?;
        if r.watch.is_some() {
            write!(out, "\x1b[H\x1b[2J")?;
        }
        out.write_all(t.render(format_of(r.json, r.csv), r.bytes).as_bytes())?;
        out.flush()?;
        match r.watch {
            Some(secs) if secs > 0.0 => {
                std::thread::sleep(std::time::Duration::from_secs_f64(secs))
            }
            Some(_) => {
                return Err(AppError::Usage(
                    "--watch needs a positive number of seconds".into(),
                ))
            }
            None => return Ok(()),
        }
    }
}

pub fn execute(cli: &Cli, out: &mut dyn Write) -> Result<(), AppError> {
    match &cli.command {
        Command::Run {
            file,
            keep_going,
            window,
        } => {
            let text = read_file(file)?;
            let name = if file == "-" { "<stdin>" } else { file };
            // A malformed `#! err` directive fails the run before anything is sent.
            let lines = script_lines(&text, name)?;
            let mut c = Conn::connect(&socket_path(cli))?;
            let s = run_lines(&mut c, lines, *keep_going, *window)?;
            out.write_all(s.report().as_bytes())?;
            if !s.errors.is_empty() {
                return Err(AppError::LinesFailed(s.errors.len()));
            }
        }
        Command::Do { lines, keep_going } => {
            let lines = lines
                .iter()
                .enumerate()
                .map(|(i, l)| ScriptLine::new(format!("arg {}", i + 1), l.clone()))
                .collect();
            let mut c = Conn::connect(&socket_path(cli))?;
            let s = run_lines(&mut c, lines, *keep_going, 1)?;
            for (origin, r) in &s.results {
                writeln!(out, "{origin}: ok {r}")?;
            }
            out.write_all(s.report().as_bytes())?;
            if !s.errors.is_empty() {
                return Err(AppError::LinesFailed(s.errors.len()));
            }
        }
        Command::Replay {
            strace: path,
            base_pid,
            print,
            keep_going,
        } => {
            let text = read_file(&path.to_string_lossy())?;
            let mut conn = if *print {
                None
            } else {
                Some(Conn::connect(&socket_path(cli))?)
            };
            let t = strace::translate(
                &text,
                strace::Options {
                    base_pid: *base_pid,
                },
            );
            let origin = path.display().to_string();
            let lines: Vec<ScriptLine> = t
                .commands
                .iter()
                .map(|(n, call)| {
                    ScriptLine::new(
                        format!("{origin}:{n}"),
                        anonmap_lang::line(call).to_string(),
                    )
                })
                .collect();
            match conn.as_mut() {
                None => {
                    for l in &lines {
                        writeln!(out, "{}", l.line)?;
                    }
                    out.write_all(t.summary().as_bytes())?;
                }
                Some(c) => {
                    let s = run_lines(c, lines, *keep_going, 1024)?;
                    out.write_all(t.summary().as_bytes())?;
                    out.write_all(s.report().as_bytes())?;
                    if !s.errors.is_empty() {
                        return Err(AppError::LinesFailed(s.errors.len()));
                    }
                }
            }
        }
        Command::Names { r, verbose } => {
            let o = report::names::NamesOpts {
                sort: r.sort,
                reverse: r.reverse,
                verbose: *verbose,
                filter: filter(r)?,
            };
            show(cli, r, out, |m| Ok(report::names::report(m, &o)))?;
        }
        Command::Procs { r } => {
            let o = report::procs::ProcsOpts {
                sort: r.sort,
                reverse: r.reverse,
                filter: filter(r)?,
            };
            show(cli, r, out, |m| Ok(report::procs::report(m, &o)))?;
        }
        Command::Map { pid, r, a, v, t } => {
            let o = report::map::MapOpts {
                pid: *pid,
                sort: r.sort,
                reverse: r.reverse,
                addresses: *a,
                verbose: *v,
                terse: *t,
                filter: filter(r)?,
            };
            show(cli, r, out, |m| Ok(report::map::report(m, &o)?))?;
        }
        Command::Categories {
            r,
            verbose,
            rules,
            no_builtin,
        } => {
            let mut rs = Vec::new();
            if let Some(p) = rules {
                let p = p.to_string_lossy().into_owned();
                rs = parse_rules(&read_file(&p)?, &p)?;
            }
            if !no_builtin {
                rs.extend(builtin());
            }
            let o = report::categories::CategoriesOpts {
                sort: r.sort,
                reverse: r.reverse,
                verbose: *verbose,
                filter: filter(r)?,
                rules: rs,
            };
            show(cli, r, out, |m| Ok(report::categories::report(m, &o)))?;
        }
        Command::Rmap {
            pfn,
            pid,
            addr,
            json,
            csv,
        } => {
            let mut src = open_source(cli)?;
            let pfn = match (pfn, pid, addr) {
                (Some(p), None, None) => parse_number(p)
                    .map_err(|_| AppError::Usage(format!("bad pfn {p:?} (decimal or 0x-hex)")))?,
                (None, Some(pid), Some(a)) => {
                    let a = parse_number(a).map_err(|_| {
                        AppError::Usage(format!("bad address {a:?} (0x-hex or decimal)"))
                    })?;
                    report::rmap::pfn_of(&mut src, *pid, a)?
                }
                _ => {
                    return Err(AppError::Usage(
                        "give either PFN, or --pid P --addr A".into(),
                    ))
                }
            };
            let t = report::rmap::report(&mut src, pfn)?;
            out.write_all(t.render(format_of(*json, *csv), false).as_bytes())?;
        }
        Command::Snapshot => {
            let m = open_source(cli)?.collect()?;
            out.write_all(report::snapshot::to_json(&m).as_bytes())?;
        }
        Command::Diff { a, b, r } => {
            let load = |p: &PathBuf| -> Result<crate::model::Machine, AppError> {
                let s = p.to_string_lossy().into_owned();
                Ok(report::snapshot::from_json(&read_file(&s)?, &s)?)
            };
            let (ma, mb) = (load(a)?, load(b)?);
            let t = report::snapshot::diff(&ma, &mb, &filter(r)?);
            out.write_all(t.render(format_of(r.json, r.csv), r.bytes).as_bytes())?;
        }
    }
    Ok(())
}
