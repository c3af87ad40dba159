//! anonmap-fusefs: the /proc-like tree of the simulated machine.
//!
//! The parts:
//! - [`view`]: plain view types the daemon fills from its state; this crate knows nothing of
//!   the simulator.
//! - [`render`]: one renderer per file, turning view types into the kernel's /proc text byte for
//!   byte (maps, smaps, smaps_rollup, status, statm, pagemap, meminfo) and into anonmap's own
//!   `rmap` and `names` files.
//! - [`source`]: the narrow [`source::Source`] trait through which the tree asks the daemon for
//!   views.
//! - [`tree`]: the layout of the tree (lookup, listing, rendering a node), shared by the FUSE
//!   adapter and the control socket's `read path=`.

pub mod render;
pub mod source;
pub mod tree;
pub mod view;
