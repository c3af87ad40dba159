//! Where the files come from: a /proc-like directory (the daemon's mount, `--proc DIR`, or the
//! real `/proc`), or the daemon's socket (`read path=`).
//!
//! Files are parsed with the `procfs` crate: for a directory through
//! `procfs::process::Process::new_with_root(root/<pid>)`, for socket bytes with procfs-core's
//! `FromBufRead` parsers, so anything procfs accepts from a real kernel is accepted here. Over
//! the socket a file is one `read` request ([`Conn::read_file`]).

use std::path::{Path, PathBuf};

use procfs_core::process::{MemoryMaps, SmapsRollup};
use procfs_core::{FromBufRead, Meminfo};

use crate::conn::{Conn, ConnError};
use crate::model::{Counters, Machine, MemSummary, Proc, Vma};

/// Why reading a source failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot list {path}: {source}")]
    List {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    #[error(transparent)]
    Conn(#[from] ConnError),
}

/// A place to read the tree from.
#[derive(Debug)]
pub enum Source {
    /// A /proc-like directory: `<root>/<pid>/smaps`, `<root>/meminfo`, `<root>/rmap/<pfn>`.
    Dir(PathBuf),
    /// The daemon's control socket.
    Socket(Conn),
}

fn read_err(path: impl Into<String>, e: impl std::fmt::Display) -> SourceError {
    SourceError::Read {
        path: path.into(),
        message: e.to_string(),
    }
}

impl Source {
    /// A short description for messages.
    pub fn describe(&self) -> String {
        match self {
            Source::Dir(p) => p.display().to_string(),
            Source::Socket(_) => "the daemon's socket".into(),
        }
    }

    /// Reads a file of the tree (a path relative to the root).
    pub fn read(&mut self, rel: &str) -> Result<Vec<u8>, SourceError> {
        match self {
            Source::Dir(root) => std::fs::read(root.join(rel))
                .map_err(|e| read_err(root.join(rel).display().to_string(), e)),
            Source::Socket(c) => c.read_file(rel, None).map_err(|e| read_err(rel, e)),
        }
    }

    /// The numeric entries of the root, ascending.
    pub fn pids(&mut self) -> Result<Vec<u32>, SourceError> {
        let names: Vec<String> = match self {
            Source::Dir(root) => std::fs::read_dir(&*root)
                .map_err(|source| SourceError::List {
                    path: root.clone(),
                    source,
                })?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Source::Socket(_) => {
                // The protocol has no directory listing. Ask for the root (a daemon that lists
                // directories answers with the names); else fall back to the pids of the name
                // table (`names`), which misses processes that map no named VMA.
                match self.read(".") {
                    Ok(body) => String::from_utf8_lossy(&body)
                        .split_whitespace()
                        .map(str::to_string)
                        .collect(),
                    Err(_) => {
                        let body = self.read("names")?;
                        let text = String::from_utf8_lossy(&body).into_owned();
                        text.lines()
                            .skip(1)
                            .filter_map(|l| l.split(' ').nth(3))
                            .flat_map(|p| p.split(','))
                            .map(str::to_string)
                            .collect()
                    }
                }
            }
        };
        let mut names = names;
        names.dedup();
        let mut pids: Vec<u32> = names.iter().filter_map(|n| n.parse().ok()).collect();
        pids.sort_unstable();
        Ok(pids)
    }

    /// The smaps of `pid`.
    pub fn smaps(&mut self, pid: u32) -> Result<MemoryMaps, SourceError> {
        match self {
            Source::Dir(root) => {
                let dir = root.join(pid.to_string());
                let p = procfs::process::Process::new_with_root(dir.clone())
                    .map_err(|e| read_err(dir.display().to_string(), e))?;
                p.smaps()
                    .map_err(|e| read_err(format!("{}/smaps", dir.display()), e))
            }
            Source::Socket(_) => {
                let rel = format!("{pid}/smaps");
                let b = self.read(&rel)?;
                MemoryMaps::from_buf_read(&b[..]).map_err(|e| read_err(rel, e))
            }
        }
    }

    /// The smaps_rollup of `pid`, or `None` if the source has none.
    pub fn smaps_rollup(&mut self, pid: u32) -> Result<Option<Counters>, SourceError> {
        let rollup = match self {
            Source::Dir(root) => {
                let dir = root.join(pid.to_string());
                if !dir.join("smaps_rollup").exists() {
                    return Ok(None);
                }
                let p = procfs::process::Process::new_with_root(dir.clone())
                    .map_err(|e| read_err(dir.display().to_string(), e))?;
                p.smaps_rollup()
                    .map_err(|e| read_err(format!("{}/smaps_rollup", dir.display()), e))?
            }
            Source::Socket(_) => {
                let rel = format!("{pid}/smaps_rollup");
                let b = self.read(&rel)?;
                SmapsRollup::from_buf_read(&b[..]).map_err(|e| read_err(rel, e))?
            }
        };
        Ok(rollup.memory_map_rollup.iter().next().map(|m| {
            let mut c = Counters::from_map(m);
            // The rollup header's range is first start to last end, not a size.
            c.vss = 0;
            c
        }))
    }

    /// The command line (joined by spaces) if the source has a non-empty one, else `comm`.
    pub fn cmd(&mut self, pid: u32) -> String {
        if let Source::Dir(root) = self {
            if let Ok(b) = std::fs::read(root.join(format!("{pid}/cmdline"))) {
                let parts: Vec<String> = b
                    .split(|&c| c == 0)
                    .filter(|s| !s.is_empty())
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect();
                if !parts.is_empty() {
                    return parts.join(" ");
                }
            }
        }
        match self.read(&format!("{pid}/comm")) {
            Ok(b) => String::from_utf8_lossy(&b)
                .trim_end_matches('\n')
                .to_string(),
            Err(_) => String::new(),
        }
    }

    /// meminfo, or `None` if it cannot be read or parsed.
    pub fn meminfo(&mut self) -> Option<MemSummary> {
        let b = self.read("meminfo").ok()?;
        Meminfo::from_buf_read(&b[..])
            .ok()
            .map(|m| MemSummary::from_meminfo(&m))
    }

    /// One pagemap entry of `pid` for the page at `vaddr`.
    pub fn pagemap_entry(&mut self, pid: u32, vaddr: u64) -> Result<u64, SourceError> {
        // One little-endian u64 per virtual page (the bits are `anonmap_abi::pagemap`'s).
        let off = anonmap_abi::page::vpn(vaddr) * 8;
        let rel = format!("{pid}/pagemap");
        let bytes = match self {
            Source::Dir(root) => {
                use std::os::unix::fs::FileExt;
                let path = root.join(&rel);
                let f = std::fs::File::open(&path)
                    .map_err(|e| read_err(path.display().to_string(), e))?;
                let mut b = [0u8; 8];
                f.read_exact_at(&mut b, off)
                    .map_err(|e| read_err(path.display().to_string(), e))?;
                b.to_vec()
            }
            Source::Socket(c) => c
                .read_file(&rel, Some((off, 8)))
                .map_err(|e| read_err(&rel, e))?,
        };
        let arr: [u8; 8] = bytes
            .get(..8)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| read_err(&rel, format!("short read: {} bytes", bytes.len())))?;
        Ok(u64::from_le_bytes(arr))
    }

    /// Reads every process and meminfo. Processes that cannot be read (gone, permission) are
    /// listed in [`Machine::unreadable`]; processes with no VMAs (kernel threads) are left out.
    pub fn collect(&mut self) -> Result<Machine, SourceError> {
        let mut procs = Vec::new();
        let mut unreadable = Vec::new();
        for pid in self.pids()? {
            let maps = match self.smaps(pid) {
                Ok(m) => m,
                Err(e) => {
                    unreadable.push((pid, e.to_string()));
                    continue;
                }
            };
            let vmas: Vec<Vma> = maps.iter().map(Vma::from_map).collect();
            if vmas.is_empty() {
                continue;
            }
            let sum: Counters = vmas.iter().map(|v| &v.counters).sum();
            let rollup = match self.smaps_rollup(pid) {
                Ok(Some(mut r)) => {
                    r.vss = sum.vss;
                    r.pss_slack = 1023;
                    r
                }
                Ok(None) | Err(_) => sum,
            };
            let cmd = self.cmd(pid);
            procs.push(Proc {
                pid,
                cmd,
                vmas,
                rollup,
            });
        }
        let mem = self.meminfo();
        Ok(Machine {
            procs,
            mem,
            unreadable,
        })
    }
}

/// The default root for reports: the mount if it has pid directories, else an error naming it.
pub fn dir_source(path: &Path) -> Source {
    Source::Dir(path.to_path_buf())
}
