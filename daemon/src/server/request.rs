//! One request line, from bytes to reply: UTF-8, parsing against the peer's labels, then a
//! `read` of the tree or a call applied to the shared machine, and the reply encoded.

use anonmap_abi::err;
use anonmap_lang::{Command, Reply, Session};

use super::shared::{Applied, SharedMachine};

/// What one connection carries between its lines.
#[derive(Debug)]
pub struct Peer {
    /// The `as=` bindings made on this connection.
    pub session: Session,
    /// The peer's uid (SO_PEERCRED): the owner of what it spawns; 0 may change anything.
    pub uid: u32,
}

impl Peer {
    pub fn new(uid: u32) -> Peer {
        Peer {
            session: Session::new(),
            uid,
        }
    }
}

/// The reply to one request line.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    /// The encoded reply: its line with the newline, followed by the body for `read`.
    pub bytes: Vec<u8>,
    /// The journal sequence number that must be durable before the reply is sent.
    pub seq: Option<u64>,
}

impl Response {
    pub fn new(reply: &Reply) -> Response {
        Response {
            bytes: reply.encode(),
            seq: None,
        }
    }
}

impl SharedMachine {
    /// Runs one request line for `peer`; `None` for a blank or comment line (no reply).
    pub fn execute(&self, peer: &mut Peer, line: &[u8]) -> Option<Response> {
        let line = match std::str::from_utf8(line) {
            Ok(l) => l,
            Err(e) => {
                return Some(Response::new(&Reply::Err(err!(
                    EINVAL,
                    "line is not valid UTF-8 (invalid byte at offset {})",
                    e.valid_up_to()
                ))))
            }
        };
        let command = match peer.session.parse(line) {
            Ok(Some(c)) => c,
            Ok(None) => return None,
            Err(e) => return Some(Response::new(&Reply::Err(e))),
        };
        Some(match command {
            Command::Read { path, offset, len } => {
                Response::new(&match self.read_tree(&path, offset, len) {
                    Ok(body) => Reply::Body(body),
                    Err(e) => Reply::Err(e),
                })
            }
            Command::Call { call, bind } => match self.apply(peer.uid, call) {
                Err(refused) => Response::new(&Reply::Err(refused)),
                Ok(Applied { result, seq }) => {
                    if let Ok(outcome) = &result {
                        peer.session.bind(bind.as_deref(), outcome);
                    }
                    Response {
                        bytes: Reply::of(result).encode(),
                        seq,
                    }
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anonmap_mm::{Machine, MachineConfig};
    use anonmap_proc::Source;

    fn machine() -> SharedMachine {
        SharedMachine::new(Machine::new(MachineConfig::with_ram(64 << 20)))
    }

    fn run(m: &SharedMachine, p: &mut Peer, line: &str) -> String {
        let r = m.execute(p, line.as_bytes()).expect("a reply");
        assert_eq!(r.seq, None, "no journal here");
        String::from_utf8(r.bytes).unwrap()
    }

    #[test]
    fn owners_come_from_the_peer() {
        let m = machine();
        let mut user = Peer::new(1000);
        let mut root = Peer::new(0);
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
    fn labels_bind_per_peer_on_success_only() {
        let m = machine();
        let mut a = Peer::new(0);
        let mut b = Peer::new(0);
        run(&m, &mut a, "spawn pid=1 bare");
        let ok = run(
            &m,
            &mut a,
            "mmap pid=1 len=4K prot=rw- flags=private,anonymous as=x",
        );
        let addr = ok.trim_end().strip_prefix("ok addr=").unwrap().to_string();
        assert_eq!(run(&m, &mut a, "munmap pid=1 addr=x len=4K"), "ok\n");
        assert!(run(&m, &mut b, "munmap pid=1 addr=x len=4K")
            .starts_with("err EINVAL munmap: addr=x: unknown label"));
        // A failed mmap binds nothing and leaves the old binding.
        assert!(run(
            &m,
            &mut a,
            "mmap pid=1 len=0 prot=rw- flags=private,anonymous as=x"
        )
        .starts_with("err EINVAL"));
        assert_eq!(
            a.session.labels().get("x").map(|v| format!("{v:#x}")),
            Some(addr)
        );
    }

    #[test]
    fn lines_without_a_request_and_bad_bytes() {
        let m = machine();
        let mut p = Peer::new(0);
        assert_eq!(m.execute(&mut p, b""), None);
        assert_eq!(m.execute(&mut p, b"   # note"), None);
        assert_eq!(m.execute(&mut p, b"#! err EINVAL"), None);
        let r = String::from_utf8(m.execute(&mut p, b"spawn comm=\xc3").unwrap().bytes).unwrap();
        assert_eq!(
            r,
            "err EINVAL line is not valid UTF-8 (invalid byte at offset 11)\n"
        );
    }

    #[test]
    fn reads_by_range_and_directories() {
        let m = machine();
        let mut p = Peer::new(0);
        run(&m, &mut p, "spawn pid=3 comm=abcdef");
        assert_eq!(run(&m, &mut p, "read path=3/comm"), "ok bytes=7\nabcdef\n");
        assert_eq!(
            run(&m, &mut p, "read path=3/comm offset=2 len=3"),
            "ok bytes=3\ncde"
        );
        assert_eq!(
            run(&m, &mut p, "read path=3/comm offset=100"),
            "ok bytes=0\n"
        );
        assert_eq!(
            run(&m, &mut p, "read path=/"),
            "ok bytes=33\n3\nrmap\nnames\nmeminfo\nvmstat\nkmsg\n"
        );
        assert_eq!(
            run(&m, &mut p, "read path=3/oom_score_adj"),
            "ok bytes=2\n0\n"
        );
        assert_eq!(
            run(&m, &mut p, "oom_score_adj pid=3 value=-500"),
            "ok\n",
            "the op, then its file"
        );
        assert_eq!(
            run(&m, &mut p, "read path=3/oom_score_adj"),
            "ok bytes=5\n-500\n"
        );
        assert_eq!(run(&m, &mut p, "read path=kmsg"), "ok bytes=0\n");
        assert!(run(&m, &mut p, "read path=vmstat").starts_with("ok bytes="));
        assert!(run(&m, &mut p, "read path=3/pagemap").starts_with("err EINVAL pagemap is binary"));
        assert!(run(&m, &mut p, "read path=3/pagemap offset=0 len=1G").starts_with("err EINVAL"));
        assert_eq!(
            run(&m, &mut p, "read path=3/pagemap offset=0 len=16"),
            format!("ok bytes=16\n{}", "\0".repeat(16))
        );
        assert!(run(&m, &mut p, "read path=4/maps").starts_with("err ENOENT"));
        assert!(run(&m, &mut p, "read path=3/comm/x").starts_with("err ENOTDIR"));
    }
}
