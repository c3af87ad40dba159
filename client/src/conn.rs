//! A blocking client of the daemon's control socket.
//!
//! The protocol (`docs/command-language.md`): one reply per request line, in order; the reply
//! codec is [`anonmap_lang::reply`] (`ok [KEY=VALUE]`, `err ERRNO message`, and `ok bytes=N`
//! followed by exactly N raw bytes), and request lines are written by the command language
//! ([`anonmap_lang::Command`], [`anonmap_lang::line`]). Requests may be pipelined:
//! [`Conn::pipeline`] writes from a second thread while this one reads the replies, so any
//! number of lines can be in flight without either side blocking the other, and a bounded window
//! limits how far the writer runs ahead.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use anonmap_abi::Error;
use anonmap_lang::reply::{Reply, ReplyError};
use anonmap_lang::Command;

/// Why talking to the daemon failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("cannot connect to the daemon's socket {path}: {source} (is anonmapd running? set --socket or ANONMAP_SOCKET)")]
    Connect { path: PathBuf, source: io::Error },
    #[error("socket I/O: {0}")]
    Io(#[from] io::Error),
    #[error("the daemon closed the connection before replying")]
    Closed,
    /// A reply the codec cannot read (or a stream that ended inside one).
    #[error(transparent)]
    BadReply(#[from] ReplyError),
    /// A well-formed reply of the wrong kind for its request.
    #[error("the daemon answered {request:?} with {reply:?}")]
    Unexpected { request: String, reply: String },
    #[error("the pipeline's writer thread panicked")]
    WriterPanicked,
    /// An `err` reply: its errno and message.
    #[error("{0}")]
    Daemon(#[from] Error),
}

/// Reads one whole reply (its line, and its body after `ok bytes=N`).
fn read_reply(r: &mut impl BufRead) -> Result<Reply, ConnError> {
    Reply::read_from(r)?.ok_or(ConnError::Closed)
}

/// A connection to the daemon.
#[derive(Debug)]
pub struct Conn {
    writer: UnixStream,
    reader: BufReader<UnixStream>,
}

/// What [`Conn::pipeline`] tells its callback for each reply; returning `false` stops sending.
pub type OnReply<'a, T> = dyn FnMut(&T, &str, Reply) -> bool + 'a;

impl Conn {
    pub fn connect(path: &Path) -> Result<Conn, ConnError> {
        let s = UnixStream::connect(path).map_err(|source| ConnError::Connect {
            path: path.into(),
            source,
        })?;
        Ok(Conn {
            writer: s.try_clone()?,
            reader: BufReader::new(s),
        })
    }

    /// Sends one line and waits for its reply.
    pub fn request(&mut self, line: &str) -> Result<Reply, ConnError> {
        self.writer.write_all(line.as_bytes())?;
        self.writer.write_all(b"\n")?;
        read_reply(&mut self.reader)
    }

    /// `read path=P` (and for pagemap `offset=O len=L`): the file's bytes.
    pub fn read_file(
        &mut self,
        path: &str,
        range: Option<(u64, u64)>,
    ) -> Result<Vec<u8>, ConnError> {
        let line = Command::Read {
            path: path.to_string(),
            offset: range.map(|(o, _)| o),
            len: range.map(|(_, l)| l),
        }
        .to_string();
        match self.request(&line)?.into_result()? {
            Reply::Body(b) => Ok(b),
            r => Err(ConnError::Unexpected {
                request: line,
                reply: r.to_string(),
            }),
        }
    }

    /// Sends `lines` from a writer thread while this thread reads their replies, with at most
    /// `window` lines sent and not yet answered. `on_reply` returning `false` stops the run: no
    /// further line is sent, and the replies of the lines already sent are still read and
    /// passed on. Returns how many lines were sent.
    pub fn pipeline<T: Send + 'static>(
        &mut self,
        lines: impl Iterator<Item = (T, String)> + Send + 'static,
        window: usize,
        on_reply: &mut OnReply<'_, T>,
    ) -> Result<usize, ConnError> {
        let window = window.max(1);
        let flow = Arc::new((
            Mutex::new(Flow {
                queue: VecDeque::new(),
                in_flight: 0,
                stop: false,
                done: false,
            }),
            Condvar::new(),
        ));
        let flow_w = Arc::clone(&flow);
        let mut w = self.writer.try_clone()?;
        let writer = std::thread::spawn(move || -> io::Result<usize> {
            let (lock, cv) = &*flow_w;
            let mut sent = 0;
            let mut out = io::BufWriter::new(&mut w);
            let run = || -> io::Result<()> {
                for (tag, line) in lines {
                    let mut f = lock.lock().expect("flow lock");
                    if f.in_flight >= window && !f.stop {
                        // The daemon must see the buffered lines before their replies come.
                        drop(f);
                        out.flush()?;
                        f = lock.lock().expect("flow lock");
                        while f.in_flight >= window && !f.stop {
                            f = cv.wait(f).expect("flow lock");
                        }
                    }
                    if f.stop {
                        break;
                    }
                    f.in_flight += 1;
                    f.queue.push_back((tag, line.clone()));
                    cv.notify_all();
                    drop(f);
                    out.write_all(line.as_bytes())?;
                    out.write_all(b"\n")?;
                    sent += 1;
                }
                out.flush()
            };
            let result = run();
            let mut f = lock.lock().expect("flow lock");
            f.done = true;
            cv.notify_all();
            result.map(|()| sent)
        });
        let (lock, cv) = &*flow;
        let mut result = Ok(());
        loop {
            let next = {
                let mut f = lock.lock().expect("flow lock");
                loop {
                    if let Some(item) = f.queue.pop_front() {
                        break Some(item);
                    }
                    if f.done {
                        break None;
                    }
                    f = cv.wait(f).expect("flow lock");
                }
            };
            let Some((tag, line)) = next else { break };
            let reply = read_reply(&mut self.reader);
            let keep = match reply {
                Ok(reply) => on_reply(&tag, &line, reply),
                Err(e) => {
                    result = Err(e);
                    false
                }
            };
            let mut f = lock.lock().expect("flow lock");
            f.in_flight -= 1;
            f.stop |= !keep;
            cv.notify_all();
            if result.is_err() {
                break;
            }
        }
        let sent = writer.join().map_err(|_| ConnError::WriterPanicked)??;
        result.map(|()| sent)
    }
}

/// What the pipeline's writer thread and reader share.
#[derive(Debug)]
struct Flow<T> {
    /// Lines handed to the writer and not yet answered, oldest first, with their tags. A line
    /// is queued before it is written, so the reader may wait on a reply briefly.
    queue: VecDeque<(T, String)>,
    /// Lines sent (or being sent) and not yet answered. Invariant: at most the window.
    in_flight: usize,
    /// No more lines may be sent (an `on_reply` said stop, or reading failed).
    stop: bool,
    /// The writer has finished; once `queue` is empty no reply is outstanding.
    done: bool,
}

#[cfg(test)]
pub(crate) mod fake {
    //! A fake daemon on a socketpair, for the tests of this crate.

    use super::*;

    /// A [`Conn`] to a server thread that answers each request line (without its newline)
    /// with `answer(i, line)`, `i` counting lines from 0. The thread returns how many lines it
    /// saw once the connection is dropped.
    pub(crate) fn daemon(
        mut answer: impl FnMut(usize, &str) -> Reply + Send + 'static,
    ) -> (Conn, std::thread::JoinHandle<usize>) {
        let (a, b) = UnixStream::pair().unwrap();
        let server = std::thread::spawn(move || {
            let mut r = BufReader::new(b.try_clone().unwrap());
            let mut w = b;
            let mut line = String::new();
            let mut seen = 0;
            while r.read_line(&mut line).unwrap() > 0 {
                let reply = answer(seen, line.trim_end_matches('\n'));
                w.write_all(&reply.encode()).unwrap();
                seen += 1;
                line.clear();
            }
            seen
        });
        let conn = Conn {
            writer: a.try_clone().unwrap(),
            reader: BufReader::new(a),
        };
        (conn, server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anonmap_abi::{err, Errno, Outcome};

    /// A fake daemon: replies `ok pid=<i>` to each line, `err EINVAL` to `bad`, and 5 bytes to
    /// `read`. 20,000 pipelined lines must not deadlock.
    #[test]
    fn pipelines_many_lines_against_a_fake_daemon() {
        let (mut c, server) = fake::daemon(|i, line| {
            if line.starts_with("bad") {
                Reply::Err(err!(EINVAL, "bad line"))
            } else if line.starts_with("read") {
                assert_eq!(line, "read path=1/maps");
                Reply::Body(b"hello".to_vec())
            } else {
                Reply::Ok(Outcome::Pid(i as u32))
            }
        });
        let lines = (0..20_000).map(|i| (i, format!("touch pid=1 n={i}")));
        let mut got = 0;
        let sent = c
            .pipeline(lines, 4096, &mut |tag: &u32, _l, r| {
                assert_eq!(r, Reply::Ok(Outcome::Pid(*tag)));
                got += 1;
                true
            })
            .unwrap();
        assert_eq!((sent, got), (20_000, 20_000));
        assert_eq!(c.read_file("1/maps", None).unwrap(), b"hello");
        assert!(matches!(
            c.request("bad").unwrap(),
            Reply::Err(ref e) if e.errno == Errno::EINVAL
        ));
        let e = c.request("bad").unwrap().into_result().unwrap_err();
        assert_eq!(ConnError::from(e).to_string(), "EINVAL bad line");
        drop(c);
        server.join().unwrap();
    }

    /// A `read` is written by the language (hex range, quoted path), and a reply without bytes
    /// to it is an error that names both.
    #[test]
    fn read_lines_and_unexpected_replies() {
        let (mut c, server) = fake::daemon(|_, line| match line {
            "read path=1/pagemap offset=0x8 len=0x8" => Reply::Body(vec![1; 8]),
            _ => Reply::Ok(Outcome::Done),
        });
        assert_eq!(c.read_file("1/pagemap", Some((8, 8))).unwrap(), [1; 8]);
        let e = c.read_file("a b", None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the daemon answered \"read path=\\\"a b\\\"\" with \"ok\""
        );
        drop(c);
        assert_eq!(server.join().unwrap(), 2);
    }

    /// With a window of 1 a stop is exact: the fake daemon fails line 3, and no line after it
    /// reaches the daemon. With a window of 4 at most 3 more lines were in flight, and their
    /// replies are still read.
    #[test]
    fn a_stop_sends_no_line_beyond_the_window() {
        for (window, max_sent) in [(1usize, 3usize), (4, 6)] {
            let (mut c, server) = fake::daemon(|i, _| {
                if i == 2 {
                    Reply::Err(err!(EINVAL, "no"))
                } else {
                    Reply::Ok(Outcome::Done)
                }
            });
            let lines = (0..100).map(|i| (i, format!("touch pid=1 n={i}")));
            let mut replies = 0;
            let sent = c
                .pipeline(lines, window, &mut |_: &i32, _l, r| {
                    replies += 1;
                    !matches!(r, Reply::Err(_))
                })
                .unwrap();
            drop(c);
            let seen = server.join().unwrap();
            assert_eq!(seen, sent, "window {window}");
            assert_eq!(
                replies, sent,
                "window {window}: every sent line's reply is read"
            );
            assert!(
                sent >= 3 && sent <= max_sent,
                "window {window}: {sent} lines sent"
            );
        }
    }

    /// A stream that ends before a reply, or inside a body, is an error, not a hang.
    #[test]
    fn closed_and_truncated_streams() {
        let mut r = io::Cursor::new(b"ok bytes=4\nab".to_vec());
        assert!(matches!(
            read_reply(&mut r),
            Err(ConnError::BadReply(ReplyError::Truncated {
                len: 4,
                missing: 2
            }))
        ));
        let mut r = io::Cursor::new(Vec::new());
        assert!(matches!(read_reply(&mut r), Err(ConnError::Closed)));
    }
}
