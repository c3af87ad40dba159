//! `socket_bench`: throughput of pipelined ops through the control socket, journal on.
//!
//! ```text
//! cargo build --release -p anonmap-daemon --bin anonmapd --example socket_bench
//! target/release/examples/socket_bench [--socket PATH] [--ops N] [--clients C]
//! ```
//! Without `--socket` it starts `anonmapd` from the same target directory (`--no-mount`, a
//! temporary state directory, so the journal and its fdatasyncs are on) and stops it at the
//! end. Each of C clients gets its own process and pipelines N ops (writing from one thread,
//! reading replies on another), in two workloads:
//! - `mmap/munmap`: alternating 4 KiB fixed mmap and munmap;
//! - `touch`: one write fault per op, each on a new page of a large mapping.
//!
//! It prints ops/second per workload: all clients' ops over the time from the first write to
//! the last reply.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

struct Args {
    socket: Option<PathBuf>,
    ops: u64,
    clients: u32,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        socket: None,
        ops: 200_000,
        clients: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().context("missing value");
        match a.as_str() {
            "--socket" => args.socket = Some(value()?.into()),
            "--ops" => args.ops = value()?.parse()?,
            "--clients" => args.clients = value()?.parse()?,
            _ => bail!("usage: socket_bench [--socket PATH] [--ops N] [--clients C]"),
        }
    }
    Ok(args)
}

/// A daemon started for the bench, stopped with SIGTERM on drop.
struct Daemon {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

fn start_daemon() -> anyhow::Result<(Daemon, PathBuf)> {
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .and_then(|p| p.parent())
        .context("no target directory")?
        .join("anonmapd");
    let dir = tempfile::tempdir()?;
    let socket = dir.path().join("ctl");
    let mut child = Command::new(&bin)
        .arg("--no-mount")
        .arg("--socket")
        .arg(&socket)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {} (build it first)", bin.display()))?;
    let stderr = child.stderr.take().context("stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    loop {
        match lines.next() {
            Some(line) => {
                if line?.contains("listening") {
                    break;
                }
            }
            None => bail!("anonmapd exited before listening"),
        }
    }
    // Keep draining its log so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok((Daemon { child, _dir: dir }, socket))
}

/// Pipelines `lines` on one connection; returns the number of `ok` replies.
fn pipeline(socket: &PathBuf, lines: Vec<u8>, n: usize) -> anyhow::Result<usize> {
    let stream = UnixStream::connect(socket)?;
    let mut w = stream.try_clone()?;
    let writer = std::thread::spawn(move || w.write_all(&lines));
    let mut r = BufReader::with_capacity(1 << 16, stream);
    let mut ok = 0;
    let mut line = String::new();
    for _ in 0..n {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            bail!("connection closed after {ok} replies");
        }
        if line.starts_with("ok") {
            ok += 1;
        } else {
            bail!("unexpected reply: {line}");
        }
    }
    writer.join().expect("writer")?;
    Ok(ok)
}

fn run_workload(
    name: &str,
    socket: &PathBuf,
    clients: u32,
    setup: impl Fn(u32) -> String,
    op: impl Fn(u32, u64) -> String + Sync,
    ops: u64,
) -> anyhow::Result<()> {
    for c in 0..clients {
        let s = setup(c);
        pipeline(socket, s.clone().into_bytes(), s.lines().count())?;
    }
    let inputs: Vec<Vec<u8>> = (0..clients)
        .map(|c| {
            let mut v = Vec::with_capacity(ops as usize * 80);
            for i in 0..ops {
                v.extend_from_slice(op(c, i).as_bytes());
                v.push(b'\n');
            }
            v
        })
        .collect();
    let started = Instant::now();
    let results: Vec<anyhow::Result<usize>> = std::thread::scope(|s| {
        let handles: Vec<_> = inputs
            .into_iter()
            .map(|input| s.spawn(move || pipeline(socket, input, ops as usize)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client"))
            .collect()
    });
    let elapsed = started.elapsed();
    let mut total = 0;
    for r in results {
        total += r?;
    }
    println!(
        "{name:>13}: {total} ops, {clients} client(s), {:.3} s, {:.0} ops/s",
        elapsed.as_secs_f64(),
        total as f64
            / elapsed
                .as_secs_f64()
                .max(Duration::from_micros(1).as_secs_f64())
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let (_daemon, socket) = match &args.socket {
        Some(s) => (None, s.clone()),
        None => {
            let (d, s) = start_daemon()?;
            (Some(d), s)
        }
    };
    const BASE: u64 = 0x1000_0000;
    let pid = |c: u32| 5000 + c;
    run_workload(
        "mmap/munmap",
        &socket,
        args.clients,
        |c| format!("spawn pid={} comm=bench bare\n", pid(c)),
        |c, i| {
            let addr = BASE + (i / 2 % 1024) * 0x2000;
            if i.is_multiple_of(2) {
                format!(
                    "mmap pid={} addr={addr:#x} len=4K prot=rw- flags=private,anonymous,fixed",
                    pid(c)
                )
            } else {
                format!("munmap pid={} addr={addr:#x} len=4K", pid(c))
            }
        },
        args.ops,
    )?;
    let span = args.ops * 4096;
    run_workload(
        "touch (fault)",
        &socket,
        args.clients,
        |c| {
            format!(
                "mmap pid={} addr={:#x} len={span:#x} prot=rw- flags=private,anonymous,fixed\n",
                pid(c),
                0x2000_0000_0000u64
            )
        },
        |c, i| {
            format!(
                "touch pid={} addr={:#x} len=4K access=write",
                pid(c),
                0x2000_0000_0000u64 + i * 4096
            )
        },
        args.ops,
    )?;
    Ok(())
}
