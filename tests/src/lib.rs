//! anonmap-tests: shared pieces of the end-to-end and oracle tests (the tests live in tests/).
//!
//! - [`e2e`]: a harness running the real `anonmapd` (socket, FUSE mount, kill and restart).
//! - [`kernel_gen`]: a replay of the kernel oracle generator (gen.c) against the simulator, which
//!   recovers the calls a case's script leaves out.
//! - [`oracle`]: the oracle cases as data: listing, comparing with `compare.py`'s rules,
//!   replaying a folder of cases from their seeds.
//! - [`tree_dump`]: a simulated machine's tree written out as a /proc-like directory.

pub mod e2e;
pub mod kernel_gen;
pub mod oracle;
pub mod tree_dump;
