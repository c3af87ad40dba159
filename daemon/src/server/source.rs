//! The read side: `impl Source for SharedMachine`. Each method takes the read lock, builds one
//! view and releases the lock; the tree formats the text afterwards.

use anonmap_fusefs::source::Source;
use anonmap_fusefs::tree;
use anonmap_fusefs::view::{AddressSpaceView, MeminfoView, NameObjectView, RmapView, StatusView};

use super::SharedMachine;

impl Source for SharedMachine {
    fn pids(&self) -> Vec<u32> {
        self.read().machine.pids()
    }

    fn has_pid(&self, pid: u32) -> bool {
        self.read().machine.status_view(pid).is_some()
    }

    fn address_space(&self, pid: u32) -> Option<AddressSpaceView> {
        self.read().machine.address_space_view(pid)
    }

    fn status(&self, pid: u32) -> Option<StatusView> {
        self.read().machine.status_view(pid)
    }

    fn pagemap(&self, pid: u32, first_vpn: u64, count: u64) -> Option<Vec<u64>> {
        self.read().machine.pagemap(pid, first_vpn, count)
    }

    fn resident_pfns(&self) -> Vec<u64> {
        self.read().machine.resident_pfns()
    }

    fn rmap(&self, pfn: u64) -> Option<RmapView> {
        self.read().machine.rmap_view(pfn)
    }

    fn names(&self) -> Vec<NameObjectView> {
        self.read().machine.name_table_view()
    }

    fn meminfo(&self) -> MeminfoView {
        self.read().machine.meminfo_view()
    }
}

/// Every text file of the tree of `source`, rendered, each after a `==> PATH <==` line: every
/// pid's maps, smaps, smaps_rollup, status, statm and comm, `rmap/<pfn>` of every resident pfn,
/// `names` and `meminfo`. Two sources with the same dump show the same tree (tests compare a
/// recovered daemon with a fresh replay this way).
pub fn dump(source: &dyn Source) -> String {
    let mut out = String::new();
    let mut file = |path: String, node| {
        out.push_str(&format!("==> {path} <==\n"));
        match tree::render(source, node) {
            Ok(text) => out.push_str(&String::from_utf8_lossy(&text)),
            Err(e) => out.push_str(&format!("error: {e}\n")),
        }
    };
    for pid in source.pids() {
        for f in tree::ProcFile::ALL {
            if f != tree::ProcFile::Pagemap {
                file(format!("{pid}/{}", f.name()), tree::Node::ProcFile(pid, f));
            }
        }
    }
    for pfn in source.resident_pfns() {
        file(format!("rmap/{pfn}"), tree::Node::Rmap(pfn));
    }
    file("names".into(), tree::Node::Names);
    file("meminfo".into(), tree::Node::Meminfo);
    out
}
