//! The simulated memory manager.
