//! `reclaim_bench`: reclaim throughput of the simulated machine under memory pressure.
//!
//! ```text
//! cargo run --release -p anonmap-mm --example reclaim_bench
//! ```
//! A machine of 1,000,000 page frames (3.8 GiB) with 2 GiB of swap, filled past its RAM by
//! 64 MiB write touches, so every touch past the watermarks reclaims (direct reclaim in the
//! touch, kswapd after it). Two workloads:
//! - `private`: one process writes 5 GiB of private anonymous memory;
//! - `shared x4`: a process writes 1 GiB, forks three children that share it copy-on-write,
//!   then a fifth process writes 4.5 GiB, so the shared pages are reclaimed from four page
//!   tables at once.
//!
//! Each prints the wall time of the fill, the pages reclaimed (pgsteal) per second of it, the
//! pages scanned, and the rmap work per reclaimed page: the walks reclaim ran (aging and
//! unmapping) and the VMAs they examined.

use std::time::Instant;

use anonmap_abi::{
    Access, Call, ForkArgs, MmapArgs, MmapFlags, Outcome, Prot, SpawnArgs, TouchArgs,
};
use anonmap_mm::{Machine, MachineConfig};

const PAGE: u64 = 4096;
const MIB: u64 = 1 << 20;
const CHUNK: u64 = 64 * MIB;

fn spawn(m: &mut Machine, pid: u32) {
    m.apply(&Call::Spawn(SpawnArgs {
        pid: Some(pid),
        bare: true,
        ..SpawnArgs::default()
    }))
    .expect("spawn");
}

fn mmap(m: &mut Machine, pid: u32, len: u64) -> u64 {
    let call = Call::Mmap(MmapArgs {
        pid,
        addr: None,
        len,
        prot: Prot {
            read: true,
            write: true,
            exec: false,
        },
        flags: MmapFlags {
            private: true,
            anonymous: true,
            ..MmapFlags::default()
        },
        file: None,
        offset: None,
    });
    match m.apply(&call) {
        Ok(Outcome::Addr(a)) => a,
        other => panic!("mmap: {other:?}"),
    }
}

/// Writes `[addr, addr + len)` in CHUNK touches.
fn fill(m: &mut Machine, pid: u32, addr: u64, len: u64) {
    let mut at = addr;
    while at < addr + len {
        let call = Call::Touch(TouchArgs {
            pid,
            addr: at,
            len: CHUNK.min(addr + len - at),
            access: Access::Write,
        });
        m.apply(&call).expect("touch");
        at += CHUNK;
    }
}

fn machine() -> Machine {
    Machine::new(MachineConfig {
        ram_bytes: 1_000_000 * PAGE,
        swap_bytes: 2048 * MIB,
        soft_dirty: false,
        auto_reclaim: true,
    })
}

fn report(name: &str, m: &Machine, secs: f64) {
    let ev = m.vm_events();
    let r = m.reclaim_state();
    let stolen = ev.pgsteal_kswapd + ev.pgsteal_direct;
    let scanned = ev.pgscan_kswapd + ev.pgscan_direct;
    println!(
        "{name:<10} fill {:>6.2} s  reclaimed {stolen:>8} pages ({:>9.0} pages/s)  scanned {scanned:>8}  \
         per reclaimed page: {:.2} rmap walks, {:.2} VMAs visited  (swapped out {}, OOM kills {})",
        secs,
        stolen as f64 / secs,
        r.rmap_walks as f64 / stolen.max(1) as f64,
        r.rmap_vmas_visited as f64 / stolen.max(1) as f64,
        ev.pswpout,
        ev.oom_kill,
    );
}

fn main() {
    let mut m = machine();
    spawn(&mut m, 2);
    let a = mmap(&mut m, 2, 5120 * MIB);
    let t = Instant::now();
    fill(&mut m, 2, a, 5120 * MIB);
    report("private", &m, t.elapsed().as_secs_f64());

    let mut m = machine();
    spawn(&mut m, 2);
    let shared = mmap(&mut m, 2, 1024 * MIB);
    fill(&mut m, 2, shared, 1024 * MIB);
    for child in 3..6 {
        m.apply(&Call::Fork(ForkArgs {
            pid: 2,
            child: Some(child),
        }))
        .expect("fork");
    }
    spawn(&mut m, 6);
    let hog = mmap(&mut m, 6, 4608 * MIB);
    let t = Instant::now();
    fill(&mut m, 6, hog, 4608 * MIB);
    report("shared x4", &m, t.elapsed().as_secs_f64());
}
