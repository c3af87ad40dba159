//! anonmap-testkit: what the workspace's tests share.
//!
//! - [`sim`]: [`sim::Sim`], a machine driven by command lines with invariants checked after
//!   every op, and the compact layout and counter views the simulator tests assert on.
//! - [`oracle`]: the kernel oracle cases (finding, running with `#! err` expectations,
//!   comparing with the kernel's smaps by `compare.py`'s rules).
//! - [`daemon`]: the real `anonmapd` binary in a temporary directory, ready on sd_notify.
//! - [`inproc`]: `anonmapd`'s library served from a thread of the test process.
//! - [`wire`]: replies of the socket as text, through the language's reply codec.
//! - [`tree_dump`]: a machine's tree written out as a /proc-like directory.
//! - [`privilege`]: skipping (with a printed reason) the tests that need root.
//!
//! Mount-point helpers are the FUSE adapter's own (`anonmap_fusefs::mount::{is_mount_point,
//! detach, statfs}`): the tests use the same code as the daemon.

pub mod daemon;
pub mod inproc;
pub mod oracle;
pub mod privilege;
pub mod sim;
pub mod tree_dump;
pub mod wire;
