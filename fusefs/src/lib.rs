//! anonmap-fusefs: the /proc-like tree of the simulated machine.
//!
//! The parts:
//! - [`view`]: plain view types the daemon fills from its state; this crate knows nothing of
//!   the simulator.

pub mod view;
