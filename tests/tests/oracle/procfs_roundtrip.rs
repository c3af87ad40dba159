//! Every text file of the simulated demo machine's tree, parsed back by the `procfs` crate's
//! parsers (the ones the client and other tools use on a real /proc), must give back the numbers
//! and names of the views it was rendered from: maps, smaps, smaps_rollup, status, statm and
//! meminfo of every process of `daemon/scenarios/demo.anonmap` (names with spaces, `/` and `:`).

use anonmap_daemon::DEMO;
use anonmap_lang::Session;
use anonmap_mm::{Machine, MachineConfig};
use anonmap_proc::render;
use anonmap_proc::view::{VmaView, PSS_SHIFT};
use procfs_core::process::{MMPermissions, MMapPath, MemoryMaps, SmapsRollup, StatM, Status};
use procfs_core::{FromBufRead, FromRead, Meminfo};

fn demo_machine() -> Machine {
    let mut m = Machine::new(MachineConfig::default());
    Session::new()
        .run_script(&mut m, DEMO)
        .unwrap_or_else(|e| panic!("demo: {e}"));
    m
}

/// The `MMapPath` procfs makes of a VMA's name column.
fn expected_path(v: &VmaView) -> MMapPath {
    match v.label.as_deref() {
        None => MMapPath::Anonymous,
        Some("[heap]") => MMapPath::Heap,
        Some("[stack]") => MMapPath::Stack,
        Some("[vsyscall]") => MMapPath::Vsyscall,
        Some(l) if l.starts_with('/') => MMapPath::Path(l.into()),
        // procfs keeps other bracketed names without their brackets: `[anon:NAME]` -> `anon:NAME`.
        Some(l) => MMapPath::Other(
            l.strip_prefix('[')
                .and_then(|l| l.strip_suffix(']'))
                .unwrap_or(l)
                .to_string(),
        ),
    }
}

fn perms(flags: u64) -> MMPermissions {
    let mut p = MMPermissions::empty();
    for (bit, perm) in [
        (1, MMPermissions::READ),
        (2, MMPermissions::WRITE),
        (4, MMPermissions::EXECUTE),
    ] {
        if flags & bit != 0 {
            p |= perm;
        }
    }
    p | if flags & 8 != 0 {
        MMPermissions::SHARED
    } else {
        MMPermissions::PRIVATE
    }
}

#[test]
fn every_text_file_of_the_demo_tree_parses_back_to_its_view() {
    let m = demo_machine();
    let pids = m.pids();
    assert!(
        pids.len() >= 4,
        "the demo has a zygote, apps and a glibc process"
    );
    let mut names_seen = 0;
    for &pid in &pids {
        let space = m.address_space_view(pid).unwrap();
        let mut vmas: Vec<VmaView> = space.vmas.clone();
        if space.has_gate_vma {
            vmas.push(anonmap_proc::view::gate_vma());
        }

        let mut out = Vec::new();
        render::render_maps(&space, &mut out);
        let maps = MemoryMaps::from_buf_read(&out[..]).unwrap();
        let mut out = Vec::new();
        render::render_smaps(&space, &mut out);
        let smaps = MemoryMaps::from_buf_read(&out[..]).unwrap();
        assert_eq!(maps.len(), vmas.len(), "pid {pid} maps");
        assert_eq!(smaps.len(), vmas.len(), "pid {pid} smaps");
        for ((v, a), b) in vmas.iter().zip(maps.iter()).zip(smaps.iter()) {
            for e in [a, b] {
                let here = format!("pid {pid} {:#x}-{:#x}", v.start, v.end);
                assert_eq!(e.address, (v.start, v.end), "{here}");
                assert_eq!(e.perms, perms(v.flags), "{here}");
                assert_eq!(e.offset, v.offset, "{here}");
                assert_eq!(e.dev, (v.dev_major as i32, v.dev_minor as i32), "{here}");
                assert_eq!(e.inode, v.inode, "{here}");
                assert_eq!(e.pathname, expected_path(v), "{here}");
            }
            if let MMapPath::Other(n) = &b.pathname {
                names_seen += usize::from(n.contains(' ') || n.contains(':'));
            }
            let ext = &b.extension.map;
            let c = &v.counters;
            let kb = |bytes: u64| bytes >> 10 << 10;
            let fixed = |f: u64| f >> PSS_SHIFT >> 10 << 10;
            for (key, want) in [
                ("Rss", kb(c.rss)),
                ("Pss", fixed(c.pss)),
                ("Pss_Dirty", fixed(c.pss_dirty)),
                ("Shared_Clean", kb(c.shared_clean)),
                ("Shared_Dirty", kb(c.shared_dirty)),
                ("Private_Clean", kb(c.private_clean)),
                ("Private_Dirty", kb(c.private_dirty)),
                ("Referenced", kb(c.referenced)),
                ("Anonymous", kb(c.anonymous)),
                ("Swap", kb(c.swap)),
                ("SwapPss", fixed(c.swap_pss)),
                ("Size", v.end - v.start),
            ] {
                assert_eq!(ext.get(key), Some(&want), "pid {pid} {:#x} {key}", v.start);
            }
        }

        // smaps_rollup: the fixed-point sums over the mm's VMAs (no gate VMA), then truncated.
        let mut out = Vec::new();
        render::render_smaps_rollup(&space, &mut out);
        let rollup = SmapsRollup::from_buf_read(&out[..]).unwrap();
        let mut sum = anonmap_proc::view::SmapsCounters::default();
        for v in &space.vmas {
            sum.add(&v.counters);
        }
        let r = &rollup
            .memory_map_rollup
            .iter()
            .next()
            .unwrap()
            .extension
            .map;
        assert_eq!(
            r.get("Rss"),
            Some(&(sum.rss >> 10 << 10)),
            "pid {pid} rollup Rss"
        );
        assert_eq!(
            r.get("Pss"),
            Some(&(sum.pss >> PSS_SHIFT >> 10 << 10)),
            "pid {pid} rollup Pss"
        );

        let st = m.status_view(pid).unwrap();
        let mut out = Vec::new();
        render::render_status(&st, &mut out);
        let status = Status::from_read(&out[..]).unwrap();
        assert_eq!(status.name, st.comm);
        assert_eq!(status.pid, pid as i32);
        assert_eq!(status.ppid, st.ppid as i32);
        assert_eq!(status.vmrss, Some(st.vm_rss_kb));
        assert_eq!(status.rssanon, Some(st.rss_anon_kb));
        assert_eq!(status.rssfile, Some(st.rss_file_kb));
        assert_eq!(status.rssshmem, Some(st.rss_shmem_kb));
        assert_eq!(status.vmswap, Some(st.vm_swap_kb));
        assert_eq!(status.vmhwm, Some(st.vm_hwm_kb));
        assert_eq!(status.vmpeak, Some(st.vm_peak_kb));
        assert_eq!(status.vmdata, Some(st.vm_data_kb));
        assert_eq!(status.vmstk, Some(st.vm_stk_kb));
        assert_eq!(status.vmpte, Some(st.vm_pte_kb));

        let mut out = Vec::new();
        render::render_statm(&st, &mut out);
        let statm = StatM::from_read(&out[..]).unwrap();
        assert_eq!(
            (
                statm.size,
                statm.resident,
                statm.shared,
                statm.text,
                statm.data
            ),
            (
                st.statm_size,
                st.statm_resident,
                st.statm_shared,
                st.statm_text,
                st.statm_data
            )
        );
        // statm's resident is VmRSS in pages.
        assert_eq!(statm.resident * 4, st.vm_rss_kb);
    }
    assert!(
        names_seen > 0,
        "the demo names regions with spaces and colons"
    );

    let mi = m.meminfo_view();
    let mut out = Vec::new();
    render::render_meminfo(&mi, &mut out);
    let parsed = Meminfo::from_buf_read(&out[..]).unwrap();
    assert_eq!(parsed.mem_total, mi.mem_total_kb * 1024);
    assert_eq!(parsed.mem_free, mi.mem_free_kb * 1024);
    assert_eq!(parsed.anon_pages, Some(mi.anon_pages_kb * 1024));
    assert_eq!(parsed.swap_total, mi.swap_total_kb * 1024);
    assert_eq!(parsed.swap_free, mi.swap_free_kb * 1024);
    assert_eq!(parsed.page_tables, Some(mi.page_tables_kb * 1024));
}

/// The demo tree dumped as a /proc-like directory reads back through the `procfs` crate's own
/// `Process::new_with_root`, as the client reads a real /proc.
#[test]
fn the_dumped_demo_tree_reads_back_through_procfs_process() {
    let m = demo_machine();
    let dir = std::env::temp_dir().join(format!("anonmap-tree-dump-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    anonmap_testkit::tree_dump::dump_tree(&m, &dir).unwrap();
    for pid in m.pids() {
        let p = procfs::process::Process::new_with_root(dir.join(pid.to_string())).unwrap();
        let status = p.status().unwrap();
        assert_eq!(status.vmrss, Some(m.status_view(pid).unwrap().vm_rss_kb));
        let smaps = p.smaps().unwrap();
        assert_eq!(
            smaps.len(),
            m.address_space_view(pid).unwrap().vmas.len() + 1
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
