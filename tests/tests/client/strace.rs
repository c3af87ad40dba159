//! The client's strace replay on a real capture: `client/tests/fixtures/tracee.strace` was
//! recorded from `client/tests/fixtures/tracee.c` (gcc -O1) with
//! `strace -f -y -s 100 -e trace=memory,process,prctl -o tracee.strace ./tracee` on Linux.
//! (The recording kernel lacks CONFIG_ANON_VMA_NAME, so its three prctl(PR_SET_VMA) calls
//! failed with EINVAL and are replayed as failed calls; naming is covered by the unit tests.)
//!
//! The translation must have no unsupported line, every command must apply to the simulator,
//! and the replayed process must have the traced anonymous and file mappings at the traced
//! addresses, and its `[heap]` at the traced break (checked before its final exit).

use anonmap::strace::{translate, Options};
use anonmap_lang::line;
use anonmap_mm::{Machine, MachineConfig};

const TRACE: &str = include_str!("../../../client/tests/fixtures/tracee.strace");
/// The traced initial break: the main process's first `brk(NULL) = 0x556367271000`.
const TRACED_BRK: u64 = 0x5563_6727_1000;

#[test]
fn real_capture_replays_at_the_traced_addresses() {
    let t = translate(TRACE, Options { base_pid: 20000 });
    assert!(t.unsupported.is_empty(), "{}", t.summary());
    assert_eq!(t.pids.get(&8841), Some(&20000));
    assert_eq!(t.pids.get(&8842), Some(&20001));
    assert_eq!(t.failed.get("prctl"), Some(&3), "{}", t.summary());
    assert_eq!(
        t.ignored.get("mprotect on a mapping made by execve"),
        Some(&2),
        "{}",
        t.summary()
    );

    // the spawn of the exec'd image carries the traced initial break as its start_brk
    let lines: Vec<(usize, String)> = t
        .commands
        .iter()
        .map(|(n, call)| (*n, line(call).to_string()))
        .collect();
    assert!(
        lines
            .iter()
            .any(|(_, l)| l == &format!("spawn pid=20000 comm=tracee brk={TRACED_BRK:#x} bare")),
        "{lines:#?}"
    );
    assert_eq!(
        lines.iter().filter(|(_, l)| l.starts_with("spawn")).count(),
        1
    );
    let mut m = Machine::new(MachineConfig::default());
    let last = t.commands.len() - 1;
    assert_eq!(lines[last].1, "exit pid=20000");
    for (n, call) in &t.commands[..last] {
        m.apply(call)
            .unwrap_or_else(|e| panic!("trace line {n}: {}: {e}", line(call)));
    }
    assert_eq!(m.pids(), vec![20000], "the child exited");
    let space = m.address_space_view(20000).unwrap();
    let find = |start: u64| {
        space
            .vmas
            .iter()
            .find(|v| v.start == start)
            .unwrap_or_else(|| {
                panic!(
                    "no VMA at {start:#x}: {:#x?}",
                    space
                        .vmas
                        .iter()
                        .map(|v| (v.start, v.end))
                        .collect::<Vec<_>>()
                )
            })
    };
    // (start, end, prot bits r=1 w=2 x=4, label)
    let want: &[(u64, u64, u64, Option<&str>)] = &[
        // the anonymous maps of ld.so and the program, at the traced addresses
        (0x7f9ab2598000, 0x7f9ab259a000, 3, None),
        (0x7f9ab239a000, 0x7f9ab23a6000, 3, None),
        (0x7f9ab23a6000, 0x7f9ab23a7000, 1, None),
        // the rest of the 64 KiB map merged with the 12 KiB one above it (as Linux merges)
        (0x7f9ab23a7000, 0x7f9ab23ad000, 3, None),
        // libc's .bss (anonymous, MAP_FIXED over the reservation)
        (0x7f9ab2582000, 0x7f9ab258f000, 3, None),
        // libc's segments, file-backed, with its RELRO made read-only
        (
            0x7f9ab23ad000,
            0x7f9ab23d3000,
            1,
            Some("/usr/lib/x86_64-linux-gnu/libc.so.6"),
        ),
        (
            0x7f9ab23d3000,
            0x7f9ab2529000,
            5,
            Some("/usr/lib/x86_64-linux-gnu/libc.so.6"),
        ),
        (
            0x7f9ab2529000,
            0x7f9ab257c000,
            1,
            Some("/usr/lib/x86_64-linux-gnu/libc.so.6"),
        ),
        (
            0x7f9ab257c000,
            0x7f9ab2580000,
            1,
            Some("/usr/lib/x86_64-linux-gnu/libc.so.6"),
        ),
        (
            0x7f9ab2580000,
            0x7f9ab2582000,
            3,
            Some("/usr/lib/x86_64-linux-gnu/libc.so.6"),
        ),
        (0x7f9ab2597000, 0x7f9ab2598000, 1, Some("/etc/hostname")),
        // the heap at the traced address, grown by 64 KiB from the traced initial break
        (TRACED_BRK, TRACED_BRK + 0x10000, 3, Some("[heap]")),
    ];
    for &(s, e, prot, label) in want {
        let v = find(s);
        assert_eq!(v.end, e, "end of {s:#x}");
        assert_eq!(v.flags & 7, prot, "prot of {s:#x}");
        assert_eq!(v.label.as_deref(), label, "label of {s:#x}");
    }
    assert_eq!(space.vmas.len(), want.len(), "no other VMA");
    // munmapped by the end: ld.so.cache and the mremapped region
    for gone in [0x7f9ab258f000u64, 0x200000000000] {
        assert!(
            space
                .vmas
                .iter()
                .all(|v| !(v.start <= gone && gone < v.end)),
            "{gone:#x} still mapped"
        );
    }
}
