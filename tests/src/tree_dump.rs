//! Writes the text files of a simulated machine's tree into a directory, laid out like /proc
//! (`DIR/<pid>/{maps,smaps,smaps_rollup,status,statm,comm}`, `DIR/meminfo`, `DIR/names`), so
//! that tools which read a /proc copy (the client's `--proc DIR`, the `procfs` crate's
//! `Process::new_with_root`) can be tested on a known machine without a daemon or a mount.
//! pagemap and `rmap/` are not written: they are binary or one file per resident page.

use std::io;
use std::path::Path;

use anonmap_fusefs::source::Source;
use anonmap_fusefs::tree::{self, Node, ProcFile};

/// Writes every text file of `source`'s tree under `dir` (created if missing).
pub fn dump_tree(source: &dyn Source, dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let render = |node: Node| {
        tree::render(source, node).map_err(|e| io::Error::other(format!("{node:?}: {e}")))
    };
    for pid in source.pids() {
        let pdir = dir.join(pid.to_string());
        std::fs::create_dir_all(&pdir)?;
        for file in ProcFile::ALL {
            if file == ProcFile::Pagemap {
                continue;
            }
            std::fs::write(pdir.join(file.name()), render(Node::ProcFile(pid, file))?)?;
        }
    }
    std::fs::write(dir.join("meminfo"), render(Node::Meminfo)?)?;
    std::fs::write(dir.join("names"), render(Node::Names)?)?;
    Ok(())
}
