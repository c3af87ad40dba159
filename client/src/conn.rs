//! A blocking client of the daemon's control socket.
//!
//! The protocol (shared/design/command-language.md): one reply line per request line, in order;
//! `ok key=value...`, `err ERRNO message`, and for `read` an `ok bytes=N` line followed by
//! exactly N raw bytes. Requests may be pipelined: [`Conn::pipeline`] writes from a second thread
//! while this one reads the replies, so any number of lines can be in flight without either side
//! blocking the other, and a bounded window limits how far the writer runs ahead.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

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

    /// Sends every `(tag, line)` of `lines` with up to `window` lines in flight, calling
    /// `on_reply(tag, line, reply)` for each reply in order. When it returns `false`, no further
    /// line is sent; the replies of lines already sent are still read and passed on. Returns how
    /// many lines were sent.
    pub fn pipeline<T: Send + 'static>(
        &mut self,
        lines: impl Iterator<Item = (T, String)> + Send + 'static,
        window: usize,
        on_reply: &mut OnReply<'_, T>,
    ) -> Result<usize, ConnError> {
        let (tx, rx) = mpsc::sync_channel::<(T, String)>(window.max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let stop_w = stop.clone();
        let mut w = self.writer.try_clone()?;
        let writer = std::thread::spawn(move || -> io::Result<usize> {
            let mut sent = 0;
            let mut out = io::BufWriter::new(&mut w);
            for (tag, line) in lines {
                if stop_w.load(Ordering::Relaxed) {
                    break;
                }
                let text = format!("{line}\n");
                // Queue first: this blocks once `window` lines are in flight, and then the
                // buffered lines must reach the daemon so that replies keep coming.
                match tx.try_send((tag, line)) {
                    Ok(()) => {}
                    Err(mpsc::TrySendError::Full(item)) => {
                        out.flush()?;
                        if tx.send(item).is_err() {
                            break;
                        }
                    }
                    Err(mpsc::TrySendError::Disconnected(_)) => break,
                }
                out.write_all(text.as_bytes())?;
                sent += 1;
            }
            out.flush()?;
            Ok(sent)
        });
        let mut result = Ok(());
        for (tag, line) in rx.iter() {
            match read_reply(&mut self.reader, has_body(&line)) {
                Ok(reply) => {
                    if !on_reply(&tag, &line, reply) {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    result = Err(e);
                    break;
                }
            }
        }
        drop(rx);
        let sent = writer
            .join()
            .map_err(|_| ConnError::BadReply("writer thread panicked".into()))??;
        result.map(|()| sent)
    }
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
}
