//! The swap oracle (`fixtures/swap-6.18`): the same steps as `swap_oracle.c` on the simulator,
//! printed in the program's format, must equal what a real 6.18 kernel printed.

use anonmap_abi::pagemap::{PM_FILE, PM_MMAP_EXCLUSIVE, PM_PRESENT, PM_SWAP};
use anonmap_lang::parse_call;
use anonmap_mm::{Machine, MachineConfig};
use anonmap_proc::view::PSS_SHIFT;

const A: u64 = 0x2000_0000_0000;

fn run(m: &mut Machine, line: &str) {
    let call = parse_call(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    m.apply(&call).unwrap_or_else(|e| panic!("{line}: {e}"));
    m.check_invariants()
        .unwrap_or_else(|e| panic!("{line}: {e}"));
}

/// `show(step, who, 4)` of swap_oracle.c.
fn show(m: &Machine, step: &str, pid: u32) -> String {
    let who = if pid == 1 { "P" } else { "C" };
    let space = m.address_space_view(pid).unwrap();
    let c = space.vmas.iter().find(|v| v.start == A).unwrap().counters;
    let kb = |b: u64| b >> 10;
    let fixed_kb = |f: u64| f >> (PSS_SHIFT + 10);
    let flags: Vec<String> = m
        .pagemap(pid, A / 4096, 4)
        .unwrap()
        .iter()
        .map(|&e| {
            let mut s = String::new();
            for (bit, ch) in [
                (PM_PRESENT, 'P'),
                (PM_SWAP, 'S'),
                (PM_FILE, 'F'),
                (PM_MMAP_EXCLUSIVE, 'X'),
            ] {
                if e & bit != 0 {
                    s.push(ch);
                }
            }
            s
        })
        .collect();
    format!(
        "{step} {who}: Rss={} Pss={} Shared_Clean={} Shared_Dirty={} Private_Clean={} Private_Dirty={} Referenced={} Anonymous={} Swap={} SwapPss={} pagemap={}",
        kb(c.rss),
        fixed_kb(c.pss),
        kb(c.shared_clean),
        kb(c.shared_dirty),
        kb(c.private_clean),
        kb(c.private_dirty),
        kb(c.referenced),
        kb(c.anonymous),
        kb(c.swap),
        fixed_kb(c.swap_pss),
        flags.join(",")
    )
}

#[test]
fn swap_steps_match_the_kernel() {
    let mut m = Machine::new(MachineConfig {
        ram_bytes: 64 << 20,
        swap_bytes: 64 << 20,
        soft_dirty: false,
        auto_reclaim: true,
    });
    let mut out = Vec::new();
    // (step, lines, processes shown afterwards in the program's order)
    let steps: &[(&str, &[String], &[u32])] = &[
        (
            "1-written",
            &[
                "spawn pid=1 bare".into(),
                format!("mmap pid=1 addr={A:#x} len=16K prot=rw- flags=private,anonymous,fixed"),
                format!("touch pid=1 addr={A:#x} len=16K access=write"),
            ],
            &[1],
        ),
        (
            "2-pageout",
            &[format!("reclaim pid=1 addr={A:#x} len=16K")],
            &[1],
        ),
        (
            "3-read0",
            &[format!("touch pid=1 addr={A:#x} len=4K access=read")],
            &[1],
        ),
        (
            "4-write1",
            &[format!(
                "touch pid=1 addr={:#x} len=4K access=write",
                A + 0x1000
            )],
            &[1],
        ),
        (
            "5-pageout-again",
            &[format!("reclaim pid=1 addr={A:#x} len=16K")],
            &[1],
        ),
        ("6-fork", &["fork pid=1 child=2".into()], &[2, 1]),
        (
            "7-child-read0",
            &[format!("touch pid=2 addr={A:#x} len=4K access=read")],
            &[2, 1],
        ),
        (
            "8-parent-read0",
            &[format!("touch pid=1 addr={A:#x} len=4K access=read")],
            &[1, 2],
        ),
        (
            "9-child-write2",
            &[format!(
                "touch pid=2 addr={:#x} len=4K access=write",
                A + 0x2000
            )],
            &[2, 1],
        ),
        (
            "10-parent-write3",
            &[format!(
                "touch pid=1 addr={:#x} len=4K access=write",
                A + 0x3000
            )],
            &[1, 2],
        ),
    ];
    for (step, lines, shown) in steps {
        for l in lines.iter() {
            run(&mut m, l);
        }
        for &pid in shown.iter() {
            out.push(show(&m, step, pid));
        }
    }
    let expected = include_str!("../../fixtures/swap-6.18/expected.txt");
    let expected: Vec<&str> = expected.lines().collect();
    for (i, (got, want)) in out.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "line {}", i + 1);
    }
    assert_eq!(out.len(), expected.len());
}
