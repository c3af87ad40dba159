//! Scripts: a text of command lines, with `#! err ERRNO` directives.
//!
//! A line `#! err ERRNO` puts an expectation on the next command line: that op must fail with
//! exactly ERRNO. On a real kernel some calls change state before they fail (an mprotect that
//! stops at a hole keeps the VMAs it changed), so a failed call is part of a history and is
//! replayed with the rest; the journal writes failed calls the same way ([`record`]). Any other
//! line that starts with `#` is a comment.
//!
//! [`statements`] splits a script into its command lines, each with its line number and its
//! expectation; [`check`] says whether a result meets an expectation.

use std::fmt;

use anonmap_abi::{Call, Errno, Error, Outcome};

use crate::print::line;

/// The prefix of the directive line; the errno's name follows.
pub const ERR_DIRECTIVE: &str = "#! err ";

/// One command line of a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statement<'a> {
    /// 1-based.
    pub line_no: usize,
    /// The line as written (without its line end).
    pub text: &'a str,
    /// The errno a `#! err` directive on the line before requires, if any.
    pub expect: Option<Errno>,
}

/// A script that cannot be read: a directive with an unknown errno, or one without its op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectiveError {
    pub line_no: usize,
    pub message: String,
}

impl fmt::Display for DirectiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line_no, self.message)
    }
}

impl std::error::Error for DirectiveError {}

/// The errno of a directive line, `None` for any other line. An unknown errno name is an error.
pub fn directive(line: &str) -> Option<Result<Errno, String>> {
    let name = line
        .trim_start_matches([' ', '\t'])
        .strip_prefix(ERR_DIRECTIVE)?;
    let name = name.trim_end_matches([' ', '\t', '\r', '\n']);
    Some(Errno::from_name(name).ok_or_else(|| format!("#! err: unknown errno {name:?}")))
}

/// Whether `line` carries a command: not blank, not a comment, not a directive.
fn is_command(line: &str) -> bool {
    let t = line.trim_start_matches([' ', '\t']);
    !t.trim_end_matches([' ', '\t', '\r', '\n']).is_empty() && !t.starts_with('#')
}

/// The command lines of `text` in order, each with the expectation of the directive before it.
/// A directive must be followed by a command line (blank lines and comments may sit between).
pub fn statements(text: &str) -> impl Iterator<Item = Result<Statement<'_>, DirectiveError>> {
    let mut lines = text.lines().enumerate();
    let mut pending: Option<(usize, Errno)> = None;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        for (i, raw) in lines.by_ref() {
            let line_no = i + 1;
            if let Some(d) = directive(raw) {
                let errno = match d {
                    Ok(e) => e,
                    Err(message) => {
                        done = true;
                        return Some(Err(DirectiveError { line_no, message }));
                    }
                };
                if let Some((at, _)) = pending {
                    done = true;
                    return Some(Err(DirectiveError {
                        line_no: at,
                        message: "#! err: the next line is another #! err, not an op".into(),
                    }));
                }
                pending = Some((line_no, errno));
                continue;
            }
            if !is_command(raw) {
                continue;
            }
            let expect = pending.take().map(|(_, e)| e);
            return Some(Ok(Statement {
                line_no,
                text: raw.trim_end_matches('\r'),
                expect,
            }));
        }
        done = true;
        pending.take().map(|(line_no, _)| {
            Err(DirectiveError {
                line_no,
                message: "#! err: no op follows".into(),
            })
        })
    })
}

/// Whether `got` meets `expect`: with no expectation the op must succeed; with `#! err E` it
/// must fail with exactly E. The `Err` says what happened instead.
pub fn check(expect: Option<Errno>, got: &Result<Outcome, Error>) -> Result<(), String> {
    match (expect, got) {
        (None, Ok(_)) => Ok(()),
        (Some(want), Err(e)) if e.errno == want => Ok(()),
        (None, Err(e)) => Err(format!("failed: {e}")),
        (Some(want), Ok(_)) => Err(format!("succeeded; #! err expected {want}")),
        (Some(want), Err(e)) => Err(format!("failed with {e}; #! err expected {want}")),
    }
}

/// The script text of one applied call, as a journal writes it: its canonical line, preceded by
/// `#! err ERRNO` if it failed.
pub fn record(call: &Call, result: Result<(), Errno>) -> String {
    match result {
        Ok(()) => format!("{}\n", line(call)),
        Err(errno) => format!("{ERR_DIRECTIVE}{errno}\n{}\n", line(call)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anonmap_abi::{err, ExitArgs};

    #[test]
    fn directives_attach_to_the_next_command_line() {
        let text = "spawn pid=1\n#! err ESRCH\n\n# why\nexit pid=9\r\n  # c\nexit pid=1\n";
        let got: Vec<_> = statements(text).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            got,
            [
                Statement {
                    line_no: 1,
                    text: "spawn pid=1",
                    expect: None
                },
                Statement {
                    line_no: 5,
                    text: "exit pid=9",
                    expect: Some(Errno::ESRCH)
                },
                Statement {
                    line_no: 7,
                    text: "exit pid=1",
                    expect: None
                },
            ]
        );
    }

    #[test]
    fn bad_directives_name_their_line() {
        let e = |text| statements(text).find_map(Result::err).unwrap().to_string();
        assert_eq!(
            e("#! err EWHAT\nexit pid=1"),
            "line 1: #! err: unknown errno \"EWHAT\""
        );
        assert_eq!(
            e("#! err EINVAL\n#! err EINVAL\nexit pid=1"),
            "line 1: #! err: the next line is another #! err, not an op"
        );
        assert_eq!(
            e("exit pid=1\n#! err EINVAL\n"),
            "line 2: #! err: no op follows"
        );
        assert_eq!(directive("#!/bin/sh"), None);
        assert_eq!(directive("  #! err ENOMEM "), Some(Ok(Errno::ENOMEM)));
    }

    #[test]
    fn expectations() {
        let fail = Err(err!(ENOMEM, "x"));
        assert_eq!(check(None, &Ok(Outcome::Done)), Ok(()));
        assert_eq!(check(Some(Errno::ENOMEM), &fail), Ok(()));
        assert_eq!(check(None, &fail), Err("failed: ENOMEM x".into()));
        assert_eq!(
            check(Some(Errno::EINVAL), &fail),
            Err("failed with ENOMEM x; #! err expected EINVAL".into())
        );
        assert!(check(Some(Errno::EINVAL), &Ok(Outcome::Pid(3))).is_err());
        let exit = Call::Exit(ExitArgs { pid: 3 });
        assert_eq!(record(&exit, Ok(())), "exit pid=3\n");
        assert_eq!(
            record(&exit, Err(Errno::ESRCH)),
            "#! err ESRCH\nexit pid=3\n"
        );
    }
}
