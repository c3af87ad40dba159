//! `tree_bench`: the scale figures of ARCHITECTURE.md, measured against the real kernel on the
//! same machine, printed side by side.
//!
//! ```text
//! cargo run --release -p anonmap-daemon --example tree_bench [-- VMAS]     (as root: it mounts)
//! ```
//!
//! One process with VMAS (default 64,000) one-page anonymous VMAs, alternately `rw-` and `r--`
//! so that none merge, each touched, is built twice: in this process with real mmap(2) calls
//! (the kernel), and in a simulated machine (anonmap). Then, median of several runs each:
//! - reading `smaps` and `maps` of it: the kernel's `/proc/self/...`, anonmap's through a FUSE
//!   mount of the tree (and, for reference, rendered in-process without FUSE);
//! - fork of it: the real fork(2) (child exits at once, parent waits) and the simulated fork
//!   followed by the child's exit, without and with a name on every VMA.
//!
//! Targets (ARCHITECTURE.md): smaps and maps through the mount in at most half the kernel's
//! time; fork in at most half the real fork's time; naming adds at most 5% to fork.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anonmap_lang::parse_call;
use anonmap_mm::{Machine, MachineConfig};
use anonmap_proc::render;
use anonmap_proc::Source;

const RUNS: usize = 7;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

/// Reads a whole file with 1 MiB read(2) calls, as `dd bs=1M` does; both sides are read this
/// way. (`std::fs::read` on a size-0 file starts with small reads, which costs a FUSE round trip
/// each.)
fn read_all(path: &str) -> usize {
    use std::io::Read;
    let mut f = std::fs::File::open(path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0;
    loop {
        match f.read(&mut buf).unwrap() {
            0 => return n,
            k => n += k,
        }
    }
}

/// The median time of a fork of pid 1 (each child exits again), over `RUNS` forks.
fn fork_time(m: &mut Machine) -> Duration {
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        apply(m, "fork pid=1 child=2");
        times.push(t.elapsed());
        apply(m, "exit pid=2");
    }
    median(times)
}

fn apply(m: &mut Machine, line: &str) {
    let call = parse_call(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    m.apply(&call).unwrap_or_else(|e| panic!("{line}: {e}"));
}

/// The kernel side: `n` one-page VMAs at `base` in this process, touched.
fn kernel_layout(base: usize, n: usize) {
    for i in 0..n {
        let prot = if i % 2 == 0 {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        let addr = base + i * 2 * 4096;
        // SAFETY: a fixed anonymous mapping inside a range this process reserved for it.
        let p = unsafe {
            libc::mmap(
                addr as *mut libc::c_void,
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        assert_eq!(
            p as usize,
            addr,
            "mmap {i}: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: the page was just mapped read-write.
        unsafe { std::ptr::write_volatile(p as *mut u8, 1) };
        // SAFETY: changing the protection of our own mapping.
        assert_eq!(unsafe { libc::mprotect(p, 4096, prot) }, 0);
    }
}

fn kernel_fork() -> Duration {
    time(RUNS, || {
        // SAFETY: the child only calls _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: async-signal-safe exit in the child.
            unsafe { libc::_exit(0) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
    })
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(64_000);
    let base = 0x2000_0000_0000usize;

    // The simulated process.
    let mut m = Machine::new(MachineConfig::default());
    apply(&mut m, "spawn pid=1 bare");
    for i in 0..n {
        let addr = base + i * 2 * 4096;
        let prot = if i % 2 == 0 { "rw-" } else { "r--" };
        apply(
            &mut m,
            &format!("mmap pid=1 addr={addr:#x} len=4K prot=rw- flags=private,anonymous,fixed"),
        );
        apply(
            &mut m,
            &format!("touch pid=1 addr={addr:#x} len=4K access=write"),
        );
        apply(
            &mut m,
            &format!("mprotect pid=1 addr={addr:#x} len=4K prot={prot}"),
        );
    }
    assert_eq!(m.address_space_view(1).unwrap().vmas.len(), n);

    // anonmap in-process (no FUSE) and through the mount.
    let r_smaps = time(RUNS, || {
        let mut out = Vec::new();
        render::render_smaps(&m.address_space_view(1).unwrap(), &mut out);
        out
    });
    let r_maps = time(RUNS, || {
        let mut out = Vec::new();
        render::render_maps(&m.address_space_view(1).unwrap(), &mut out);
        out
    });
    let s_fork = fork_time(&mut m);
    let machine: Arc<Machine> = Arc::new(m);
    let dir = tempfile::tempdir()?;
    let mount = anonmap_fusefs::mount(
        Arc::clone(&machine) as Arc<dyn Source>,
        &dir.path().join("fs"),
        4,
    )?;
    let smaps_path = mount.dir().join("1/smaps").to_string_lossy().into_owned();
    let maps_path = mount.dir().join("1/maps").to_string_lossy().into_owned();
    let f_smaps_bytes = read_all(&smaps_path);
    let f_smaps = time(RUNS, || read_all(&smaps_path));
    let f_maps = time(RUNS, || read_all(&maps_path));
    mount.unmount()?;
    let mut m = Arc::try_unwrap(machine).map_err(|_| anyhow::anyhow!("machine still shared"))?;

    // Name every VMA (one name object each, as 64,000 prctl calls make), then fork again.
    for i in 0..n {
        let addr = base + i * 2 * 4096;
        apply(
            &mut m,
            &format!("name pid=1 addr={addr:#x} len=4K name=\"bench:region\""),
        );
    }
    let s_fork_named = fork_time(&mut m);

    // The real process: this one, measured last so that its 64,000 VMAs do not slow the FUSE
    // threads and buffers above (they share this process's mm).
    let kbase = 0x3000_0000_0000usize;
    kernel_layout(kbase, n);
    let k_smaps = time(RUNS, || read_all("/proc/self/smaps"));
    let k_maps = time(RUNS, || read_all("/proc/self/maps"));
    let k_fork = kernel_fork();

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("{n} one-page VMAs, median of {RUNS} runs (smaps is {f_smaps_bytes} bytes)");
    println!(
        "{:<28}{:>12}{:>12}{:>10}",
        "", "kernel ms", "anonmap ms", "ratio"
    );
    for (what, k, a) in [
        ("smaps (through the mount)", k_smaps, f_smaps),
        ("maps (through the mount)", k_maps, f_maps),
        ("fork", k_fork, s_fork),
    ] {
        println!(
            "{what:<28}{:>12.2}{:>12.2}{:>10.2}",
            ms(k),
            ms(a),
            ms(a) / ms(k)
        );
    }
    println!(
        "{:<28}{:>12}{:>12.2}",
        "smaps (in-process render)",
        "",
        ms(r_smaps)
    );
    println!(
        "{:<28}{:>12}{:>12.2}",
        "maps (in-process render)",
        "",
        ms(r_maps)
    );
    println!(
        "{:<28}{:>12}{:>12.2}{:>10.2}",
        "fork, every VMA named",
        "",
        ms(s_fork_named),
        ms(s_fork_named) / ms(s_fork)
    );
    Ok(())
}
