//! `/proc/meminfo`: the machine-wide memory summary.
//!
//! Owns the layout Linux 6.18 prints on x86_64 (fs/proc/meminfo.c `meminfo_proc_show`, then
//! `hugetlb_report_meminfo` and x86's `arch_report_meminfo`), line for line as this reference
//! host prints it: each line is the label padded to 16 columns, the value right-aligned in 8
//! columns (never truncated) and ` kB`; the four `HugePages_*` counts have no unit. Lines whose
//! quantity the simulator does not model are printed with 0, except the x86_64 constants
//! `VmallocTotal` (34359738367 kB) and `Hugepagesize` (2048 kB), and `CommitLimit`, which is
//! derived as the kernel does with the default overcommit ratio of 50%.

use super::fmt::{dec_width, pad};
use crate::view::MeminfoView;

/// `VMALLOC_TOTAL` on x86_64 with 4-level page tables, in kB.
const VMALLOC_TOTAL_KB: u64 = 34_359_738_367;
/// The default `vm.overcommit_ratio`, in percent.
const OVERCOMMIT_RATIO: u64 = 50;

/// Appends the whole meminfo file.
pub fn render_meminfo(m: &MeminfoView, out: &mut Vec<u8>) {
    // vm_commit_limit(): totalram_pages * ratio / 100 + total_swap_pages, in pages.
    let commit_limit_kb = (m.mem_total_kb / 4 * OVERCOMMIT_RATIO / 100 + m.swap_total_kb / 4) * 4;
    let kb_lines: [(&str, u64); 45] = [
        ("MemTotal:", m.mem_total_kb),
        ("MemFree:", m.mem_free_kb),
        ("MemAvailable:", m.mem_available_kb),
        ("Buffers:", 0),
        ("Cached:", m.cached_kb),
        ("SwapCached:", m.swap_cached_kb),
        ("Active:", m.active_anon_kb + m.active_file_kb),
        ("Inactive:", m.inactive_anon_kb + m.inactive_file_kb),
        ("Active(anon):", m.active_anon_kb),
        ("Inactive(anon):", m.inactive_anon_kb),
        ("Active(file):", m.active_file_kb),
        ("Inactive(file):", m.inactive_file_kb),
        ("Unevictable:", m.unevictable_kb),
        ("Mlocked:", m.mlocked_kb),
        ("SwapTotal:", m.swap_total_kb),
        ("SwapFree:", m.swap_free_kb),
        ("Zswap:", 0),
        ("Zswapped:", 0),
        ("Dirty:", 0),
        ("Writeback:", 0),
        ("AnonPages:", m.anon_pages_kb),
        ("Mapped:", m.mapped_kb),
        ("Shmem:", m.shmem_kb),
        ("KReclaimable:", 0),
        ("Slab:", 0),
        ("SReclaimable:", 0),
        ("SUnreclaim:", 0),
        ("KernelStack:", 0),
        ("PageTables:", m.page_tables_kb),
        ("SecPageTables:", 0),
        ("NFS_Unstable:", 0),
        ("Bounce:", 0),
        ("WritebackTmp:", 0),
        ("CommitLimit:", commit_limit_kb),
        ("Committed_AS:", m.committed_as_kb),
        ("VmallocTotal:", VMALLOC_TOTAL_KB),
        ("VmallocUsed:", 0),
        ("VmallocChunk:", 0),
        ("Percpu:", 0),
        ("AnonHugePages:", 0),
        ("ShmemHugePages:", 0),
        ("ShmemPmdMapped:", 0),
        ("FileHugePages:", 0),
        ("FilePmdMapped:", 0),
        ("Balloon:", 0),
    ];
    for (label, kb) in kb_lines {
        value(out, label, kb);
        out.extend_from_slice(b" kB\n");
    }
    for label in [
        "HugePages_Total:",
        "HugePages_Free:",
        "HugePages_Rsvd:",
        "HugePages_Surp:",
    ] {
        value(out, label, 0);
        out.push(b'\n');
    }
    for (label, kb) in [
        ("Hugepagesize:", 2048),
        ("Hugetlb:", 0),
        ("DirectMap4k:", 0),
        ("DirectMap2M:", 0),
        ("DirectMap1G:", 0),
    ] {
        value(out, label, kb);
        out.extend_from_slice(b" kB\n");
    }
}

/// Appends `label` padded to 16 columns and `v` right-aligned in 8.
fn value(out: &mut Vec<u8>, label: &str, v: u64) {
    out.extend_from_slice(label.as_bytes());
    pad(out, b' ', 16usize.saturating_sub(label.len()));
    dec_width(out, v, 8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use procfs_core::{FromBufRead, Meminfo};

    fn view() -> MeminfoView {
        MeminfoView {
            mem_total_kb: 24684084,
            mem_free_kb: 23699244,
            mem_available_kb: 24157548,
            cached_kb: 652204,
            swap_cached_kb: 0,
            anon_pages_kb: 202888,
            mapped_kb: 165216,
            shmem_kb: 8872,
            page_tables_kb: 3136,
            swap_total_kb: 0,
            swap_free_kb: 0,
            committed_as_kb: 145376,
            ..MeminfoView::default()
        }
    }

    #[test]
    fn byte_exact_layout() {
        let mut out = Vec::new();
        render_meminfo(&view(), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\
MemTotal:       24684084 kB
MemFree:        23699244 kB
MemAvailable:   24157548 kB
Buffers:               0 kB
Cached:           652204 kB
SwapCached:            0 kB
Active:                0 kB
Inactive:              0 kB
Active(anon):          0 kB
Inactive(anon):        0 kB
Active(file):          0 kB
Inactive(file):        0 kB
Unevictable:           0 kB
Mlocked:               0 kB
SwapTotal:             0 kB
SwapFree:              0 kB
Zswap:                 0 kB
Zswapped:              0 kB
Dirty:                 0 kB
Writeback:             0 kB
AnonPages:        202888 kB
Mapped:           165216 kB
Shmem:              8872 kB
KReclaimable:          0 kB
Slab:                  0 kB
SReclaimable:          0 kB
SUnreclaim:            0 kB
KernelStack:           0 kB
PageTables:         3136 kB
SecPageTables:         0 kB
NFS_Unstable:          0 kB
Bounce:                0 kB
WritebackTmp:          0 kB
CommitLimit:    12342040 kB
Committed_AS:     145376 kB
VmallocTotal:   34359738367 kB
VmallocUsed:           0 kB
VmallocChunk:          0 kB
Percpu:                0 kB
AnonHugePages:         0 kB
ShmemHugePages:        0 kB
ShmemPmdMapped:        0 kB
FileHugePages:         0 kB
FilePmdMapped:         0 kB
Balloon:               0 kB
HugePages_Total:       0
HugePages_Free:        0
HugePages_Rsvd:        0
HugePages_Surp:        0
Hugepagesize:       2048 kB
Hugetlb:               0 kB
DirectMap4k:           0 kB
DirectMap2M:           0 kB
DirectMap1G:           0 kB
"
        );
    }

    #[test]
    fn procfs_parses_it() {
        let v = MeminfoView {
            swap_total_kb: 1048576,
            swap_free_kb: 1000000,
            swap_cached_kb: 12,
            active_anon_kb: 100,
            inactive_anon_kb: 200,
            active_file_kb: 300,
            inactive_file_kb: 400,
            unevictable_kb: 16,
            mlocked_kb: 8,
            ..view()
        };
        let mut out = Vec::new();
        render_meminfo(&v, &mut out);
        let m = Meminfo::from_buf_read(&out[..]).unwrap();
        // procfs-core converts kB to bytes.
        let kb = |x: u64| x * 1024;
        assert_eq!(m.mem_total, kb(v.mem_total_kb));
        assert_eq!(m.mem_free, kb(v.mem_free_kb));
        assert_eq!(m.mem_available, Some(kb(v.mem_available_kb)));
        assert_eq!(m.cached, kb(v.cached_kb));
        assert_eq!(m.swap_cached, kb(v.swap_cached_kb));
        assert_eq!(m.active, kb(400));
        assert_eq!(m.inactive, kb(600));
        assert_eq!(m.active_anon, Some(kb(100)));
        assert_eq!(m.inactive_anon, Some(kb(200)));
        assert_eq!(m.active_file, Some(kb(300)));
        assert_eq!(m.inactive_file, Some(kb(400)));
        assert_eq!(m.unevictable, Some(kb(16)));
        assert_eq!(m.mlocked, Some(kb(8)));
        assert_eq!(m.anon_pages, Some(kb(v.anon_pages_kb)));
        assert_eq!(m.mapped, kb(v.mapped_kb));
        assert_eq!(m.shmem, Some(kb(v.shmem_kb)));
        assert_eq!(m.page_tables, Some(kb(v.page_tables_kb)));
        assert_eq!(m.swap_total, kb(v.swap_total_kb));
        assert_eq!(m.swap_free, kb(v.swap_free_kb));
        assert_eq!(m.committed_as, kb(v.committed_as_kb));
        assert_eq!(m.commit_limit, Some(kb(12342040 + 1048576)));
        assert_eq!(m.hugepages_total, Some(0));
        assert_eq!(m.hugepagesize, Some(kb(2048)));
        assert_eq!(m.buffers, 0);
    }
}
