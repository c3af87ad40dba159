//! anonmap-fusefs: the FUSE adapter of the tree, a thin layer over the pure functions of
//! `anonmap-proc`.
//!
//! The parts:
//! - [`inode`]: the stateless encoding of tree nodes as FUSE inode numbers.
//! - [`handles`]: what an open file (text rendered once, seq_file re-render at offset 0; ranged
//!   pagemap; write-only clear_refs; oom_score_adj, rendered on every read and written) and an
//!   open directory (listing snapshot, readdir offsets) hold, as pure logic.
//! - [`fuse`]: the fuser `Filesystem` adapter over a [`Source`](anonmap_proc::Source): the
//!   modes and owners, and the writable files, `<pid>/clear_refs` and `<pid>/oom_score_adj`.
//! - [`mount`]: mounting with stale-mount recovery and a fixed number of FUSE threads, the
//!   [`mount::MountHandle`] whose `unmount` (or drop) is the one way out, and the mount-point
//!   helpers (`is_mount_point`, `detach`, `statfs_errno`) that tests use too.
//!
//! The daemon calls [`mount::mount`]`(source, dir, threads)` and keeps the handle until shutdown.

pub mod fuse;
pub mod handles;
pub mod inode;
pub mod mount;

pub use mount::{mount, MountHandle};
