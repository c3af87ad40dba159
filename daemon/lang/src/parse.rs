//! Parsing: one line into a [`Command`], checking which keys and flags each command takes, which
//! of them are required, reading each value and resolving label addresses.
//!
//! Every failure is an `EINVAL` [`Error`] whose message starts with the command word and names
//! the key and value at fault: `mmap: unknown key "lenn"`, `munmap: key addr= given twice`,
//! `mmap: missing required key len=`, `mprotect: invalid prot=: expected 3 characters r|-, w|-,
//! x|-, got "rwz"`, `munmap: addr=heap+0x1000: unknown label "heap" ...`. Which values make
//! sense together (flag combinations, alignment, names the kernel refuses) is the simulator's
//! call, not the parser's.
//!
//! What each command accepts is declared once, by its [`Form`](crate::forms::Form) in
//! `forms.rs`; this module holds the machinery every form shares.

use anonmap_abi::{err, Call, Error};

use crate::forms::{Syntax, COMMANDS};
use crate::labels::{Addr, Labels};
use crate::lex::{lex, Token};
use crate::value::{parse_addr, parse_label, parse_number, parse_u32};

/// One command line, parsed, its label addresses resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A call of the machine; `bind` is the label (`as=`) its resulting address binds.
    Call { call: Call, bind: Option<String> },
    /// `read path=TREEPATH [offset=O] [len=L]`: a file of the tree (pagemap is binary and is
    /// read by range only), served by the daemon.
    Read {
        path: String,
        offset: Option<u64>,
        len: Option<u64>,
    },
}

/// Parses one line, resolving label addresses against `labels`. `Ok(None)` for a blank line or
/// a comment (`#! err` directives included: they are for scripts, see [`crate::script`]).
pub fn parse_line(line: &str, labels: &Labels) -> Result<Option<Command>, Error> {
    let Some(line) = lex(line)? else {
        return Ok(None);
    };
    let Some(syntax) = COMMANDS.iter().find(|c| c.verb == line.verb) else {
        let verbs: Vec<&str> = COMMANDS.iter().map(|c| c.verb).collect();
        return Err(err!(
            EINVAL,
            "unknown command {:?} (expected one of {})",
            line.verb,
            verbs.join(", ")
        ));
    };
    let args = Args::new(syntax, line.args, labels)?;
    (syntax.parse)(&args).map(Some)
}

/// Parses a line that must be a call, with no labels bound (a journal record, a generated
/// line). A `read` or a blank line is `EINVAL`.
pub fn parse_call(line: &str) -> Result<Call, Error> {
    match parse_line(line, &Labels::new())? {
        Some(Command::Call { call, bind: None }) => Ok(call),
        Some(Command::Call { bind: Some(l), .. }) => Err(err!(
            EINVAL,
            "{line:?} binds the label {l:?}; a bare call binds none"
        )),
        Some(Command::Read { .. }) => Err(err!(EINVAL, "{line:?} is a read, not a call")),
        None => Err(err!(EINVAL, "{line:?} carries no command")),
    }
}

/// The checked arguments of one line: every key and flag known to the command, none twice.
pub(crate) struct Args<'l> {
    verb: &'static str,
    values: Vec<(&'static str, String)>,
    flags: Vec<&'static str>,
    labels: &'l Labels,
}

impl<'l> Args<'l> {
    fn new(syntax: &Syntax, tokens: Vec<Token<'_>>, labels: &'l Labels) -> Result<Args<'l>, Error> {
        let verb = syntax.verb;
        let mut args = Args {
            verb,
            values: Vec::new(),
            flags: Vec::new(),
            labels,
        };
        for token in tokens {
            match token {
                Token::Pair { key, value } => {
                    let Some(&key) = syntax.keys.iter().find(|k| **k == key) else {
                        if syntax.flags.contains(&key) {
                            return Err(err!(EINVAL, "{verb}: {key} is a flag and takes no value"));
                        }
                        return Err(unknown(syntax, "key", key));
                    };
                    if args.raw(key).is_some() {
                        return Err(err!(EINVAL, "{verb}: key {key}= given twice"));
                    }
                    args.values.push((key, value));
                }
                Token::Flag(word) => {
                    let Some(&flag) = syntax.flags.iter().find(|f| **f == word) else {
                        if syntax.keys.contains(&word) {
                            return Err(err!(
                                EINVAL,
                                "{verb}: key {word}= needs a value, as {word}=..."
                            ));
                        }
                        return Err(unknown(syntax, "flag", word));
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
    pub(crate) fn string(&self, key: &str) -> Option<String> {
        self.raw(key).map(str::to_owned)
    }

    /// The value of required string `key`.
    pub(crate) fn req_string(&self, key: &str) -> Result<String, Error> {
        self.req(key, |s| Ok(s.to_owned()))
    }

    /// The value of optional `key`, read by `parse`.
    pub(crate) fn opt<T>(
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
    pub(crate) fn req<T>(
        &self,
        key: &str,
        parse: impl Fn(&str) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.opt(key, parse)?
            .ok_or_else(|| err!(EINVAL, "{}: missing required key {key}=", self.verb))
    }

    /// A pid or uid: a number that fits in 32 bits.
    pub(crate) fn req_u32(&self, key: &str) -> Result<u32, Error> {
        self.req(key, parse_u32)
    }

    pub(crate) fn opt_u32(&self, key: &str) -> Result<Option<u32>, Error> {
        self.opt(key, parse_u32)
    }

    /// A length, size or offset.
    pub(crate) fn req_number(&self, key: &str) -> Result<u64, Error> {
        self.req(key, parse_number)
    }

    pub(crate) fn opt_number(&self, key: &str) -> Result<Option<u64>, Error> {
        self.opt(key, parse_number)
    }

    /// The optional address `key`, a label resolved against the session's bindings.
    pub(crate) fn opt_addr(&self, key: &str) -> Result<Option<u64>, Error> {
        let Some(addr) = self.opt(key, parse_addr)? else {
            return Ok(None);
        };
        self.resolve(key, &addr).map(Some)
    }

    /// The required address `key`.
    pub(crate) fn req_addr(&self, key: &str) -> Result<u64, Error> {
        let addr = self.req(key, parse_addr)?;
        self.resolve(key, &addr)
    }

    fn resolve(&self, key: &str, addr: &Addr) -> Result<u64, Error> {
        self.labels
            .resolve(addr)
            .map_err(|e| e.context(format_args!("{}: {key}={addr}", self.verb)))
    }

    /// The label of `as=`, if given.
    pub(crate) fn bind(&self) -> Result<Option<String>, Error> {
        self.opt("as", parse_label)
    }

    /// Whether flag `flag` was given.
    pub(crate) fn flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }
}

/// The error for a key or flag word `word` that the command does not take.
fn unknown(syntax: &Syntax, what: &str, word: &str) -> Error {
    let mut expected: Vec<String> = syntax.keys.iter().map(|k| format!("{k}=")).collect();
    expected.extend(syntax.flags.iter().map(|f| f.to_string()));
    err!(
        EINVAL,
        "{}: unknown {what} {word:?} (expected {})",
        syntax.verb,
        expected.join(", ")
    )
}
