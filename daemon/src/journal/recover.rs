//! Recovery at start: the snapshot, then every later journal generation replayed in order
//! through `Machine::apply`, each op expected to give the result it gave when it was journaled.
//!
//! A torn last line of the last journal (no trailing newline: the write was cut by a crash) is
//! dropped with a warning, together with an `#! err` line that announced it; the writer
//! truncates it away before appending. Any other damage stops the start with an error naming
//! the file and the line: an unparsable complete line, a line the journal never writes (a
//! label, a `read`), an op whose replay does not meet its record (`anonmap_lang::script::check`:
//! ok, or the recorded errno), a torn line in a journal that is not the last, a gap in the
//! generations.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{
    journal_generations, journal_path, parse_header, snapshot, JournalError, SNAPSHOT_TMP,
};
use anonmap_abi::Errno;
use anonmap_lang::script::{check, directive};
use anonmap_lang::{parse_line, Command, Labels};
use anonmap_mm::{Machine, MachineConfig};

/// The state a directory held, rebuilt.
#[derive(Debug)]
pub struct Recovered {
    pub machine: Machine,
    /// The sizes stored with the state (those asked for, for a new state directory).
    pub sizes: MachineConfig,
    /// The generation to append to.
    pub gen: u64,
    /// The length of journal `gen` without a dropped torn tail (`None`: the file does not
    /// exist yet).
    pub valid_len: Option<u64>,
    /// Ops replayed from the journals (after the snapshot).
    pub ops_replayed: u64,
    /// Whether a snapshot was loaded.
    pub from_snapshot: bool,
    /// Whether a torn last line was dropped.
    pub torn_dropped: bool,
    /// How long recovery took.
    pub elapsed: Duration,
}

/// Rebuilds the machine kept in `dir` (created if missing). `sizes` are used only for a new,
/// empty state directory; a stored state keeps its own.
pub fn recover(dir: &Path, sizes: MachineConfig) -> Result<Recovered, JournalError> {
    let started = Instant::now();
    fs::create_dir_all(dir).map_err(JournalError::io(dir))?;
    let tmp = dir.join(SNAPSHOT_TMP);
    if tmp.exists() {
        fs::remove_file(&tmp).map_err(JournalError::io(&tmp))?;
    }
    let snap = snapshot::read(dir)?;
    let from_snapshot = snap.is_some();
    let gens: Vec<u64> = journal_generations(dir)?;
    let (mut machine, sizes, next_gen) = match snap {
        Some(s) => (s.machine, s.sizes, s.next_gen),
        None => {
            let first = gens.first().copied().unwrap_or(0);
            if first != 0 {
                return Err(JournalError::BadFile {
                    path: journal_path(dir, first),
                    message: format!(
                        "there is no snapshot, yet the journal starts at generation {first}: \
                         the snapshot holding the generations below it is missing"
                    ),
                });
            }
            let stored = match gens.first() {
                Some(&g) => read_header_sizes(&journal_path(dir, g))?,
                None => None,
            };
            let sizes = stored.unwrap_or(sizes);
            (Machine::new(sizes), sizes, 0)
        }
    };
    // Generations below the snapshot's are already in it: leftovers of an interrupted cleanup.
    let live: Vec<u64> = gens.iter().copied().filter(|g| *g >= next_gen).collect();
    for (i, &g) in live.iter().enumerate() {
        if g != next_gen + i as u64 {
            return Err(JournalError::BadFile {
                path: journal_path(dir, g),
                message: format!(
                    "journal generation {} is missing (the snapshot holds up to generation {})",
                    next_gen + i as u64,
                    next_gen as i64 - 1
                ),
            });
        }
    }
    let mut ops_replayed = 0;
    let mut torn_dropped = false;
    let mut valid_len = None;
    for (i, &g) in live.iter().enumerate() {
        let last = i + 1 == live.len();
        let file = replay_file(&journal_path(dir, g), g, &mut machine, last)?;
        ops_replayed += file.ops;
        torn_dropped |= file.torn;
        valid_len = Some(file.valid_len);
    }
    if ops_replayed > 0 || from_snapshot {
        machine
            .check_invariants()
            .map_err(|e| JournalError::BadFile {
                path: dir.to_path_buf(),
                message: format!("the recovered machine breaks an invariant: {e}"),
            })?;
    }
    Ok(Recovered {
        machine,
        sizes,
        gen: live.last().copied().unwrap_or(next_gen),
        valid_len,
        ops_replayed,
        from_snapshot,
        torn_dropped,
        elapsed: started.elapsed(),
    })
}

/// The sizes in the header of journal `path`, if it has a whole header line.
fn read_header_sizes(path: &Path) -> Result<Option<MachineConfig>, JournalError> {
    let bytes = fs::read(path).map_err(JournalError::io(path))?;
    let Some(end) = bytes.iter().position(|&b| b == b'\n') else {
        return Ok(None);
    };
    let line = std::str::from_utf8(&bytes[..end]).unwrap_or("");
    match parse_header(line) {
        Some((_, sizes)) => Ok(Some(sizes)),
        None => Err(damaged(path, 1, "missing or bad journal header line")),
    }
}

fn damaged(path: &Path, line: usize, message: impl Into<String>) -> JournalError {
    JournalError::Damaged {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

/// What replaying one journal file did.
struct FileReplay {
    ops: u64,
    torn: bool,
    /// The bytes to keep: everything but a dropped torn tail.
    valid_len: u64,
}

/// Replays journal `path` (generation `gen`) into `machine`. Only the `last` journal may end
/// in a torn line.
fn replay_file(
    path: &Path,
    gen: u64,
    machine: &mut Machine,
    last: bool,
) -> Result<FileReplay, JournalError> {
    let bytes = fs::read(path).map_err(JournalError::io(path))?;
    let mut ops = 0;
    let mut pos = 0usize;
    let mut line_no = 0usize;
    // An `#! err` line waiting for its op: (its start offset, its line number, the errno).
    let mut pending: Option<(usize, usize, Errno)> = None;
    while pos < bytes.len() {
        line_no += 1;
        let Some(len) = bytes[pos..].iter().position(|&b| b == b'\n') else {
            if !last {
                return Err(damaged(
                    path,
                    line_no,
                    "torn line (no newline) in a journal that is not the last one",
                ));
            }
            tracing::warn!(
                file = %path.display(),
                line = line_no,
                "dropping the torn last line of the journal (cut by a crash; never acknowledged)"
            );
            let keep = pending.map_or(pos, |(start, _, _)| start);
            return Ok(FileReplay {
                ops,
                torn: true,
                valid_len: keep as u64,
            });
        };
        let raw = &bytes[pos..pos + len];
        let start = pos;
        pos += len + 1;
        let line = std::str::from_utf8(raw)
            .map_err(|e| damaged(path, line_no, format!("not valid UTF-8: {e}")))?;
        if line_no == 1 {
            match parse_header(line) {
                Some((g, _)) if g == gen => continue,
                Some((g, _)) => {
                    return Err(damaged(
                        path,
                        1,
                        format!("the header says generation {g}, the file name {gen}"),
                    ))
                }
                None => return Err(damaged(path, 1, "missing or bad journal header line")),
            }
        }
        if let Some(errno) = directive(line) {
            if pending.is_some() {
                return Err(damaged(path, line_no, "two `#! err` lines in a row"));
            }
            let errno = errno.map_err(|message| damaged(path, line_no, message))?;
            pending = Some((start, line_no, errno));
            continue;
        }
        // The journal writes calls only, resolved and without labels.
        let call = match parse_line(line, &Labels::new()) {
            Ok(Some(Command::Call { call, bind: None })) => call,
            Ok(Some(_)) => {
                return Err(damaged(
                    path,
                    line_no,
                    format!("{line:?} is not a line the journal writes (a read, or a label)"),
                ))
            }
            Ok(None) => continue,
            Err(e) => {
                return Err(damaged(
                    path,
                    line_no,
                    format!("cannot parse {line:?}: {e}"),
                ))
            }
        };
        let expected = pending.take().map(|(_, _, errno)| errno);
        let got = machine.apply(&call);
        if check(expected, &got).is_err() {
            let show = |r: Result<(), Errno>| match r {
                Ok(()) => "ok".to_string(),
                Err(e) => format!("err {e}"),
            };
            return Err(damaged(
                path,
                line_no,
                format!(
                    "replaying {line:?} gave {}, but the journal recorded {}",
                    show(got.map(|_| ()).map_err(|e| e.errno)),
                    show(expected.map_or(Ok(()), Err))
                ),
            ));
        }
        ops += 1;
    }
    if let Some((start, line, _)) = pending {
        if !last {
            return Err(damaged(path, line, "`#! err` line without its op"));
        }
        tracing::warn!(file = %path.display(), line, "dropping an `#! err` line whose op was never written");
        return Ok(FileReplay {
            ops,
            torn: true,
            valid_len: start as u64,
        });
    }
    Ok(FileReplay {
        ops,
        torn: false,
        valid_len: bytes.len() as u64,
    })
}

/// The path of the journal a recovered state appends to.
pub fn current_journal(dir: &Path, recovered: &Recovered) -> PathBuf {
    journal_path(dir, recovered.gen)
}
