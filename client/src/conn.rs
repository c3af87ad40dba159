//! A blocking client of the daemon's control socket.
//!
//! The protocol (shared/design/command-language.md): one reply line per request line, in order;
//! `ok key=value...`, `err ERRNO message`, and for `read` an `ok bytes=N` line followed by
//! exactly N raw bytes. Requests may be pipelined: [`Conn::pipeline`] writes from a second thread
//! while this one reads the replies, so any number of lines can be in flight without either side
//! blocking the other, and a bounded window limits how far the writer runs ahead.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

/// Why talking to the daemon failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("cannot connect to the daemon's socket {path}: {source} (is anonmapd running? set --socket or ANONMAP_SOCKET)")]
    Connect { path: PathBuf, source: io::Error },
    #[error("socket I/O: {0}")]
    Io(#[from] io::Error),
    #[error("the daemon closed the connection before replying")]
    Closed,
    #[error("the daemon sent a reply this client does not understand: {0:?}")]
    BadReply(String),
    #[error("{errno} {message}")]
    Daemon { errno: String, message: String },
}

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `ok key=value...`, the pairs in order; `body` holds the bytes of a `read`.
    Ok {
        pairs: Vec<(String, String)>,
        body: Option<Vec<u8>>,
    },
    /// `err ERRNO message`
    Err { errno: String, message: String },
}

impl Reply {
    /// The value of `key` in an `ok` reply.
    pub fn get(&self, key: &str) -> Option<&str> {
        match self {
            Reply::Ok { pairs, .. } => pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str()),
            Reply::Err { .. } => None,
        }
    }

    /// The reply as a `Result`, an `err` becoming [`ConnError::Daemon`].
    pub fn into_result(self) -> Result<Reply, ConnError> {
        match self {
            Reply::Err { errno, message } => Err(ConnError::Daemon { errno, message }),
            ok => Ok(ok),
        }
    }
}

/// Parses one reply line (without its newline). A `bytes=N` pair is left in `pairs`; the caller
/// reads the body.
pub fn parse_reply_line(line: &str) -> Result<Reply, ConnError> {
    if let Some(rest) = line.strip_prefix("err") {
        let rest = rest.trim_start();
        let (errno, message) = rest.split_once(' ').unwrap_or((rest, ""));
        if errno.is_empty() {
            return Err(ConnError::BadReply(line.into()));
        }
        return Ok(Reply::Err {
            errno: errno.into(),
            message: message.into(),
        });
    }
    let Some(rest) = line.strip_prefix("ok") else {
        return Err(ConnError::BadReply(line.into()));
    };
    if !rest.is_empty() && !rest.starts_with(' ') {
        return Err(ConnError::BadReply(line.into()));
    }
    let mut pairs = Vec::new();
    for tok in rest.split_whitespace() {
        let (k, v) = tok
            .split_once('=')
            .ok_or_else(|| ConnError::BadReply(line.into()))?;
        pairs.push((k.to_string(), v.to_string()));
    }
    Ok(Reply::Ok { pairs, body: None })
}

/// Reads one whole reply (line, and body when the line has `bytes=N` and `expect_body`).
fn read_reply(r: &mut impl BufRead, expect_body: bool) -> Result<Reply, ConnError> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(ConnError::Closed);
    }
    let line = line.strip_suffix('\n').unwrap_or(&line);
    let mut reply = parse_reply_line(line)?;
    if expect_body {
        if let Reply::Ok { pairs, body } = &mut reply {
            if let Some((_, n)) = pairs.iter().find(|(k, _)| k == "bytes") {
                let n: usize = n
                    .parse()
                    .map_err(|_| ConnError::BadReply(line.to_string()))?;
                let mut buf = vec![0; n];
                r.read_exact(&mut buf)?;
                *body = Some(buf);
            }
        }
    }
    Ok(reply)
}

/// Whether a request line's reply carries a body (`read ...`).
pub fn has_body(line: &str) -> bool {
    line.split_whitespace().next() == Some("read")
}

/// Quotes a value for the command language when it needs it.
pub fn quote(v: &str) -> String {
    if !v.is_empty() && !v.contains([' ', '"', '\\', '\t', '=']) {
        return v.to_string();
    }
    let mut s = String::from("\"");
    for c in v.chars() {
        if c == '"' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
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
        read_reply(&mut self.reader, has_body(line))
    }

    /// `read path=P` (and for pagemap `offset=O len=L`): the file's bytes.
    pub fn read_file(
        &mut self,
        path: &str,
        range: Option<(u64, u64)>,
    ) -> Result<Vec<u8>, ConnError> {
        let mut line = format!("read path={}", quote(path));
        if let Some((o, l)) = range {
            line.push_str(&format!(" offset={o} len={l}"));
        }
        match self.request(&line)?.into_result()? {
            Reply::Ok { body: Some(b), .. } => Ok(b),
            r => Err(ConnError::BadReply(format!("{r:?}"))),
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
            let reply = read_reply(&mut self.reader, has_body(&line));
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
        let sent = writer
            .join()
            .map_err(|_| ConnError::BadReply("writer thread panicked".into()))??;
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
mod tests {
    use super::*;

    #[test]
    fn reply_lines() {
        assert_eq!(
            parse_reply_line("ok addr=0x1000").unwrap().get("addr"),
            Some("0x1000")
        );
        assert_eq!(
            parse_reply_line("err EINVAL bad prot: rw").unwrap(),
            Reply::Err {
                errno: "EINVAL".into(),
                message: "bad prot: rw".into()
            }
        );
        assert!(parse_reply_line("okay").is_err());
        assert!(parse_reply_line("hello").is_err());
        assert!(parse_reply_line("ok novalue").is_err());
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a"), "a");
        assert_eq!(quote("dalvik-main space"), "\"dalvik-main space\"");
        assert_eq!(quote("a\"b\\"), "\"a\\\"b\\\\\"");
    }

    /// A fake daemon on a socketpair: replies `ok n=<i>` to each line, `err EINVAL` to `bad`,
    /// and 5 bytes to `read`. 20,000 pipelined lines must not deadlock.
    #[test]
    fn pipelines_many_lines_against_a_fake_daemon() {
        let (a, b) = UnixStream::pair().unwrap();
        let server = std::thread::spawn(move || {
            let mut r = BufReader::new(b.try_clone().unwrap());
            let mut w = b;
            let mut line = String::new();
            let mut i = 0;
            while r.read_line(&mut line).unwrap() > 0 {
                let reply = if line.starts_with("bad") {
                    "err EINVAL bad line\n".to_string()
                } else if line.starts_with("read") {
                    "ok bytes=5\nhello".to_string()
                } else {
                    format!("ok n={i}\n")
                };
                w.write_all(reply.as_bytes()).unwrap();
                i += 1;
                line.clear();
            }
        });
        let mut c = Conn {
            writer: a.try_clone().unwrap(),
            reader: BufReader::new(a),
        };
        let lines = (0..20_000).map(|i| (i, format!("touch pid=1 n={i}")));
        let mut got = 0;
        let sent = c
            .pipeline(lines, 4096, &mut |tag: &i32, _l, r| {
                assert_eq!(r.get("n"), Some(tag.to_string().as_str()));
                got += 1;
                true
            })
            .unwrap();
        assert_eq!((sent, got), (20_000, 20_000));
        assert_eq!(c.read_file("1/maps", None).unwrap(), b"hello");
        assert!(matches!(
            c.request("bad").unwrap(),
            Reply::Err { ref errno, .. } if errno == "EINVAL"
        ));
        drop(c);
        server.join().unwrap();
    }

    /// With a window of 1 a stop is exact: the fake daemon fails line 3, and no line after it
    /// reaches the daemon. With a window of 4 at most 3 more lines were in flight, and their
    /// replies are still read.
    #[test]
    fn a_stop_sends_no_line_beyond_the_window() {
        for (window, max_sent) in [(1usize, 3usize), (4, 6)] {
            let (a, b) = UnixStream::pair().unwrap();
            let server = std::thread::spawn(move || {
                let mut r = BufReader::new(b.try_clone().unwrap());
                let mut w = b;
                let mut line = String::new();
                let mut seen = 0;
                while r.read_line(&mut line).unwrap() > 0 {
                    seen += 1;
                    let reply = if seen == 3 { "err EINVAL no\n" } else { "ok\n" };
                    w.write_all(reply.as_bytes()).unwrap();
                    line.clear();
                }
                seen
            });
            let mut c = Conn {
                writer: a.try_clone().unwrap(),
                reader: BufReader::new(a),
            };
            let lines = (0..100).map(|i| (i, format!("touch pid=1 n={i}")));
            let mut replies = 0;
            let sent = c
                .pipeline(lines, window, &mut |_: &i32, _l, r| {
                    replies += 1;
                    !matches!(r, Reply::Err { .. })
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
}
