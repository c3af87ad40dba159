//! anonmap-proc: the /proc tree of the simulated machine, as pure functions.
//!
//! The parts:
//! - [`view`]: plain view types the simulator fills; this crate knows nothing of the simulator.
//! - [`render`]: one renderer per file, turning view types into the kernel's /proc text byte for
//!   byte (maps, smaps, smaps_rollup, status, statm, pagemap, meminfo) and into anonmap's own
//!   `rmap` and `names` files.
//! - [`source`]: the narrow [`Source`] trait through which the tree asks for views (and hands
//!   on the call a write to `<pid>/clear_refs` makes).
//! - [`tree`]: the layout of the tree (lookup, listing, rendering a node, writing
//!   `clear_refs`), shared by the FUSE adapter and the control socket's `read path=`.
//! - [`clear_refs`]: the kernel's parse of a write to `<pid>/clear_refs`.
//! - [`fake`]: an in-memory `Source` for tests.
//!
//! No I/O happens here: the FUSE adapter (`anonmap-fusefs`) and the daemon's socket serve what
//! these functions render.

#![forbid(unsafe_code)]

pub mod clear_refs;
pub mod fake;
pub mod render;
pub mod source;
pub mod tree;
pub mod view;

pub use source::Source;
pub use tree::{Node, ProcFile, TreeError};
