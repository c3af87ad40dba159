//! anonmap: the client of the anonmap daemon. It drives the simulated machine (scripts, single
//! commands, strace replay) over the control socket and attributes memory by name, reading the
//! daemon's /proc-like tree, a copy of one, or the real /proc.
//!
//! It owns no copy of the lower layers: the ABI (errnos, calls, pagemap bits) is `anonmap-abi`;
//! the command language (printing calls, quoting, scripts with `#! err`, the reply codec) is
//! `anonmap-lang`; the format of the tree's own files (`rmap/<pfn>` and its parser) is
//! `anonmap-proc`'s.
//!
//! Parts:
//! - [`cli`]: the command line (clap).
//! - [`app`]: runs a parsed command line (what `main` calls).
//! - [`conn`]: the blocking, pipelining socket client (replies read by `anonmap_lang::reply`).
//! - [`source`]: where files come from (a directory or the socket), parsed with `procfs`.
//! - [`model`]: the collected per-process, per-VMA numbers; how PSS is summed.
//! - [`report`]: names, procs, map, categories, rmap, snapshot/diff.
//! - [`table`]: text/CSV/JSON output and units.
//! - [`categories`]: category rules (Android, glibc, Go, user files).
//! - [`strace`]: the strace parser and its translator into typed `anonmap_abi::Call`s.
//! - [`run`]: running scripts (read by `anonmap_lang::script`) and command lines.

pub mod app;
pub mod categories;
pub mod cli;
pub mod conn;
pub mod model;
pub mod report;
pub mod run;
pub mod source;
pub mod strace;
pub mod table;
