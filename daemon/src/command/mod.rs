//! The command language (`../shared/design/command-language.md`): one line, one operation.
//!
//! - [`parse_line`] / [`parse_script`] read lines into [`Op<Addr>`] values (`lex.rs` splits a
//!   line into words, `value.rs` reads numbers, addresses and the other values, `parse.rs`
//!   checks each command's keys);
//! - `Display` on [`Op`] and on every value type prints the canonical form, which parses back to
//!   the same value (`print.rs`);
//! - [`Labels`] and [`Op::resolve`] turn the `LABEL+OFFSET` addresses of a parsed op into the
//!   numbers of an `Op<u64>` (`resolve.rs`).

mod lex;
mod op;
mod parse;
mod print;
mod resolve;
mod value;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use op::{Access, Addr, Advice, MmapFlags, MremapFlags, Op, Prot};
pub use parse::{parse_line, parse_request, parse_script, Request};
pub use print::FmtAddr;
pub use resolve::Labels;
pub use value::{is_label, parse_addr, parse_number};
