//! The layout of the tree and its pure operations: lookup, directory listing, rendering.
//!
//! ```text
//! /                 0555
//! ├── <pid>/        0555  one per live process
//! │   ├── maps      0444
//! │   ├── smaps     0444
//! │   ├── smaps_rollup 0444
//! │   ├── status    0444
//! │   ├── statm     0444
//! │   ├── pagemap   0400  binary; reads must be 8-byte aligned
//! │   └── comm      0444
//! ├── rmap/         0555  lists the resident pfns in decimal
//! │   └── <pfn>     0444  any resident pfn, decimal or 0x-hex
//! ├── names         0444  the name table
//! └── meminfo       0444
//! ```
//!
//! The FUSE adapter and the control socket's `read path=` both go through these functions, so the
//! two ways of reading a file cannot disagree. Nothing here holds state: each call asks the
//! [`Source`] for one view and formats it.

use std::fmt;

use anonmap_abi::page::{PAGE_SIZE, TASK_SIZE};
use anonmap_abi::{Errno, Error};

use crate::render::{self, PagemapError};
use crate::source::Source;

/// The files of a `<pid>/` directory, in listing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProcFile {
    Maps,
    Smaps,
    SmapsRollup,
    Status,
    Statm,
    Pagemap,
    Comm,
}

impl ProcFile {
    /// Every file of a `<pid>/` directory, in listing order.
    pub const ALL: [ProcFile; 7] = [
        ProcFile::Maps,
        ProcFile::Smaps,
        ProcFile::SmapsRollup,
        ProcFile::Status,
        ProcFile::Statm,
        ProcFile::Pagemap,
        ProcFile::Comm,
    ];

    /// The file's name in the directory.
    pub fn name(self) -> &'static str {
        match self {
            ProcFile::Maps => "maps",
            ProcFile::Smaps => "smaps",
            ProcFile::SmapsRollup => "smaps_rollup",
            ProcFile::Status => "status",
            ProcFile::Statm => "statm",
            ProcFile::Pagemap => "pagemap",
            ProcFile::Comm => "comm",
        }
    }

    /// The file called `name`, if any.
    pub fn from_name(name: &str) -> Option<ProcFile> {
        ProcFile::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// One node of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Node {
    Root,
    /// `<pid>/`
    ProcDir(u32),
    /// `<pid>/<file>`
    ProcFile(u32, ProcFile),
    /// `rmap/`
    RmapDir,
    /// `rmap/<pfn>`
    Rmap(u64),
    /// `names`
    Names,
    /// `meminfo`
    Meminfo,
}

impl Node {
    pub fn is_dir(self) -> bool {
        matches!(self, Node::Root | Node::ProcDir(_) | Node::RmapDir)
    }

    /// Permission bits as /proc shows them: directories 0555, files 0444, pagemap 0400.
    pub fn mode(self) -> u16 {
        match self {
            Node::Root | Node::ProcDir(_) | Node::RmapDir => 0o555,
            Node::ProcFile(_, ProcFile::Pagemap) => 0o400,
            _ => 0o444,
        }
    }

    /// The node's name in its parent directory (`""` for the root). Numbers are formatted into
    /// `buf`, so listing a million pfns allocates nothing per entry.
    pub fn name_in(self, buf: &mut itoa::Buffer) -> &str {
        match self {
            Node::Root => "",
            Node::ProcDir(pid) => buf.format(pid),
            Node::ProcFile(_, file) => file.name(),
            Node::RmapDir => "rmap",
            Node::Rmap(pfn) => buf.format(pfn),
            Node::Names => "names",
            Node::Meminfo => "meminfo",
        }
    }

    /// The directory that holds the node (the root for the root itself, as `..` of `/`).
    pub fn parent(self) -> Node {
        match self {
            Node::Root | Node::ProcDir(_) | Node::RmapDir | Node::Names | Node::Meminfo => {
                Node::Root
            }
            Node::ProcFile(pid, _) => Node::ProcDir(pid),
            Node::Rmap(_) => Node::RmapDir,
        }
    }

    /// Whether the node still exists in the source (its process lives, its pfn is resident).
    pub fn exists(self, source: &dyn Source) -> bool {
        match self {
            Node::Root | Node::RmapDir | Node::Names | Node::Meminfo => true,
            Node::ProcDir(pid) | Node::ProcFile(pid, _) => source.has_pid(pid),
            Node::Rmap(pfn) => source.rmap(pfn).is_some(),
        }
    }
}

/// Why a tree operation failed; [`TreeError::errno`] is what FUSE and the socket report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeError {
    /// No such file or directory (ENOENT); holds the path or name asked for.
    NotFound(String),
    /// A path component that is a file was used as a directory (ENOTDIR).
    NotADirectory(String),
    /// A directory was read as a file (EISDIR).
    IsADirectory(String),
    /// pagemap is binary and unbounded: it is read by range ([`read_pagemap`]), never whole.
    PagemapNeedsRange,
    /// A pagemap read the kernel refuses (EINVAL).
    Pagemap(PagemapError),
}

impl TreeError {
    /// The errno FUSE and the socket report.
    pub fn errno(&self) -> Errno {
        match self {
            TreeError::NotFound(_) => Errno::ENOENT,
            TreeError::NotADirectory(_) => Errno::ENOTDIR,
            TreeError::IsADirectory(_) => Errno::EISDIR,
            TreeError::PagemapNeedsRange => Errno::EINVAL,
            TreeError::Pagemap(e) => e.errno(),
        }
    }
}

impl From<TreeError> for Error {
    fn from(e: TreeError) -> Error {
        Error::new(e.errno(), e.to_string())
    }
}

impl fmt::Display for TreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TreeError::NotFound(p) => write!(f, "no such file or directory: {p}"),
            TreeError::NotADirectory(p) => write!(f, "not a directory: {p}"),
            TreeError::IsADirectory(p) => write!(f, "is a directory: {p}"),
            TreeError::PagemapNeedsRange => {
                write!(
                    f,
                    "pagemap is binary: read it with an 8-byte aligned offset and length"
                )
            }
            TreeError::Pagemap(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for TreeError {}

/// Parses a pfn as `rmap/` accepts it: decimal, or `0x` followed by hex digits.
pub fn parse_pfn(s: &str) -> Option<u64> {
    if let Some(hex) = s.strip_prefix("0x") {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(hex, 16).ok()
    } else {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    }
}

/// Parses a pid directory name: decimal without a sign or leading zeros, as /proc spells it.
fn parse_pid(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// The child `name` of directory `parent`.
pub fn lookup_child(source: &dyn Source, parent: Node, name: &str) -> Result<Node, TreeError> {
    let not_found = || TreeError::NotFound(name.to_string());
    match parent {
        Node::Root => match name {
            "rmap" => Ok(Node::RmapDir),
            "names" => Ok(Node::Names),
            "meminfo" => Ok(Node::Meminfo),
            _ => {
                let pid = parse_pid(name).ok_or_else(not_found)?;
                source
                    .has_pid(pid)
                    .then_some(Node::ProcDir(pid))
                    .ok_or_else(not_found)
            }
        },
        Node::ProcDir(pid) => {
            let file = ProcFile::from_name(name).ok_or_else(not_found)?;
            source
                .has_pid(pid)
                .then_some(Node::ProcFile(pid, file))
                .ok_or_else(not_found)
        }
        Node::RmapDir => {
            let pfn = parse_pfn(name).ok_or_else(not_found)?;
            source
                .rmap(pfn)
                .map(|_| Node::Rmap(pfn))
                .ok_or_else(not_found)
        }
        _ => Err(TreeError::NotADirectory(name.to_string())),
    }
}

/// The node at `path`, relative to the root (`""`, `/` and `.` components name the root;
/// `12/smaps`, `/rmap/0x1f`).
pub fn lookup(source: &dyn Source, path: &str) -> Result<Node, TreeError> {
    let mut node = Node::Root;
    for comp in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
        node = match lookup_child(source, node, comp) {
            Err(TreeError::NotFound(_)) => return Err(TreeError::NotFound(path.to_string())),
            Err(TreeError::NotADirectory(_)) => {
                return Err(TreeError::NotADirectory(path.to_string()))
            }
            other => other?,
        };
    }
    Ok(node)
}

/// The entries of directory `dir` (without `.` and `..`), in a stable order: the root lists the
/// pids ascending, then `rmap`, `names`, `meminfo`; `rmap/` lists the resident pfns ascending.
pub fn list_dir(source: &dyn Source, dir: Node) -> Result<Vec<(String, Node)>, TreeError> {
    let mut buf = itoa::Buffer::new();
    Ok(list_dir_nodes(source, dir)?
        .into_iter()
        .map(|node| (node.name_in(&mut buf).to_string(), node))
        .collect())
}

/// The entries of directory `dir` as nodes, in [`list_dir`]'s order; each entry's name is
/// [`Node::name_in`]. The FUSE adapter keeps this compact form as its readdir snapshot.
pub fn list_dir_nodes(source: &dyn Source, dir: Node) -> Result<Vec<Node>, TreeError> {
    match dir {
        Node::Root => {
            let mut v: Vec<Node> = source.pids().into_iter().map(Node::ProcDir).collect();
            v.extend([Node::RmapDir, Node::Names, Node::Meminfo]);
            Ok(v)
        }
        Node::ProcDir(pid) => {
            if !source.has_pid(pid) {
                return Err(TreeError::NotFound(pid.to_string()));
            }
            Ok(ProcFile::ALL
                .iter()
                .map(|f| Node::ProcFile(pid, *f))
                .collect())
        }
        Node::RmapDir => Ok(source.resident_pfns().into_iter().map(Node::Rmap).collect()),
        _ => Err(TreeError::NotADirectory(format!("{dir:?}"))),
    }
}

/// The whole content of text file `node`, rendered from one view.
pub fn render(source: &dyn Source, node: Node) -> Result<Vec<u8>, TreeError> {
    let gone = || TreeError::NotFound(format!("{node:?}"));
    let mut out = Vec::new();
    match node {
        Node::Root | Node::ProcDir(_) | Node::RmapDir => {
            return Err(TreeError::IsADirectory(format!("{node:?}")))
        }
        Node::ProcFile(pid, file) => match file {
            ProcFile::Maps => {
                render::render_maps(&source.address_space(pid).ok_or_else(gone)?, &mut out)
            }
            ProcFile::Smaps => {
                render::render_smaps(&source.address_space(pid).ok_or_else(gone)?, &mut out)
            }
            ProcFile::SmapsRollup => {
                render::render_smaps_rollup(&source.address_space(pid).ok_or_else(gone)?, &mut out)
            }
            ProcFile::Status => {
                render::render_status(&source.status(pid).ok_or_else(gone)?, &mut out)
            }
            ProcFile::Statm => {
                render::render_statm(&source.status(pid).ok_or_else(gone)?, &mut out)
            }
            ProcFile::Comm => {
                out.extend_from_slice(source.status(pid).ok_or_else(gone)?.comm.as_bytes());
                out.push(b'\n');
            }
            ProcFile::Pagemap => return Err(TreeError::PagemapNeedsRange),
        },
        Node::Rmap(pfn) => render::render_rmap(&source.rmap(pfn).ok_or_else(gone)?, &mut out),
        Node::Names => render::render_names(&source.names(), &mut out),
        Node::Meminfo => render::render_meminfo(&source.meminfo(), &mut out),
    }
    Ok(out)
}

/// Every text file of the tree, as `(path, node)`, in a fixed order: each pid's files but
/// pagemap (binary), `rmap/<pfn>` of every resident pfn, then `names` and `meminfo`.
pub fn text_files(source: &dyn Source) -> Vec<(String, Node)> {
    let mut files = Vec::new();
    for pid in source.pids() {
        for f in ProcFile::ALL {
            if f != ProcFile::Pagemap {
                files.push((format!("{pid}/{}", f.name()), Node::ProcFile(pid, f)));
            }
        }
    }
    for pfn in source.resident_pfns() {
        files.push((format!("rmap/{pfn}"), Node::Rmap(pfn)));
    }
    files.push(("names".to_string(), Node::Names));
    files.push(("meminfo".to_string(), Node::Meminfo));
    files
}

/// A read of `size` bytes at `offset` of `<pid>/pagemap`, computed for that range only. Both must
/// be multiples of 8 (EINVAL otherwise, as `pagemap_read`); a read past the last user page is
/// short or empty.
pub fn read_pagemap(
    source: &dyn Source,
    pid: u32,
    offset: u64,
    size: u32,
) -> Result<Vec<u8>, TreeError> {
    let (first_vpn, count) = render::pagemap_range(offset, size).map_err(TreeError::Pagemap)?;
    let last_vpn = TASK_SIZE / PAGE_SIZE;
    let count = count.min(last_vpn.saturating_sub(first_vpn));
    let entries = source
        .pagemap(pid, first_vpn, count)
        .ok_or_else(|| TreeError::NotFound(format!("{pid}/pagemap")))?;
    let mut out = Vec::with_capacity(entries.len() * 8);
    render::render_pagemap(&entries, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeSource;

    fn source() -> FakeSource {
        FakeSource::machine(&[(7, "seven", 2, 1), (12, "twelve", 1, 1)], &[0x1f])
    }

    #[test]
    fn lookup_walks_paths() {
        let s = source();
        for (path, node) in [
            ("", Node::Root),
            ("/", Node::Root),
            ("./", Node::Root),
            ("7", Node::ProcDir(7)),
            ("/12/smaps", Node::ProcFile(12, ProcFile::Smaps)),
            ("7//pagemap", Node::ProcFile(7, ProcFile::Pagemap)),
            ("rmap", Node::RmapDir),
            ("rmap/31", Node::Rmap(31)),
            ("rmap/0x1f", Node::Rmap(31)),
            ("rmap/0x01F", Node::Rmap(31)),
            ("names", Node::Names),
            ("meminfo", Node::Meminfo),
        ] {
            assert_eq!(lookup(&s, path), Ok(node), "{path}");
        }
    }

    #[test]
    fn lookup_failures_carry_the_path_and_errno() {
        let s = source();
        for path in [
            "8", "07", "+7", "7/nope", "rmap/30", "rmap/0x", "rmap/x1f", "rmap/-1",
        ] {
            assert_eq!(
                lookup(&s, path),
                Err(TreeError::NotFound(path.to_string())),
                "{path}"
            );
        }
        let e = lookup(&s, "7/maps/x").unwrap_err();
        assert_eq!(e.errno(), Errno::ENOTDIR);
        assert_eq!(lookup(&s, "nope").unwrap_err().errno(), Errno::ENOENT);
    }

    #[test]
    fn listings_in_order_with_names() {
        let s = source();
        let names = |dir| -> Vec<String> {
            list_dir(&s, dir)
                .unwrap()
                .into_iter()
                .map(|(n, node)| {
                    assert_eq!(lookup_child(&s, dir, &n), Ok(node));
                    assert_eq!(node.parent(), dir);
                    n
                })
                .collect()
        };
        assert_eq!(names(Node::Root), ["7", "12", "rmap", "names", "meminfo"]);
        assert_eq!(names(Node::RmapDir), ["31"]);
        assert_eq!(
            names(Node::ProcDir(7)),
            [
                "maps",
                "smaps",
                "smaps_rollup",
                "status",
                "statm",
                "pagemap",
                "comm"
            ]
        );
        assert_eq!(
            list_dir(&s, Node::ProcDir(8)).unwrap_err(),
            TreeError::NotFound("8".to_string())
        );
        assert_eq!(
            list_dir(&s, Node::Names).unwrap_err().errno(),
            Errno::ENOTDIR
        );
        assert_eq!(Node::Root.parent(), Node::Root);
    }

    #[test]
    fn render_refuses_directories_and_pagemap() {
        let s = source();
        assert_eq!(
            render(&s, Node::RmapDir).unwrap_err().errno(),
            Errno::EISDIR
        );
        assert_eq!(
            render(&s, Node::ProcFile(7, ProcFile::Pagemap)),
            Err(TreeError::PagemapNeedsRange)
        );
        assert_eq!(
            render(&s, Node::ProcFile(7, ProcFile::Comm)).unwrap(),
            b"seven\n"
        );
        assert!(render(&s, Node::ProcFile(8, ProcFile::Comm)).is_err());
    }

    #[test]
    fn pagemap_is_clamped_to_the_user_address_space() {
        let s = source();
        let last_vpn = TASK_SIZE / PAGE_SIZE;
        let got = read_pagemap(&s, 7, (last_vpn - 2) * 8, 64).unwrap();
        assert_eq!(got.len(), 16);
        assert!(read_pagemap(&s, 7, last_vpn * 8, 64).unwrap().is_empty());
        assert_eq!(s.pagemap_requests().last(), Some(&(7, last_vpn, 0)));
        assert_eq!(
            read_pagemap(&s, 7, 3, 8).unwrap_err().errno(),
            Errno::EINVAL
        );
        assert!(matches!(
            read_pagemap(&s, 8, 0, 8),
            Err(TreeError::NotFound(_))
        ));
    }
}
