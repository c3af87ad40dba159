//! anonmap-proc: the /proc tree of the simulated machine, as pure functions.
//!
//! The parts:
//! - [`view`]: plain view types the simulator fills; this crate knows nothing of the simulator.
//! - [`render`]: one renderer per file, turning view types into the kernel's /proc text byte for
//!   byte (maps, smaps, smaps_rollup, status, statm, pagemap, oom_score, oom_score_adj,
//!   meminfo, vmstat), into the kernel log's lines (`kmsg`) and into anonmap's own `rmap` and
//!   `names` files.
//! - [`source`]: the narrow [`Source`] trait through which the tree asks for views (and hands
//!   on the call a write to `<pid>/clear_refs` or `<pid>/oom_score_adj` makes).
//! - [`tree`]: the layout of the tree (lookup, listing, rendering a node, writing
//!   `clear_refs` and `oom_score_adj`), shared by the FUSE adapter and the control socket's
//!   `read path=`.
//! - [`clear_refs`], [`oom_score_adj`]: the kernel's parse of a write to each writable file,
//!   over [`kstrtox`], the kernel's string-to-integer conversions.
//! - [`fake`]: an in-memory `Source` for tests.
//!
//! No I/O happens here: the FUSE adapter (`anonmap-fusefs`) and the daemon's socket serve what
//! these functions render.

#![forbid(unsafe_code)]

pub mod clear_refs;
pub mod fake;
pub mod kstrtox;
pub mod oom_score_adj;
pub mod render;
pub mod source;
pub mod tree;
pub mod view;

pub use source::Source;
pub use tree::{Node, ProcFile, TreeError};
