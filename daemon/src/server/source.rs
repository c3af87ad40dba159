//! The tree's side: `impl Source for SharedMachine`. Each read method takes the read lock,
//! builds one view and releases the lock; the tree formats the text afterwards. The writes,
//! `<pid>/clear_refs` and `<pid>/oom_score_adj`, apply their call as the socket applies a
//! request of the writer's uid (owner check, journal) and return once the call is durable.

use anonmap_abi::{Call, Error};
use anonmap_proc::tree;
use anonmap_proc::view::{
    AddressSpaceView, MeminfoView, NameObjectView, OomView, RmapView, StatusView, VmstatView,
};
use anonmap_proc::Source;

use super::SharedMachine;

impl Source for SharedMachine {
    // Each method is the machine's own `Source` method under the read lock.
    fn pids(&self) -> Vec<u32> {
        Source::pids(&self.read().machine)
    }

    fn has_pid(&self, pid: u32) -> bool {
        Source::has_pid(&self.read().machine, pid)
    }

    fn address_space(&self, pid: u32) -> Option<AddressSpaceView> {
        Source::address_space(&self.read().machine, pid)
    }

    fn status(&self, pid: u32) -> Option<StatusView> {
        Source::status(&self.read().machine, pid)
    }

    fn pagemap(&self, pid: u32, first_vpn: u64, count: u64) -> Option<Vec<u64>> {
        Source::pagemap(&self.read().machine, pid, first_vpn, count)
    }

    fn resident_pfns(&self) -> Vec<u64> {
        Source::resident_pfns(&self.read().machine)
    }

    fn rmap(&self, pfn: u64) -> Option<RmapView> {
        Source::rmap(&self.read().machine, pfn)
    }

    fn names(&self) -> Vec<NameObjectView> {
        Source::names(&self.read().machine)
    }

    fn meminfo(&self) -> MeminfoView {
        Source::meminfo(&self.read().machine)
    }

    fn oom(&self, pid: u32) -> Option<OomView> {
        Source::oom(&self.read().machine, pid)
    }

    fn vmstat(&self) -> VmstatView {
        Source::vmstat(&self.read().machine)
    }

    fn kmsg(&self) -> Vec<String> {
        Source::kmsg(&self.read().machine)
    }

    fn owner(&self, pid: u32) -> Option<u32> {
        self.read().machine.owner(pid)
    }

    fn apply_as(&self, uid: u32, call: Call) -> Result<(), Error> {
        let verb = anonmap_lang::verb(&call);
        let result = self.apply_durably(uid, call).map(|_| ());
        match &result {
            Ok(()) => tracing::debug!(uid, verb, "applied a write of the tree"),
            Err(e) => tracing::debug!(uid, verb, error = %e, "a write of the tree failed"),
        }
        result
    }
}

/// Every text file of the tree of `source`, rendered, each after a `==> PATH <==` line: every
/// pid's maps, smaps, smaps_rollup, status, statm, comm, oom_score and oom_score_adj,
/// `rmap/<pfn>` of every resident pfn, `names`, `meminfo`, `vmstat` and `kmsg`. Two sources with the same dump show the same tree (tests compare a
/// recovered daemon with a fresh replay this way).
pub fn dump(source: &dyn Source) -> String {
    let mut out = String::new();
    for (path, node) in tree::text_files(source) {
        out.push_str(&format!("==> {path} <==\n"));
        match tree::render(source, node) {
            Ok(text) => out.push_str(&String::from_utf8_lossy(&text)),
            Err(e) => out.push_str(&format!("error: {e}\n")),
        }
    }
    out
}
