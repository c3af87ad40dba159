//! anonmap-lang: the command language, one line one operation, used by scripts, the control
//! socket, the journal, the client and every test. `docs/command-language.md` describes it.
//!
//! - `lex.rs` splits a line into its command word and `key=value` arguments;
//! - [`value`] reads numbers (and the signed `value=` of `clear_refs` and `oom_score_adj`),
//!   addresses, labels, `prot=`, flag lists, `advice=`, `access=`;
//! - [`labels`]: `as=LABEL` bindings and `LABEL+OFFSET` addresses;
//! - [`parse_line`] reads a line into a [`Command`]: a typed [`anonmap_abi::Call`] with its
//!   labels resolved, or a `read`; `forms.rs` declares, per call, its keys and how it is read
//!   and printed;
//! - [`print`]: the canonical line of a call ([`line`]) and the one quoting rule;
//! - [`script`]: scripts with `#! err ERRNO` expectations, and the journal's record form;
//! - [`Session`]: the interpreter that runs lines and scripts against a
//!   [`Kernel`](anonmap_abi::Kernel);
//! - [`reply`]: the socket's replies, encoded and decoded.

#![forbid(unsafe_code)]

mod forms;
pub mod labels;
mod lex;
mod parse;
pub mod print;
pub mod reply;
pub mod script;
mod session;
pub mod value;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use forms::verb;
pub use labels::{Addr, Labels};
pub use parse::{parse_call, parse_line, Command};
pub use print::{line, quote};
pub use reply::Reply;
pub use session::{ScriptError, ScriptSummary, Session};
pub use value::{is_label, parse_addr, parse_number};
