//! Parsing: one line into an [`Op<Addr>`], checking which keys and flags each command takes,
//! which of them are required, and reading each value.
//!
//! Every failure is an `EINVAL` [`Error`] whose message starts with the command word and names
//! the key and value at fault: `mmap: unknown key "lenn"`, `munmap: key addr= given twice`,
//! `mmap: missing required key len=`, `mprotect: invalid prot=: expected 3 characters r|-, w|-,
//! x|-, got "rwz"`. Which values make sense together (flag combinations, alignment, names the
//! kernel refuses) is the simulator's call, not the parser's.

use super::lex::{lex, Token};
use super::op::{Addr, Op};
use super::value::{parse_addr, parse_label, parse_number, parse_u32};
use crate::err;
use crate::errno::Error;

/// Parses one line. `Ok(None)` for a blank line or a comment.
pub fn parse_line(line: &str) -> Result<Option<Op<Addr>>, Error> {
    let Some(line) = lex(line)? else {
        return Ok(None);
    };
    parse_lexed(line).map(Some)
}

/// One request line of the control socket: an op, or a `read` with an optional byte range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Any command but `read`, as [`parse_line`] reads it.
    Op(Op<Addr>),
    /// `read path=TREEPATH [offset=O] [len=L]`: the body of a tree file, or `len` bytes of it
    /// from `offset` (pagemap is binary and is only read by range). The range keys are an
    /// addition of the control socket; scripts use `read path=` alone.
    Read {
        path: String,
        offset: Option<u64>,
        len: Option<u64>,
    },
}

/// `read` as the control socket accepts it: with the range keys.
const READ_RANGE: Command = Command {
    verb: "read",
    keys: &["path", "offset", "len"],
    flags: &[],
    build: read,
};

/// Parses one request line of the control socket. The same as [`parse_line`], except that
/// `read` also takes `offset=` and `len=`. `Ok(None)` for a blank line or a comment.
pub fn parse_request(line: &str) -> Result<Option<Request>, Error> {
    let Some(line) = lex(line)? else {
        return Ok(None);
    };
    if line.verb != READ_RANGE.verb {
        return parse_lexed(line).map(|op| Some(Request::Op(op)));
    }
    let args = Args::new(&READ_RANGE, line.args)?;
    Ok(Some(Request::Read {
        path: args.req("path", |s| Ok(s.to_owned()))?,
        offset: args.opt("offset", parse_number)?,
        len: args.opt("len", parse_number)?,
    }))
}

/// The op of a lexed command line.
fn parse_lexed(line: super::lex::Line<'_>) -> Result<Op<Addr>, Error> {
    let Some(command) = COMMANDS.iter().find(|c| c.verb == line.verb) else {
        let verbs: Vec<&str> = COMMANDS.iter().map(|c| c.verb).collect();
        return Err(err!(
            EINVAL,
            "unknown command {:?} (expected one of {})",
            line.verb,
            verbs.join(", ")
        ));
    };
    let args = Args::new(command, line.args)?;
    (command.build)(&args)
}

/// Parses a whole script, one op per command line; an error names its 1-based line number
/// (`line 3: mmap: missing required key len=`).
pub fn parse_script(text: &str) -> Result<Vec<Op<Addr>>, Error> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            parse_line(line)
                .map_err(|e| Error::new(e.errno, format!("line {}: {}", i + 1, e.message)))
                .transpose()
        })
        .collect()
}

/// What a command accepts, and how its op is built from its arguments. `keys` lists the keys in
/// canonical order (the order `print.rs` writes them).
struct Command {
    verb: &'static str,
    keys: &'static [&'static str],
    flags: &'static [&'static str],
    build: fn(&Args) -> Result<Op<Addr>, Error>,
}

const COMMANDS: [Command; 14] = [
    Command {
        verb: "spawn",
        keys: &["pid", "comm", "uid", "brk"],
        flags: &["bare"],
        build: spawn,
    },
    Command {
        verb: "exit",
        keys: &["pid"],
        flags: &[],
        build: exit,
    },
    Command {
        verb: "fork",
        keys: &["pid", "child"],
        flags: &[],
        build: fork,
    },
    Command {
        verb: "mmap",
        keys: &[
            "pid", "addr", "len", "prot", "flags", "file", "offset", "as",
        ],
        flags: &[],
        build: mmap,
    },
    Command {
        verb: "munmap",
        keys: &["pid", "addr", "len"],
        flags: &[],
        build: munmap,
    },
    Command {
        verb: "mprotect",
        keys: &["pid", "addr", "len", "prot"],
        flags: &[],
        build: mprotect,
    },
    Command {
        verb: "mremap",
        keys: &[
            "pid", "addr", "old_len", "new_len", "flags", "new_addr", "as",
        ],
        flags: &[],
        build: mremap,
    },
    Command {
        verb: "madvise",
        keys: &["pid", "addr", "len", "advice"],
        flags: &[],
        build: madvise,
    },
    Command {
        verb: "reclaim",
        keys: &["pid", "addr", "len"],
        flags: &[],
        build: reclaim,
    },
    Command {
        verb: "brk",
        keys: &["pid", "addr"],
        flags: &[],
        build: brk,
    },
    Command {
        verb: "name",
        keys: &["pid", "addr", "len", "name"],
        flags: &["clear"],
        build: name,
    },
    Command {
        verb: "touch",
        keys: &["pid", "addr", "len", "access"],
        flags: &[],
        build: touch,
    },
    Command {
        verb: "file",
        keys: &["path", "size"],
        flags: &[],
        build: file,
    },
    Command {
        verb: "read",
        keys: &["path"],
        flags: &[],
        build: read,
    },
];

/// The checked arguments of one line: every key and flag known to the command, none twice.
struct Args {
    verb: &'static str,
    values: Vec<(&'static str, String)>,
    flags: Vec<&'static str>,
}

impl Args {
    fn new(command: &Command, tokens: Vec<Token<'_>>) -> Result<Args, Error> {
        let verb = command.verb;
        let mut args = Args {
            verb,
            values: Vec::new(),
            flags: Vec::new(),
        };
        for token in tokens {
            match token {
                Token::Pair { key, value } => {
                    let Some(&key) = command.keys.iter().find(|k| **k == key) else {
                        if command.flags.contains(&key) {
                            return Err(err!(EINVAL, "{verb}: {key} is a flag and takes no value"));
                        }
                        return Err(unknown(command, "key", key));
                    };
                    if args.raw(key).is_some() {
                        return Err(err!(EINVAL, "{verb}: key {key}= given twice"));
                    }
                    args.values.push((key, value));
                }
                Token::Flag(word) => {
                    let Some(&flag) = command.flags.iter().find(|f| **f == word) else {
                        if command.keys.contains(&word) {
                            return Err(err!(
                                EINVAL,
                                "{verb}: key {word}= needs a value, as {word}=..."
                            ));
                        }
                        return Err(unknown(command, "flag", word));
                    };
                    if args.flag(flag) {
                        return Err(err!(EINVAL, "{verb}: flag {flag} given twice"));
                    }
                    args.flags.push(flag);
                }
            }
        }
        Ok(args)
    }

    fn raw(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key` as written, if given.
    fn string(&self, key: &str) -> Option<String> {
        self.raw(key).map(str::to_owned)
    }

    /// The value of optional `key`, read by `parse`.
    fn opt<T>(
        &self,
        key: &str,
        parse: impl Fn(&str) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        self.raw(key)
            .map(|value| {
                parse(value).map_err(|e| {
                    Error::new(
                        e.errno,
                        format!("{}: invalid {key}=: {}", self.verb, e.message),
                    )
                })
            })
            .transpose()
    }

    /// The value of required `key`, read by `parse`.
    fn req<T>(&self, key: &str, parse: impl Fn(&str) -> Result<T, Error>) -> Result<T, Error> {
        self.opt(key, parse)?
            .ok_or_else(|| err!(EINVAL, "{}: missing required key {key}=", self.verb))
    }

    /// Whether flag `flag` was given.
    fn flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }
}

/// The error for a key or flag word `word` that `command` does not take.
fn unknown(command: &Command, what: &str, word: &str) -> Error {
    let mut expected: Vec<String> = command.keys.iter().map(|k| format!("{k}=")).collect();
    expected.extend(command.flags.iter().map(|f| f.to_string()));
    err!(
        EINVAL,
        "{}: unknown {what} {word:?} (expected {})",
        command.verb,
        expected.join(", ")
    )
}

fn spawn(a: &Args) -> Result<Op<Addr>, Error> {
    Ok(Op::Spawn {
        pid: a.opt("pid", parse_u32)?,
        comm: a.string("comm"),
        uid: a.opt("uid", parse_u32)?,
        start_brk: a.opt("brk", parse_number)?,
        bare: a.flag("bare"),
    })
}

fn exit(a: &Args) -> Result<Op<Addr>, Error> {
    Ok(Op::Exit {
        pid: a.req("pid", parse_u32)?,
    })
}

fn fork(a: &Args) -> Result<Op<Addr>, Error> {
    Ok(Op::Fork {
        pid: a.req("pid", parse_u32)?,
        child: a.opt("child", parse_u32)?,
    })
}

fn mmap(a: &Args) -> Result<Op<Addr>, Error> {
    Ok(Op::Mmap {
        pid: a.req("pid", parse_u32)?,
        addr: a.opt("addr", parse_addr)?,
        len: a.req("len", parse_number)?,
        prot: a.req("prot", str::parse)?,
        flags: a.req("flags", str::parse)?,
        file: a.string("file"),
        offset: a.opt("offset", parse_number)?,
        label: a.opt("as", parse_label)?,
    })
}

fn munmap(a: &Args) -> Result<Op<Addr>, Error> {
    Ok(Op::Munmap {
        pid: a.req("pid", parse_u32)?,
        addr: a.req("addr", parse_addr)?,
        len: a.req("len", parse_number)?,
    })
}

fn reclaim(a: &Args) -> Result<Op<Addr>, Error> {
    Ok(Op::Reclaim {
        pid: a.req("pid", parse_u32)?,
        addr: a.req("addr", parse_addr)?,
        len: a.req("len", parse_number)?,
    })
}

fn mprotect(a: &Args) -> Result<Op<Addr>, Error> {
    Ok(Op::Mprotect {
        pid: a.req("pid", parse_u32)?,
        addr: a.req("addr", parse_addr)?,
        len: a.req("len", parse_number)?,
        prot: a.req("prot", str::parse)?,
    })
}

fn mremap(a: &Args) -> Result<Op<Addr>, Error> {
    Ok(Op::Mremap {
        pid: a.req("pid", parse_u32)?,
        addr: a.req("addr", parse_addr)?,
        old_len: a.req("old_len", parse_number)?,
        new_len: a.req("new_len", parse_number)?,
        flags: a.opt("flags", str::parse)?.unwrap_or_default(),
        new_addr: a.opt("new_addr", parse_addr)?,
        label: a.opt("as", parse_label)?,
    })
}

fn madvise(a: &Args) -> Result<Op<Addr>, Error> {
    Ok(Op::Madvise {
        pid: a.req("pid", parse_u32)?,
        addr: a.req("addr", parse_addr)?,
        len: a.req("len", parse_number)?,
        advice: a.req("advice", str::parse)?,
    })
}

fn brk(a: &Args) -> Result<Op<Addr>, Error> {
    Ok(Op::Brk {
        pid: a.req("pid", parse_u32)?,
        addr: a.opt("addr", parse_addr)?,
    })
}

fn name(a: &Args) -> Result<Op<Addr>, Error> {
    let pid = a.req("pid", parse_u32)?;
    let addr = a.req("addr", parse_addr)?;
    let len = a.req("len", parse_number)?;
    let name = match (a.string("name"), a.flag("clear")) {
        (Some(_), true) => {
            return Err(err!(
                EINVAL,
                "name: give either name=\"...\" or clear, not both"
            ))
        }
        (None, false) => {
            return Err(err!(
                EINVAL,
                "name: missing required key name= (or the flag clear)"
            ))
        }
        (name, _) => name,
    };
    Ok(Op::Name {
        pid,
        addr,
        len,
        name,
    })
}

fn touch(a: &Args) -> Result<Op<Addr>, Error> {
    Ok(Op::Touch {
        pid: a.req("pid", parse_u32)?,
        addr: a.req("addr", parse_addr)?,
        len: a.req("len", parse_number)?,
        access: a.req("access", str::parse)?,
    })
}

fn file(a: &Args) -> Result<Op<Addr>, Error> {
    Ok(Op::File {
        path: a.req("path", |s| Ok(s.to_owned()))?,
        size: a.req("size", parse_number)?,
    })
}

fn read(a: &Args) -> Result<Op<Addr>, Error> {
    Ok(Op::Read {
        path: a.req("path", |s| Ok(s.to_owned()))?,
    })
}
