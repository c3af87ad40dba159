//! The narrow interface through which the tree asks for data, and hands on the writes it
//! takes: [`Source`].
//!
//! fusefs knows nothing of the simulator. The daemon implements `Source` over its machine: each
//! method takes the machine's read lock, builds one view, and releases the lock before returning,
//! so every rendered file comes from one consistent state and no lock is held while formatting.
//! A write to a writable file (`<pid>/clear_refs`, `<pid>/oom_score_adj`) becomes one [`Call`],
//! applied through [`Source::apply_as`] as the control socket applies its calls.

use anonmap_abi::{err, Call, Error};

use crate::view::{
    AddressSpaceView, MeminfoView, NameObjectView, OomView, RmapView, StatusView, VmstatView,
};

/// What the tree needs from the machine it shows. Every method answers from one consistent
/// state; `None` means the object does not exist (the process has exited, the pfn is free).
pub trait Source: Send + Sync {
    /// Pids of the live processes, ascending.
    fn pids(&self) -> Vec<u32>;
    /// Whether `pid` is a live process (cheaper than `pids().contains()`).
    fn has_pid(&self, pid: u32) -> bool;
    /// The address space of `pid` as maps, smaps and smaps_rollup show it.
    fn address_space(&self, pid: u32) -> Option<AddressSpaceView>;
    /// The status/statm numbers of `pid`; `comm` is also the `comm` file.
    fn status(&self, pid: u32) -> Option<StatusView>;
    /// pagemap entries of `pid` for `count` virtual pages from `first_vpn`.
    fn pagemap(&self, pid: u32, first_vpn: u64, count: u64) -> Option<Vec<u64>>;
    /// Pfns of the resident (allocated) frames, ascending: the entries of `rmap/`.
    fn resident_pfns(&self) -> Vec<u64>;
    /// The frame `pfn` and every mapping of it; `None` for a free or invalid pfn.
    fn rmap(&self, pfn: u64) -> Option<RmapView>;
    /// The name table, in ascending id order.
    fn names(&self) -> Vec<NameObjectView>;
    /// The machine-wide numbers of `meminfo`.
    fn meminfo(&self) -> MeminfoView;
    /// The OOM killer's numbers of `pid`: `oom_score`, `oom_score_adj` and its floor.
    fn oom(&self, pid: u32) -> Option<OomView>;
    /// The machine-wide numbers of `vmstat`.
    fn vmstat(&self) -> VmstatView;
    /// The kernel log, oldest line first: the lines of `kmsg`.
    fn kmsg(&self) -> Vec<String>;

    /// The uid that owns process `pid`: the owner of its writable files `clear_refs` and
    /// `oom_score_adj`. `None` if there is no such process or the source does not know (the
    /// files are then the tree's user's, as every other file is).
    fn owner(&self, _pid: u32) -> Option<u32> {
        None
    }

    /// Applies `call` on behalf of `uid` as the control socket applies a request of that uid:
    /// only the process's owner or root may change a process (EACCES), the call is journaled,
    /// and it is durable when this returns. The `Err` is the call's error or the refusal. The
    /// default refuses everything: a source that cannot change is read-only (EROFS).
    fn apply_as(&self, uid: u32, call: Call) -> Result<(), Error> {
        let _ = (uid, call);
        Err(err!(
            EROFS,
            "this tree is read-only: its source takes no calls"
        ))
    }
}
