//! The machine shared by the socket's connections and the FUSE threads: one `RwLock` around the
//! simulator and its journal appender. Calls take the write lock (apply, then append to the
//! journal, so the journal's order is the order of application); views take the read lock and
//! are formatted after it is released. No lock is held across an `.await`.

use std::path::Path;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use anonmap_abi::{err, Call, Error, Outcome, SpawnArgs};
use anonmap_lang::script::record;
use anonmap_lang::verb;
use anonmap_mm::Machine;
use anonmap_proc::tree::{self, Node, ProcFile};
use anonmap_proc::TreeError;

use super::MAX_READ;
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
        shared.write().journal = Some(appender);
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
    /// only root may give); a call on a process may be made by its owner or by root.
    pub fn apply(&self, uid: u32, call: Call) -> Result<Applied, Error> {
        let call = match call {
            Call::Spawn(args) => Call::Spawn(SpawnArgs {
                uid: Some(spawn_owner(uid, args.uid)?),
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
