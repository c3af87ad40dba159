//! Writes the text files of a simulated machine's tree into a directory, laid out like /proc
//! (`DIR/<pid>/{maps,smaps,smaps_rollup,status,statm,comm,oom_score,oom_score_adj}`,
//! `DIR/meminfo`, `DIR/vmstat`, `DIR/names`, `DIR/kmsg`), so
//! that tools which read a /proc copy (the client's `--proc DIR`, the `procfs` crate's
//! `Process::new_with_root`) can be tested on a known machine without a daemon or a mount.
//! pagemap and `rmap/` are not written: they are binary or one file per resident page.

use std::io;
use std::path::Path;

use anonmap_proc::tree::{self, Node};
use anonmap_proc::Source;

/// Writes every text file of `source`'s tree under `dir` (created if missing), but `rmap/`.
pub fn dump_tree(source: &dyn Source, dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (path, node) in tree::text_files(source) {
        if matches!(node, Node::Rmap(_)) {
            continue;
        }
        let text =
            tree::render(source, node).map_err(|e| io::Error::other(format!("{path}: {e}")))?;
        let file = dir.join(&path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(file, text)?;
    }
    Ok(())
}
