//! The journal: every operation that reached the simulator, in canonical command-language form,
//! made durable before its reply is sent, plus periodic snapshots of the whole machine.
//!
//! On disk, in the state directory:
//! ```text
//! snapshot          the machine after every op of the journal generations below its `next_gen`
//! journal.<gen>     ops in order, one generation per file, each file starting with a header
//! snapshot.tmp      a snapshot being written (removed at start)
//! ```
//! A journal file is a command-language script:
//! ```text
//! # anonmap journal v1 generation=3 ram=4294967296 swap=0
//! spawn pid=100 comm=zygote uid=0
//! #! err ENOMEM
//! name pid=100 addr=0x7f0000000000 len=0x3000 name="x"
//! ```
//! What is journaled: every op that reached `Machine::apply`, whatever its result, because some
//! failing ops change the machine before they fail, as in the kernel (mprotect stopping at a
//! hole, naming over holes, a MAP_FIXED that unmaps and then fails). A failed op is preceded by
//! an `#! err ERRNO` line; replay checks that each op gives the same result (ok, or the same
//! errno). Ops refused before `apply` (parse errors, unknown labels, EACCES) change nothing and
//! are not journaled. Labels never reach the journal: ops are written resolved, without `as=`.
//!
//! The parts:
//! - [`recover`]: at start, the snapshot and the journals replayed into a machine.
//! - [`writer`]: the journal thread: group commit (one fdatasync per batch), durability
//!   notifications, snapshots and the journal rotation that truncates it.
//! - [`snapshot`]: the snapshot file format (postcard, with a checksum).
//!
//! The records are the command language's own script form (`anonmap_lang::script::record`),
//! so a journal file can be read, and replayed, as a script.

pub mod recover;
pub mod snapshot;
pub mod writer;

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use anonmap_mm::MachineConfig;

pub use recover::{recover, Recovered};
pub use writer::{Appender, Journal, JournalOptions};

/// A failure of the journal or of recovery, naming the file (and line) at fault.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Damaged {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    BadFile { path: PathBuf, message: String },
}

impl JournalError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(io::Error) -> JournalError + '_ {
        move |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

pub const SNAPSHOT: &str = "snapshot";
pub const SNAPSHOT_TMP: &str = "snapshot.tmp";
const JOURNAL_PREFIX: &str = "journal.";

/// The path of journal generation `gen`.
pub fn journal_path(dir: &Path, gen: u64) -> PathBuf {
    dir.join(format!("{JOURNAL_PREFIX}{gen}"))
}

/// The generations of the journal files in `dir`, ascending.
pub fn journal_generations(dir: &Path) -> Result<Vec<u64>, JournalError> {
    let mut gens = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(JournalError::io(dir))? {
        let entry = entry.map_err(JournalError::io(dir))?;
        let name = entry.file_name();
        let Some(gen) = name
            .to_str()
            .and_then(|n| n.strip_prefix(JOURNAL_PREFIX))
            .and_then(|g| g.parse::<u64>().ok())
        else {
            continue;
        };
        gens.push(gen);
    }
    gens.sort_unstable();
    Ok(gens)
}

/// The first line of journal generation `gen`. `soft_dirty=1` is written only for a machine
/// with soft-dirty tracking, so journals of other machines read as before.
pub fn header_line(gen: u64, sizes: MachineConfig) -> String {
    let soft_dirty = if sizes.soft_dirty {
        " soft_dirty=1"
    } else {
        ""
    };
    format!(
        "# anonmap journal v1 generation={gen} ram={} swap={}{soft_dirty}\n",
        sizes.ram_bytes, sizes.swap_bytes
    )
}

/// Reads a header line back: the generation and the sizes.
pub fn parse_header(line: &str) -> Option<(u64, MachineConfig)> {
    let rest = line.strip_prefix("# anonmap journal v1 ")?;
    let mut gen = None;
    let mut ram = None;
    let mut swap = None;
    let mut soft_dirty = 0;
    for word in rest.split(' ') {
        let (key, value) = word.split_once('=')?;
        let value: u64 = value.parse().ok()?;
        match key {
            "generation" => gen = Some(value),
            "ram" => ram = Some(value),
            "swap" => swap = Some(value),
            "soft_dirty" => soft_dirty = value,
            _ => return None,
        }
    }
    Some((
        gen?,
        MachineConfig {
            ram_bytes: ram?,
            swap_bytes: swap?,
            soft_dirty: soft_dirty != 0,
            auto_reclaim: true,
        },
    ))
}

/// fsync of a directory, so that names created, renamed or removed in it are durable.
pub fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(JournalError::io(dir))
}

#[cfg(test)]
mod tests;
