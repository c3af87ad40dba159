//! The command language (`../shared/design/command-language.md`): one line, one operation.

mod op;

pub use op::{Access, Addr, Advice, MmapFlags, MremapFlags, Op, Prot};
