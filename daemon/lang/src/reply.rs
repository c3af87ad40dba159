//! The replies of the control socket, encoded and decoded in one place for the daemon, the
//! client and the tests.
//!
//! Every request line that carries a command gets exactly one reply, in order:
//! - `ok`, or `ok KEY=VALUE` with the call's result: `ok pid=N` (spawn, fork), `ok addr=0x...`
//!   (mmap, mremap, brk; lowercase hex), `ok pages=N` (reclaim);
//! - `ok bytes=N` followed by exactly N raw bytes (read);
//! - `err ERRNO message`: the symbolic errno and a message on one line (line breaks in it are
//!   sent as spaces).

use std::fmt;
use std::io::{self, BufRead, Read};

use anonmap_abi::{Errno, Error, Outcome};

use crate::value::{parse_number, parse_u32};

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `ok` with the call's result.
    Ok(Outcome),
    /// `ok bytes=N` and the N bytes.
    Body(Vec<u8>),
    /// `err ERRNO message`.
    Err(Error),
}

/// A reply this side does not understand, or a stream that ended inside one.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error("reading the reply: {0}")]
    Io(#[from] io::Error),
    #[error("a reply this client does not understand: {0:?}")]
    Malformed(String),
    #[error("the stream ended {missing} bytes before the end of a {len}-byte body")]
    Truncated { len: usize, missing: usize },
}

/// The key and value an `ok` reply carries for `outcome`, if any (`("pid", "12")`).
pub fn outcome_pair(outcome: &Outcome) -> Option<(&'static str, String)> {
    match outcome {
        Outcome::Done => None,
        Outcome::Pid(pid) => Some(("pid", pid.to_string())),
        Outcome::Addr(addr) => Some(("addr", format!("{addr:#x}"))),
        Outcome::Pages(n) => Some(("pages", n.to_string())),
    }
}

/// What a reply line says, before any body is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Header {
    Ok(Outcome),
    /// `ok bytes=N`: N bytes follow.
    Body(usize),
    Err(Error),
}

impl Header {
    /// Parses a reply line without its newline.
    pub fn parse(line: &str) -> Result<Header, ReplyError> {
        let bad = || ReplyError::Malformed(line.to_string());
        if let Some(rest) = line.strip_prefix("err ") {
            let (name, message) = rest.split_once(' ').unwrap_or((rest, ""));
            let errno = Errno::from_name(name).ok_or_else(bad)?;
            return Ok(Header::Err(Error::new(errno, message)));
        }
        let rest = match line.strip_prefix("ok") {
            Some("") => return Ok(Header::Ok(Outcome::Done)),
            Some(rest) => rest.strip_prefix(' ').ok_or_else(bad)?,
            None => return Err(bad()),
        };
        let (key, value) = rest.split_once('=').ok_or_else(bad)?;
        let number = || parse_number(value).map_err(|_| bad());
        Ok(match key {
            "pid" => Header::Ok(Outcome::Pid(parse_u32(value).map_err(|_| bad())?)),
            "addr" => Header::Ok(Outcome::Addr(number()?)),
            "pages" => Header::Ok(Outcome::Pages(number()?)),
            "bytes" => Header::Body(usize::try_from(number()?).map_err(|_| bad())?),
            _ => return Err(bad()),
        })
    }
}

impl Reply {
    /// The reply to a call.
    pub fn of(result: Result<Outcome, Error>) -> Reply {
        match result {
            Ok(outcome) => Reply::Ok(outcome),
            Err(e) => Reply::Err(e),
        }
    }

    /// Appends the reply's bytes: its line with the newline, then the body of a `read`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        use std::io::Write as _;
        match self {
            Reply::Ok(outcome) => match outcome_pair(outcome) {
                None => out.extend_from_slice(b"ok\n"),
                Some((k, v)) => {
                    let _ = writeln!(out, "ok {k}={v}");
                }
            },
            Reply::Body(body) => {
                let _ = writeln!(out, "ok bytes={}", body.len());
                out.extend_from_slice(body);
            }
            Reply::Err(e) => {
                let _ = write!(out, "err {} ", e.errno);
                out.extend(
                    e.message
                        .bytes()
                        .map(|b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
                );
                out.push(b'\n');
            }
        }
    }

    /// The reply's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }

    /// Reads one reply (its line, and its body); `Ok(None)` when the stream ends before one.
    pub fn read_from(r: &mut impl BufRead) -> Result<Option<Reply>, ReplyError> {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let line = String::from_utf8(line)
            .map_err(|e| ReplyError::Malformed(String::from_utf8_lossy(e.as_bytes()).into()))?;
        Ok(Some(match Header::parse(&line)? {
            Header::Ok(o) => Reply::Ok(o),
            Header::Err(e) => Reply::Err(e),
            Header::Body(len) => {
                let mut body = Vec::with_capacity(len.min(1 << 20));
                r.by_ref().take(len as u64).read_to_end(&mut body)?;
                if body.len() < len {
                    return Err(ReplyError::Truncated {
                        len,
                        missing: len - body.len(),
                    });
                }
                Reply::Body(body)
            }
        }))
    }

    /// The reply as a `Result`: an `err` becomes its [`Error`].
    pub fn into_result(self) -> Result<Reply, Error> {
        match self {
            Reply::Err(e) => Err(e),
            ok => Ok(ok),
        }
    }
}

/// The reply line as text (a body is shown by its length).
impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Body(body) => write!(f, "ok bytes={}", body.len()),
            other => {
                let bytes = other.encode();
                f.write_str(String::from_utf8_lossy(&bytes).trim_end_matches('\n'))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anonmap_abi::err;

    fn round_trip(reply: Reply) {
        let bytes = reply.encode();
        let mut r = io::Cursor::new(bytes.clone());
        assert_eq!(Reply::read_from(&mut r).unwrap(), Some(reply), "{bytes:?}");
        assert_eq!(Reply::read_from(&mut r).unwrap(), None);
    }

    #[test]
    fn every_reply_round_trips() {
        round_trip(Reply::Ok(Outcome::Done));
        round_trip(Reply::Ok(Outcome::Pid(12)));
        round_trip(Reply::Ok(Outcome::Addr(0x7fff_f7ff_0000)));
        round_trip(Reply::Ok(Outcome::Pages(u64::MAX)));
        round_trip(Reply::Body(b"a\nb\0\n".to_vec()));
        round_trip(Reply::Body(Vec::new()));
        round_trip(Reply::Err(err!(EINVAL, "bad prot: rw")));
        round_trip(Reply::Err(err!(ESRCH, "")));
    }

    #[test]
    fn the_wire_form() {
        assert_eq!(
            Reply::Ok(Outcome::Addr(0x1000)).encode(),
            b"ok addr=0x1000\n"
        );
        assert_eq!(Reply::Ok(Outcome::Pid(5)).encode(), b"ok pid=5\n");
        assert_eq!(Reply::Body(b"xy".to_vec()).encode(), b"ok bytes=2\nxy");
        assert_eq!(
            Reply::Err(err!(EINVAL, "two\nlines\r")).encode(),
            b"err EINVAL two lines \n"
        );
        assert_eq!(Reply::Ok(Outcome::Pages(3)).to_string(), "ok pages=3");
    }

    #[test]
    fn malformed_replies_and_short_bodies() {
        for line in [
            "okay",
            "hello",
            "ok novalue",
            "ok pid=x",
            "err EWHAT x",
            "ok cats=3",
            "ok ",
        ] {
            assert!(Header::parse(line).is_err(), "{line:?}");
        }
        let mut r = io::Cursor::new(b"ok bytes=5\nabc".to_vec());
        assert!(matches!(
            Reply::read_from(&mut r),
            Err(ReplyError::Truncated { len: 5, missing: 2 })
        ));
    }
}
