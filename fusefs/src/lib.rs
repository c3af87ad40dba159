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
//! - [`inode`]: the stateless encoding of tree nodes as FUSE inode numbers.
//! - [`handles`]: what an open file (text rendered once, seq_file re-render at offset 0; ranged
//!   pagemap) and an open directory (listing snapshot, readdir offsets) hold, as pure logic.
//! - [`fuse`]: the fuser `Filesystem` adapter over a `Source`, a thin layer over the above.
//! - [`mount`]: mounting with stale-mount recovery and a fixed number of FUSE threads, and the
//!   [`mount::MountHandle`] whose `unmount` (or drop) is the one way out.
//! - [`fake`]: an in-memory `Source` for tests.
//!
//! The daemon calls [`mount::mount`]`(source, dir, threads)` and keeps the handle until shutdown.

pub mod fake;
pub mod fuse;
pub mod handles;
pub mod inode;
pub mod mount;
pub mod render;
pub mod source;
pub mod tree;
pub mod view;

pub use mount::{mount, MountHandle};
