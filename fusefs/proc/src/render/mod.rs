//! The renderers: one module per file of the tree, each turning view types into the file's bytes.
//!
//! Every renderer appends to a caller-owned `Vec<u8>` and formats numbers without allocating
//! (see `fmt`), so a 64,000-VMA smaps renders in a few milliseconds. The kernel-defined files
//! (maps, smaps, smaps_rollup, status, statm, pagemap, oom_score, oom_score_adj, meminfo,
//! vmstat) match Linux 6.18 on x86_64 byte for byte; `rmap` and `names` are anonmap's own and
//! `kmsg` is the kernel log's bare lines; each documents its format in its module.

mod fmt;
pub mod kmsg;
pub mod maps;
pub mod meminfo;
pub mod names;
pub mod oom;
pub mod pagemap;
pub mod rmap;
pub mod smaps;
pub mod smaps_rollup;
pub mod status;
pub mod vmstat;

pub use kmsg::render_kmsg;
pub use maps::{render_maps, write_vma_header};
pub use meminfo::render_meminfo;
pub use names::render_names;
pub use oom::{render_oom_score, render_oom_score_adj};
pub use pagemap::{pagemap_range, render_pagemap, PagemapError};
pub use rmap::render_rmap;
pub use smaps::render_smaps;
pub use smaps_rollup::render_smaps_rollup;
pub use status::{render_statm, render_status};
pub use vmstat::render_vmstat;
