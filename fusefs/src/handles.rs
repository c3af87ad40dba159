//! What an open file or an open directory of the tree holds, and how reads are served from it:
//! pure logic over a [`Source`], tested here without a mount. The FUSE adapter only stores these
//! behind file handles.
//!
//! Files follow seq_file: the text is rendered once from one view when the file is opened and
//! every read is a slice of those bytes, so chunked reads never mix two states; a read at offset 0
//! after earlier reads renders afresh (`seq_read_iter` restarts at position 0). pagemap is the
//! exception, as in the kernel: it has no text, each read computes its own range. clear_refs
//! has neither: it is write-only, each write is parsed and applied on its own
//! ([`tree::write`]), as the opener, wherever it lands (proc ignores the offset).
//! oom_score_adj is read and written: as in the kernel (`oom_score_adj_read` formats into a
//! buffer on every call), every read renders afresh, and every write is applied as the opener,
//! as clear_refs's are.
//!
//! Directories are listed once, when opened, and `readdir` walks that snapshot, so a listing is
//! stable however the machine changes while it is read, and offsets stay meaningful.

use std::borrow::Cow;

use anonmap_proc::tree::{self, Node, ProcFile, TreeError};
use anonmap_proc::Source;

/// An open file.
#[derive(Debug)]
pub enum OpenFile {
    /// A text file rendered whole.
    Text(TextFile),
    /// `<pid>/pagemap`: stateless, each read asks the source for the requested range only.
    Pagemap { pid: u32 },
    /// `<pid>/clear_refs`: write-only. Writes are applied as `uid`, the opener (the kernel
    /// checks permissions at open and keeps the opener's credentials in the file).
    ClearRefs { pid: u32, uid: u32 },
    /// `<pid>/oom_score_adj`: each read renders the value afresh; writes are applied as `uid`,
    /// the opener, as clear_refs's.
    OomScoreAdj { pid: u32, uid: u32 },
}

/// An open text file.
#[derive(Debug)]
pub struct TextFile {
    node: Node,
    /// The file's text, rendered from one view. Invariant: every read served since the last
    /// render was a slice of these bytes.
    text: Vec<u8>,
    /// Whether a read has been served from `text`. A read at offset 0 while this is set renders
    /// afresh; the render made at open serves the first read, wherever it starts.
    read_since_render: bool,
}

impl OpenFile {
    /// Opens `node` for `uid`: renders a text file once; checks that the process of a pagemap,
    /// a clear_refs or an oom_score_adj exists. Permissions are the caller's to check first.
    pub fn open(source: &dyn Source, node: Node, uid: u32) -> Result<OpenFile, TreeError> {
        match node {
            Node::ProcFile(pid, ProcFile::Pagemap) => {
                if source.has_pid(pid) {
                    Ok(OpenFile::Pagemap { pid })
                } else {
                    Err(TreeError::NotFound(format!("{pid}/pagemap")))
                }
            }
            Node::ProcFile(pid, ProcFile::ClearRefs) => {
                if source.has_pid(pid) {
                    Ok(OpenFile::ClearRefs { pid, uid })
                } else {
                    Err(TreeError::NotFound(format!("{pid}/clear_refs")))
                }
            }
            Node::ProcFile(pid, ProcFile::OomScoreAdj) => {
                if source.has_pid(pid) {
                    Ok(OpenFile::OomScoreAdj { pid, uid })
                } else {
                    Err(TreeError::NotFound(format!("{pid}/oom_score_adj")))
                }
            }
            _ => Ok(OpenFile::Text(TextFile {
                node,
                text: tree::render(source, node)?,
                read_since_render: false,
            })),
        }
    }

    /// Up to `size` bytes at `offset`; empty at or past the end.
    ///
    /// Text: a slice of the rendered text, re-rendered first if `offset` is 0 and the text was
    /// read before. If the object is gone by then (the process exited), the fresh text is empty,
    /// as /proc files of a dead process read empty. pagemap: `offset` and `size` must be
    /// multiples of 8 (EINVAL); a process that is gone reads as end of file, as in the kernel.
    /// clear_refs: EINVAL (no read operation; only root can open it for reading).
    /// oom_score_adj: a slice of a fresh render (ESRCH if the process is gone, as
    /// `oom_score_adj_read`'s `get_proc_task` fails).
    pub fn read(
        &mut self,
        source: &dyn Source,
        offset: u64,
        size: u32,
    ) -> Result<Cow<'_, [u8]>, TreeError> {
        match self {
            OpenFile::Text(t) => {
                if offset == 0 && t.read_since_render {
                    t.text = match tree::render(source, t.node) {
                        Ok(text) => text,
                        Err(TreeError::NotFound(_)) => Vec::new(),
                        Err(e) => return Err(e),
                    };
                }
                t.read_since_render = true;
                let len = t.text.len() as u64;
                let start = offset.min(len) as usize;
                let end = offset.saturating_add(u64::from(size)).min(len) as usize;
                Ok(Cow::Borrowed(&t.text[start..end]))
            }
            OpenFile::Pagemap { pid } => match tree::read_pagemap(source, *pid, offset, size) {
                Ok(bytes) => Ok(Cow::Owned(bytes)),
                Err(TreeError::NotFound(_)) => Ok(Cow::Borrowed(&[])),
                Err(e) => Err(e),
            },
            OpenFile::ClearRefs { pid, .. } => {
                Err(TreeError::WriteOnly(format!("{pid}/clear_refs")))
            }
            OpenFile::OomScoreAdj { pid, .. } => {
                let text = match tree::render(source, Node::ProcFile(*pid, ProcFile::OomScoreAdj)) {
                    Ok(text) => text,
                    Err(TreeError::NotFound(_)) => {
                        return Err(TreeError::Write(anonmap_abi::err!(
                            ESRCH,
                            "no process with pid {pid}"
                        )))
                    }
                    Err(e) => return Err(e),
                };
                let len = text.len() as u64;
                let start = offset.min(len) as usize;
                let end = offset.saturating_add(u64::from(size)).min(len) as usize;
                Ok(Cow::Owned(text[start..end].to_vec()))
            }
        }
    }

    /// A write of `data` (at any offset: proc ignores it); the count the write returns.
    /// clear_refs and oom_score_adj: [`tree::write`] as the opener. Every other file is
    /// read-only (EROFS; the adapter never opens one for writing).
    pub fn write(&self, source: &dyn Source, data: &[u8]) -> Result<usize, TreeError> {
        match *self {
            OpenFile::ClearRefs { pid, uid } => {
                tree::write(source, uid, Node::ProcFile(pid, ProcFile::ClearRefs), data)
            }
            OpenFile::OomScoreAdj { pid, uid } => tree::write(
                source,
                uid,
                Node::ProcFile(pid, ProcFile::OomScoreAdj),
                data,
            ),
            OpenFile::Text(ref t) => Err(TreeError::ReadOnly(format!("{:?}", t.node))),
            OpenFile::Pagemap { pid } => Err(TreeError::ReadOnly(format!("{pid}/pagemap"))),
        }
    }
}

/// One entry of a directory listing as readdir returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirEntry {
    /// The node the entry names (for `.` the directory, for `..` its parent).
    pub node: Node,
    /// The offset of the *next* entry: what the kernel passes back to continue after this one.
    pub next_offset: u64,
    /// `Some(".")` or `Some("..")`; `None` for a child, whose name is `node.name_in(..)`.
    pub special_name: Option<&'static str>,
}

/// An open directory: its listing, taken once at opendir.
#[derive(Debug)]
pub struct DirSnapshot {
    dir: Node,
    /// The children at opendir, in [`tree::list_dir_nodes`] order. Invariant: never changes, so
    /// offset `k` means the same entry for the life of the handle.
    children: Vec<Node>,
}

impl DirSnapshot {
    /// Lists `dir` once.
    pub fn open(source: &dyn Source, dir: Node) -> Result<DirSnapshot, TreeError> {
        Ok(DirSnapshot {
            dir,
            children: tree::list_dir_nodes(source, dir)?,
        })
    }

    /// The number of entries, `.` and `..` included.
    pub fn len(&self) -> usize {
        self.children.len() + 2
    }

    /// Whether the listing is empty (never: `.` and `..` are always there).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The entries from readdir offset `offset` on. Offsets are 1-based indices into the listing
    /// `[".", "..", children...]`: offset 0 starts at `.`, and the entry at index `k` carries
    /// `next_offset = k + 1`.
    pub fn entries_from(&self, offset: u64) -> impl Iterator<Item = DirEntry> + '_ {
        let specials = [(self.dir, "."), (self.dir.parent(), "..")];
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        specials
            .into_iter()
            .map(|(node, name)| (node, Some(name)))
            .chain(self.children.iter().map(|n| (*n, None)))
            .enumerate()
            .skip(skip)
            .map(|(k, (node, special_name))| DirEntry {
                node,
                next_offset: k as u64 + 1,
                special_name,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anonmap_proc::fake::{fake_frame, FakeSource};
    use anonmap_proc::render;

    fn source() -> FakeSource {
        FakeSource::machine(&[(7, "seven", 20, 3), (12, "twelve", 2, 1)], &[5, 9, 0x1f])
    }

    fn read_all(f: &mut OpenFile, s: &dyn Source, chunk: u32) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let got = f.read(s, out.len() as u64, chunk).unwrap().into_owned();
            if got.is_empty() {
                return out;
            }
            out.extend_from_slice(&got);
        }
    }

    #[test]
    fn text_is_rendered_at_open_and_served_in_slices() {
        let s = source();
        let mut f = OpenFile::open(&s, Node::ProcFile(7, ProcFile::Smaps), 0).unwrap();
        let mut expected = Vec::new();
        render::render_smaps(&s.address_space(7).unwrap(), &mut expected);
        assert!(expected.len() > 4096);
        for chunk in [1, 7, 4096, 128 << 10] {
            assert_eq!(read_all(&mut f, &s, chunk), expected, "chunk {chunk}");
        }
        assert!(f
            .read(&s, expected.len() as u64 + 10, 10)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn chunks_come_from_one_state() {
        let s = source();
        let mut f = OpenFile::open(&s, Node::ProcFile(7, ProcFile::Maps), 0).unwrap();
        let before = tree::render(&s, Node::ProcFile(7, ProcFile::Maps)).unwrap();
        let head = f.read(&s, 0, 100).unwrap().into_owned();
        s.update(|st| st.processes.get_mut(&7).unwrap().space.vmas.truncate(1));
        let mut got = head;
        loop {
            let more = f.read(&s, got.len() as u64, 100).unwrap().into_owned();
            if more.is_empty() {
                break;
            }
            got.extend_from_slice(&more);
        }
        assert_eq!(got, before);
    }

    #[test]
    fn first_read_uses_the_open_render_later_offset_zero_renders_afresh() {
        let s = source();
        let node = Node::ProcFile(12, ProcFile::Comm);
        let mut f = OpenFile::open(&s, node, 0).unwrap();
        s.update(|st| st.processes.get_mut(&12).unwrap().status.comm = "renamed".into());
        assert_eq!(&*f.read(&s, 0, 100).unwrap(), b"twelve\n");
        assert_eq!(&*f.read(&s, 0, 100).unwrap(), b"renamed\n");
        s.update(|st| st.processes.remove(&12));
        assert_eq!(&*f.read(&s, 0, 100).unwrap(), b"");
    }

    #[test]
    fn open_of_a_vanished_process_is_enoent() {
        let s = source();
        for f in ProcFile::ALL {
            let err = OpenFile::open(&s, Node::ProcFile(99, f), 0).unwrap_err();
            assert_eq!(err.errno(), anonmap_abi::Errno::ENOENT, "{f:?}");
        }
        let err = OpenFile::open(&s, Node::Rmap(6), 0).unwrap_err();
        assert_eq!(err.errno(), anonmap_abi::Errno::ENOENT);
    }

    #[test]
    fn pagemap_reads_the_requested_range_only() {
        let s = source();
        let mut f = OpenFile::open(&s, Node::ProcFile(7, ProcFile::Pagemap), 0).unwrap();
        let vpn = 0x1000_0000 / 4096;
        let got = f.read(&s, vpn * 8, 32).unwrap().into_owned();
        let expected: Vec<u8> = s.update(|st| {
            let map = &st.processes[&7].pagemap;
            (vpn..vpn + 4)
                .flat_map(|v| map.get(&v).copied().unwrap_or(0).to_le_bytes())
                .collect()
        });
        assert_ne!(expected, [0; 32]);
        assert_eq!(got, expected);
        assert_eq!(s.pagemap_requests()[0], (7, vpn, 4));
        for (offset, size) in [(4, 8), (8, 12), (1, 1)] {
            let err = f.read(&s, offset, size).unwrap_err();
            assert_eq!(err.errno(), anonmap_abi::Errno::EINVAL);
        }
        assert_eq!(
            s.pagemap_requests().len(),
            1,
            "misaligned reads never reach the source"
        );
        s.update(|st| st.processes.remove(&7));
        assert!(f.read(&s, vpn * 8, 8).unwrap().is_empty());
    }

    #[test]
    fn directories_are_files_nowhere() {
        let s = source();
        for dir in [Node::Root, Node::ProcDir(7), Node::RmapDir] {
            let err = OpenFile::open(&s, dir, 0).unwrap_err();
            assert_eq!(err.errno(), anonmap_abi::Errno::EISDIR);
        }
    }

    #[test]
    fn clear_refs_is_written_as_the_opener_and_never_read() {
        let s = source();
        s.update(|st| st.processes.get_mut(&7).unwrap().uid = 1000);
        let node = Node::ProcFile(7, ProcFile::ClearRefs);
        let mut f = OpenFile::open(&s, node, 1000).unwrap();
        assert_eq!(
            f.read(&s, 0, 100).unwrap_err().errno(),
            anonmap_abi::Errno::EINVAL
        );
        assert_eq!(f.write(&s, b"1\n"), Ok(2));
        assert_eq!(f.write(&s, b"4"), Ok(1));
        assert_eq!(
            f.write(&s, b"7\n").unwrap_err().errno(),
            anonmap_abi::Errno::EINVAL
        );
        let calls: Vec<(u32, i64)> = s
            .calls()
            .into_iter()
            .map(|(uid, call)| match call {
                anonmap_abi::Call::ClearRefs(a) => (uid, a.value),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(calls, [(1000, 1), (1000, 4)]);
        s.update(|st| st.processes.remove(&7));
        assert_eq!(
            f.write(&s, b"1").unwrap_err().errno(),
            anonmap_abi::Errno::ESRCH
        );
        let err = OpenFile::open(&s, node, 0).unwrap_err();
        assert_eq!(err.errno(), anonmap_abi::Errno::ENOENT);
        let maps = OpenFile::open(&s, Node::ProcFile(12, ProcFile::Maps), 0).unwrap();
        assert_eq!(
            maps.write(&s, b"1").unwrap_err().errno(),
            anonmap_abi::Errno::EROFS
        );
    }

    #[test]
    fn oom_score_adj_reads_afresh_and_is_written_as_the_opener() {
        use anonmap_abi::Errno;
        let s = source();
        s.update(|st| {
            let p = st.processes.get_mut(&7).unwrap();
            p.uid = 1000;
            p.oom.score_adj = -500;
            p.oom.score_adj_min = -500;
        });
        let node = Node::ProcFile(7, ProcFile::OomScoreAdj);
        let mut f = OpenFile::open(&s, node, 1000).unwrap();
        assert_eq!(&*f.read(&s, 0, 100).unwrap(), b"-500\n");
        assert_eq!(&*f.read(&s, 1, 2).unwrap(), b"50");
        assert!(f.read(&s, 5, 100).unwrap().is_empty());
        // Every read is a fresh render, wherever it starts (the kernel formats on each read).
        s.update(|st| st.processes.get_mut(&7).unwrap().oom.score_adj = 12);
        assert_eq!(&*f.read(&s, 0, 100).unwrap(), b"12\n");
        assert_eq!(&*f.read(&s, 1, 100).unwrap(), b"2\n");
        // Writes are calls of the opener.
        assert_eq!(f.write(&s, b"-500\n"), Ok(5));
        assert_eq!(f.write(&s, b"0x10"), Ok(4));
        assert_eq!(f.write(&s, b"-501").unwrap_err().errno(), Errno::EACCES);
        assert_eq!(f.write(&s, b"1001").unwrap_err().errno(), Errno::EINVAL);
        let calls: Vec<(u32, i64)> = s
            .calls()
            .into_iter()
            .map(|(uid, call)| match call {
                anonmap_abi::Call::OomScoreAdj(a) => (uid, a.value),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(calls, [(1000, -500), (1000, 16)]);
        // A process that is gone: reads and writes fail with ESRCH, a new open with ENOENT.
        s.update(|st| st.processes.remove(&7));
        assert_eq!(f.read(&s, 0, 100).unwrap_err().errno(), Errno::ESRCH);
        assert_eq!(f.write(&s, b"1").unwrap_err().errno(), Errno::ESRCH);
        assert_eq!(
            OpenFile::open(&s, node, 0).unwrap_err().errno(),
            Errno::ENOENT
        );
        // oom_score is an ordinary text file.
        let mut score = OpenFile::open(&s, Node::ProcFile(12, ProcFile::OomScore), 0).unwrap();
        assert_eq!(&*score.read(&s, 0, 100).unwrap(), b"0\n");
        assert_eq!(score.write(&s, b"1").unwrap_err().errno(), Errno::EROFS);
    }

    fn names(d: &DirSnapshot, offset: u64) -> Vec<(String, u64)> {
        let mut buf = itoa::Buffer::new();
        d.entries_from(offset)
            .map(|e| {
                let name = match e.special_name {
                    Some(n) => n.to_string(),
                    None => e.node.name_in(&mut buf).to_string(),
                };
                (name, e.next_offset)
            })
            .collect()
    }

    #[test]
    fn readdir_offsets_are_one_based_indices_into_the_snapshot() {
        let s = source();
        let d = DirSnapshot::open(&s, Node::Root).unwrap();
        let all = names(&d, 0);
        let expected: Vec<(String, u64)> = [
            ".", "..", "7", "12", "rmap", "names", "meminfo", "vmstat", "kmsg",
        ]
        .iter()
        .enumerate()
        .map(|(k, n)| (n.to_string(), k as u64 + 1))
        .collect();
        assert_eq!(all, expected);
        assert_eq!(d.len(), 9);
        for offset in 0..=10 {
            assert_eq!(names(&d, offset), all[(offset as usize).min(9)..].to_vec());
        }
        assert!(names(&d, u64::MAX).is_empty());
        let dots: Vec<Node> = d.entries_from(0).take(2).map(|e| e.node).collect();
        assert_eq!(dots, [Node::Root, Node::Root]);
    }

    #[test]
    fn readdir_snapshot_is_stable_while_the_machine_changes() {
        let s = source();
        let d = DirSnapshot::open(&s, Node::RmapDir).unwrap();
        let first = names(&d, 0);
        s.update(|st| {
            st.frames.remove(&9);
            st.frames.insert(100, fake_frame(100, 7, 0));
        });
        assert_eq!(names(&d, 0), first);
        assert_eq!(
            first.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            [".", "..", "5", "9", "31"]
        );
        let p = DirSnapshot::open(&s, Node::ProcDir(7)).unwrap();
        let entries: Vec<Node> = p.entries_from(0).map(|e| e.node).collect();
        assert_eq!(entries[..2], [Node::ProcDir(7), Node::Root]);
        assert_eq!(entries.len(), 2 + ProcFile::ALL.len());
        assert!(DirSnapshot::open(&s, Node::ProcDir(99)).is_err());
        assert!(DirSnapshot::open(&s, Node::Names).is_err());
    }
}
