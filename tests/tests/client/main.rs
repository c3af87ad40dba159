//! The `anonmap` client across crates: its reports on the demo tree against golden files
//! ([`golden`]), its strace translation of a real capture ([`strace`]), and the real client
//! against the real daemon ([`e2e`]).

mod e2e;
mod golden;
mod strace;
