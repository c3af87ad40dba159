//! Inode numbers of the tree: a pure, stateless encoding of [`Node`] into a `u64` and back.
//!
//! The adapter keeps no inode table: the number of a node is computed from the node, so it is
//! stable for the node's whole life (and across daemon restarts), `forget` has nothing to drop,
//! and any thread can decode any inode the kernel hands back.
//!
//! ```text
//!  63    60 59                   40 39                 8 7        0
//! +--------+-----------------------+--------------------+----------+
//! | kind 0 |               0                            |  1..=6   |  root, rmap/, names, meminfo,
//! |        |                                            |          |  vmstat, kmsg
//! | kind 1 |           0           |        pid         |  file    |  <pid>/ (file 0), <pid>/<f>
//! | kind 2 |                      pfn (60 bits)                    |  rmap/<pfn>
//! +--------+-------------------------------------------------------+
//! ```
//! In kind 1, `file` is 0 for the directory and `1 + i` for `ProcFile::ALL[i]`. The root is 1
//! (`FUSE_ROOT_ID`). A pfn of 2^60 or more has no inode (the pagemap PFN field has 55 bits, so
//! no real frame is lost); [`ino_of`] returns `None` and the adapter answers ENOENT.
//!
//! A pid that is reused gets the inode of its predecessor; as the adapter keeps no cache (zero
//! TTLs on pid nodes), that is harmless.

use anonmap_proc::tree::{Node, ProcFile};

const KIND_SHIFT: u32 = 60;
const KIND_FIXED: u64 = 0;
const KIND_PROCESS: u64 = 1;
const KIND_RMAP: u64 = 2;
const LOW_60: u64 = (1 << KIND_SHIFT) - 1;

/// The root's inode number (`FUSE_ROOT_ID`).
pub const ROOT_INO: u64 = 1;
const RMAP_DIR_INO: u64 = 2;
const NAMES_INO: u64 = 3;
const MEMINFO_INO: u64 = 4;
const VMSTAT_INO: u64 = 5;
const KMSG_INO: u64 = 6;

/// The inode number of `node`; `None` for a pfn of 2^60 or more.
pub fn ino_of(node: Node) -> Option<u64> {
    let process = |pid: u32, file: u64| (KIND_PROCESS << KIND_SHIFT) | (u64::from(pid) << 8) | file;
    Some(match node {
        Node::Root => ROOT_INO,
        Node::RmapDir => RMAP_DIR_INO,
        Node::Names => NAMES_INO,
        Node::Meminfo => MEMINFO_INO,
        Node::Vmstat => VMSTAT_INO,
        Node::Kmsg => KMSG_INO,
        Node::ProcDir(pid) => process(pid, 0),
        Node::ProcFile(pid, f) => {
            let index = ProcFile::ALL.iter().position(|x| *x == f).unwrap_or(0);
            process(pid, 1 + index as u64)
        }
        Node::Rmap(pfn) => {
            if pfn > LOW_60 {
                return None;
            }
            (KIND_RMAP << KIND_SHIFT) | pfn
        }
    })
}

/// The node whose inode number is `ino`; `None` for a number [`ino_of`] never gives.
pub fn node_of(ino: u64) -> Option<Node> {
    let low = ino & LOW_60;
    match ino >> KIND_SHIFT {
        KIND_FIXED => match ino {
            ROOT_INO => Some(Node::Root),
            RMAP_DIR_INO => Some(Node::RmapDir),
            NAMES_INO => Some(Node::Names),
            MEMINFO_INO => Some(Node::Meminfo),
            VMSTAT_INO => Some(Node::Vmstat),
            KMSG_INO => Some(Node::Kmsg),
            _ => None,
        },
        KIND_PROCESS => {
            if low >> 40 != 0 {
                return None;
            }
            let pid = (low >> 8) as u32;
            match low & 0xff {
                0 => Some(Node::ProcDir(pid)),
                file => ProcFile::ALL
                    .get(file as usize - 1)
                    .map(|f| Node::ProcFile(pid, *f)),
            }
        }
        KIND_RMAP => Some(Node::Rmap(low)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn sample_nodes() -> Vec<Node> {
        let mut v = vec![
            Node::Root,
            Node::RmapDir,
            Node::Names,
            Node::Meminfo,
            Node::Vmstat,
            Node::Kmsg,
        ];
        for pid in [0, 1, 2, 255, 256, 4_194_304, u32::MAX] {
            v.push(Node::ProcDir(pid));
            v.extend(ProcFile::ALL.iter().map(|f| Node::ProcFile(pid, *f)));
        }
        for pfn in [0, 1, 2, 3, 4, 0x1234_5678, (1 << 55) - 1, LOW_60] {
            v.push(Node::Rmap(pfn));
        }
        v
    }

    #[test]
    fn every_node_round_trips() {
        for node in sample_nodes() {
            let ino = ino_of(node).unwrap();
            assert_eq!(node_of(ino), Some(node), "{node:?} -> {ino:#x}");
        }
    }

    #[test]
    fn inode_numbers_are_distinct_and_nonzero() {
        let nodes = sample_nodes();
        let inos: HashSet<u64> = nodes.iter().map(|n| ino_of(*n).unwrap()).collect();
        assert_eq!(inos.len(), nodes.len());
        assert!(!inos.contains(&0));
    }

    #[test]
    fn fixed_numbers() {
        assert_eq!(ino_of(Node::Root), Some(1));
        assert_eq!(ino_of(Node::RmapDir), Some(2));
        assert_eq!(ino_of(Node::Names), Some(3));
        assert_eq!(ino_of(Node::Meminfo), Some(4));
        assert_eq!(ino_of(Node::Vmstat), Some(5));
        assert_eq!(ino_of(Node::Kmsg), Some(6));
        assert_eq!(ino_of(Node::ProcDir(12)), Some(0x1000_0000_0000_0c00));
        assert_eq!(
            ino_of(Node::ProcFile(12, ProcFile::Smaps)),
            Some(0x1000_0000_0000_0c02)
        );
        assert_eq!(
            ino_of(Node::ProcFile(12, ProcFile::ClearRefs)),
            Some(0x1000_0000_0000_0c08)
        );
        assert_eq!(
            ino_of(Node::ProcFile(12, ProcFile::OomScore)),
            Some(0x1000_0000_0000_0c09)
        );
        assert_eq!(
            ino_of(Node::ProcFile(12, ProcFile::OomScoreAdj)),
            Some(0x1000_0000_0000_0c0a)
        );
        assert_eq!(ino_of(Node::Rmap(0x3b32)), Some(0x2000_0000_0000_3b32));
    }

    #[test]
    fn unrepresentable_pfns_and_unknown_numbers() {
        assert_eq!(ino_of(Node::Rmap(LOW_60 + 1)), None);
        assert_eq!(ino_of(Node::Rmap(u64::MAX)), None);
        for ino in [
            0,
            7,
            0x0fff_ffff_ffff_ffff,
            (KIND_PROCESS << KIND_SHIFT) | (ProcFile::ALL.len() as u64 + 1),
            (KIND_PROCESS << KIND_SHIFT) | 0xff,
            (KIND_PROCESS << KIND_SHIFT) | (1 << 40),
            3 << KIND_SHIFT,
            u64::MAX,
        ] {
            assert_eq!(node_of(ino), None, "{ino:#x}");
        }
    }
}
