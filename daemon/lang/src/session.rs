//! The interpreter: [`Session`] runs command lines against a [`Kernel`], keeping the labels
//! that `as=` binds. The daemon keeps one per connection; scripts, journal replay, the examples,
//! the client's in-process runs and every test use the same one, so a line means the same
//! wherever it runs.
//!
//! [`Session::run_script`] is a whole script: every statement parsed against the session's
//! labels, applied, checked against its `#! err` expectation, and its label bound. A `read` in
//! a script is refused: only the daemon serves the tree.

use std::fmt;

use anonmap_abi::{err, Call, Error, Kernel, Outcome};

use crate::labels::Labels;
use crate::parse::{parse_line, Command};
use crate::script::{check, statements, Statement};

/// The state that carries from one line to the next: the label bindings.
#[derive(Debug, Clone, Default)]
pub struct Session {
    labels: Labels,
}

/// Where a script stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    /// 1-based line number.
    pub line_no: usize,
    /// The line as written (empty for a directive error).
    pub line: String,
    /// What went wrong: a parse error, an op whose result does not meet its expectation.
    pub message: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line.is_empty() {
            write!(f, "line {}: {}", self.line_no, self.message)
        } else {
            write!(f, "line {}: {}: {}", self.line_no, self.line, self.message)
        }
    }
}

impl std::error::Error for ScriptError {}

/// What a script did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptSummary {
    /// Calls applied, failed ones included.
    pub calls: usize,
    /// Of those, the calls that failed as their `#! err` expected.
    pub expected_failures: usize,
}

impl Session {
    pub fn new() -> Session {
        Session::default()
    }

    /// The labels bound so far.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// Parses `line` against this session's labels; `Ok(None)` for a blank or comment line.
    pub fn parse(&self, line: &str) -> Result<Option<Command>, Error> {
        parse_line(line, &self.labels)
    }

    /// Records the outcome of a call that was made: `bind` (the call's `as=`) takes the address
    /// it returned.
    pub fn bind(&mut self, bind: Option<&str>, outcome: &Outcome) {
        if let (Some(label), Outcome::Addr(addr)) = (bind, outcome) {
            self.labels.bind(label, *addr);
        }
    }

    /// Applies `call` to `kernel` and binds its label on success.
    pub fn call(
        &mut self,
        kernel: &mut (impl Kernel + ?Sized),
        call: &Call,
        bind: Option<&str>,
    ) -> Result<Outcome, Error> {
        let outcome = kernel.apply(call)?;
        self.bind(bind, &outcome);
        Ok(outcome)
    }

    /// Runs a whole script; stops at the first line that does not parse or whose result does
    /// not meet its expectation.
    pub fn run_script(
        &mut self,
        kernel: &mut (impl Kernel + ?Sized),
        text: &str,
    ) -> Result<ScriptSummary, ScriptError> {
        self.run_script_with(kernel, text, |_, _, _| Ok(()))
    }

    /// [`Session::run_script`], calling `after` with the kernel, each statement and its result
    /// once it has been checked (to check invariants, say); an `Err` from `after` stops the
    /// script there.
    pub fn run_script_with<K: Kernel + ?Sized>(
        &mut self,
        kernel: &mut K,
        text: &str,
        mut after: impl FnMut(&K, &Statement<'_>, &Result<Outcome, Error>) -> Result<(), String>,
    ) -> Result<ScriptSummary, ScriptError> {
        let mut summary = ScriptSummary::default();
        for stmt in statements(text) {
            let stmt = stmt.map_err(|e| ScriptError {
                line_no: e.line_no,
                line: String::new(),
                message: e.message,
            })?;
            let at = |message: String| ScriptError {
                line_no: stmt.line_no,
                line: stmt.text.to_string(),
                message,
            };
            let result = match self.parse(stmt.text) {
                Ok(Some(Command::Call { call, bind })) => {
                    summary.calls += 1;
                    self.call(kernel, &call, bind.as_deref())
                }
                Ok(Some(Command::Read { .. })) => Err(read_refused()),
                Ok(None) => continue,
                Err(e) => return Err(at(e.to_string())),
            };
            check(stmt.expect, &result).map_err(at)?;
            summary.expected_failures += usize::from(stmt.expect.is_some());
            after(kernel, &stmt, &result).map_err(at)?;
        }
        Ok(summary)
    }
}

/// The error of a `read` outside the daemon.
fn read_refused() -> Error {
    err!(
        EINVAL,
        "read: only the daemon serves the tree; a script applied to a machine cannot read it"
    )
}
