//! The snapshot file: the whole machine at one point of the journal.
//!
//! Layout: the magic line `anonmap snapshot v1\n`, the body length (u64 little endian), the
//! body (postcard of [`SnapshotRef`]: `next_gen`, the sizes, the machine), and an FNV-1a 64
//! checksum of the body (u64 little endian). It is written to `snapshot.tmp`, fsynced, renamed
//! over `snapshot` and the directory fsynced, so `snapshot` is always whole; the checksum
//! catches damage done to it afterwards.
//!
//! `next_gen` says which journals the snapshot already contains: every generation below it.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{sync_dir, JournalError, SNAPSHOT, SNAPSHOT_TMP};
use anonmap_mm::{Machine, MachineConfig};

const MAGIC: &[u8] = b"anonmap snapshot v1\n";

/// What a snapshot holds, borrowed for writing.
#[derive(Debug, Serialize)]
pub struct SnapshotRef<'a> {
    pub next_gen: u64,
    pub sizes: MachineConfig,
    pub machine: &'a Machine,
}

/// What a snapshot holds, read back.
#[derive(Debug, Deserialize)]
pub struct Snapshot {
    pub next_gen: u64,
    pub sizes: MachineConfig,
    pub machine: Machine,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The machine encoded as a snapshot file's bytes (done under the machine's read lock; the
/// writing is done after it is released).
pub fn encode(snapshot: &SnapshotRef<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 << 20);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[0; 8]);
    let mut out = postcard::to_extend(snapshot, out).expect("a machine always serializes");
    let body_len = out.len() - MAGIC.len() - 8;
    out[MAGIC.len()..MAGIC.len() + 8].copy_from_slice(&(body_len as u64).to_le_bytes());
    let sum = fnv1a(&out[MAGIC.len() + 8..]);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// Writes `bytes` (from [`encode`]) as `dir/snapshot`, durably and atomically.
pub fn write(dir: &Path, bytes: &[u8]) -> Result<(), JournalError> {
    let tmp = dir.join(SNAPSHOT_TMP);
    let mut f = File::create(&tmp).map_err(JournalError::io(&tmp))?;
    f.write_all(bytes).map_err(JournalError::io(&tmp))?;
    f.sync_all().map_err(JournalError::io(&tmp))?;
    drop(f);
    let path = dir.join(SNAPSHOT);
    fs::rename(&tmp, &path).map_err(JournalError::io(&path))?;
    sync_dir(dir)
}

/// Reads `dir/snapshot`, if there is one.
pub fn read(dir: &Path) -> Result<Option<Snapshot>, JournalError> {
    let path = dir.join(SNAPSHOT);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(JournalError::io(&path)(e)),
    };
    let bad = |message: &str| JournalError::BadFile {
        path: path.clone(),
        message: message.to_string(),
    };
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| bad("not an anonmap snapshot (bad magic line)"))?;
    if rest.len() < 16 {
        return Err(bad("truncated"));
    }
    let (len, rest) = rest.split_at(8);
    let len = u64::from_le_bytes(len.try_into().expect("8 bytes"));
    if len != rest.len() as u64 - 8 {
        return Err(bad("truncated or extended: the body length does not match"));
    }
    let (body, sum) = rest.split_at(rest.len() - 8);
    if fnv1a(body) != u64::from_le_bytes(sum.try_into().expect("8 bytes")) {
        return Err(bad("checksum mismatch: the file is damaged"));
    }
    let snapshot: Snapshot =
        postcard::from_bytes(body).map_err(|e| bad(&format!("cannot decode the machine: {e}")))?;
    Ok(Some(snapshot))
}
