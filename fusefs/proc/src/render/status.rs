//! `/proc/<pid>/status` and `/proc/<pid>/statm`.
//!
//! Owns the full status file in the order Linux 6.18 prints it on x86_64 (fs/proc/array.c
//! `proc_pid_status`): the identity lines from the view, the memory lines of `task_mem`
//! (`Label:\t%8lu kB`), and fixed, plausible values for everything the simulator does not model
//! (one sleeping thread, umask 0022, no supplementary groups, no signals, no capabilities, one
//! CPU and one NUMA node). statm is `task_statm`: `size resident shared text lib data dt`, with
//! lib and dt always 0.

use super::fmt::{dec, kb_line};
use crate::view::StatusView;

/// Everything after `HugetlbPages:`: the non-memory tail, constant for a simulated process.
const TAIL: &str = "\
CoreDumping:\t0
THP_enabled:\t1
untag_mask:\t0xffffffffffffffff
Threads:\t1
SigQ:\t0/63704
SigPnd:\t0000000000000000
ShdPnd:\t0000000000000000
SigBlk:\t0000000000000000
SigIgn:\t0000000000000000
SigCgt:\t0000000000000000
CapInh:\t0000000000000000
CapPrm:\t0000000000000000
CapEff:\t0000000000000000
CapBnd:\t000001ffffffffff
CapAmb:\t0000000000000000
NoNewPrivs:\t0
Seccomp:\t0
Seccomp_filters:\t0
Speculation_Store_Bypass:\tnot vulnerable
SpeculationIndirectBranch:\tnot affected
Cpus_allowed:\t1
Cpus_allowed_list:\t0
Mems_allowed:\t1
Mems_allowed_list:\t0
voluntary_ctxt_switches:\t0
nonvoluntary_ctxt_switches:\t0
";

/// Appends the whole status file.
pub fn render_status(s: &StatusView, out: &mut Vec<u8>) {
    out.extend_from_slice(b"Name:\t");
    write_comm(&s.comm, out);
    out.extend_from_slice(b"\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t");
    dec(out, s.pid.into());
    out.extend_from_slice(b"\nNgid:\t0\nPid:\t");
    dec(out, s.pid.into());
    out.extend_from_slice(b"\nPPid:\t");
    dec(out, s.ppid.into());
    out.extend_from_slice(b"\nTracerPid:\t0");
    for (label, id) in [(&b"\nUid:"[..], s.uid), (&b"\nGid:"[..], s.gid)] {
        out.extend_from_slice(label);
        for _ in 0..4 {
            out.push(b'\t');
            dec(out, id.into());
        }
    }
    // The kernel ends the (here empty) group list with a space it calls a historical accident.
    out.extend_from_slice(b"\nFDSize:\t64\nGroups:\t \n");
    // A process that is its own session and group leader, in the initial pid namespace only.
    for label in ["NStgid:\t", "NSpid:\t", "NSpgid:\t", "NSsid:\t"] {
        out.extend_from_slice(label.as_bytes());
        dec(out, s.pid.into());
        out.push(b'\n');
    }
    out.extend_from_slice(b"Kthread:\t0\n");
    for (label, kb) in [
        ("VmPeak:\t", s.vm_peak_kb),
        ("VmSize:\t", s.vm_size_kb),
        ("VmLck:\t", s.vm_lck_kb),
        ("VmPin:\t", s.vm_pin_kb),
        ("VmHWM:\t", s.vm_hwm_kb),
        ("VmRSS:\t", s.vm_rss_kb),
        ("RssAnon:\t", s.rss_anon_kb),
        ("RssFile:\t", s.rss_file_kb),
        ("RssShmem:\t", s.rss_shmem_kb),
        ("VmData:\t", s.vm_data_kb),
        ("VmStk:\t", s.vm_stk_kb),
        ("VmExe:\t", s.vm_exe_kb),
        ("VmLib:\t", s.vm_lib_kb),
        ("VmPTE:\t", s.vm_pte_kb),
        ("VmSwap:\t", s.vm_swap_kb),
        ("HugetlbPages:\t", 0),
    ] {
        kb_line(out, label, kb, 8);
    }
    out.extend_from_slice(TAIL.as_bytes());
}

/// Appends comm as `proc_task_name` escapes it: only `\n` and `\` are escaped (as `\n`, `\\`).
fn write_comm(comm: &str, out: &mut Vec<u8>) {
    for &b in comm.as_bytes() {
        match b {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            _ => out.push(b),
        }
    }
}

/// Appends the statm line: `size resident shared text 0 data 0\n`, in pages.
pub fn render_statm(s: &StatusView, out: &mut Vec<u8>) {
    for (i, v) in [
        s.statm_size,
        s.statm_resident,
        s.statm_shared,
        s.statm_text,
        0,
        s.statm_data,
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            out.push(b' ');
        }
        dec(out, v);
    }
    out.extend_from_slice(b" 0\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use procfs_core::process::{StatM, Status};
    use procfs_core::{FromBufRead, FromRead};

    fn view() -> StatusView {
        StatusView {
            comm: "cat".into(),
            pid: 3523,
            ppid: 3518,
            uid: 1000,
            gid: 100,
            vm_peak_kb: 3060,
            vm_size_kb: 3056,
            vm_lck_kb: 8,
            vm_pin_kb: 0,
            vm_hwm_kb: 1692,
            vm_rss_kb: 1676,
            rss_anon_kb: 116,
            rss_file_kb: 1556,
            rss_shmem_kb: 4,
            vm_data_kb: 360,
            vm_stk_kb: 132,
            vm_exe_kb: 20,
            vm_lib_kb: 1528,
            vm_pte_kb: 44,
            vm_swap_kb: 123456789,
            statm_size: 764,
            statm_resident: 419,
            statm_shared: 390,
            statm_text: 5,
            statm_data: 123,
        }
    }

    fn render(s: &StatusView) -> String {
        crate::render::fmt::text(|out| render_status(s, out))
    }

    #[test]
    fn head_and_memory_lines_are_byte_exact() {
        let got = render(&view());
        let expected_head = "\
Name:\tcat
Umask:\t0022
State:\tS (sleeping)
Tgid:\t3523
Ngid:\t0
Pid:\t3523
PPid:\t3518
TracerPid:\t0
Uid:\t1000\t1000\t1000\t1000
Gid:\t100\t100\t100\t100
FDSize:\t64
Groups:\t \nNStgid:\t3523
NSpid:\t3523
NSpgid:\t3523
NSsid:\t3523
Kthread:\t0
VmPeak:\t    3060 kB
VmSize:\t    3056 kB
VmLck:\t       8 kB
VmPin:\t       0 kB
VmHWM:\t    1692 kB
VmRSS:\t    1676 kB
RssAnon:\t     116 kB
RssFile:\t    1556 kB
RssShmem:\t       4 kB
VmData:\t     360 kB
VmStk:\t     132 kB
VmExe:\t      20 kB
VmLib:\t    1528 kB
VmPTE:\t      44 kB
VmSwap:\t123456789 kB
HugetlbPages:\t       0 kB
CoreDumping:\t0
";
        assert!(got.starts_with(expected_head), "{got}");
        assert!(got.ends_with(TAIL));
        assert!(got.ends_with("\nnonvoluntary_ctxt_switches:\t0\n"));
    }

    #[test]
    fn comm_escapes_newline_and_backslash_only() {
        let s = StatusView {
            comm: "a b\\c\nd".into(),
            ..view()
        };
        assert!(render(&s).starts_with("Name:\ta b\\\\c\\nd\nUmask:"));
    }

    #[test]
    fn procfs_parses_every_field() {
        let v = view();
        let mut out = Vec::new();
        render_status(&v, &mut out);
        let st = Status::from_buf_read(&out[..]).unwrap();
        assert_eq!(st.name, "cat");
        assert_eq!(st.umask, Some(0o022));
        assert_eq!(st.state, "S (sleeping)");
        assert_eq!(
            (st.tgid, st.pid, st.ppid, st.tracerpid),
            (3523, 3523, 3518, 0)
        );
        assert_eq!(
            (st.ruid, st.euid, st.suid, st.fuid),
            (1000, 1000, 1000, 1000)
        );
        assert_eq!((st.rgid, st.egid, st.sgid, st.fgid), (100, 100, 100, 100));
        assert!(st.groups.is_empty());
        assert_eq!(st.nspid, Some(vec![3523]));
        let memory = [
            (st.vmpeak, v.vm_peak_kb),
            (st.vmsize, v.vm_size_kb),
            (st.vmlck, v.vm_lck_kb),
            (st.vmpin, v.vm_pin_kb),
            (st.vmhwm, v.vm_hwm_kb),
            (st.vmrss, v.vm_rss_kb),
            (st.rssanon, v.rss_anon_kb),
            (st.rssfile, v.rss_file_kb),
            (st.rssshmem, v.rss_shmem_kb),
            (st.vmdata, v.vm_data_kb),
            (st.vmstk, v.vm_stk_kb),
            (st.vmexe, v.vm_exe_kb),
            (st.vmlib, v.vm_lib_kb),
            (st.vmpte, v.vm_pte_kb),
            (st.vmswap, v.vm_swap_kb),
            (st.hugetlbpages, 0),
        ];
        for (i, (parsed, want)) in memory.into_iter().enumerate() {
            assert_eq!(parsed, Some(want), "memory line {i}");
        }
        assert_eq!(st.threads, 1);
        assert_eq!(st.sigq, (0, 63704));
        assert_eq!(st.capbnd, Some(0x1ff_ffff_ffff));
        assert_eq!(st.cpus_allowed_list, Some(vec![(0, 0)]));
        assert_eq!(st.core_dumping, Some(false));
        assert_eq!(st.thp_enabled, Some(true));
        assert_eq!(st.nonvoluntary_ctxt_switches, Some(0));
    }

    #[test]
    fn statm_is_seven_decimals() {
        let mut out = Vec::new();
        render_statm(&view(), &mut out);
        assert_eq!(out, b"764 419 390 5 0 123 0\n");
        let m = StatM::from_read(&out[..]).unwrap();
        assert_eq!(
            (m.size, m.resident, m.shared, m.text, m.lib, m.data, m.dt),
            (764, 419, 390, 5, 0, 123, 0)
        );
        let mut zero = Vec::new();
        render_statm(&StatusView::default(), &mut zero);
        assert_eq!(zero, b"0 0 0 0 0 0 0\n");
    }
}
