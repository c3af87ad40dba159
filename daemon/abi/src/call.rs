//! The calls of the simulated machine, as typed values: one variant of [`Call`] per operation,
//! each with its own argument struct, in the shape of the system call it stands for.
//!
//! Addresses are plain numbers here: a call is what reaches the kernel, after the command
//! language has resolved its labels. Which combinations of arguments are valid is the
//! simulator's decision (it answers EINVAL where the kernel does), not the type's.

use crate::errno::Error;

/// A process id.
pub type Pid = u32;

/// Page protection: `PROT_READ`, `PROT_WRITE`, `PROT_EXEC`.
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

/// Three characters, `r|-`, `w|-`, `x|-`, as maps prints permissions and the command language
/// writes `prot=`.
impl std::fmt::Display for Prot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = if self.read { 'r' } else { '-' };
        let w = if self.write { 'w' } else { '-' };
        let x = if self.exec { 'x' } else { '-' };
        write!(f, "{r}{w}{x}")
    }
}

/// mmap(2) flags: each flag as the caller gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MmapFlags {
    /// MAP_PRIVATE
    pub private: bool,
    /// MAP_SHARED
    pub shared: bool,
    /// MAP_ANONYMOUS
    pub anonymous: bool,
    /// MAP_FIXED
    pub fixed: bool,
    /// MAP_FIXED_NOREPLACE
    pub fixed_noreplace: bool,
    /// MAP_POPULATE
    pub populate: bool,
    /// MAP_NORESERVE
    pub noreserve: bool,
    /// MAP_GROWSDOWN
    pub growsdown: bool,
    /// MAP_LOCKED
    pub locked: bool,
}

/// mremap(2) flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MremapFlags {
    /// MREMAP_MAYMOVE
    pub maymove: bool,
    /// MREMAP_FIXED
    pub fixed: bool,
    /// MREMAP_DONTUNMAP
    pub dontunmap: bool,
}

/// mlock2(2) flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MlockFlags {
    /// MLOCK_ONFAULT
    pub onfault: bool,
}

/// mlockall(2) flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MlockallFlags {
    /// MCL_CURRENT
    pub current: bool,
    /// MCL_FUTURE
    pub future: bool,
    /// MCL_ONFAULT
    pub onfault: bool,
}

/// madvise(2) advice.
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
    /// MADV_FREE: the pages may be discarded instead of swapped until they are written again.
    Free,
    /// MADV_COLD: deactivate the exclusively mapped pages.
    Cold,
    /// MADV_PAGEOUT: reclaim the exclusively mapped pages now.
    PageOut,
    /// MADV_POPULATE_READ: read-fault the range in.
    PopulateRead,
    /// MADV_POPULATE_WRITE: write-fault the range in.
    PopulateWrite,
    /// MADV_WILLNEED: read swapped pages into the swap cache.
    WillNeed,
    /// MADV_DONTNEED_LOCKED: MADV_DONTNEED that also applies to locked VMAs.
    DontNeedLocked,
}

impl Advice {
    pub const ALL: [Advice; 14] = [
        Advice::DontNeed,
        Advice::DontFork,
        Advice::DoFork,
        Advice::WipeOnFork,
        Advice::KeepOnFork,
        Advice::DontDump,
        Advice::DoDump,
        Advice::Free,
        Advice::Cold,
        Advice::PageOut,
        Advice::PopulateRead,
        Advice::PopulateWrite,
        Advice::WillNeed,
        Advice::DontNeedLocked,
    ];

    /// The advice's name: its `MADV_` constant without the prefix, in lowercase (`dontneed`).
    /// The command language writes it as the `advice=` word.
    pub fn name(self) -> &'static str {
        match self {
            Advice::DontNeed => "dontneed",
            Advice::DontFork => "dontfork",
            Advice::DoFork => "dofork",
            Advice::WipeOnFork => "wipeonfork",
            Advice::KeepOnFork => "keeponfork",
            Advice::DontDump => "dontdump",
            Advice::DoDump => "dodump",
            Advice::Free => "free",
            Advice::Cold => "cold",
            Advice::PageOut => "pageout",
            Advice::PopulateRead => "populate_read",
            Advice::PopulateWrite => "populate_write",
            Advice::WillNeed => "willneed",
            Advice::DontNeedLocked => "dontneed_locked",
        }
    }
}

/// How `touch` accesses its pages: a read or a write fault where a page is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    Read,
    Write,
}

/// A new process with a fresh address space (the shape of `fork` + `execve` of an image).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SpawnArgs {
    /// The pid to use; `None` lets the machine pick the next free one.
    pub pid: Option<Pid>,
    /// The comm; `None` gives the default.
    pub comm: Option<String>,
    /// Who owns the process; `None` means root. The daemon fills it from the peer's credentials.
    pub uid: Option<u32>,
    /// Where the heap starts: `start_brk` and the initial break. `None` means the default
    /// layout's. The simulator refuses one that is not page aligned or outside
    /// `[mmap_min_addr, TASK_SIZE)` with EINVAL.
    pub start_brk: Option<u64>,
    /// An empty address space (no stack, no `[vsyscall]`).
    pub bare: bool,
}

/// exit(2) of the whole process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExitArgs {
    pub pid: Pid,
}

/// fork(2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ForkArgs {
    pub pid: Pid,
    /// The child's pid; `None` lets the machine pick.
    pub child: Option<Pid>,
}

/// mmap(2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MmapArgs {
    pub pid: Pid,
    /// The address hint (or the fixed address with `fixed`); `None` is no hint, as 0.
    pub addr: Option<u64>,
    pub len: u64,
    pub prot: Prot,
    pub flags: MmapFlags,
    /// The simulated file to map; `None` for an anonymous mapping.
    pub file: Option<String>,
    /// The file offset in bytes; `None` is 0.
    pub offset: Option<u64>,
}

/// munmap(2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MunmapArgs {
    pub pid: Pid,
    pub addr: u64,
    pub len: u64,
}

/// mprotect(2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MprotectArgs {
    pub pid: Pid,
    pub addr: u64,
    pub len: u64,
    pub prot: Prot,
}

/// mremap(2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MremapArgs {
    pub pid: Pid,
    pub addr: u64,
    pub old_len: u64,
    pub new_len: u64,
    pub flags: MremapFlags,
    /// The target of `fixed`; `None` is 0.
    pub new_addr: Option<u64>,
}

/// madvise(2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MadviseArgs {
    pub pid: Pid,
    pub addr: u64,
    pub len: u64,
    pub advice: Advice,
}

/// brk(2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BrkArgs {
    pub pid: Pid,
    /// The new break; `None` asks for the current one, as brk(0).
    pub addr: Option<u64>,
}

/// prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, addr, len, name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NameArgs {
    pub pid: Pid,
    pub addr: u64,
    pub len: u64,
    /// The name; `None` is a NULL name, which clears it.
    pub name: Option<String>,
}

/// The process accesses every page of the range, faulting in what is missing (COW on write).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TouchArgs {
    pub pid: Pid,
    pub addr: u64,
    pub len: u64,
    pub access: Access,
}

/// Page reclaim of the pages the process maps in the range, through the rmap: anonymous pages
/// to swap (every mapping at once), page-cache pages dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReclaimArgs {
    pub pid: Pid,
    pub addr: u64,
    pub len: u64,
}

/// Page migration of the pages the process maps in the range, through the rmap: each moves to
/// a new frame, every mapping's PTE rewritten with its bits kept (`move_pages(2)` with
/// MPOL_MF_MOVE_ALL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MigrateArgs {
    pub pid: Pid,
    pub addr: u64,
    pub len: u64,
}

/// mlock(2), or mlock2(2) with its flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MlockArgs {
    pub pid: Pid,
    pub addr: u64,
    pub len: u64,
    pub flags: MlockFlags,
}

/// munlock(2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MunlockArgs {
    pub pid: Pid,
    pub addr: u64,
    pub len: u64,
}

/// mlockall(2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MlockallArgs {
    pub pid: Pid,
    pub flags: MlockallFlags,
}

/// munlockall(2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MunlockallArgs {
    pub pid: Pid,
}

/// What writing `value` to `/proc/PID/clear_refs` does: 1 clears the referenced state of all
/// pages, 2 of anonymous ones, 3 of file-backed ones, 4 the soft-dirty bits, 5 resets the peak
/// RSS. Other values are the kernel's EINVAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClearRefsArgs {
    pub pid: Pid,
    pub value: i64,
}

/// What writing `value` to `/proc/PID/oom_score_adj` does: sets the process's `oom_score_adj`
/// (the OOM killer's bias, -1000 never killed to 1000 killed first). A writer with
/// CAP_SYS_RESOURCE (root) also sets the floor `oom_score_adj_min`; an `unprivileged` one may
/// not go below it (EACCES) and leaves it. Values outside -1000..=1000 are the kernel's EINVAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OomScoreAdjArgs {
    pub pid: Pid,
    pub value: i64,
    pub unprivileged: bool,
}

/// Creates a simulated regular file that mmap can map.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileArgs {
    pub path: String,
    pub size: u64,
}

/// Declares [`Call`], one variant per argument struct, and `From` each struct.
macro_rules! calls {
    ($($variant:ident($args:ty),)+) => {
        /// One operation of the simulated machine.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum Call {
            $($variant($args),)+
        }

        $(impl From<$args> for Call {
            fn from(args: $args) -> Call {
                Call::$variant(args)
            }
        })+
    };
}

calls! {
    Spawn(SpawnArgs),
    Exit(ExitArgs),
    Fork(ForkArgs),
    Mmap(MmapArgs),
    Munmap(MunmapArgs),
    Mprotect(MprotectArgs),
    Mremap(MremapArgs),
    Madvise(MadviseArgs),
    Brk(BrkArgs),
    Name(NameArgs),
    Touch(TouchArgs),
    Reclaim(ReclaimArgs),
    Migrate(MigrateArgs),
    File(FileArgs),
    Mlock(MlockArgs),
    Munlock(MunlockArgs),
    Mlockall(MlockallArgs),
    Munlockall(MunlockallArgs),
    ClearRefs(ClearRefsArgs),
    OomScoreAdj(OomScoreAdjArgs),
}

impl Call {
    /// The process the call acts on (whose owner may make it), if any. `spawn` and `file`
    /// act on no existing process.
    pub fn pid(&self) -> Option<Pid> {
        match self {
            Call::Spawn(_) | Call::File(_) => None,
            Call::Exit(ExitArgs { pid })
            | Call::Fork(ForkArgs { pid, .. })
            | Call::Mmap(MmapArgs { pid, .. })
            | Call::Munmap(MunmapArgs { pid, .. })
            | Call::Mprotect(MprotectArgs { pid, .. })
            | Call::Mremap(MremapArgs { pid, .. })
            | Call::Madvise(MadviseArgs { pid, .. })
            | Call::Brk(BrkArgs { pid, .. })
            | Call::Name(NameArgs { pid, .. })
            | Call::Touch(TouchArgs { pid, .. })
            | Call::Reclaim(ReclaimArgs { pid, .. })
            | Call::Migrate(MigrateArgs { pid, .. })
            | Call::Mlock(MlockArgs { pid, .. })
            | Call::Munlock(MunlockArgs { pid, .. })
            | Call::Mlockall(MlockallArgs { pid, .. })
            | Call::Munlockall(MunlockallArgs { pid })
            | Call::ClearRefs(ClearRefsArgs { pid, .. })
            | Call::OomScoreAdj(OomScoreAdjArgs { pid, .. }) => Some(*pid),
        }
    }
}

/// What a successful call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Nothing but success.
    Done,
    /// A process id (spawn, fork).
    Pid(Pid),
    /// An address (mmap, mremap, brk).
    Addr(u64),
    /// A number of pages (reclaim: how many were reclaimed; migrate: how many moved).
    Pages(u64),
}

/// What carries out calls: the simulated machine, or the daemon's machine behind its lock and
/// journal. On error the machine is unchanged, except where the kernel itself changes state
/// before failing.
pub trait Kernel {
    fn apply(&mut self, call: &Call) -> Result<Outcome, Error>;
}
