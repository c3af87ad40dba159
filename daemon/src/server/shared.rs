//! The machine shared by the socket's connections and the FUSE threads: one `RwLock` around the
//! simulator and its journal appender. Ops take the write lock (apply, then append to the
//! journal, so the journal's order is the order of application); views take the read lock and
//! are formatted after it is released. No lock is held across an `.await`.
//!
//! [`SharedMachine::execute`] runs one request line for a [`Session`] (a connection's labels
//! and peer uid) and returns its reply, with the journal sequence number the reply must wait
//! for.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use anonmap_fusefs::tree::{self, Node, ProcFile, TreeError};

use super::MAX_READ;
use crate::command::{parse_request, Labels, Op, Request};
use crate::errno::Error;
use crate::journal::{record_text, Appender};
use crate::mm::{Machine, Outcome};

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

/// What one connection carries between its lines.
#[derive(Debug)]
pub struct Session {
    /// The `as=` bindings made on this connection.
    pub labels: Labels,
    /// The peer's uid (SO_PEERCRED): the owner of what it spawns; 0 may change anything.
    pub uid: u32,
}

impl Session {
    pub fn new(uid: u32) -> Session {
        Session {
            labels: Labels::new(),
            uid,
        }
    }
}

/// The reply to one request line.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    /// The reply line with its newline, followed by the body for `read`.
    pub bytes: Vec<u8>,
    /// The journal sequence number that must be durable before the reply is sent.
    pub seq: Option<u64>,
}

impl Response {
    pub fn err(errno: &str, message: &str) -> Response {
        let message = message.replace(['\n', '\r'], " ");
        Response {
            bytes: format!("err {errno} {message}\n").into_bytes(),
            seq: None,
        }
    }

    fn error(e: &Error) -> Response {
        Response::err(e.errno.name(), &e.message)
    }
}

/// Why a `read` failed: the errno name the reply prints and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub errno: &'static str,
    pub message: String,
}

impl From<TreeError> for ReadError {
    fn from(e: TreeError) -> ReadError {
        ReadError {
            errno: e.errno_name(),
            message: e.to_string(),
        }
    }
}

/// The pid an op acts on (whose owner must be the peer), if any.
pub fn target_pid(op: &Op<u64>) -> Option<u32> {
    match op {
        Op::Spawn { .. } | Op::File { .. } | Op::Read { .. } => None,
        Op::Exit { pid }
        | Op::Fork { pid, .. }
        | Op::Mmap { pid, .. }
        | Op::Munmap { pid, .. }
        // Reclaim also unmaps pages that other processes share, as memory pressure does; the
        // caller must own the process whose range it names.
        | Op::Reclaim { pid, .. }
        | Op::Mprotect { pid, .. }
        | Op::Mremap { pid, .. }
        | Op::Madvise { pid, .. }
        | Op::Brk { pid, .. }
        | Op::Name { pid, .. }
        | Op::Touch { pid, .. } => Some(*pid),
    }
}

/// The op as the journal writes it: without its `as=` label.
fn without_label(op: Op<u64>) -> Op<u64> {
    match op {
        Op::Mmap {
            pid,
            addr,
            len,
            prot,
            flags,
            file,
            offset,
            label: _,
        } => Op::Mmap {
            pid,
            addr,
            len,
            prot,
            flags,
            file,
            offset,
            label: None,
        },
        Op::Mremap {
            pid,
            addr,
            old_len,
            new_len,
            flags,
            new_addr,
            label: _,
        } => Op::Mremap {
            pid,
            addr,
            old_len,
            new_len,
            flags,
            new_addr,
            label: None,
        },
        op => op,
    }
}

impl SharedMachine {
    pub fn new(machine: Machine, journal: Option<Appender>) -> SharedMachine {
        SharedMachine {
            state: RwLock::new(State { machine, journal }),
        }
    }

    /// Attaches the journal: from now on every applied op is journaled.
    pub fn attach_journal(&self, appender: Appender) {
        self.write().journal = Some(appender);
    }

    /// The read lock. A poisoned lock means an op panicked half-way: the daemon aborts on
    /// panics (see the binary), so this never returns a half-changed machine.
    pub fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().expect("machine lock poisoned")
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().expect("machine lock poisoned")
    }

    /// Runs one request line; `None` for a blank or comment line (no reply).
    pub fn execute(&self, session: &mut Session, line: &[u8]) -> Option<Response> {
        let line = match std::str::from_utf8(line) {
            Ok(l) => l,
            Err(e) => {
                return Some(Response::err(
                    "EINVAL",
                    &format!(
                        "line is not valid UTF-8 (invalid byte at offset {})",
                        e.valid_up_to()
                    ),
                ))
            }
        };
        let request = match parse_request(line) {
            Ok(Some(r)) => r,
            Ok(None) => return None,
            Err(e) => return Some(Response::error(&e)),
        };
        Some(match request {
            Request::Read { path, offset, len } => match self.read_tree(&path, offset, len) {
                Ok(body) => {
                    let mut bytes = format!("ok bytes={}\n", body.len()).into_bytes();
                    bytes.extend_from_slice(&body);
                    Response { bytes, seq: None }
                }
                Err(e) => Response::err(e.errno, &e.message),
            },
            Request::Op(op) => {
                let label = op.binds_label().map(str::to_owned);
                let op = match op.resolve(&session.labels) {
                    Ok(op) => op,
                    Err(e) => return Some(Response::error(&e)),
                };
                let (result, seq) = match self.apply(session.uid, op) {
                    Ok(r) => r,
                    Err(e) => return Some(Response::error(&e)),
                };
                let text = match result {
                    Ok(Outcome::Done) => "ok\n".to_string(),
                    Ok(Outcome::Pid(pid)) => format!("ok pid={pid}\n"),
                    Ok(Outcome::Pages(n)) => format!("ok pages={n}\n"),
                    Ok(Outcome::Addr(addr)) => {
                        if let Some(label) = label {
                            session.labels.bind(label, addr);
                        }
                        format!("ok addr={addr:#x}\n")
                    }
                    Err(e) => {
                        return Some(Response {
                            seq,
                            ..Response::error(&e)
                        })
                    }
                };
                Response {
                    bytes: text.into_bytes(),
                    seq,
                }
            }
        })
    }

    /// Checks that `uid` may run `op`, applies it under the write lock and journals it. The
    /// outer error is a refusal before the machine was touched (nothing journaled); the inner
    /// result is the machine's, journaled either way (some failing ops change state first).
    pub fn apply(
        &self,
        uid: u32,
        op: Op<u64>,
    ) -> Result<(Result<Outcome, Error>, Option<u64>), Error> {
        let op = match op {
            Op::Spawn {
                pid,
                comm,
                uid: owner,
                start_brk,
                bare,
            } => {
                let owner = match owner {
                    Some(o) if o != uid && uid != 0 => {
                        return Err(crate::err!(
                            EACCES,
                            "spawn uid={o}: only root may spawn a process for another uid \
                             (you are uid {uid})"
                        ))
                    }
                    Some(o) => o,
                    None => uid,
                };
                Op::Spawn {
                    pid,
                    comm,
                    uid: Some(owner),
                    start_brk,
                    bare,
                }
            }
            op => without_label(op),
        };
        let line = op.to_string();
        let mut state = self.write();
        if uid != 0 {
            if let Some(pid) = target_pid(&op) {
                if let Some(owner) = state.machine.status_view(pid).map(|s| s.uid) {
                    if owner != uid {
                        return Err(crate::err!(
                            EACCES,
                            "{}: process {pid} belongs to uid {owner}; only that uid or root \
                             may change it (you are uid {uid})",
                            op.verb()
                        ));
                    }
                }
            }
        }
        let result = state.machine.apply(&op);
        let seq = state.journal.as_mut().map(|j| {
            let text = match &result {
                Ok(_) => format!("{line}\n"),
                Err(e) => record_text(&op, Err(e.errno)),
            };
            j.append(text)
        });
        Ok((result, seq))
    }

    /// The body of `read path=P [offset=O] [len=L]`, through the tree's lookup and render,
    /// so that it equals what the mount shows. A directory reads as its entry names, one per
    /// line.
    pub fn read_tree(
        &self,
        path: &str,
        offset: Option<u64>,
        len: Option<u64>,
    ) -> Result<Vec<u8>, ReadError> {
        if let Some(len) = len.filter(|l| *l > MAX_READ) {
            return Err(ReadError {
                errno: "EINVAL",
                message: format!(
                    "read {path}: len={len} is more than one read returns ({MAX_READ})"
                ),
            });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::recover::new_machine;
    use crate::journal::Sizes;
    use anonmap_fusefs::source::Source;

    fn machine() -> SharedMachine {
        SharedMachine::new(
            new_machine(Sizes {
                ram_bytes: 64 << 20,
                swap_bytes: 0,
            }),
            None,
        )
    }

    fn run(m: &SharedMachine, s: &mut Session, line: &str) -> String {
        let r = m.execute(s, line.as_bytes()).expect("a reply");
        assert_eq!(r.seq, None, "no journal here");
        String::from_utf8(r.bytes).unwrap()
    }

    #[test]
    fn owners_come_from_the_peer() {
        let m = machine();
        let mut user = Session::new(1000);
        let mut root = Session::new(0);
        assert_eq!(run(&m, &mut user, "spawn pid=5 bare"), "ok pid=5\n");
        assert_eq!(m.status(5).unwrap().uid, 1000);
        assert_eq!(run(&m, &mut user, "spawn pid=6 uid=1000"), "ok pid=6\n");
        assert!(run(&m, &mut user, "spawn pid=7 uid=0").starts_with("err EACCES spawn uid=0"));
        assert_eq!(run(&m, &mut root, "spawn pid=7 uid=42"), "ok pid=7\n");
        assert_eq!(m.status(7).unwrap().uid, 42);
        assert!(run(&m, &mut user, "exit pid=7").starts_with("err EACCES exit: process 7"));
        assert_eq!(run(&m, &mut user, "fork pid=5 child=8"), "ok pid=8\n");
        assert_eq!(
            m.status(8).unwrap().uid,
            1000,
            "a fork child keeps its owner"
        );
        assert_eq!(run(&m, &mut root, "exit pid=8"), "ok\n");
        // An unknown pid is the machine's ESRCH, not EACCES.
        assert!(run(&m, &mut user, "exit pid=99").starts_with("err ESRCH"));
    }

    #[test]
    fn lines_without_a_request_and_bad_bytes() {
        let m = machine();
        let mut s = Session::new(0);
        assert_eq!(m.execute(&mut s, b""), None);
        assert_eq!(m.execute(&mut s, b"   # note"), None);
        let r = String::from_utf8(m.execute(&mut s, b"spawn comm=\xc3").unwrap().bytes).unwrap();
        assert_eq!(
            r,
            "err EINVAL line is not valid UTF-8 (invalid byte at offset 11)\n"
        );
    }

    #[test]
    fn reads_by_range_and_directories() {
        let m = machine();
        let mut s = Session::new(0);
        run(&m, &mut s, "spawn pid=3 comm=abcdef");
        assert_eq!(run(&m, &mut s, "read path=3/comm"), "ok bytes=7\nabcdef\n");
        assert_eq!(
            run(&m, &mut s, "read path=3/comm offset=2 len=3"),
            "ok bytes=3\ncde"
        );
        assert_eq!(
            run(&m, &mut s, "read path=3/comm offset=100"),
            "ok bytes=0\n"
        );
        assert_eq!(
            run(&m, &mut s, "read path=/"),
            "ok bytes=21\n3\nrmap\nnames\nmeminfo\n"
        );
        assert!(run(&m, &mut s, "read path=3/pagemap").starts_with("err EINVAL pagemap is binary"));
        assert!(run(&m, &mut s, "read path=3/pagemap offset=0 len=1G").starts_with("err EINVAL"));
        assert_eq!(
            run(&m, &mut s, "read path=3/pagemap offset=0 len=16"),
            format!("ok bytes=16\n{}", "\0".repeat(16))
        );
        assert!(run(&m, &mut s, "read path=4/maps").starts_with("err ENOENT"));
        assert!(run(&m, &mut s, "read path=3/comm/x").starts_with("err ENOTDIR"));
    }
}
