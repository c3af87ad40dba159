//! The layout of the tree and its pure operations: lookup, directory listing, rendering, and
//! the writes.
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
//! │   ├── comm      0444
//! │   ├── clear_refs 0200  write-only, owned by the process's owner: `echo 1 > clear_refs`
//! │   ├── oom_score 0444
//! │   └── oom_score_adj 0644  owned by the process's owner: `echo -500 > oom_score_adj`
//! ├── rmap/         0555  lists the resident pfns in decimal
//! │   └── <pfn>     0444  any resident pfn, decimal or 0x-hex
//! ├── names         0444  the name table
//! ├── meminfo       0444
//! ├── vmstat        0444
//! └── kmsg          0444  the kernel log, one message per line
//! ```
//!
//! The FUSE adapter and the control socket's `read path=` both go through these functions, so the
//! two ways of reading a file cannot disagree. Nothing here holds state: each call asks the
//! [`Source`] for one view and formats it. The writable files, `<pid>/clear_refs` and
//! `<pid>/oom_score_adj`, turn a write into the call `clear_refs pid value` or `oom_score_adj
//! pid value` ([`write`]), which the source applies as the control socket applies its calls.

use std::fmt;

use anonmap_abi::page::{PAGE_SIZE, TASK_SIZE};
use anonmap_abi::{err, Call, ClearRefsArgs, Errno, Error, OomScoreAdjArgs};

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
    /// Write-only: a write of 1 to 5 is the call `clear_refs` (fs/proc/task_mmu.c
    /// `clear_refs_write`).
    ClearRefs,
    /// The OOM killer's score of the process (fs/proc/base.c `proc_oom_score`).
    OomScore,
    /// Read and write: the process's `oom_score_adj`; a write of -1000 to 1000 is the call
    /// `oom_score_adj` (fs/proc/base.c `oom_score_adj_write`).
    OomScoreAdj,
}

impl ProcFile {
    /// Every file of a `<pid>/` directory, in listing order. New files go at the end: the
    /// position is part of the file's inode number.
    pub const ALL: [ProcFile; 10] = [
        ProcFile::Maps,
        ProcFile::Smaps,
        ProcFile::SmapsRollup,
        ProcFile::Status,
        ProcFile::Statm,
        ProcFile::Pagemap,
        ProcFile::Comm,
        ProcFile::ClearRefs,
        ProcFile::OomScore,
        ProcFile::OomScoreAdj,
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
            ProcFile::ClearRefs => "clear_refs",
            ProcFile::OomScore => "oom_score",
            ProcFile::OomScoreAdj => "oom_score_adj",
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
    /// `vmstat`
    Vmstat,
    /// `kmsg`
    Kmsg,
}

impl Node {
    pub fn is_dir(self) -> bool {
        matches!(self, Node::Root | Node::ProcDir(_) | Node::RmapDir)
    }

    /// Permission bits as /proc shows them: directories 0555, files 0444, pagemap 0400,
    /// clear_refs 0200 (`S_IWUSR`), oom_score_adj 0644 (`S_IRUGO|S_IWUSR`).
    pub fn mode(self) -> u16 {
        match self {
            Node::Root | Node::ProcDir(_) | Node::RmapDir => 0o555,
            Node::ProcFile(_, ProcFile::Pagemap) => 0o400,
            Node::ProcFile(_, ProcFile::ClearRefs) => 0o200,
            Node::ProcFile(_, ProcFile::OomScoreAdj) => 0o644,
            _ => 0o444,
        }
    }

    /// Whether the node takes writes: `<pid>/clear_refs` and `<pid>/oom_score_adj` only.
    /// Opening anything else for writing fails with EROFS.
    pub fn is_writable(self) -> bool {
        matches!(
            self,
            Node::ProcFile(_, ProcFile::ClearRefs | ProcFile::OomScoreAdj)
        )
    }

    /// The uid that owns the node, if not the tree's own user: the writable files belong to the
    /// process's owner (`None` if the source does not know it, or the process is gone).
    pub fn owner(self, source: &dyn Source) -> Option<u32> {
        match self {
            Node::ProcFile(pid, _) if self.is_writable() => source.owner(pid),
            _ => None,
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
            Node::Vmstat => "vmstat",
            Node::Kmsg => "kmsg",
        }
    }

    /// The directory that holds the node (the root for the root itself, as `..` of `/`).
    pub fn parent(self) -> Node {
        match self {
            Node::Root
            | Node::ProcDir(_)
            | Node::RmapDir
            | Node::Names
            | Node::Meminfo
            | Node::Vmstat
            | Node::Kmsg => Node::Root,
            Node::ProcFile(pid, _) => Node::ProcDir(pid),
            Node::Rmap(_) => Node::RmapDir,
        }
    }

    /// Whether the node still exists in the source (its process lives, its pfn is resident).
    pub fn exists(self, source: &dyn Source) -> bool {
        match self {
            Node::Root
            | Node::RmapDir
            | Node::Names
            | Node::Meminfo
            | Node::Vmstat
            | Node::Kmsg => true,
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
    /// A read of a write-only file (`clear_refs` has no read operation: EINVAL, as in Linux).
    WriteOnly(String),
    /// A write to (or an open for writing of) a file that takes none (EROFS).
    ReadOnly(String),
    /// A write that was refused or whose call failed: the errno the write(2) returns.
    Write(Error),
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
            TreeError::WriteOnly(_) => Errno::EINVAL,
            TreeError::ReadOnly(_) => Errno::EROFS,
            TreeError::Write(e) => e.errno,
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
            TreeError::WriteOnly(p) => write!(f, "{p} is write-only"),
            TreeError::ReadOnly(p) => write!(f, "{p} is read-only"),
            TreeError::Write(e) => e.fmt(f),
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
            "vmstat" => Ok(Node::Vmstat),
            "kmsg" => Ok(Node::Kmsg),
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
/// pids ascending, then `rmap`, `names`, `meminfo`, `vmstat`, `kmsg`; `rmap/` lists the
/// resident pfns ascending.
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
            v.extend([
                Node::RmapDir,
                Node::Names,
                Node::Meminfo,
                Node::Vmstat,
                Node::Kmsg,
            ]);
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
            ProcFile::OomScore => {
                render::render_oom_score(&source.oom(pid).ok_or_else(gone)?, &mut out)
            }
            ProcFile::OomScoreAdj => {
                render::render_oom_score_adj(&source.oom(pid).ok_or_else(gone)?, &mut out)
            }
            ProcFile::Pagemap => return Err(TreeError::PagemapNeedsRange),
            ProcFile::ClearRefs => {
                if !source.has_pid(pid) {
                    return Err(gone());
                }
                return Err(TreeError::WriteOnly(format!("{pid}/clear_refs")));
            }
        },
        Node::Rmap(pfn) => render::render_rmap(&source.rmap(pfn).ok_or_else(gone)?, &mut out),
        Node::Names => render::render_names(&source.names(), &mut out),
        Node::Meminfo => render::render_meminfo(&source.meminfo(), &mut out),
        Node::Vmstat => render::render_vmstat(&source.vmstat(), &mut out),
        Node::Kmsg => render::render_kmsg(&source.kmsg(), &mut out),
    }
    Ok(out)
}

/// Every text file of the tree, as `(path, node)`, in a fixed order: each pid's files but
/// pagemap (binary) and clear_refs (write-only), `rmap/<pfn>` of every resident pfn, then
/// `names`, `meminfo`, `vmstat` and `kmsg`.
pub fn text_files(source: &dyn Source) -> Vec<(String, Node)> {
    let mut files = Vec::new();
    for pid in source.pids() {
        for f in ProcFile::ALL {
            if !matches!(f, ProcFile::Pagemap | ProcFile::ClearRefs) {
                files.push((format!("{pid}/{}", f.name()), Node::ProcFile(pid, f)));
            }
        }
    }
    for pfn in source.resident_pfns() {
        files.push((format!("rmap/{pfn}"), Node::Rmap(pfn)));
    }
    for node in [Node::Names, Node::Meminfo, Node::Vmstat, Node::Kmsg] {
        let mut buf = itoa::Buffer::new();
        files.push((node.name_in(&mut buf).to_string(), node));
    }
    files
}

/// A write of `data` to file `node` by `uid` (the credentials the file was opened with, as the
/// kernel checks them at open and keeps them in the file), at any offset (proc ignores it).
///
/// `<pid>/clear_refs` parses the bytes as `clear_refs_write` does ([`crate::clear_refs`]:
/// EINVAL or ERANGE before anything is applied), then has the source apply the call
/// `clear_refs pid=<pid> value=<v>` as `uid` (the socket's path: owner check, journal); the
/// call's error is the write's (ESRCH when the process is gone). It returns the count the
/// write reports: at most 12 bytes, as the kernel's.
///
/// `<pid>/oom_score_adj` parses the bytes as `oom_score_adj_write` does
/// ([`crate::oom_score_adj`]: EINVAL or ERANGE before anything is applied), then checks what
/// `__set_oom_adj` checks of a writer without CAP_SYS_RESOURCE (any uid but root): ESRCH for a
/// process that is gone, EACCES for a value below the process's floor `oom_score_adj_min`.
/// Then the source applies the call `oom_score_adj pid=<pid> value=<v>` as `uid`, as for
/// clear_refs; it returns at most 12 bytes, as the kernel's.
///
/// Every other file is read-only (EROFS).
pub fn write(source: &dyn Source, uid: u32, node: Node, data: &[u8]) -> Result<usize, TreeError> {
    match node {
        Node::ProcFile(pid, ProcFile::ClearRefs) => write_clear_refs(source, uid, pid, data),
        Node::ProcFile(pid, ProcFile::OomScoreAdj) => write_oom_score_adj(source, uid, pid, data),
        _ => Err(TreeError::ReadOnly(format!("{node:?}"))),
    }
}

/// `data` as the kernel saw it, for an error message: its first `max` bytes, lossily.
fn shown(data: &[u8], max: usize) -> String {
    format!(
        "{:?}",
        String::from_utf8_lossy(&data[..data.len().min(max)])
    )
}

/// A write to `<pid>/clear_refs`: see [`write`].
fn write_clear_refs(
    source: &dyn Source,
    uid: u32,
    pid: u32,
    data: &[u8],
) -> Result<usize, TreeError> {
    let parsed = crate::clear_refs::parse(data).map_err(|errno| {
        TreeError::Write(Error::new(
            errno,
            format!(
                "{pid}/clear_refs: {} is not one of 1 (all), 2 (anon), 3 (file), \
                 4 (soft-dirty), 5 (peak RSS)",
                shown(data, crate::clear_refs::MAX_BYTES)
            ),
        ))
    })?;
    let call = Call::ClearRefs(ClearRefsArgs {
        pid,
        value: i64::from(parsed.value),
    });
    source.apply_as(uid, call).map_err(TreeError::Write)?;
    Ok(parsed.count)
}

/// A write to `<pid>/oom_score_adj`: see [`write`].
///
/// The call carries no privilege: the machine applies every call as a writer with
/// CAP_SYS_RESOURCE, which also sets the floor to the new value. So the floor check of an
/// unprivileged writer is made here, against the floor the source shows, and a write it lets
/// through sets the floor all the same (the kernel would leave it).
fn write_oom_score_adj(
    source: &dyn Source,
    uid: u32,
    pid: u32,
    data: &[u8],
) -> Result<usize, TreeError> {
    use crate::oom_score_adj::{parse, MAX, MAX_BYTES, MIN};
    let parsed = parse(data).map_err(|errno| {
        TreeError::Write(Error::new(
            errno,
            format!(
                "{pid}/oom_score_adj: {} is not an integer from {MIN} to {MAX} (decimal, 0x \
                 hex or 0 octal)",
                shown(data, MAX_BYTES)
            ),
        ))
    })?;
    if uid != 0 {
        let oom = source
            .oom(pid)
            .ok_or_else(|| TreeError::Write(err!(ESRCH, "no process with pid {pid}")))?;
        if parsed.value < i32::from(oom.score_adj_min) {
            return Err(TreeError::Write(err!(
                EACCES,
                "{pid}/oom_score_adj: {} is below the process's floor {} (oom_score_adj_min); \
                 only root (CAP_SYS_RESOURCE) may go lower (you are uid {uid})",
                parsed.value,
                oom.score_adj_min
            )));
        }
    }
    let call = Call::OomScoreAdj(OomScoreAdjArgs {
        pid,
        value: i64::from(parsed.value),
        unprivileged: uid != 0,
    });
    source.apply_as(uid, call).map_err(TreeError::Write)?;
    Ok(parsed.count)
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
            ("vmstat", Node::Vmstat),
            ("/kmsg", Node::Kmsg),
            ("7/oom_score", Node::ProcFile(7, ProcFile::OomScore)),
            (
                "12/oom_score_adj",
                Node::ProcFile(12, ProcFile::OomScoreAdj),
            ),
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
        assert_eq!(
            names(Node::Root),
            ["7", "12", "rmap", "names", "meminfo", "vmstat", "kmsg"]
        );
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
                "comm",
                "clear_refs",
                "oom_score",
                "oom_score_adj"
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
    fn clear_refs_is_write_only_and_owned_by_the_process_owner() {
        let s = source();
        s.update(|st| st.processes.get_mut(&12).unwrap().uid = 1000);
        let node = Node::ProcFile(12, ProcFile::ClearRefs);
        assert_eq!(lookup(&s, "12/clear_refs"), Ok(node));
        assert_eq!((node.mode(), node.is_writable()), (0o200, true));
        assert_eq!(node.owner(&s), Some(1000));
        assert_eq!(Node::ProcFile(12, ProcFile::Maps).owner(&s), None);
        assert_eq!(Node::ProcFile(99, ProcFile::ClearRefs).owner(&s), None);
        assert!(ProcFile::ALL
            .iter()
            .all(|f| Node::ProcFile(1, *f).is_writable()
                == matches!(f, ProcFile::ClearRefs | ProcFile::OomScoreAdj)));
        assert!(![
            Node::Root,
            Node::Names,
            Node::Meminfo,
            Node::Vmstat,
            Node::Kmsg,
            Node::Rmap(31)
        ]
        .iter()
        .any(|n| n.is_writable()));
        assert_eq!(
            render(&s, node),
            Err(TreeError::WriteOnly("12/clear_refs".into()))
        );
        assert_eq!(render(&s, node).unwrap_err().errno(), Errno::EINVAL);
        assert_eq!(
            render(&s, Node::ProcFile(8, ProcFile::ClearRefs))
                .unwrap_err()
                .errno(),
            Errno::ENOENT
        );
        assert!(text_files(&s)
            .iter()
            .all(|(p, _)| !p.ends_with("clear_refs")));
    }

    #[test]
    fn a_write_to_clear_refs_is_one_call_as_the_opener() {
        let s = source();
        s.update(|st| st.processes.get_mut(&12).unwrap().uid = 1000);
        let node = Node::ProcFile(12, ProcFile::ClearRefs);
        assert_eq!(write(&s, 1000, node, b"1\n"), Ok(2));
        assert_eq!(write(&s, 0, node, b"  5  \n"), Ok(6));
        let mut long = b"2".to_vec();
        long.extend([b' '; 20]);
        assert_eq!(
            write(&s, 1000, node, &long),
            Ok(12),
            "the kernel's truncated count"
        );
        let clear = |value| Call::ClearRefs(ClearRefsArgs { pid: 12, value });
        assert_eq!(
            s.calls(),
            [(1000, clear(1)), (0, clear(5)), (1000, clear(2))]
        );
        // Refused before any call: the parse's errno.
        for (data, errno) in [
            (&b"7"[..], Errno::EINVAL),
            (b"x", Errno::EINVAL),
            (b"0", Errno::EINVAL),
            (b"99999999999", Errno::ERANGE),
        ] {
            let e = write(&s, 1000, node, data).unwrap_err();
            assert_eq!(e.errno(), errno, "{data:?}");
        }
        assert_eq!(s.calls().len(), 3);
        // The source's refusals and failures are the write's.
        assert_eq!(
            write(&s, 65534, node, b"1").unwrap_err().errno(),
            Errno::EACCES
        );
        s.update(|st| st.processes.remove(&12));
        assert_eq!(write(&s, 0, node, b"1").unwrap_err().errno(), Errno::ESRCH);
        assert_eq!(s.calls().len(), 3);
        // Nothing else takes writes.
        for node in [Node::ProcFile(7, ProcFile::Maps), Node::Meminfo, Node::Root] {
            assert_eq!(write(&s, 0, node, b"1").unwrap_err().errno(), Errno::EROFS);
        }
        // A source that takes no calls is read-only.
        struct ReadOnly;
        impl Source for ReadOnly {
            fn pids(&self) -> Vec<u32> {
                vec![1]
            }
            fn has_pid(&self, pid: u32) -> bool {
                pid == 1
            }
            fn address_space(&self, _: u32) -> Option<crate::view::AddressSpaceView> {
                None
            }
            fn status(&self, _: u32) -> Option<crate::view::StatusView> {
                None
            }
            fn pagemap(&self, _: u32, _: u64, _: u64) -> Option<Vec<u64>> {
                None
            }
            fn resident_pfns(&self) -> Vec<u64> {
                Vec::new()
            }
            fn rmap(&self, _: u64) -> Option<crate::view::RmapView> {
                None
            }
            fn names(&self) -> Vec<crate::view::NameObjectView> {
                Vec::new()
            }
            fn meminfo(&self) -> crate::view::MeminfoView {
                crate::view::MeminfoView::default()
            }
            fn oom(&self, _: u32) -> Option<crate::view::OomView> {
                Some(crate::view::OomView::default())
            }
            fn vmstat(&self) -> crate::view::VmstatView {
                crate::view::VmstatView::default()
            }
            fn kmsg(&self) -> Vec<String> {
                Vec::new()
            }
        }
        let node = Node::ProcFile(1, ProcFile::ClearRefs);
        assert_eq!(node.owner(&ReadOnly), None);
        assert_eq!(
            write(&ReadOnly, 0, node, b"1").unwrap_err().errno(),
            Errno::EROFS
        );
        let node = Node::ProcFile(1, ProcFile::OomScoreAdj);
        assert_eq!(node.owner(&ReadOnly), None);
        for uid in [0, 1000] {
            assert_eq!(
                write(&ReadOnly, uid, node, b"1").unwrap_err().errno(),
                Errno::EROFS
            );
        }
    }

    #[test]
    fn oom_files_show_the_score_and_the_adjustment() {
        let s = source();
        s.update(|st| {
            let p = st.processes.get_mut(&12).unwrap();
            p.uid = 1000;
            p.oom = crate::view::OomView {
                score: 1234,
                score_adj: -500,
                score_adj_min: -500,
            };
        });
        let score = Node::ProcFile(12, ProcFile::OomScore);
        let adj = Node::ProcFile(12, ProcFile::OomScoreAdj);
        assert_eq!(render(&s, score).unwrap(), b"1234\n");
        assert_eq!(render(&s, adj).unwrap(), b"-500\n");
        assert_eq!(
            render(&s, Node::ProcFile(7, ProcFile::OomScore)).unwrap(),
            b"0\n"
        );
        assert_eq!(
            render(&s, Node::ProcFile(7, ProcFile::OomScoreAdj)).unwrap(),
            b"0\n"
        );
        assert_eq!((score.mode(), score.is_writable()), (0o444, false));
        assert_eq!((adj.mode(), adj.is_writable()), (0o644, true));
        assert_eq!((score.owner(&s), adj.owner(&s)), (None, Some(1000)));
        assert_eq!(
            render(&s, Node::ProcFile(8, ProcFile::OomScoreAdj))
                .unwrap_err()
                .errno(),
            Errno::ENOENT
        );
        let paths: Vec<String> = text_files(&s).into_iter().map(|(p, _)| p).collect();
        for p in ["12/oom_score", "12/oom_score_adj", "vmstat", "kmsg"] {
            assert!(paths.contains(&p.to_string()), "{p} in {paths:?}");
        }
        assert_eq!(
            paths[paths.len() - 4..],
            ["names", "meminfo", "vmstat", "kmsg"]
        );
    }

    #[test]
    fn a_write_to_oom_score_adj_is_one_call_as_the_opener() {
        let s = source();
        s.update(|st| {
            let p = st.processes.get_mut(&12).unwrap();
            p.uid = 1000;
            p.oom.score_adj_min = -100;
        });
        let node = Node::ProcFile(12, ProcFile::OomScoreAdj);
        // A writer other than root makes the unprivileged call, which leaves the floor alone.
        let adj = |uid: u32, value| {
            (
                uid,
                Call::OomScoreAdj(OomScoreAdjArgs {
                    pid: 12,
                    value,
                    unprivileged: uid != 0,
                }),
            )
        };
        // Root goes anywhere in range; the owner down to the floor.
        assert_eq!(write(&s, 0, node, b"-500\n"), Ok(5));
        assert_eq!(write(&s, 0, node, b"-1000"), Ok(5));
        assert_eq!(write(&s, 1000, node, b"-100\n"), Ok(5));
        assert_eq!(write(&s, 1000, node, b"0x3e8"), Ok(5));
        assert_eq!(write(&s, 1000, node, b"  010  \n"), Ok(8));
        let mut long = b"+5".to_vec();
        long.extend([b' '; 20]);
        assert_eq!(write(&s, 1000, node, &long), Ok(12), "the kernel's count");
        assert_eq!(
            s.calls(),
            [
                adj(0, -500),
                adj(0, -1000),
                adj(1000, -100),
                adj(1000, 1000),
                adj(1000, 8),
                adj(1000, 5),
            ]
        );
        // Refused before any call: the parse's errno, then the floor's.
        for (uid, data, errno) in [
            (0, &b"1001"[..], Errno::EINVAL),
            (0, b"-1001", Errno::EINVAL),
            (0, b"x", Errno::EINVAL),
            (0, b"", Errno::EINVAL),
            (0, b"08", Errno::EINVAL),
            (0, b"2147483648", Errno::ERANGE),
            (1000, b"-101", Errno::EACCES),
            (1000, b"-1000\n", Errno::EACCES),
            (1000, b"99999999999", Errno::ERANGE),
        ] {
            let e = write(&s, uid, node, data).unwrap_err();
            assert_eq!(e.errno(), errno, "uid {uid} {data:?}: {e}");
        }
        let e = write(&s, 1000, node, b"-101").unwrap_err();
        assert!(
            e.to_string().contains("below the process's floor -100"),
            "{e}"
        );
        assert_eq!(s.calls().len(), 6);
        // The source's refusals and failures are the write's.
        assert_eq!(
            write(&s, 65534, node, b"1").unwrap_err().errno(),
            Errno::EACCES
        );
        s.update(|st| st.processes.remove(&12));
        for uid in [0, 1000] {
            assert_eq!(
                write(&s, uid, node, b"1").unwrap_err().errno(),
                Errno::ESRCH
            );
        }
        assert_eq!(s.calls().len(), 6);
        // oom_score takes no write.
        assert_eq!(
            write(&s, 0, Node::ProcFile(7, ProcFile::OomScore), b"1")
                .unwrap_err()
                .errno(),
            Errno::EROFS
        );
    }

    #[test]
    fn vmstat_and_kmsg_render_their_views() {
        let s = source();
        s.update(|st| {
            st.vmstat.pgfault = 77;
            st.kmsg = vec!["first".into(), "second line".into()];
        });
        let vmstat = String::from_utf8(render(&s, Node::Vmstat).unwrap()).unwrap();
        assert!(vmstat.starts_with("nr_free_pages 0\n"), "{vmstat}");
        assert!(vmstat.contains("\npgfault 77\n"), "{vmstat}");
        assert_eq!(render(&s, Node::Kmsg).unwrap(), b"first\nsecond line\n");
        for node in [Node::Vmstat, Node::Kmsg] {
            assert_eq!((node.mode(), node.parent()), (0o444, Node::Root));
            assert!(node.exists(&s));
            assert_eq!(write(&s, 0, node, b"1").unwrap_err().errno(), Errno::EROFS);
        }
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
