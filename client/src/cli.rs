//! The command line (clap derive): global options, the commands and their flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::report::SortKey;

#[derive(Debug, Parser)]
#[command(
    name = "anonmap",
    version,
    about = "Drive the anonmap daemon and attribute anonymous memory by name"
)]
pub struct Cli {
    /// The daemon's control socket [default: /run/anonmap/ctl as root, else $XDG_RUNTIME_DIR/anonmap/ctl]
    #[arg(long, global = true, env = "ANONMAP_SOCKET")]
    pub socket: Option<PathBuf>,
    /// The daemon's mount [default: /run/anonmap/fs as root, else $XDG_RUNTIME_DIR/anonmap/fs]
    #[arg(long, global = true, env = "ANONMAP_MOUNT")]
    pub mount: Option<PathBuf>,
    /// Report on a /proc-like directory (the real /proc, or a copy of one) instead of the daemon
    #[arg(long = "proc", global = true, value_name = "DIR")]
    pub proc_dir: Option<PathBuf>,
    /// Read the tree's files through the socket (`read path=`) instead of the mount
    #[arg(long, global = true)]
    pub via_socket: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Options common to every report.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Sort key (descending; `name` ascending)
    #[arg(long, value_enum, default_value = "pss")]
    pub sort: SortKey,
    /// Reverse the order
    #[arg(long, short = 'R')]
    pub reverse: bool,
    /// Keep names that match this regular expression
    #[arg(long, value_name = "REGEX")]
    pub name: Option<String>,
    /// Keep names that start with this prefix
    #[arg(long, short = 'P', value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// Keep only these pids (repeat or comma-separate)
    #[arg(long = "pid", value_delimiter = ',')]
    pub pids: Vec<u32>,
    /// Keep VMAs with these maps permissions (4 characters, `?` = any: `rw?p`)
    #[arg(long, short = 'm', value_name = "PERMS")]
    pub perms: Option<String>,
    /// Keep only these kinds: anon, anon_named, shmem, file, heap, stack, special
    #[arg(long, value_delimiter = ',')]
    pub kind: Vec<String>,
    /// Leave out these kinds
    #[arg(long, value_delimiter = ',')]
    pub exclude_kind: Vec<String>,
    /// Sizes in bytes instead of K/M/G
    #[arg(long)]
    pub bytes: bool,
    /// JSON output
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV output
    #[arg(long)]
    pub csv: bool,
    /// Refresh the report every SECS seconds
    #[arg(long, value_name = "SECS")]
    pub watch: Option<f64>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply a script (`-` for stdin), pipelined
    Run {
        file: String,
        /// Continue after errors and list them all
        #[arg(long)]
        keep_going: bool,
        /// Lines in flight at once (1 = stop exactly at the first error)
        #[arg(long, default_value_t = 1024)]
        window: usize,
    },
    /// Apply command lines given as arguments
    Do {
        #[arg(required = true)]
        lines: Vec<String>,
        #[arg(long)]
        keep_going: bool,
    },
    /// Replay a trace
    Replay {
        /// `strace -f -y -s 100 -e trace=memory,process,prctl -o FILE` output
        #[arg(long, value_name = "FILE")]
        strace: PathBuf,
        /// The first simulated pid
        #[arg(long, default_value_t = 20000)]
        base_pid: u32,
        /// Print the command lines instead of applying them
        #[arg(long)]
        print: bool,
        #[arg(long)]
        keep_going: bool,
    },
    /// One row per mapping name across processes (librank)
    Names {
        #[command(flatten)]
        r: ReportArgs,
        /// Per-process rows under each name
        #[arg(short, long)]
        verbose: bool,
    },
    /// One row per process (procrank), RAM line and the PSS check
    Procs {
        #[command(flatten)]
        r: ReportArgs,
    },
    /// One process grouped by name (showmap)
    Map {
        pid: u32,
        #[command(flatten)]
        r: ReportArgs,
        /// One row per VMA with addresses
        #[arg(short)]
        a: bool,
        /// One row per VMA
        #[arg(short)]
        v: bool,
        /// Only rows with private pages
        #[arg(short)]
        t: bool,
    },
    /// Names rolled up into categories (dumpsys meminfo; Android, glibc, Go, user rules)
    Categories {
        #[command(flatten)]
        r: ReportArgs,
        /// Names under each category
        #[arg(short, long)]
        verbose: bool,
        /// User rules file (see `categories` module docs: `CATEGORY = HOW:PATTERN`)
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Use only the user rules
        #[arg(long)]
        no_builtin: bool,
    },
    /// Who maps a page: `rmap PFN` or `rmap --pid P --addr A`
    Rmap {
        pfn: Option<String>,
        #[arg(long)]
        pid: Option<u32>,
        #[arg(long)]
        addr: Option<String>,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        csv: bool,
    },
    /// Write every process's numbers as JSON (for `diff`)
    Snapshot,
    /// What grew, shrank, appeared and vanished between two snapshots
    Diff {
        a: PathBuf,
        b: PathBuf,
        #[command(flatten)]
        r: ReportArgs,
    },
}

/// The default socket and mount: `/run/anonmap/...` as root, else `$XDG_RUNTIME_DIR/anonmap/...`.
pub fn default_paths() -> (PathBuf, PathBuf) {
    // SAFETY-free: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let base = if root {
        PathBuf::from("/run/anonmap")
    } else {
        std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"))
            .join("anonmap")
    };
    (base.join("ctl"), base.join("fs"))
}
