//! Memory pressure end to end on the real `anonmapd` with a real mount: a 64 MiB machine with
//! 32 MiB of swap, filled past its RAM by named anonymous regions of three processes (and a
//! page cache read by a fourth), one touch at a time through the socket, with the whole tree
//! sampled after every touch. The samples show reclaim (kswapd and direct, the page cache
//! first), then swap-out, then, once swap is full, one OOM kill, in that order; and at every
//! sample the exact accounting that ties meminfo, vmstat, `<pid>/status`, `<pid>/smaps` and
//! `<pid>/oom_score` together.
//!
//! Needs root and /dev/fuse: the test says so and skips itself otherwise.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;
use std::time::Instant;

use anonmap_testkit::daemon::{Daemon, Options};
use anonmap_testkit::skip_unless_root;
use procfs_core::{FromBufRead, VmStat};

/// The machine: `--ram 64M --swap 32M`.
const RAM_KB: i64 = 64 << 10;
/// The swap device's first page is its header, so 8191 of its 8192 pages are slots.
const SWAP_TOTAL_KB: i64 = (32 << 10) - 4;
/// The zone's watermarks for 16384 pages (mm/page_alloc.c, see `watermarks`):
/// min_free_kbytes = int_sqrt(65536 * 16) = 1024, so min = 256 pages, and the kswapd distance
/// max(256 / 4, 16384 * 10 / 10000) = 64 pages: low = 320, high = 384.
const LOW_PAGES: i64 = 320;
const HIGH_PAGES: i64 = 384;
/// OOM `totalpages`: RAM + swap slots.
const TOTAL_PAGES: i64 = (RAM_KB + SWAP_TOTAL_KB) / 4;

/// Where every process maps its region.
const BASE: u64 = 0x2000_0000;
const MIB: u64 = 1 << 20;

/// The page cache: a file the reader maps and reads whole.
const CACHE_FILE: &str = "/data/cache.bin";
const CACHE_KB: i64 = 8 << 10;
const READER: u32 = 100;
/// The processes with named regions: (pid, comm, region name, MiB, oom_score_adj). The hog is
/// the biggest and exempt; the logger is the smallest but biased up by 300, which outweighs
/// the worker's twice larger region: 300 * (24575 / 1000) = 7200 pages.
const HOG: (u32, &str, &str, u64, i64) = (101, "hog", "hog-heap", 48, -1000);
const WORKER: (u32, &str, &str, u64, i64) = (102, "worker", "worker-arena", 32, 0);
const LOGGER: (u32, &str, &str, u64, i64) = (103, "logger", "log-ring", 16, 300);

/// The `kB` number of line `field:` of a `Key: value [kB]` file (status, meminfo).
fn kb_field(text: &str, field: &str) -> i64 {
    let prefix = format!("{field}:");
    let line = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {field}: line in:\n{text}"));
    line[prefix.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// One VMA of an smaps: its name column (`[anon:hog-heap]`, `[stack]`, a path) and the
/// counters this test needs, in kB.
#[derive(Debug, Clone)]
struct Region {
    label: String,
    rss: i64,
    anonymous: i64,
    swap: i64,
}

fn parse_smaps(text: &str) -> Vec<Region> {
    let mut regions: Vec<Region> = Vec::new();
    for line in text.lines() {
        let first = line.split(' ').next().unwrap();
        if first.contains('-') && first.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            regions.push(Region {
                label: line.split_whitespace().nth(5).unwrap_or("").to_string(),
                rss: 0,
                anonymous: 0,
                swap: 0,
            });
            continue;
        }
        let r = regions.last_mut().expect("a block starts with its header");
        let value = || kb_field(line, line.split(':').next().unwrap());
        match line.split(':').next().unwrap() {
            "Rss" => r.rss = value(),
            "Anonymous" => r.anonymous = value(),
            "Swap" => r.swap = value(),
            _ => {}
        }
    }
    regions
}

/// One process as the mount shows it.
#[derive(Debug, Clone)]
struct Proc {
    comm: String,
    uid: u32,
    vm_size: i64,
    vm_rss: i64,
    rss_anon: i64,
    rss_file: i64,
    rss_shmem: i64,
    vm_pte: i64,
    vm_swap: i64,
    oom_score: i64,
    oom_score_adj: i64,
    regions: Vec<Region>,
}

impl Proc {
    fn read(mount: &Path, pid: u32) -> Proc {
        let dir = mount.join(pid.to_string());
        let status = fs::read_to_string(dir.join("status")).unwrap();
        let field = |name: &str| {
            let prefix = format!("{name}:");
            let line = status.lines().find(|l| l.starts_with(&prefix)).unwrap();
            line[prefix.len()..]
                .split_whitespace()
                .next()
                .unwrap()
                .to_string()
        };
        let number = |name: &str| {
            fs::read_to_string(dir.join(name))
                .unwrap()
                .trim_end()
                .parse()
                .unwrap()
        };
        Proc {
            comm: field("Name"),
            uid: field("Uid").parse().unwrap(),
            vm_size: kb_field(&status, "VmSize"),
            vm_rss: kb_field(&status, "VmRSS"),
            rss_anon: kb_field(&status, "RssAnon"),
            rss_file: kb_field(&status, "RssFile"),
            rss_shmem: kb_field(&status, "RssShmem"),
            vm_pte: kb_field(&status, "VmPTE"),
            vm_swap: kb_field(&status, "VmSwap"),
            oom_score: number("oom_score"),
            oom_score_adj: number("oom_score_adj"),
            regions: parse_smaps(&fs::read_to_string(dir.join("smaps")).unwrap()),
        }
    }

    fn region(&self, name: &str) -> &Region {
        let label = format!("[anon:{name}]");
        self.regions
            .iter()
            .find(|r| r.label == label)
            .unwrap_or_else(|| panic!("no {label} in {:?}", self.regions))
    }

    /// `oom_badness` from what the mount shows: RSS + swap entries + page-table pages, plus
    /// the bias of `oom_score_adj / 1000` of totalpages; `None` at -1000 (never chosen).
    fn badness(&self) -> Option<i64> {
        (self.oom_score_adj != -1000).then(|| {
            (self.vm_rss + self.vm_swap + self.vm_pte) / 4
                + self.oom_score_adj * (TOTAL_PAGES / 1000)
        })
    }

    /// The line `oom_kill_process` logs for this process, from its status figures.
    fn kill_line(&self, pid: u32) -> String {
        format!(
            "Out of memory: Killed process {pid} ({}) total-vm:{}kB, anon-rss:{}kB, \
             file-rss:{}kB, shmem-rss:{}kB, UID:{} pgtables:{}kB oom_score_adj:{}",
            self.comm,
            self.vm_size,
            self.rss_anon,
            self.rss_file,
            self.rss_shmem,
            self.uid,
            self.vm_pte,
            self.oom_score_adj
        )
    }
}

/// The tree after one step.
#[derive(Debug, Clone)]
struct Sample {
    what: String,
    meminfo: String,
    vmstat: HashMap<String, i64>,
    kmsg: String,
    procs: BTreeMap<u32, Proc>,
}

impl Sample {
    fn read(mount: &Path, what: String) -> Sample {
        let text = fs::read(mount.join("vmstat")).unwrap();
        let procs = fs::read_dir(mount)
            .unwrap()
            .filter_map(|e| e.unwrap().file_name().to_str()?.parse().ok())
            .map(|pid| (pid, Proc::read(mount, pid)))
            .collect();
        Sample {
            what,
            meminfo: fs::read_to_string(mount.join("meminfo")).unwrap(),
            vmstat: VmStat::from_buf_read(&text[..]).unwrap().0,
            kmsg: fs::read_to_string(mount.join("kmsg")).unwrap(),
            procs,
        }
    }

    fn mem(&self, field: &str) -> i64 {
        kb_field(&self.meminfo, field)
    }

    fn ev(&self, name: &str) -> i64 {
        self.vmstat[name]
    }

    fn swap_used(&self) -> i64 {
        self.mem("SwapTotal") - self.mem("SwapFree")
    }

    fn reclaimed(&self) -> bool {
        self.ev("pgsteal_kswapd") + self.ev("pgsteal_direct") > 0
    }

    /// The relations that hold at every sample, each exactly.
    fn check(&self) {
        let w = &self.what;
        let sum = |f: fn(&Proc) -> i64| self.procs.values().map(f).sum::<i64>();
        assert_eq!(self.mem("MemTotal"), RAM_KB, "{w}");
        assert_eq!(self.mem("SwapTotal"), SWAP_TOTAL_KB, "{w}");
        // Swap slots: one is in use while a swap PTE or the swap cache holds it. Every swap
        // PTE shows in its VMA's `Swap:` (no fork here, so a slot has at most one), and every
        // swap-cache page here is a page a read fault brought back (`do_swap_page`), mapped
        // again, its PTE no longer a swap entry but its slot kept while swap is less than half
        // full. Reclaim's pages leave the cache at once (their write completes in the pass).
        let smaps_swap: i64 = self
            .procs
            .values()
            .flat_map(|p| &p.regions)
            .map(|r| r.swap)
            .sum();
        assert_eq!(
            self.swap_used(),
            smaps_swap + self.mem("SwapCached"),
            "{w}: SwapTotal - SwapFree = the smaps Swap lines + SwapCached"
        );
        for (pid, p) in &self.procs {
            // VmSwap counts the same swap PTEs (MM_SWAPENTS) as the process's smaps.
            let swap: i64 = p.regions.iter().map(|r| r.swap).sum();
            assert_eq!(p.vm_swap, swap, "{w}: {pid} VmSwap");
            let anon: i64 = p.regions.iter().map(|r| r.anonymous).sum();
            assert_eq!(p.rss_anon, anon, "{w}: {pid} RssAnon");
            let rss: i64 = p.regions.iter().map(|r| r.rss).sum();
            assert_eq!(p.vm_rss, rss, "{w}: {pid} VmRSS");
            assert_eq!(p.vm_rss, p.rss_anon + p.rss_file + p.rss_shmem, "{w}");
            // oom_score: `(1000 + badness * 1000 / totalpages) * 2 / 3`, 0 when exempt.
            let score = p
                .badness()
                .map_or(0, |b| ((1000 + b * 1000 / TOTAL_PAGES) * 2 / 3).max(0));
            assert_eq!(p.oom_score, score, "{w}: {pid} oom_score");
        }
        // No page is shared: the anon LRU is every mapped anonymous page (AnonPages), which
        // is the processes' RssAnon; the file LRU is the page cache, all of it mapped by the
        // reader, and only reclaim takes from it (the file is read once).
        let anon_lru = self.mem("Active(anon)") + self.mem("Inactive(anon)");
        assert_eq!(anon_lru, self.mem("AnonPages"), "{w}");
        assert_eq!(anon_lru, sum(|p| p.rss_anon), "{w}");
        let file_lru = self.mem("Active(file)") + self.mem("Inactive(file)");
        assert_eq!(file_lru, self.mem("Cached"), "{w}");
        assert_eq!(file_lru, sum(|p| p.rss_file), "{w}");
        assert_eq!(file_lru, CACHE_KB - 4 * self.ev("pgsteal_file"), "{w}");
        assert_eq!((self.mem("Unevictable"), self.mem("Shmem")), (0, 0), "{w}");
        // Every frame is accounted for: RAM = the zero page + anon + page cache + free, with
        // MemFree net of the page tables (NR_FREE_PAGES as the allocator counts it).
        assert_eq!(self.mem("PageTables"), sum(|p| p.vm_pte), "{w}");
        assert_eq!(
            self.mem("MemFree"),
            RAM_KB - 4 - self.mem("AnonPages") - file_lru - self.mem("PageTables"),
            "{w}: the frame accounting"
        );
        // si_mem_available: free + page cache - min(cache / 2, low) - totalreserve (high).
        let cache = file_lru / 4;
        let available =
            (self.mem("MemFree") / 4 + cache - (cache / 2).min(LOW_PAGES) - HIGH_PAGES).max(0) * 4;
        assert_eq!(self.mem("MemAvailable"), available, "{w}: MemAvailable");
        // Each scan and steal is counted once by who reclaimed and once by the list's type.
        for what in ["pgscan", "pgsteal"] {
            let ev = |s: &str| self.ev(&format!("{what}_{s}"));
            assert_eq!(ev("kswapd") + ev("direct"), ev("anon") + ev("file"), "{w}");
        }
        assert_eq!(self.kmsg.lines().count() as i64, self.ev("oom_kill"), "{w}");
    }

    /// Counters only grow, from one sample to the next.
    fn check_after(&self, before: &Sample) {
        for name in [
            "pgscan_kswapd",
            "pgscan_direct",
            "pgsteal_kswapd",
            "pgsteal_direct",
            "pswpin",
            "pswpout",
            "pgactivate",
            "pgdeactivate",
            "pgmajfault",
            "allocstall_normal",
            "pageoutrun",
            "oom_kill",
        ] {
            assert!(
                self.ev(name) >= before.ev(name),
                "{}: {name} fell from {}",
                self.what,
                before.what
            );
        }
        // kswapd, woken by the step, ran when the call returned (one `balance_pgdat`, priority
        // 12 down to 1) and, while swap had slots, left the node above the low watermark; it
        // stops short of high only where it met pages young from their first fault, which
        // reclaim keeps once (the second chance).
        if self.ev("pageoutrun") > before.ev("pageoutrun") && self.mem("SwapFree") > 0 {
            assert!(
                self.mem("MemFree") > LOW_PAGES * 4,
                "{}: kswapd left {} kB free",
                self.what,
                self.mem("MemFree")
            );
        }
    }
}

/// Samples the tree after a step, checks it alone and against the sample before, and keeps
/// it.
fn record(mount: &Path, samples: &mut Vec<Sample>, what: String) -> Sample {
    let s = Sample::read(mount, what);
    s.check();
    if let Some(before) = samples.last() {
        s.check_after(before);
    }
    samples.push(s.clone());
    s
}

/// Sends `lines` and asserts every reply is `ok`.
fn ok(d: &Daemon, lines: &[String]) {
    let got = d.exchange(lines);
    for (line, reply) in lines.iter().zip(&got) {
        assert!(reply.starts_with("ok"), "{line}: {reply}");
    }
}

fn touch(pid: u32, offset: u64, len: u64, access: &str) -> String {
    format!(
        "touch pid={pid} addr={:#x} len={len:#x} access={access}",
        BASE + offset
    )
}

#[test]
fn memory_pressure_reclaims_then_swaps_then_kills() {
    skip_unless_root!(fuse, "mounts the tree");
    let started = Instant::now();
    let d = Daemon::start(&Options {
        ram: "64M".into(),
        swap: "32M".into(),
        ..Options::default()
    });
    let mount = d.mount_dir();

    // The reader: 8 MiB of page cache, every page mapped and read once.
    ok(
        &d,
        &[
            format!("file path={CACHE_FILE} size=8M"),
            format!("spawn pid={READER} comm=reader"),
            format!(
                "mmap pid={READER} addr={BASE:#x} len=8M prot=r-- flags=private file={CACHE_FILE}"
            ),
            touch(READER, 0, 8 * MIB, "read"),
        ],
    );
    // The three named regions, not yet touched; the biases go through the mount as writes to
    // oom_score_adj.
    for (pid, comm, name, mib, adj) in [HOG, WORKER, LOGGER] {
        ok(
            &d,
            &[
                format!("spawn pid={pid} comm={comm}"),
                format!("mmap pid={pid} addr={BASE:#x} len={mib}M prot=rw- flags=private,anonymous,fixed"),
                format!("name pid={pid} addr={BASE:#x} len={mib}M name={name}"),
            ],
        );
        fs::write(
            mount.join(format!("{pid}/oom_score_adj")),
            format!("{adj}\n"),
        )
        .unwrap();
    }

    let mut samples: Vec<Sample> = Vec::new();

    // Before any pressure: nothing scanned, swap untouched, the cache whole, only the four
    // stack pages (each spawn writes its stack's top page) anonymous.
    let s0 = record(&mount, &mut samples, "setup".into());
    for name in [
        "pgscan_kswapd",
        "pgscan_direct",
        "pswpout",
        "pswpin",
        "oom_kill",
    ] {
        assert_eq!(s0.ev(name), 0, "{name}");
    }
    assert_eq!(s0.mem("SwapFree"), SWAP_TOTAL_KB);
    assert_eq!(s0.mem("Inactive(file)"), CACHE_KB);
    assert_eq!(s0.procs[&READER].rss_file, CACHE_KB);
    assert_eq!(s0.mem("Inactive(anon)"), 4 * 4);
    assert_eq!(s0.procs[&HOG.0].oom_score, 0, "exempt");
    assert_eq!(s0.procs[&LOGGER.0].oom_score_adj, 300);
    assert_eq!(s0.kmsg, "");

    // 1. The hog, then the logger, write their regions 1 MiB per touch. Until free memory
    // falls to the low watermark nothing reclaims, and every page written is a new page at
    // the head of the inactive anon list.
    for (pid, _, name, mib, _) in [HOG, LOGGER] {
        for i in 0..mib {
            let before = samples.last().unwrap().clone();
            ok(&d, &[touch(pid, i * MIB, MIB, "write")]);
            let s = record(&mount, &mut samples, format!("{name} +{}M", i + 1));
            if !s.reclaimed() {
                assert_eq!(
                    s.ev("pgscan_kswapd") + s.ev("pgscan_direct"),
                    0,
                    "{}",
                    s.what
                );
                assert_eq!(
                    s.mem("Inactive(anon)") - before.mem("Inactive(anon)"),
                    1024,
                    "{}",
                    s.what
                );
                assert_eq!(s.mem("Active(anon)"), 0, "{}", s.what);
            }
        }
    }
    assert!(
        samples.last().unwrap().ev("pswpout") > 0,
        "the logger's 16 MiB outgrow the page cache"
    );

    // 2. The hog reads back its first MiB, the first pages reclaim swapped out (the inactive
    // list's tail is its oldest): 256 major faults from swap, the pages stay in the swap cache
    // (swap is less than half full) and their slots stay in use.
    let before = samples.last().unwrap().clone();
    assert_eq!(before.mem("SwapCached"), 0);
    assert!(before.swap_used() * 2 < SWAP_TOTAL_KB);
    ok(&d, &[touch(HOG.0, 0, MIB, "read")]);
    let s = record(&mount, &mut samples, "hog-heap read back".into());
    assert_eq!(s.ev("pswpin") - before.ev("pswpin"), 256);
    assert_eq!(s.ev("pgmajfault") - before.ev("pgmajfault"), 256);
    assert_eq!(s.mem("SwapCached"), 1024);

    // 3. The worker writes its region: 1 MiB per touch while at least 2 MiB of swap is free
    // (a touch takes about 1 MiB of it, so none of these can run out), then a page per touch,
    // until the OOM killer has run. It takes the logger: the worker (this touch's process)
    // succeeds.
    let page = 4096;
    let mut offset = 0;
    let kill = loop {
        assert!(
            offset < WORKER.3 * MIB,
            "the worker's 32 MiB never met the OOM killer"
        );
        let step = if samples.last().unwrap().mem("SwapFree") >= 2048 {
            MIB
        } else {
            page
        };
        ok(&d, &[touch(WORKER.0, offset, step, "write")]);
        offset += step;
        let s = record(
            &mount,
            &mut samples,
            format!("worker-arena +{}K", offset >> 10),
        );
        if s.ev("oom_kill") > 0 {
            assert_eq!(step, page, "{}: the kill came in a one-page step", s.what);
            break samples.len() - 1;
        }
    };
    let killed = &samples[kill];
    let last = &samples[kill - 1];

    // The order: reclaim from the page cache alone first (no swap yet), then swap-out, then
    // the kill, with swap exhausted in the sample before it.
    let first_reclaim = samples.iter().position(Sample::reclaimed).unwrap();
    let first_swap = samples.iter().position(|s| s.ev("pswpout") > 0).unwrap();
    assert!(
        0 < first_reclaim && first_reclaim < first_swap && first_swap < kill,
        "{first_reclaim} < {first_swap} < {kill}"
    );
    let r = &samples[first_reclaim];
    assert_eq!(
        (r.ev("pswpout"), r.ev("pgsteal_anon")),
        (0, 0),
        "{}",
        r.what
    );
    assert_eq!(r.mem("SwapFree"), SWAP_TOTAL_KB, "{}", r.what);
    assert!(r.mem("Inactive(file)") < CACHE_KB, "{}", r.what);
    // A 1 MiB touch takes 256 pages, twice the distance from high down to min: it goes below
    // min and reclaims directly, and wakes kswapd for the end of the call.
    assert!(
        r.ev("pgsteal_kswapd") > 0 && r.ev("pgsteal_direct") > 0,
        "{}",
        r.what
    );
    assert!(r.ev("allocstall_normal") > 0 && r.ev("pageoutrun") > 0);
    let sw = &samples[first_swap];
    assert!(sw.mem("SwapFree") < SWAP_TOTAL_KB && sw.ev("pgsteal_anon") > 0);
    // Up to the read-back, every slot in use was written once: pswpout is the swap in use.
    assert_eq!(sw.swap_used(), 4 * sw.ev("pswpout"), "{}", sw.what);
    assert!(sw.procs[&HOG.0].region(HOG.2).swap > 0, "{}", sw.what);
    for s in &samples[..kill] {
        assert_eq!(s.ev("oom_kill"), 0, "{}", s.what);
        assert_eq!(s.kmsg, "", "{}", s.what);
        assert_eq!(s.procs.len(), 4, "{}", s.what);
        // The only activations are pages reclaim met when swap had no slot left
        // (`activate_locked` of a failed swap-out); nothing deactivated them.
        assert_eq!(
            s.mem("Active(anon)") + s.mem("Active(file)"),
            4 * (s.ev("pgactivate") - s.ev("pgdeactivate")),
            "{}",
            s.what
        );
    }
    // Swap grew the hog's named region all along: it holds most of swap before the kill.
    let hog_swap = last.procs[&HOG.0].region(HOG.2).swap;
    assert!(hog_swap > sw.procs[&HOG.0].region(HOG.2).swap);
    assert!(hog_swap * 2 > SWAP_TOTAL_KB, "{hog_swap}");
    assert_eq!(last.mem("SwapFree"), 0, "{}: swap is full", last.what);
    let full = samples.iter().position(|s| s.mem("SwapFree") == 0).unwrap();
    assert!(full < kill - 1, "pages were still written with swap full");
    // With swap full, anon pages are not reclaimable: reclaim could only activate them.
    assert!(last.mem("Active(anon)") > 0, "{}", last.what);
    for s in &samples[full..kill] {
        assert_eq!(s.ev("pswpout"), last.ev("pswpout"), "{}", s.what);
    }

    // The victim: the largest badness of the last sample, the logger, though both other
    // processes hold more memory than it does.
    let victim = LOGGER.0;
    let chosen = last
        .procs
        .iter()
        .filter_map(|(&pid, p)| Some((p.badness()?, pid)))
        .max()
        .unwrap();
    assert_eq!(chosen.1, victim, "{chosen:?}");
    let best_score = last.procs.values().map(|p| p.oom_score).max().unwrap();
    assert_eq!(last.procs[&victim].oom_score, best_score);
    let size = |pid: u32| last.procs[&pid].vm_rss + last.procs[&pid].vm_swap;
    assert!(size(victim) < size(WORKER.0) && size(victim) < size(HOG.0));

    // The kill, as the kernel logs it: the victim's figures of the last sample. Nothing of the
    // victim changed between: with swap full reclaim took none of its pages.
    let v = &last.procs[&victim];
    assert_eq!(killed.kmsg, format!("{}\n", v.kill_line(victim)));
    assert_eq!(
        v.rss_anon,
        v.region(LOGGER.2).anonymous,
        "its whole ring resident"
    );
    assert_eq!(
        v.vm_size,
        (16 << 10) + 132,
        "the ring and the 132 KiB stack"
    );
    assert_eq!(killed.ev("oom_kill"), 1);
    assert!(!killed.procs.contains_key(&victim));
    assert!(!mount.join(victim.to_string()).exists());
    assert_eq!(
        killed.procs.keys().copied().collect::<Vec<_>>(),
        [READER, HOG.0, WORKER.0]
    );
    // Its memory came back: its swap slots (and nothing else's: no page was swapped in or
    // out by this step), and its anonymous pages, less the one page the worker wrote.
    assert_eq!(killed.mem("SwapFree"), v.vm_swap);
    assert_eq!(killed.ev("pswpout"), last.ev("pswpout"));
    assert_eq!(killed.mem("SwapCached"), last.mem("SwapCached"));
    assert_eq!(
        killed.mem("AnonPages"),
        last.mem("AnonPages") - v.rss_anon + 4
    );
    assert_eq!(
        killed.procs[&WORKER.0].rss_anon,
        last.procs[&WORKER.0].rss_anon + 4
    );
    assert!(killed.mem("MemFree") > last.mem("MemFree") + v.rss_anon - 4);

    eprintln!(
        "memory pressure: {} samples; reclaim at '{}', swap at '{}', swap full at '{}', the \
         kill at '{}' ({} kB swapped out, {} pages scanned); {:.1?}",
        samples.len(),
        samples[first_reclaim].what,
        samples[first_swap].what,
        samples[full].what,
        killed.what,
        4 * killed.ev("pswpout"),
        killed.ev("pgscan_kswapd") + killed.ev("pgscan_direct"),
        started.elapsed()
    );
}
