//! The operations of the command language, as values.
//!
//! `Op<A>` is generic over how addresses are written: a parsed line carries [`Addr`] (a number
//! or a `LABEL+OFFSET` reference), and the simulator applies `Op<u64>` after the session has
//! resolved labels. Both print back in canonical form (see `print.rs`), and parsing the
//! canonical form gives the same value back.

/// An address as a line writes it: a number, or a label bound earlier by `as=LABEL`, plus an
/// offset (`heap+4M`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Addr {
    Abs(u64),
    Label { label: String, offset: u64 },
}

/// `prot=`: three characters `r|-`, `w|-`, `x|-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Prot {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

impl Prot {
    pub const NONE: Prot = Prot {
        read: false,
        write: false,
        exec: false,
    };
    pub const RW: Prot = Prot {
        read: true,
        write: true,
        exec: false,
    };
}

/// `flags=` of `mmap`: each flag as it was written. Which combinations are valid is the
/// simulator's call (EINVAL as mmap(2) gives it), not the parser's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MmapFlags {
    pub private: bool,
    pub shared: bool,
    pub anonymous: bool,
    pub fixed: bool,
    pub fixed_noreplace: bool,
    pub populate: bool,
    pub noreserve: bool,
    pub growsdown: bool,
}

/// `flags=` of `mremap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MremapFlags {
    pub maymove: bool,
    pub fixed: bool,
}

/// `advice=` of `madvise`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Advice {
    /// MADV_DONTNEED: zap the range's PTEs.
    DontNeed,
    /// MADV_DONTFORK: set VM_DONTCOPY.
    DontFork,
    /// MADV_DOFORK: clear VM_DONTCOPY.
    DoFork,
    /// MADV_WIPEONFORK: set VM_WIPEONFORK (private anonymous only).
    WipeOnFork,
    /// MADV_KEEPONFORK: clear VM_WIPEONFORK.
    KeepOnFork,
    /// MADV_DONTDUMP: set VM_DONTDUMP.
    DontDump,
    /// MADV_DODUMP: clear VM_DONTDUMP.
    DoDump,
}

impl Advice {
    pub const ALL: [Advice; 7] = [
        Advice::DontNeed,
        Advice::DontFork,
        Advice::DoFork,
        Advice::WipeOnFork,
        Advice::KeepOnFork,
        Advice::DontDump,
        Advice::DoDump,
    ];

    /// The word after `advice=`.
    pub fn word(self) -> &'static str {
        match self {
            Advice::DontNeed => "dontneed",
            Advice::DontFork => "dontfork",
            Advice::DoFork => "dofork",
            Advice::WipeOnFork => "wipeonfork",
            Advice::KeepOnFork => "keeponfork",
            Advice::DontDump => "dontdump",
            Advice::DoDump => "dodump",
        }
    }
}

/// `access=` of `touch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    Read,
    Write,
}

/// One line of the command language. Field names follow the line's keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Op<A = u64> {
    /// `spawn [pid=N] [comm=NAME] [uid=U] [brk=ADDR] [bare]`. `uid` records who owns the
    /// process (the server fills it from the peer's credentials; absent means root).
    /// `start_brk` (`brk=`, a plain number, not a label) is where the heap starts: the new
    /// process's `start_brk` and initial break; absent means the default layout's
    /// (`DEFAULT_START_BRK`). The simulator refuses one that is not page aligned or not in
    /// `[MMAP_MIN_ADDR, TASK_SIZE)` with EINVAL.
    Spawn {
        pid: Option<u32>,
        comm: Option<String>,
        uid: Option<u32>,
        start_brk: Option<u64>,
        bare: bool,
    },
    /// `exit pid=N`
    Exit { pid: u32 },
    /// `fork pid=N [child=M]`
    Fork { pid: u32, child: Option<u32> },
    /// `mmap pid=N [addr=A] len=L prot=P flags=F [file=PATH] [offset=O] [as=LABEL]`
    Mmap {
        pid: u32,
        addr: Option<A>,
        len: u64,
        prot: Prot,
        flags: MmapFlags,
        file: Option<String>,
        offset: Option<u64>,
        label: Option<String>,
    },
    /// `munmap pid=N addr=A len=L`
    Munmap { pid: u32, addr: A, len: u64 },
    /// `reclaim pid=N addr=A len=L`: page reclaim of the pages the process maps in the range,
    /// through the rmap (anonymous pages to swap, page-cache pages dropped).
    Reclaim { pid: u32, addr: A, len: u64 },
    /// `mprotect pid=N addr=A len=L prot=P`
    Mprotect {
        pid: u32,
        addr: A,
        len: u64,
        prot: Prot,
    },
    /// `mremap pid=N addr=A old_len=L new_len=L2 [flags=...] [new_addr=B] [as=LABEL]`
    Mremap {
        pid: u32,
        addr: A,
        old_len: u64,
        new_len: u64,
        flags: MremapFlags,
        new_addr: Option<A>,
        label: Option<String>,
    },
    /// `madvise pid=N addr=A len=L advice=ADVICE`
    Madvise {
        pid: u32,
        addr: A,
        len: u64,
        advice: Advice,
    },
    /// `brk pid=N [addr=A]`
    Brk { pid: u32, addr: Option<A> },
    /// `name pid=N addr=A len=L name="TEXT"` (`name: Some`) or `... clear` (`name: None`).
    Name {
        pid: u32,
        addr: A,
        len: u64,
        name: Option<String>,
    },
    /// `touch pid=N addr=A len=L access=read|write`
    Touch {
        pid: u32,
        addr: A,
        len: u64,
        access: Access,
    },
    /// `file path=PATH size=L`
    File { path: String, size: u64 },
    /// `read path=TREEPATH` (served by the daemon, not the simulator).
    Read { path: String },
}

impl<A> Op<A> {
    /// The command word that starts the line.
    pub fn verb(&self) -> &'static str {
        match self {
            Op::Spawn { .. } => "spawn",
            Op::Exit { .. } => "exit",
            Op::Fork { .. } => "fork",
            Op::Mmap { .. } => "mmap",
            Op::Munmap { .. } => "munmap",
            Op::Reclaim { .. } => "reclaim",
            Op::Mprotect { .. } => "mprotect",
            Op::Mremap { .. } => "mremap",
            Op::Madvise { .. } => "madvise",
            Op::Brk { .. } => "brk",
            Op::Name { .. } => "name",
            Op::Touch { .. } => "touch",
            Op::File { .. } => "file",
            Op::Read { .. } => "read",
        }
    }

    /// Whether the op can change the machine (everything but `read`).
    pub fn is_mutating(&self) -> bool {
        !matches!(self, Op::Read { .. })
    }

    /// The `as=` label this op binds to its resulting address, if any.
    pub fn binds_label(&self) -> Option<&str> {
        match self {
            Op::Mmap { label, .. } | Op::Mremap { label, .. } => label.as_deref(),
            _ => None,
        }
    }
}
