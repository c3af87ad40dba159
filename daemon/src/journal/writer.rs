//! The journal thread: appends records in the order the ops were applied, makes each batch
//! durable with one fdatasync (group commit), announces the last durable sequence number, and
//! takes the periodic snapshots.
//!
//! Ops are applied and handed to the [`Appender`] under the machine's write lock, so the
//! journal's order is the order of application. The thread takes every record queued since its
//! last sync, writes them with one `write`, calls `fdatasync` once, then publishes the last
//! sequence number on a `watch` channel: connections hold each reply until its op's number is
//! durable. While one sync runs, the next batch gathers.
//!
//! A snapshot (every `snapshot_every_ops` ops, or `snapshot_every` after the first op since the
//! last one) is taken under the machine's read lock, after draining the queue into the current
//! journal, so it holds exactly the ops of the journals up to the current generation. The
//! thread then starts the next generation's file (fsync, directory fsync) and hands the
//! snapshot to a helper thread that writes it (temp file, fsync, rename, directory fsync) and
//! only then removes the older journals: at every instant the directory holds a snapshot plus
//! every journal after it. Appends continue meanwhile.
//!
//! If a write or sync fails, the thread reports it on `failed` and stops without publishing:
//! replies waiting for durability are never sent, and the connections close.

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::snapshot::{self, SnapshotRef};
use super::{header_line, journal_generations, journal_path, sync_dir, JournalError};
use anonmap_mm::{Machine, MachineConfig};

/// When to take snapshots.
#[derive(Debug, Clone, Copy)]
pub struct JournalOptions {
    /// Take a snapshot after this many journaled ops.
    pub snapshot_every_ops: u64,
    /// Take a snapshot this long after the last one if any op was journaled since.
    pub snapshot_every: Duration,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            snapshot_every_ops: 100_000,
            snapshot_every: Duration::from_secs(300),
        }
    }
}

/// Calls its argument with the machine under the machine's read lock.
pub type WithMachine = Arc<dyn Fn(&mut dyn FnMut(&Machine)) + Send + Sync>;

enum Msg {
    Record { seq: u64, text: String },
    Stop,
}

/// The append side, kept with the machine under its write lock: `append` is called right after
/// `Machine::apply`, so sequence numbers follow the order of application.
#[derive(Debug)]
pub struct Appender {
    tx: Sender<Msg>,
    next_seq: u64,
}

impl Appender {
    /// Queues `text` (from [`super::record_text`]) and returns its sequence number; the reply
    /// waits until [`Journal::durable`] reaches it.
    pub fn append(&mut self, text: String) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        // A send fails only once the thread has stopped on an error: the record is then never
        // made durable and its reply never sent.
        let _ = self.tx.send(Msg::Record { seq, text });
        seq
    }
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Record { seq, .. } => write!(f, "Record({seq})"),
            Msg::Stop => f.write_str("Stop"),
        }
    }
}

/// The running journal thread.
#[derive(Debug)]
pub struct Journal {
    tx: Sender<Msg>,
    durable: watch::Receiver<u64>,
    thread: JoinHandle<Result<(), JournalError>>,
}

impl Journal {
    /// Opens journal generation `gen` in `dir` for appending (cut to `valid_len`, or created
    /// with its header if it does not exist) and starts the thread.
    pub fn start(
        dir: &Path,
        gen: u64,
        valid_len: Option<u64>,
        sizes: MachineConfig,
        options: JournalOptions,
        with_machine: WithMachine,
        failed: CancellationToken,
    ) -> Result<(Journal, Appender), JournalError> {
        let file = open_journal(dir, gen, valid_len, sizes)?;
        let (tx, rx) = mpsc::channel();
        let (durable_tx, durable) = watch::channel(0);
        let mut thread = Thread {
            dir: dir.to_path_buf(),
            gen,
            sizes,
            file,
            rx,
            durable: durable_tx,
            options,
            with_machine,
            buf: Vec::with_capacity(1 << 16),
            last_seq: 0,
            ops_since_snapshot: 0,
            last_snapshot: Instant::now(),
            stop: false,
            snapshot_thread: None,
        };
        let thread = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || {
                let result = thread.run();
                if let Err(e) = &result {
                    tracing::error!("journal failed, no more ops can be acknowledged: {e}");
                    failed.cancel();
                }
                result
            })
            .map_err(JournalError::io(dir))?;
        Ok((
            Journal {
                tx: tx.clone(),
                durable,
                thread,
            },
            Appender { tx, next_seq: 1 },
        ))
    }

    /// The last durable sequence number, as it advances.
    pub fn durable(&self) -> watch::Receiver<u64> {
        self.durable.clone()
    }

    /// Makes everything queued durable, waits for a snapshot being written, and stops.
    pub fn stop(self) -> Result<(), JournalError> {
        let _ = self.tx.send(Msg::Stop);
        self.thread
            .join()
            .expect("the journal thread does not panic")
    }
}

/// Opens journal `gen` for appending: an existing one cut to `valid_len` (what recovery
/// replayed), or, with `None`, a new one, created with its header.
fn open_journal(
    dir: &Path,
    gen: u64,
    valid_len: Option<u64>,
    sizes: MachineConfig,
) -> Result<File, JournalError> {
    let path = journal_path(dir, gen);
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .truncate(false)
        .open(&path)
        .map_err(JournalError::io(&path))?;
    let len = file.metadata().map_err(JournalError::io(&path))?.len();
    let keep = match valid_len {
        Some(valid) => valid.min(len),
        None if len == 0 => 0,
        None => {
            return Err(JournalError::BadFile {
                path,
                message: "a journal that should be new already has records; refusing to \
                          overwrite it"
                    .into(),
            })
        }
    };
    if keep < len {
        file.set_len(keep).map_err(JournalError::io(&path))?;
    }
    file.seek(SeekFrom::Start(keep))
        .map_err(JournalError::io(&path))?;
    if keep == 0 {
        file.write_all(header_line(gen, sizes).as_bytes())
            .map_err(JournalError::io(&path))?;
    }
    file.sync_all().map_err(JournalError::io(&path))?;
    sync_dir(dir)?;
    Ok(file)
}

struct Thread {
    dir: PathBuf,
    gen: u64,
    sizes: MachineConfig,
    file: File,
    rx: Receiver<Msg>,
    durable: watch::Sender<u64>,
    options: JournalOptions,
    with_machine: WithMachine,
    /// Records taken from the queue and not yet written.
    buf: Vec<u8>,
    /// The sequence number of the last record in `buf` or written.
    last_seq: u64,
    ops_since_snapshot: u64,
    last_snapshot: Instant,
    stop: bool,
    snapshot_thread: Option<JoinHandle<Result<(), JournalError>>>,
}

impl Thread {
    fn run(&mut self) -> Result<(), JournalError> {
        loop {
            let wait = if self.ops_since_snapshot > 0 {
                self.options
                    .snapshot_every
                    .saturating_sub(self.last_snapshot.elapsed())
            } else {
                Duration::from_secs(3600)
            };
            match self.rx.recv_timeout(wait) {
                Ok(msg) => {
                    self.take(msg);
                    while let Ok(msg) = self.rx.try_recv() {
                        self.take(msg);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => self.stop = true,
            }
            self.commit()?;
            let due = self.ops_since_snapshot >= self.options.snapshot_every_ops
                || (self.ops_since_snapshot > 0
                    && self.last_snapshot.elapsed() >= self.options.snapshot_every);
            if due {
                self.snapshot()?;
            }
            if self.stop {
                break;
            }
        }
        if let Some(t) = self.snapshot_thread.take() {
            t.join().expect("the snapshot thread does not panic")?;
        }
        Ok(())
    }

    fn take(&mut self, msg: Msg) {
        match msg {
            Msg::Record { seq, text } => {
                debug_assert_eq!(seq, self.last_seq + 1, "records arrive in order");
                self.buf.extend_from_slice(text.as_bytes());
                self.last_seq = seq;
                self.ops_since_snapshot += 1;
            }
            Msg::Stop => self.stop = true,
        }
    }

    /// Writes the gathered records, syncs once, and publishes the last durable number.
    fn commit(&mut self) -> Result<(), JournalError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let path = journal_path(&self.dir, self.gen);
        self.file
            .write_all(&self.buf)
            .map_err(JournalError::io(&path))?;
        self.file.sync_data().map_err(JournalError::io(&path))?;
        self.buf.clear();
        self.durable.send_replace(self.last_seq);
        Ok(())
    }

    /// Takes a snapshot and rotates to the next generation (see the module doc).
    fn snapshot(&mut self) -> Result<(), JournalError> {
        if let Some(t) = self.snapshot_thread.take() {
            if !t.is_finished() {
                self.snapshot_thread = Some(t);
                return Ok(()); // the previous one is still being written
            }
            if let Err(e) = t.join().expect("the snapshot thread does not panic") {
                tracing::error!("snapshot failed (the journals are kept): {e}");
            }
        }
        let next_gen = self.gen + 1;
        let locked = Instant::now();
        let mut bytes = Vec::new();
        let with_machine = Arc::clone(&self.with_machine);
        with_machine(&mut |machine| {
            // No op can be applied while the read lock is held: after this drain the journal
            // holds exactly the ops the machine has seen.
            while let Ok(msg) = self.rx.try_recv() {
                self.take(msg);
            }
            bytes = snapshot::encode(&SnapshotRef {
                next_gen,
                sizes: self.sizes,
                machine,
            });
        });
        let lock_ms = locked.elapsed().as_millis() as u64;
        self.commit()?;
        self.file = open_journal(&self.dir, next_gen, None, self.sizes)?;
        self.gen = next_gen;
        let ops = self.ops_since_snapshot;
        self.ops_since_snapshot = 0;
        self.last_snapshot = Instant::now();
        let dir = self.dir.clone();
        self.snapshot_thread = Some(
            std::thread::Builder::new()
                .name("snapshot".into())
                .spawn(move || write_snapshot(&dir, &bytes, next_gen, ops, lock_ms))
                .map_err(JournalError::io(&self.dir))?,
        );
        Ok(())
    }
}

/// Writes a snapshot, then removes the journals it holds.
fn write_snapshot(
    dir: &Path,
    bytes: &[u8],
    next_gen: u64,
    ops: u64,
    lock_ms: u64,
) -> Result<(), JournalError> {
    let started = Instant::now();
    snapshot::write(dir, bytes)?;
    for gen in journal_generations(dir)? {
        if gen < next_gen {
            let path = journal_path(dir, gen);
            fs::remove_file(&path).map_err(JournalError::io(&path))?;
        }
    }
    sync_dir(dir)?;
    tracing::info!(
        bytes = bytes.len(),
        ops_since_last = ops,
        generation = next_gen,
        encode_ms_under_read_lock = lock_ms,
        write_ms = started.elapsed().as_millis() as u64,
        "snapshot written, journal truncated"
    );
    Ok(())
}
