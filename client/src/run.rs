//! Driving the daemon: `anonmap run FILE|-`, `anonmap do LINE...` and the apply step of
//! `anonmap replay --strace`.
//!
//! Lines are pipelined (up to `window` in flight). On the first `err` reply the run stops
//! sending and reports `file:line`, the line and the daemon's errno and message; lines that
//! were already in flight when the error came back are still answered by the daemon, and the
//! summary says how many of them were applied (use `--window 1` for a strict stop).
//! `--keep-going` sends everything and lists every error.

use std::time::{Duration, Instant};

use crate::conn::{Conn, ConnError, Reply};

/// One failed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub origin: String,
    pub line: String,
    pub errno: String,
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}\n  error: {} {}",
            self.origin, self.line, self.errno, self.message
        )
    }
}

/// What a run did.
#[derive(Debug, Default)]
pub struct RunSummary {
    pub applied: usize,
    pub errors: Vec<LineError>,
    /// Lines applied after the first error (they were already in flight).
    pub applied_after_error: usize,
    pub elapsed: Duration,
    /// The `ok` replies with values (for `do`), in order: (origin, reply text).
    pub results: Vec<(String, String)>,
}

impl RunSummary {
    pub fn report(&self) -> String {
        let mut s = String::new();
        for e in &self.errors {
            s.push_str(&format!("{e}\n"));
        }
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            self.applied as f64 / secs
        } else {
            0.0
        };
        s.push_str(&format!(
            "{} lines applied, {} failed, in {:.3} s ({:.0} lines/s)\n",
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

/// The lines of a script worth sending: (origin `file:line`, text), without blanks and comments.
pub fn script_lines(text: &str, file: &str) -> Vec<(String, String)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim_start();
            !t.is_empty() && !t.starts_with('#')
        })
        .map(|(i, l)| {
            (
                format!("{file}:{}", i + 1),
                l.trim_end_matches('\r').to_string(),
            )
        })
        .collect()
}

/// Sends `lines` pipelined; see the module docs for the stop rule.
pub fn run_lines(
    conn: &mut Conn,
    lines: Vec<(String, String)>,
    keep_going: bool,
    window: usize,
) -> Result<RunSummary, ConnError> {
    let start = Instant::now();
    let mut s = RunSummary::default();
    let mut stopped = false;
    conn.pipeline(
        lines.into_iter(),
        window,
        &mut |origin: &String, line, reply| {
            match reply {
                Reply::Ok { pairs, .. } => {
                    s.applied += 1;
                    if stopped {
                        s.applied_after_error += 1;
                    }
                    if !pairs.is_empty() {
                        let v: Vec<String> =
                            pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        s.results.push((origin.clone(), v.join(" ")));
                    }
                }
                Reply::Err { errno, message } => {
                    s.errors.push(LineError {
                        origin: origin.clone(),
                        line: line.to_string(),
                        errno,
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

pub fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_lines_skip_blanks_and_comments_and_keep_numbers() {
        let l = script_lines("# c\n\nspawn pid=1\n  # x\nexit pid=1\r\n", "s.anonmap");
        assert_eq!(
            l,
            [
                ("s.anonmap:3".to_string(), "spawn pid=1".to_string()),
                ("s.anonmap:5".to_string(), "exit pid=1".to_string())
            ]
        );
    }
}
