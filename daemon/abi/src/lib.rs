//! anonmap-abi: the system-call ABI of the simulated machine, the lowest layer of anonmap.
//!
//! Everything here is plain data that the simulator, the /proc tree, the command language, the
//! daemon and the client all agree on, in the kernel's own numbering where the kernel has one:
//! - [`errno`]: [`Errno`], the symbolic Linux errno values, and [`Error`], a failure with its
//!   errno and a plain-words message.
//! - [`page`]: page size and shift, the user address-space limit.
//! - [`vm_flags`]: the `VM_*` bits of `vm_area_struct::vm_flags`.
//! - [`pagemap`]: the bits of a `/proc/<pid>/pagemap` entry.
//! - [`call`]: [`Call`], one variant per operation of the machine with one argument struct
//!   each (as gVisor's `MMapOpts`), the argument types (`Prot`, `MmapFlags`, `Advice`, ...),
//!   what a call returns ([`Outcome`]), and [`Kernel`], what executes calls.
//!
//! Nothing here knows how calls are written as text (that is the command language) or how
//! they are carried out (that is the simulator).

#![forbid(unsafe_code)]

pub mod call;
pub mod errno;
pub mod page;
pub mod pagemap;
pub mod vm_flags;

pub use call::{
    Access, Advice, BrkArgs, Call, ClearRefsArgs, ExitArgs, FileArgs, ForkArgs, Kernel,
    MadviseArgs, MigrateArgs, MlockArgs, MlockFlags, MlockallArgs, MlockallFlags, MmapArgs,
    MmapFlags, MprotectArgs, MremapArgs, MremapFlags, MunlockArgs, MunlockallArgs, MunmapArgs,
    NameArgs, OomScoreAdjArgs, Outcome, Pid, Prot, ReclaimArgs, SpawnArgs, TouchArgs,
};
pub use errno::{Errno, Error};
