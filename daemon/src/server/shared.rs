//! The machine shared by the socket's connections and the FUSE threads: one `RwLock` around the
//! simulator and its journal appender. Calls take the write lock (apply, then append to the
//! journal, so the journal's order is the order of application); views take the read lock and
//! are formatted after it is released. No lock is held across an `.await`.
//!
//! The socket's connections wait for durability before replying (asynchronously); the FUSE
//! threads, which apply the call a write to `<pid>/clear_refs` or `<pid>/oom_score_adj` makes,
//! wait on this machine's own copy of the journal's durable number, blocking
//! ([`SharedMachine::apply_durably`]).

use std::future::Future;
use std::path::Path;
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::task::{Poll, Wake, Waker};

use anonmap_abi::{err, Call, Error, OomScoreAdjArgs, Outcome, SpawnArgs};
use anonmap_lang::script::record;
use anonmap_lang::verb;
use anonmap_mm::Machine;
use anonmap_proc::tree::{self, Node, ProcFile};
use anonmap_proc::TreeError;

use super::MAX_READ;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::journal::{Appender, Journal, JournalError, JournalOptions, Recovered};

/// The machine and its journal, guarded together.
#[derive(Debug)]
pub struct State {
    pub machine: Machine,
    /// `None` when the daemon runs `--ephemeral`.
    pub journal: Option<Appender>,
}

/// See the module doc.
#[derive(Debug)]
pub struct SharedMachine {
    state: RwLock<State>,
    /// The journal's last durable sequence number; unset without a journal. Invariant: set
    /// exactly when `state.journal` is `Some`.
    durable: OnceLock<watch::Receiver<u64>>,
}

/// A call that was applied: its result, and the journal sequence number that must be durable
/// before its reply is sent (`None` without a journal).
#[derive(Debug)]
pub struct Applied {
    pub result: Result<Outcome, Error>,
    pub seq: Option<u64>,
}

impl SharedMachine {
    /// `machine` behind the lock, without a journal (`--ephemeral`, tests).
    pub fn new(machine: Machine) -> SharedMachine {
        SharedMachine {
            state: RwLock::new(State {
                machine,
                journal: None,
            }),
            durable: OnceLock::new(),
        }
    }

    /// The recovered machine of state directory `dir` behind the lock, with its journal
    /// started on it (snapshots are taken under the lock's read side); a journal failure
    /// cancels `failed`.
    pub fn with_journal(
        dir: &Path,
        recovered: Recovered,
        options: JournalOptions,
        failed: CancellationToken,
    ) -> Result<(Arc<SharedMachine>, Journal), JournalError> {
        let Recovered {
            machine,
            sizes,
            gen,
            valid_len,
            ..
        } = recovered;
        let shared = Arc::new(SharedMachine::new(machine));
        let for_snapshots = Arc::clone(&shared);
        let (journal, appender) = Journal::start(
            dir,
            gen,
            valid_len,
            sizes,
            options,
            Arc::new(move |f| f(&for_snapshots.read().machine)),
            failed,
        )?;
        {
            let mut state = shared.write();
            state.journal = Some(appender);
            let _ = shared.durable.set(journal.durable());
        }
        Ok((shared, journal))
    }

    /// The read lock. A poisoned lock means a call panicked half-way: the daemon aborts on
    /// panics (see the binary), so this never returns a half-changed machine.
    pub fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().expect("machine lock poisoned")
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().expect("machine lock poisoned")
    }

    /// Checks that `uid` may make `call`, applies it under the write lock and journals it. The
    /// `Err` is a refusal before the machine was touched (nothing journaled); an [`Applied`]
    /// result is the machine's, journaled either way (some failing calls change state first).
    ///
    /// The rules: a `spawn` records its owner (the peer, or with `uid=` another uid, which
    /// only root may give); a call on a process may be made by its owner or by root; an
    /// `oom_score_adj` by anyone but root is `unprivileged`.
    pub fn apply(&self, uid: u32, call: Call) -> Result<Applied, Error> {
        let call = match call {
            Call::Spawn(args) => Call::Spawn(SpawnArgs {
                uid: Some(spawn_owner(uid, args.uid)?),
                ..args
            }),
            // Only root has CAP_SYS_RESOURCE, which moves the floor of oom_score_adj.
            Call::OomScoreAdj(args) if uid != 0 => Call::OomScoreAdj(OomScoreAdjArgs {
                unprivileged: true,
                ..args
            }),
            call => call,
        };
        let mut state = self.write();
        if uid != 0 {
            if let Some(pid) = call.pid() {
                if let Some(owner) = state.machine.owner(pid) {
                    if owner != uid {
                        return Err(err!(
                            EACCES,
                            "{}: process {pid} belongs to uid {owner}; only that uid or root \
                             may change it (you are uid {uid})",
                            verb(&call)
                        ));
                    }
                }
            }
        }
        let result = state.machine.apply(&call);
        let seq = state.journal.as_mut().map(|j| {
            j.append(record(
                &call,
                result.as_ref().map(|_| ()).map_err(|e| e.errno),
            ))
        });
        Ok(Applied { result, seq })
    }

    /// [`SharedMachine::apply`], then waits, blocking this thread, until the call's journal
    /// record is durable, as the socket holds a reply until then: the call's result, or the
    /// refusal, or EIO if the journal stopped before the record was durable (the daemon is
    /// stopping or its journal failed). For threads outside the tokio runtime (FUSE's).
    pub fn apply_durably(&self, uid: u32, call: Call) -> Result<Outcome, Error> {
        let Applied { result, seq } = self.apply(uid, call)?;
        if let (Some(seq), Some(durable)) = (seq, self.durable.get()) {
            let mut durable = durable.clone();
            block_on(durable.wait_for(|d| *d >= seq)).map_err(|_| {
                err!(
                    EIO,
                    "the journal stopped before the call was durable (journal record {seq})"
                )
            })?;
        }
        result
    }

    /// The body of `read path=P [offset=O] [len=L]`, through the tree's lookup and render,
    /// so that it equals what the mount shows. A directory reads as its entry names, one per
    /// line.
    pub fn read_tree(
        &self,
        path: &str,
        offset: Option<u64>,
        len: Option<u64>,
    ) -> Result<Vec<u8>, Error> {
        if let Some(len) = len.filter(|l| *l > MAX_READ) {
            return Err(err!(
                EINVAL,
                "read {path}: len={len} is more than one read returns ({MAX_READ})"
            ));
        }
        let node = tree::lookup(self, path)?;
        if let Node::ProcFile(pid, ProcFile::Pagemap) = node {
            let Some(len) = len else {
                return Err(TreeError::PagemapNeedsRange.into());
            };
            return Ok(tree::read_pagemap(
                self,
                pid,
                offset.unwrap_or(0),
                len as u32,
            )?);
        }
        let body = if node.is_dir() {
            let mut out = Vec::new();
            for (name, _) in tree::list_dir(self, node)? {
                out.extend_from_slice(name.as_bytes());
                out.push(b'\n');
            }
            out
        } else {
            tree::render(self, node)?
        };
        let start = offset.unwrap_or(0).min(body.len() as u64) as usize;
        let end = match len {
            Some(l) => (start as u64).saturating_add(l).min(body.len() as u64) as usize,
            None => body.len(),
        };
        Ok(if start == 0 && end == body.len() {
            body
        } else {
            body[start..end].to_vec()
        })
    }
}

/// Runs `future` to completion on this thread, parking it while the future is pending. tokio's
/// sync primitives (the journal's `watch`) need no runtime, so the FUSE threads wait this way.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        // A wake between the poll and the park leaves the token set: park returns at once.
        std::thread::park();
    }
}

/// The owner a `spawn` by `uid` records: `uid=` if given (only root may name another uid),
/// else the caller.
fn spawn_owner(uid: u32, asked: Option<u32>) -> Result<u32, Error> {
    match asked {
        Some(o) if o != uid && uid != 0 => Err(err!(
            EACCES,
            "spawn uid={o}: only root may spawn a process for another uid (you are uid {uid})"
        )),
        Some(o) => Ok(o),
        None => Ok(uid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{self, JournalOptions};
    use crate::server::Peer;
    use anonmap_abi::{ClearRefsArgs, Errno};
    use anonmap_mm::MachineConfig;
    use anonmap_proc::Source;

    #[test]
    fn block_on_waits_for_a_watch_another_thread_advances() {
        let (tx, mut rx) = watch::channel(0u64);
        let writer = std::thread::spawn(move || {
            for i in 1..=5 {
                tx.send_replace(i);
                std::thread::yield_now();
            }
        });
        assert_eq!(*block_on(rx.wait_for(|v| *v >= 5)).unwrap(), 5);
        writer.join().unwrap();
        assert!(
            block_on(rx.wait_for(|v| *v >= 6)).is_err(),
            "the sender is gone"
        );
    }

    #[test]
    fn a_tree_write_is_a_durable_journaled_call_of_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let sizes = MachineConfig::with_ram(64 << 20);
        let recovered = journal::recover(dir.path(), sizes).unwrap();
        let (shared, journal) = SharedMachine::with_journal(
            dir.path(),
            recovered,
            JournalOptions::default(),
            CancellationToken::new(),
        )
        .unwrap();
        let mut root = Peer::new(0);
        let reply = shared.execute(&mut root, b"spawn pid=1 uid=1000").unwrap();
        assert!(reply.bytes.starts_with(b"ok"), "{:?}", reply.bytes);
        assert_eq!(Source::owner(&*shared, 1), Some(1000));
        assert_eq!(Source::owner(&*shared, 2), None);

        let clear = |pid, value| Call::ClearRefs(ClearRefsArgs { pid, value });
        assert_eq!(Source::apply_as(&*shared, 1000, clear(1, 1)), Ok(()));
        assert_eq!(Source::apply_as(&*shared, 0, clear(1, 5)), Ok(()));
        let refused = Source::apply_as(&*shared, 65534, clear(1, 1)).unwrap_err();
        assert_eq!(refused.errno, Errno::EACCES);
        let gone = Source::apply_as(&*shared, 0, clear(9, 1)).unwrap_err();
        assert_eq!(gone.errno, Errno::ESRCH);
        // Each applied call was durable when apply_as returned.
        let durable = *shared.durable.get().unwrap().borrow();
        assert_eq!(durable, 4, "spawn, two clear_refs and the failed one");

        journal.stop().unwrap();
        let mut text = String::new();
        for gen in journal::journal_generations(dir.path()).unwrap() {
            text += &std::fs::read_to_string(journal::journal_path(dir.path(), gen)).unwrap();
        }
        for line in [
            "clear_refs pid=1 value=1\n",
            "clear_refs pid=1 value=5\n",
            "#! err ESRCH\nclear_refs pid=9 value=1\n",
        ] {
            assert!(text.contains(line), "{line:?} not in the journal:\n{text}");
        }
        assert_eq!(
            text.matches("clear_refs").count(),
            3,
            "the refusal is not journaled"
        );
    }

    #[test]
    fn without_a_journal_a_write_applies_at_once() {
        let shared =
            SharedMachine::new(anonmap_mm::Machine::new(MachineConfig::with_ram(64 << 20)));
        let mut root = Peer::new(0);
        assert!(shared
            .execute(&mut root, b"spawn pid=3")
            .unwrap()
            .bytes
            .starts_with(b"ok"));
        let call = Call::ClearRefs(ClearRefsArgs { pid: 3, value: 1 });
        assert_eq!(Source::apply_as(&shared, 0, call), Ok(()));
    }
}
