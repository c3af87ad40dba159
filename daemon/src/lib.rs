//! anonmap-daemon: the simulated Linux memory manager and the command language that drives it.
//!
//! The parts:
//! - [`mm`]: the simulator, a deterministic synchronous state machine (processes, VMAs, page
//!   frames, page tables, anon_vma reverse mapping, file mappings, names) and the views it
//!   builds for rendering.
//! - [`command`]: the command language: parsing lines into [`command::Op`]s and printing them
//!   back in canonical form.
//! - [`errno`]: the errno values and the error type every failure carries.
//! - [`journal`]: the journal of applied ops, its group commit, snapshots and recovery.
//! - [`server`]: the shared machine, the control socket, its connections and the command line
//!   of the `anonmapd` binary.

pub mod command;
pub mod errno;
pub mod journal;
pub mod mm;
pub mod server;

pub use errno::{Errno, Error};
