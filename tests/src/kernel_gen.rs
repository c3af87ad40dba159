//! A replay of the kernel oracle generator (`fixtures/fidelity/gen.c`) against the simulator.
//!
//! gen.c draws every random choice from a xorshift generator seeded by the case's seed, and no
//! draw depends on whether a syscall succeeded. So the full sequence of *attempted* operations of
//! a case can be recomputed from its seed alone, including the calls that failed and therefore
//! are missing from `script.anonmap` (gen.c writes only calls that returned 0). Two kinds of
//! failed call still change state in Linux: mprotect stops at the first hole after changing the
//! VMAs before it, and madvise(MADV_DONTNEED) zaps the mapped parts of a range with holes before
//! returning ENOMEM. Replaying the attempts through the simulator therefore
//! - reproduces the kernel's final state even where the script cannot, and
//! - checks every success/failure decision: the lines the simulator accepts must be exactly the
//!   lines of the kernel-written script, in order.
//!
//! Each function below mirrors the C function of the same name; keep them in step with gen.c.

use anonmap_daemon::command::parse_line;
use anonmap_daemon::mm::Machine;

/// `PG`, `ARENA` and `ARENA_PAGES` of gen.c.
const PG: u64 = 4096;
pub const ARENA: u64 = 0x2000_0000_0000;
pub const ARENA_PAGES: u64 = 256;

/// gen.c's xorshift64 state (`rng`) and `rnd`.
#[derive(Debug, Clone, Copy)]
struct Rng(u64);

impl Rng {
    /// `rng = strtoull(argv[1]) * 2654435761UL + 88172645463325252UL`
    fn seeded(seed: u64) -> Rng {
        Rng(seed
            .wrapping_mul(2_654_435_761)
            .wrapping_add(88_172_645_463_325_252))
    }

    fn rnd(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    /// `randprot`: rw-, rw-, r--, ---, rwx.
    fn randprot(&mut self) -> &'static str {
        ["rw-", "rw-", "r--", "---", "rwx"][self.rnd(5) as usize]
    }
}

/// One attempted call and whether the simulator accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The line gen.c writes if the call succeeds.
    pub line: String,
    /// `Ok(())` if the simulator applied it, else the simulator's error text.
    pub result: Result<(), String>,
}

/// Everything a replay produced.
#[derive(Debug)]
pub struct Replay {
    pub machine: Machine,
    /// Every call gen.c attempted, in order, with its outcome in the simulator. Touches that gen.c
    /// skips after reading maps (unmapped or forbidden page) are not attempts: gen.c makes no call.
    pub attempts: Vec<Attempt>,
    /// The script gen.c would have written for this machine: the accepted lines, in order.
    pub script: Vec<String>,
}

struct Gen {
    machine: Machine,
    rng: Rng,
    attempts: Vec<Attempt>,
    script: Vec<String>,
    /// Called after every applied line (for invariant checks); an error aborts the replay.
    after_op: fn(&Machine, &str) -> Result<(), String>,
}

impl Gen {
    /// Applies one line. Returns whether it succeeded.
    fn call(&mut self, line: String) -> Result<bool, String> {
        let op = parse_line(&line)
            .map_err(|e| format!("{line}: {e}"))?
            .ok_or_else(|| format!("{line}: not an op"))?;
        let op = op
            .resolve(&Default::default())
            .map_err(|e| format!("{line}: {e}"))?;
        let result = self
            .machine
            .apply(&op)
            .map(|_| ())
            .map_err(|e| e.to_string());
        (self.after_op)(&self.machine, &line)?;
        let ok = result.is_ok();
        if ok {
            self.script.push(line.clone());
        }
        self.attempts.push(Attempt { line, result });
        Ok(ok)
    }

    /// gen.c's check before a touch: every page is inside a maps line whose perms allow it.
    fn touch_allowed(&self, pid: u32, addr: u64, pages: u64, write: bool) -> bool {
        let Some(space) = self.machine.address_space_view(pid) else {
            return false;
        };
        (0..pages).all(|k| {
            let x = addr + k * PG;
            space
                .vmas
                .iter()
                .find(|v| v.start <= x && x < v.end)
                .is_some_and(|v| {
                    let f = v.flags;
                    f & 1 != 0 && (!write || f & 2 != 0)
                })
        })
    }

    /// `step(sim_pid)`
    fn step(&mut self, pid: u32) -> Result<(), String> {
        let i = self.rng.rnd(ARENA_PAGES);
        let mut n = 1 + self.rng.rnd(16);
        if i + n > ARENA_PAGES {
            n = ARENA_PAGES - i;
        }
        let a = ARENA + i * PG;
        let len = n * PG;
        match self.rng.rnd(8) {
            0 | 1 => {
                let p = self.rng.randprot();
                self.call(format!(
                    "mmap pid={pid} addr={a:#x} len={len:#x} prot={p} flags=private,anonymous,fixed"
                ))?;
            }
            2 | 3 => {
                let w = self.rng.rnd(3) != 0;
                if self.touch_allowed(pid, a, n, w) {
                    let access = if w { "write" } else { "read" };
                    self.call(format!(
                        "touch pid={pid} addr={a:#x} len={len:#x} access={access}"
                    ))?;
                }
            }
            4 => {
                self.call(format!("munmap pid={pid} addr={a:#x} len={len:#x}"))?;
            }
            5 => {
                let p = self.rng.randprot();
                self.call(format!(
                    "mprotect pid={pid} addr={a:#x} len={len:#x} prot={p}"
                ))?;
            }
            6 => {
                self.call(format!(
                    "madvise pid={pid} addr={a:#x} len={len:#x} advice=dontneed"
                ))?;
            }
            7 => {
                let j = self.rng.rnd(ARENA_PAGES);
                let mut m2 = 1 + self.rng.rnd(16);
                if j + m2 > ARENA_PAGES {
                    m2 = ARENA_PAGES - j;
                }
                let b = ARENA + j * PG;
                if b < a + len && a < b + m2 * PG {
                    return Ok(());
                }
                self.call(format!(
                    "mremap pid={pid} addr={a:#x} old_len={len:#x} new_len={:#x} flags=maymove,fixed new_addr={b:#x}",
                    m2 * PG
                ))?;
            }
            _ => unreachable!("rnd(8) < 8"),
        }
        Ok(())
    }
}

/// Replays gen.c's `main` for `seed` on `machine` (which must have no pid 1 or 2).
/// `after_op` runs after every applied line; its error aborts the replay with that message.
pub fn replay(
    seed: u64,
    machine: Machine,
    after_op: fn(&Machine, &str) -> Result<(), String>,
) -> Result<Replay, String> {
    let mut g = Gen {
        machine,
        rng: Rng::seeded(seed),
        attempts: Vec::new(),
        script: Vec::new(),
        after_op,
    };
    g.call("spawn pid=1".to_string())?;
    g.call(format!(
        "mmap pid=1 addr={ARENA:#x} len={:#x} prot=rw- flags=private,anonymous,fixed",
        ARENA_PAGES * PG
    ))?;
    let steps = 20 + g.rng.rnd(60);
    for _ in 0..steps {
        g.step(1)?;
    }
    let do_fork = g.rng.rnd(3) != 0;
    if do_fork {
        g.call("fork pid=1 child=2".to_string())?;
        // The child runs its steps on a copy of the generator, re-drawing the loop bound before
        // every iteration (`k < 10 + (int)rnd(30)`).
        let parent_rng = g.rng;
        let mut k = 0;
        while k < 10 + g.rng.rnd(30) {
            g.step(2)?;
            k += 1;
        }
        // The parent continues from the state at fork, perturbed.
        g.rng = Rng(parent_rng.0 ^ 0x9e37_79b9_7f4a_7c15);
        let mut k = 0;
        while k < 5 + g.rng.rnd(20) {
            g.step(1)?;
            k += 1;
        }
    }
    Ok(Replay {
        machine: g.machine,
        attempts: g.attempts,
        script: g.script,
    })
}

/// The seed named in a script's first line (`# kernel oracle case, seed 7: ...`).
pub fn seed_of_script(text: &str) -> Option<u64> {
    let rest = text
        .lines()
        .next()?
        .strip_prefix("# kernel oracle case, seed ")?;
    rest.split(':').next()?.trim().parse().ok()
}

/// The op lines of a script (comments and blank lines dropped, whitespace trimmed).
pub fn op_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}
