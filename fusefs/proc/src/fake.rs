//! An in-memory [`Source`]: a machine made of hand-built views, for tests of the tree, of the
//! FUSE adapter and of the mount (and for anything else that wants a tree without a simulator).
//!
//! Every method answers under one mutex, so each answer comes from one consistent state, as the
//! daemon's answers do. Tests change the state between reads with [`FakeSource::update`] and
//! inspect which pagemap ranges were asked for with [`FakeSource::pagemap_requests`], and which
//! calls the tree's writes made with [`FakeSource::calls`].

use std::collections::BTreeMap;
use std::sync::Mutex;

use anonmap_abi::{err, Call, Error};

use crate::source::Source;
use crate::view::{
    AddressSpaceView, MeminfoView, NameObjectView, OomView, RmapMapper, RmapView, StatusView,
    VmaView, VmstatView,
};

/// One fake process.
#[derive(Debug, Clone, Default)]
pub struct FakeProcess {
    pub space: AddressSpaceView,
    pub status: StatusView,
    /// pagemap entries by virtual page number; a page not in the map reads as 0 (not present).
    pub pagemap: BTreeMap<u64, u64>,
    /// The owner (0, root, unless a test says otherwise).
    pub uid: u32,
    /// `oom_score`, `oom_score_adj` and its floor (all 0 unless a test says otherwise).
    pub oom: OomView,
}

/// The whole fake machine.
#[derive(Debug, Clone, Default)]
pub struct FakeState {
    /// Live processes by pid (ascending order is the listing order).
    pub processes: BTreeMap<u32, FakeProcess>,
    /// Resident frames by pfn.
    pub frames: BTreeMap<u64, RmapView>,
    /// The name table, ascending id.
    pub names: Vec<NameObjectView>,
    pub meminfo: MeminfoView,
    pub vmstat: VmstatView,
    /// The kernel log, oldest line first.
    pub kmsg: Vec<String>,
}

/// A [`Source`] over a [`FakeState`] behind a mutex.
#[derive(Debug, Default)]
pub struct FakeSource {
    state: Mutex<FakeState>,
    /// Every `pagemap(pid, first_vpn, count)` call, in order.
    pagemap_requests: Mutex<Vec<(u32, u64, u64)>>,
    /// Every call `apply_as` accepted, with its uid, in order.
    calls: Mutex<Vec<(u32, Call)>>,
}

impl FakeSource {
    pub fn new(state: FakeState) -> FakeSource {
        FakeSource {
            state: Mutex::new(state),
            pagemap_requests: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
        }
    }

    /// A machine of [`fake_process`]es, each `(pid, comm, vmas, pages_per_vma)`, and of
    /// resident frames `pfns`, each a [`fake_frame`] that the first process maps at
    /// 0x10000000.
    pub fn machine(processes: &[(u32, &str, u64, u64)], pfns: &[u64]) -> FakeSource {
        let mut state = FakeState::default();
        for &(pid, comm, vmas, pages) in processes {
            state
                .processes
                .insert(pid, fake_process(pid, comm, vmas, pages));
        }
        let first = processes.first().map_or(1, |p| p.0);
        for &pfn in pfns {
            state
                .frames
                .insert(pfn, fake_frame(pfn, first, 0x1000_0000));
        }
        FakeSource::new(state)
    }

    /// Changes the machine; readers see the change whole or not at all.
    pub fn update<R>(&self, f: impl FnOnce(&mut FakeState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    /// The pagemap ranges asked for so far: `(pid, first_vpn, count)`.
    pub fn pagemap_requests(&self) -> Vec<(u32, u64, u64)> {
        self.pagemap_requests.lock().unwrap().clone()
    }

    /// The calls applied so far (by the tree's writes), each with the uid it was applied as.
    pub fn calls(&self) -> Vec<(u32, Call)> {
        self.calls.lock().unwrap().clone()
    }

    fn with<R>(&self, f: impl FnOnce(&FakeState) -> R) -> R {
        f(&self.state.lock().unwrap())
    }
}

impl Source for FakeSource {
    fn pids(&self) -> Vec<u32> {
        self.with(|s| s.processes.keys().copied().collect())
    }

    fn has_pid(&self, pid: u32) -> bool {
        self.with(|s| s.processes.contains_key(&pid))
    }

    fn address_space(&self, pid: u32) -> Option<AddressSpaceView> {
        self.with(|s| s.processes.get(&pid).map(|p| p.space.clone()))
    }

    fn status(&self, pid: u32) -> Option<StatusView> {
        self.with(|s| s.processes.get(&pid).map(|p| p.status.clone()))
    }

    fn pagemap(&self, pid: u32, first_vpn: u64, count: u64) -> Option<Vec<u64>> {
        self.pagemap_requests
            .lock()
            .unwrap()
            .push((pid, first_vpn, count));
        self.with(|s| {
            let p = s.processes.get(&pid)?;
            Some(
                (first_vpn..first_vpn + count)
                    .map(|vpn| p.pagemap.get(&vpn).copied().unwrap_or(0))
                    .collect(),
            )
        })
    }

    fn resident_pfns(&self) -> Vec<u64> {
        self.with(|s| s.frames.keys().copied().collect())
    }

    fn rmap(&self, pfn: u64) -> Option<RmapView> {
        self.with(|s| s.frames.get(&pfn).cloned())
    }

    fn names(&self) -> Vec<NameObjectView> {
        self.with(|s| s.names.clone())
    }

    fn meminfo(&self) -> MeminfoView {
        self.with(|s| s.meminfo.clone())
    }

    fn oom(&self, pid: u32) -> Option<OomView> {
        self.with(|s| s.processes.get(&pid).map(|p| p.oom))
    }

    fn vmstat(&self) -> VmstatView {
        self.with(|s| s.vmstat.clone())
    }

    fn kmsg(&self) -> Vec<String> {
        self.with(|s| s.kmsg.clone())
    }

    fn owner(&self, pid: u32) -> Option<u32> {
        self.with(|s| s.processes.get(&pid).map(|p| p.uid))
    }

    /// Checks the call as the daemon does (ESRCH for a process that is not there, EACCES for a
    /// uid that is neither its owner nor root) and records it; the machine does not change.
    fn apply_as(&self, uid: u32, call: Call) -> Result<(), Error> {
        if let Some(pid) = call.pid() {
            match self.owner(pid) {
                None => return Err(err!(ESRCH, "no process with pid {pid}")),
                Some(owner) if uid != 0 && uid != owner => {
                    return Err(err!(EACCES, "process {pid} belongs to uid {owner}"))
                }
                Some(_) => {}
            }
        }
        self.calls.lock().unwrap().push((uid, call));
        Ok(())
    }
}

/// An unnamed private read-write anonymous VMA `[start, end)` with `counters`, its flags as
/// mmap(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS) sets them.
pub fn fake_anon_vma(start: u64, end: u64, counters: crate::view::SmapsCounters) -> VmaView {
    use anonmap_abi::vm_flags::*;
    VmaView {
        start,
        end,
        flags: VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ACCOUNT,
        offset: 0,
        dev_major: 0,
        dev_minor: 0,
        inode: 0,
        label: None,
        counters,
    }
}

/// A process `pid` called `comm` with `vmas` anonymous read-write VMAs of `pages_per_vma` pages
/// each from 0x10000000 (gaps of one page between them, every other one named
/// `[anon:fake <i>]`), every page resident with pfn `pid * 1_000_000 + page index` in its
/// pagemap.
pub fn fake_process(pid: u32, comm: &str, vmas: u64, pages_per_vma: u64) -> FakeProcess {
    use crate::view::SmapsCounters;
    use anonmap_abi::pagemap::{PM_MMAP_EXCLUSIVE, PM_PRESENT};

    let mut space = AddressSpaceView {
        vmas: Vec::new(),
        has_gate_vma: true,
    };
    let mut pagemap = BTreeMap::new();
    let mut page = 0u64;
    for i in 0..vmas {
        let start = 0x1000_0000 + i * (pages_per_vma + 1) * 4096;
        let end = start + pages_per_vma * 4096;
        let bytes = pages_per_vma * 4096;
        for vpn in start / 4096..end / 4096 {
            pagemap.insert(
                vpn,
                PM_PRESENT | PM_MMAP_EXCLUSIVE | (u64::from(pid) * 1_000_000 + page),
            );
            page += 1;
        }
        space.vmas.push(VmaView {
            label: (i % 2 == 0).then(|| format!("[anon:fake {i}]")),
            ..fake_anon_vma(
                start,
                end,
                SmapsCounters {
                    rss: bytes,
                    pss: bytes << crate::view::PSS_SHIFT,
                    pss_dirty: bytes << crate::view::PSS_SHIFT,
                    pss_anon: bytes << crate::view::PSS_SHIFT,
                    private_dirty: bytes,
                    referenced: bytes,
                    anonymous: bytes,
                    ..SmapsCounters::default()
                },
            )
        });
    }
    let kb = vmas * pages_per_vma * 4;
    let status = StatusView {
        comm: comm.to_string(),
        pid,
        ppid: 1,
        vm_peak_kb: kb,
        vm_size_kb: kb,
        vm_hwm_kb: kb,
        vm_rss_kb: kb,
        rss_anon_kb: kb,
        vm_data_kb: kb,
        statm_size: kb / 4,
        statm_resident: kb / 4,
        statm_data: kb / 4,
        ..StatusView::default()
    };
    FakeProcess {
        space,
        status,
        pagemap,
        uid: 0,
        oom: OomView::default(),
    }
}

/// The frame `pfn` mapped once by `pid` at `vaddr`.
pub fn fake_frame(pfn: u64, pid: u32, vaddr: u64) -> RmapView {
    RmapView {
        pfn,
        flags: ["anon", "swapbacked", "dirty", "lru", "exclusive"]
            .map(String::from)
            .to_vec(),
        lru: "inactive_anon".into(),
        mapcount: 1,
        refcount: 1,
        mapping: "anon_vma:1".to_string(),
        index: vaddr / 4096,
        anon_vmas_visited: 1,
        vmas_visited: 1,
        mappers: vec![RmapMapper {
            pid,
            vaddr,
            vma_start: vaddr,
            vma_end: vaddr + 4096,
            vma_flags: anonmap_abi::vm_flags::VM_READ | anonmap_abi::vm_flags::VM_WRITE,
            label: None,
        }],
    }
}
