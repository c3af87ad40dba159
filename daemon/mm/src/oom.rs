//! The OOM killer (mm/oom_kill.c) and the kernel log it writes to.
//!
//! When reclaim cannot free enough for an allocation (see `vmscan`), `out_of_memory` picks the
//! process with the highest `oom_badness`: its resident pages (anon, file, shmem), its swap
//! entries and its page-table pages, plus `oom_score_adj * totalpages / 1000` (totalpages = RAM +
//! swap). A process with `oom_score_adj` -1000 and init (pid 1) are never chosen. Processes are
//! considered in pid order and a later one wins a tie (`select_bad_process` replaces its choice
//! unless the new one scores less). The victim is killed at once: its memory is freed as by
//! `exit` (the kernel's SIGKILL, exit and oom_reaper, which here finish before the allocation
//! retries) and the kill is logged as the kernel logs it.
//!
//! The faulting call then goes on if the victim was another process. If it was the faulting
//! process itself, the call fails with EINTR (the process died of SIGKILL during the fault)
//! and the pid is gone.

use super::types::Pid;
use super::Machine;
use anonmap_abi::{Error, ExitArgs};

/// OOM_SCORE_ADJ_MIN: never killed.
pub const OOM_SCORE_ADJ_MIN: i16 = -1000;
/// OOM_SCORE_ADJ_MAX.
pub const OOM_SCORE_ADJ_MAX: i16 = 1000;
/// Kernel log lines kept (the oldest go first), like the log buffer's fixed size.
const KMSG_LINES: usize = 4096;

/// What the OOM killer did for one allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OomOutcome {
    /// Another process was killed; the allocation retries.
    KilledOther,
    /// The allocating process itself was killed.
    KilledSelf,
    /// Nothing could be killed.
    NoVictim,
}

impl Machine {
    /// `oom_badness` of `pid`, `None` for a process that is never chosen.
    pub fn oom_badness(&self, pid: Pid) -> Option<i64> {
        let p = self.procs.get(&pid)?;
        let adj = i64::from(p.oom_score_adj);
        if pid == 1 || p.oom_score_adj == OOM_SCORE_ADJ_MIN {
            return None;
        }
        let c = &p.mm.counters;
        let points = (c.rss() + c.swap_ents + p.mm.pt.table_pages()) as i64;
        Some(points + adj * (self.oom_total_pages() as i64 / 1000))
    }

    /// `totalpages` of a global OOM: RAM plus swap, in pages.
    fn oom_total_pages(&self) -> u64 {
        self.frames.total() + self.swap.total()
    }

    /// `/proc/PID/oom_score`: `(1000 + badness * 1000 / totalpages) * 2 / 3`, 0 for a process
    /// that is never chosen.
    pub fn oom_score(&self, pid: Pid) -> Option<u64> {
        self.procs.get(&pid)?;
        let Some(badness) = self.oom_badness(pid) else {
            return Some(0);
        };
        let total = self.oom_total_pages().max(1) as i64;
        Some(((1000 + badness * 1000 / total) * 2 / 3).max(0) as u64)
    }

    /// `out_of_memory` for an allocation by `current`.
    pub(super) fn out_of_memory(&mut self, current: Pid) -> OomOutcome {
        let mut chosen: Option<(Pid, i64)> = None;
        for &pid in self.procs.keys() {
            let Some(points) = self.oom_badness(pid) else {
                continue;
            };
            if chosen.is_none_or(|(_, best)| points >= best) {
                chosen = Some((pid, points));
            }
        }
        let Some((victim, _)) = chosen else {
            self.kmsg("Out of memory and no killable processes...".to_string());
            return OomOutcome::NoVictim;
        };
        let p = &self.procs[&victim];
        let c = &p.mm.counters;
        let kb = |pages: u64| pages * 4;
        let line = format!(
            "Out of memory: Killed process {victim} ({}) total-vm:{}kB, anon-rss:{}kB, \
             file-rss:{}kB, shmem-rss:{}kB, UID:{} pgtables:{}kB oom_score_adj:{}",
            p.comm,
            kb(c.total_vm),
            kb(c.rss_anon),
            kb(c.rss_file),
            kb(c.rss_shmem),
            p.uid,
            kb(p.mm.pt.table_pages()),
            p.oom_score_adj
        );
        self.kmsg(line);
        self.vm_events.oom_kill += 1;
        self.exit(&ExitArgs { pid: victim })
            .expect("the victim is a live process");
        if victim == current {
            OomOutcome::KilledSelf
        } else {
            OomOutcome::KilledOther
        }
    }

    /// `oom_score_adj pid=N value=V` and writes of `/proc/PID/oom_score_adj`
    /// (`__set_oom_adj`): EINVAL outside -1000..=1000; a writer without CAP_SYS_RESOURCE
    /// (`privileged` false: not root) may not go below the process's `oom_score_adj_min`
    /// (EACCES), while a privileged writer also sets that floor. The value is inherited by
    /// later children.
    pub fn set_oom_score_adj(
        &mut self,
        pid: Pid,
        value: i64,
        privileged: bool,
    ) -> Result<(), Error> {
        let p = self.proc_ref(pid)?;
        let Ok(adj) = i16::try_from(value) else {
            return Err(out_of_range(value));
        };
        if !(OOM_SCORE_ADJ_MIN..=OOM_SCORE_ADJ_MAX).contains(&adj) {
            return Err(out_of_range(value));
        }
        if adj < p.oom_score_adj_min && !privileged {
            return Err(anonmap_abi::err!(
                EACCES,
                "oom_score_adj: {adj} is below pid {pid}'s floor {} (needs CAP_SYS_RESOURCE)",
                p.oom_score_adj_min
            ));
        }
        let p = self.procs.get_mut(&pid).expect("checked");
        p.oom_score_adj = adj;
        if privileged {
            p.oom_score_adj_min = adj;
        }
        Ok(())
    }

    /// The error a call gets when the OOM killer killed its own process.
    pub(super) fn killed_by_oom(pid: Pid) -> Error {
        anonmap_abi::err!(
            EINTR,
            "pid {pid} was killed by the OOM killer (SIGKILL) during the fault; it is gone"
        )
    }

    /// Appends a line to the kernel log.
    pub(super) fn kmsg(&mut self, line: String) {
        if self.kmsg.len() == KMSG_LINES {
            self.kmsg.pop_front();
        }
        self.kmsg.push_back(line);
    }

    /// The kernel log, oldest line first.
    pub fn kmsg_lines(&self) -> impl Iterator<Item = &str> {
        self.kmsg.iter().map(String::as_str)
    }
}

fn out_of_range(value: i64) -> Error {
    anonmap_abi::err!(
        EINVAL,
        "oom_score_adj: {value} is outside {OOM_SCORE_ADJ_MIN}..={OOM_SCORE_ADJ_MAX}"
    )
}
