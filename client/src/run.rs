//! Driving the daemon: `anonmap run FILE|-`, `anonmap do LINE...` and the apply step of
//! `anonmap replay --strace`.
//!
//! A script is read by [`anonmap_lang::script::statements`]: its command lines, each with the
//! expectation of a `#! err ERRNO` directive before it. A malformed directive (an unknown errno,
//! a directive with no op after it) is an error before anything is sent. An op under `#! err E`
//! that fails with exactly E counts as failed as expected; its succeeding, or failing with
//! another errno, is an error at that line ([`anonmap_lang::script::check`] gives the verdict).
//!
//! Lines are pipelined (up to `window` in flight). On the first error the run stops sending and
//! reports `file:line`, the line and what happened (for a line without a directive, the daemon's
//! errno and message); lines that were already in flight when the error came back are still
//! answered by the daemon, and the summary says how many of them were applied (use `--window 1`
//! for a strict stop). `--keep-going` sends everything and lists every error.

use std::time::{Duration, Instant};

use anonmap_abi::{Errno, Error, Outcome};
use anonmap_lang::reply::{outcome_pair, Reply};
use anonmap_lang::script::{check, statements};

use crate::conn::{Conn, ConnError};

/// One line to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptLine {
    /// Where it comes from: `file:line`, `arg N`.
    pub origin: String,
    pub line: String,
    /// The errno a `#! err` directive requires the op to fail with.
    pub expect: Option<Errno>,
}

impl ScriptLine {
    /// A line with no expectation: it must succeed.
    pub fn new(origin: impl Into<String>, line: impl Into<String>) -> ScriptLine {
        ScriptLine {
            origin: origin.into(),
            line: line.into(),
            expect: None,
        }
    }
}

/// A script that cannot be run: a malformed `#! err` directive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line_no}: {message}")]
pub struct ScriptError {
    pub file: String,
    pub line_no: usize,
    pub message: String,
}

/// One failed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub origin: String,
    pub line: String,
    /// The daemon's error, if the op failed (`None`: it succeeded against a `#! err`).
    pub error: Option<Error>,
    /// What happened: the daemon's `ERRNO message` for a line without a directive, else the
    /// verdict of [`check`].
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}\n  error: {}",
            self.origin, self.line, self.message
        )
    }
}

/// What a run did.
#[derive(Debug, Default)]
pub struct RunSummary {
    pub applied: usize,
    pub errors: Vec<LineError>,
    /// Lines under `#! err ERRNO` that failed with exactly ERRNO.
    pub failed_as_expected: usize,
    /// Lines applied (or failed as expected) after the first error (they were already in
    /// flight).
    pub applied_after_error: usize,
    pub elapsed: Duration,
    /// The `ok` replies with values (for `do`), in order: (origin, `KEY=VALUE`).
    pub results: Vec<(String, String)>,
}

impl RunSummary {
    pub fn report(&self) -> String {
        let mut s = String::new();
        for e in &self.errors {
            s.push_str(&format!("{e}\n"));
        }
        let secs = self.elapsed.as_secs_f64();
        let done = self.applied + self.failed_as_expected;
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        let expected = if self.failed_as_expected > 0 {
            format!(", {} failed as expected", self.failed_as_expected)
        } else {
            String::new()
        };
        s.push_str(&format!(
            "{} lines applied, {} failed{expected}, in {:.3} s ({:.0} lines/s)\n",
            self.applied,
            self.errors.len(),
            secs,
            rate
        ));
        if self.applied_after_error > 0 {
            s.push_str(&format!(
                "note: {} lines after the first error were already in flight and were applied (use --window 1 to stop exactly)\n",
                self.applied_after_error
            ));
        }
        s
    }
}

/// The lines of a script worth sending (its statements: no blanks, comments or directives),
/// with origin `file:line` and the expectation of their `#! err` directive. A malformed
/// directive is an error.
pub fn script_lines(text: &str, file: &str) -> Result<Vec<ScriptLine>, ScriptError> {
    statements(text)
        .map(|st| {
            let st = st.map_err(|e| ScriptError {
                file: file.to_string(),
                line_no: e.line_no,
                message: e.message,
            })?;
            Ok(ScriptLine {
                origin: format!("{file}:{}", st.line_no),
                line: st.text.to_string(),
                expect: st.expect,
            })
        })
        .collect()
}

/// Sends `lines` pipelined; see the module docs for the expectations and the stop rule.
pub fn run_lines(
    conn: &mut Conn,
    lines: Vec<ScriptLine>,
    keep_going: bool,
    window: usize,
) -> Result<RunSummary, ConnError> {
    let start = Instant::now();
    let mut s = RunSummary::default();
    let mut stopped = false;
    let tagged = lines.into_iter().map(|l| ((l.origin, l.expect), l.line));
    conn.pipeline(
        tagged,
        window,
        &mut |(origin, expect): &(String, Option<Errno>), line, reply| {
            // What the reply says, as a call's result; a `read`'s bytes are a success.
            let (got, result) = match reply {
                Reply::Ok(o) => (Ok(o), outcome_pair(&o).map(|(k, v)| format!("{k}={v}"))),
                Reply::Body(b) => (Ok(Outcome::Done), Some(format!("bytes={}", b.len()))),
                Reply::Err(e) => (Err(e), None),
            };
            match check(*expect, &got) {
                Ok(()) => {
                    if got.is_ok() {
                        s.applied += 1;
                    } else {
                        s.failed_as_expected += 1;
                    }
                    if stopped {
                        s.applied_after_error += 1;
                    }
                    if let Some(r) = result {
                        s.results.push((origin.clone(), r));
                    }
                }
                Err(verdict) => {
                    let error = got.err();
                    let message = match (expect, &error) {
                        // As before directives: the daemon's own words.
                        (None, Some(e)) => e.to_string(),
                        _ => verdict,
                    };
                    s.errors.push(LineError {
                        origin: origin.clone(),
                        line: line.to_string(),
                        error,
                        message,
                    });
                    if !keep_going {
                        stopped = true;
                    }
                }
            }
            keep_going || !stopped
        },
    )?;
    s.elapsed = start.elapsed();
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::fake;
    use anonmap_abi::err;

    #[test]
    fn script_lines_skip_blanks_and_comments_and_keep_numbers() {
        let l = script_lines("# c\n\nspawn pid=1\n  # x\nexit pid=1\r\n", "s.anonmap").unwrap();
        assert_eq!(
            l,
            [
                ScriptLine::new("s.anonmap:3", "spawn pid=1"),
                ScriptLine::new("s.anonmap:5", "exit pid=1"),
            ]
        );
    }

    #[test]
    fn script_lines_carry_directives_and_refuse_bad_ones() {
        let l = script_lines("spawn pid=1\n#! err ESRCH\n# why\nexit pid=9\n", "s").unwrap();
        assert_eq!(l[1].origin, "s:4");
        assert_eq!(l[1].expect, Some(Errno::ESRCH));
        assert_eq!(l[0].expect, None);
        let e = |text| script_lines(text, "s").unwrap_err().to_string();
        assert_eq!(
            e("spawn pid=1\n#! err EWHAT\nexit pid=1\n"),
            "s:2: #! err: unknown errno \"EWHAT\""
        );
        assert_eq!(
            e("spawn pid=1\n#! err ESRCH\n"),
            "s:2: #! err: no op follows"
        );
    }

    /// A fake daemon that fails `exit pid=9` with ESRCH, `mmap` with ENOMEM, and answers
    /// everything else with `ok pid=1`. Returns the summary and how many lines it saw.
    fn run(text: &str, keep_going: bool) -> (RunSummary, usize) {
        let (mut c, server) = fake::daemon(|_, line| {
            if line == "exit pid=9" {
                Reply::Err(err!(ESRCH, "no process 9"))
            } else if line.starts_with("mmap") {
                Reply::Err(err!(ENOMEM, "out of memory"))
            } else {
                Reply::Ok(Outcome::Pid(1))
            }
        });
        let lines = script_lines(text, "s.anonmap").unwrap();
        let s = run_lines(&mut c, lines, keep_going, 1).unwrap();
        drop(c);
        (s, server.join().unwrap())
    }

    /// Strip the timing of a report's summary line.
    fn counts(report: &str) -> Vec<&str> {
        report
            .lines()
            .map(|l| l.split(", in ").next().unwrap())
            .collect()
    }

    #[test]
    fn an_expected_failure_is_not_an_error() {
        let (s, seen) = run("spawn pid=1\n#! err ESRCH\nexit pid=9\nexit pid=1\n", false);
        assert_eq!(seen, 3);
        assert_eq!((s.applied, s.failed_as_expected), (2, 1));
        assert!(s.errors.is_empty());
        assert_eq!(
            counts(&s.report()),
            ["2 lines applied, 0 failed, 1 failed as expected"]
        );
        assert_eq!(s.results.len(), 2);
    }

    #[test]
    fn a_directive_not_met_is_an_error_at_its_line() {
        // the op succeeds
        let (s, seen) = run("#! err ESRCH\nspawn pid=1\nexit pid=1\n", false);
        assert_eq!(seen, 1, "the run stops at the error");
        assert_eq!(s.errors.len(), 1);
        assert_eq!(s.errors[0].error, None);
        assert_eq!(
            s.errors[0].to_string(),
            "s.anonmap:2: spawn pid=1\n  error: succeeded; #! err expected ESRCH"
        );
        // the op fails with another errno; --keep-going goes on
        let text = "#! err EINVAL\nmmap pid=1 len=0x1000 prot=rw- flags=private,anonymous\n\
                    exit pid=9\nexit pid=1\n";
        let (s, seen) = run(text, true);
        assert_eq!(seen, 3);
        assert_eq!(
            s.errors[0].to_string(),
            "s.anonmap:2: mmap pid=1 len=0x1000 prot=rw- flags=private,anonymous\n  \
             error: failed with ENOMEM out of memory; #! err expected EINVAL"
        );
        assert_eq!(s.errors[0].error.as_ref().unwrap().errno, Errno::ENOMEM);
        // a line without a directive fails as before: the daemon's errno and message
        assert_eq!(
            s.errors[1].to_string(),
            "s.anonmap:3: exit pid=9\n  error: ESRCH no process 9"
        );
        assert_eq!((s.applied, s.failed_as_expected), (1, 0));
        let report = s.report();
        assert_eq!(counts(&report).last(), Some(&"1 lines applied, 2 failed"));
    }
}
