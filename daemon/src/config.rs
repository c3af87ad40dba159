//! The command line of `anonmapd` and the defaults it resolves to.
//!
//! ```text
//! anonmapd [--socket PATH] [--mount DIR | --no-mount] [--state-dir DIR | --ephemeral]
//!          [--ram SIZE] [--swap SIZE] [--soft-dirty] [--fuse-threads N] [--demo]
//! ```
//! Every option also comes from an `ANONMAP_*` environment variable. Paths left out default,
//! as root, to `/run/anonmap/ctl`, `/run/anonmap/fs` and `/var/lib/anonmap`; as another user,
//! to the same names under `$XDG_RUNTIME_DIR/anonmap` and `$XDG_STATE_HOME/anonmap`
//! (`~/.local/state/anonmap` without it). Sizes take `K`, `M`, `G` suffixes (`4G`, `512M`).

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use anonmap_mm::MachineConfig;

use crate::journal::JournalOptions;

/// anonmapd: a simulated Linux memory manager, served on a Unix socket and mounted as a
/// /proc-like tree.
#[derive(Debug, Clone, Parser)]
#[command(name = "anonmapd", version)]
pub struct Cli {
    /// The control socket [default: /run/anonmap/ctl as root, else
    /// $XDG_RUNTIME_DIR/anonmap/ctl]
    #[arg(long, env = "ANONMAP_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// Where to mount the tree [default: /run/anonmap/fs as root, else
    /// $XDG_RUNTIME_DIR/anonmap/fs]
    #[arg(
        long,
        env = "ANONMAP_MOUNT",
        value_name = "DIR",
        conflicts_with = "no_mount"
    )]
    pub mount: Option<PathBuf>,

    /// Do not mount the tree (it stays readable with `read path=` on the socket)
    #[arg(long, env = "ANONMAP_NO_MOUNT")]
    pub no_mount: bool,

    /// Where the journal and snapshots live [default: /var/lib/anonmap as root, else
    /// $XDG_STATE_HOME/anonmap]
    #[arg(
        long,
        env = "ANONMAP_STATE_DIR",
        value_name = "DIR",
        conflicts_with = "ephemeral"
    )]
    pub state_dir: Option<PathBuf>,

    /// Keep no journal: the machine is lost when the daemon stops
    #[arg(long, env = "ANONMAP_EPHEMERAL")]
    pub ephemeral: bool,

    /// RAM of the simulated machine (a new state only; a stored state keeps its size)
    #[arg(long, env = "ANONMAP_RAM", value_name = "SIZE", default_value = "4G", value_parser = parse_size)]
    pub ram: u64,

    /// Swap of the simulated machine, 0 for none (a new state only)
    #[arg(long, env = "ANONMAP_SWAP", value_name = "SIZE", default_value = "1G", value_parser = parse_size)]
    pub swap: u64,

    /// Simulate a kernel built with soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY, as Debian's and
    /// Android's are): the `sd` VmFlag, pagemap bit 55 and clear_refs 4 (a new state only)
    #[arg(long, env = "ANONMAP_SOFT_DIRTY")]
    pub soft_dirty: bool,

    /// Number of FUSE session threads
    #[arg(long, env = "ANONMAP_FUSE_THREADS", value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub fuse_threads: u32,

    /// Load the built-in demo scenario when the machine is empty
    #[arg(long, env = "ANONMAP_DEMO")]
    pub demo: bool,

    /// Take a snapshot after this many journaled ops
    #[arg(long, env = "ANONMAP_SNAPSHOT_OPS", value_name = "N", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub snapshot_ops: u64,

    /// Take a snapshot this many seconds after the last one, if any op came since
    #[arg(long, env = "ANONMAP_SNAPSHOT_SECS", value_name = "SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub snapshot_secs: u64,
}

/// A size: a number with an optional `K`, `M`, `G` (binary) suffix, as the command language
/// writes them.
pub fn parse_size(s: &str) -> Result<u64, String> {
    anonmap_lang::parse_number(s.trim()).map_err(|e| e.message)
}

/// The options, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub socket: PathBuf,
    /// `None` with `--no-mount`.
    pub mount: Option<PathBuf>,
    /// `None` with `--ephemeral`.
    pub state_dir: Option<PathBuf>,
    pub sizes: MachineConfig,
    pub fuse_threads: u32,
    pub demo: bool,
    pub journal: JournalOptions,
}

impl PartialEq for JournalOptions {
    fn eq(&self, other: &Self) -> bool {
        self.snapshot_every_ops == other.snapshot_every_ops
            && self.snapshot_every == other.snapshot_every
    }
}

impl Eq for JournalOptions {}

impl Cli {
    /// The configuration for a daemon running as `euid`, with `env` looking up environment
    /// variables (for the XDG directories).
    pub fn resolve(&self, euid: u32, env: impl Fn(&str) -> Option<String>) -> Config {
        let (runtime, state) = if euid == 0 {
            (
                PathBuf::from("/run/anonmap"),
                PathBuf::from("/var/lib/anonmap"),
            )
        } else {
            let nonempty = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
            let runtime = nonempty("XDG_RUNTIME_DIR")
                .unwrap_or_else(|| PathBuf::from(format!("/tmp/anonmap-{euid}")));
            let state = nonempty("XDG_STATE_HOME")
                .or_else(|| nonempty("HOME").map(|h| h.join(".local/state")))
                .unwrap_or_else(|| PathBuf::from(format!("/tmp/anonmap-{euid}/state")));
            (runtime.join("anonmap"), state.join("anonmap"))
        };
        Config {
            socket: self.socket.clone().unwrap_or_else(|| runtime.join("ctl")),
            mount: (!self.no_mount)
                .then(|| self.mount.clone().unwrap_or_else(|| runtime.join("fs"))),
            state_dir: (!self.ephemeral).then(|| self.state_dir.clone().unwrap_or(state)),
            sizes: MachineConfig {
                ram_bytes: self.ram,
                swap_bytes: self.swap,
                soft_dirty: self.soft_dirty,
                auto_reclaim: true,
            },
            fuse_threads: self.fuse_threads,
            demo: self.demo,
            journal: JournalOptions {
                snapshot_every_ops: self.snapshot_ops,
                snapshot_every: Duration::from_secs(self.snapshot_secs),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("anonmapd").chain(args.iter().copied()))
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn root_defaults() {
        let c = cli(&[])
            .unwrap()
            .resolve(0, |k| (k == "XDG_RUNTIME_DIR").then(|| "/x".into()));
        assert_eq!(c.socket, PathBuf::from("/run/anonmap/ctl"));
        assert_eq!(c.mount, Some(PathBuf::from("/run/anonmap/fs")));
        assert_eq!(c.state_dir, Some(PathBuf::from("/var/lib/anonmap")));
        assert_eq!(c.sizes.ram_bytes, 4 << 30);
        assert_eq!(c.sizes.swap_bytes, 1 << 30);
        assert_eq!(c.fuse_threads, 4);
        assert!(!c.demo);
    }

    #[test]
    fn user_defaults_follow_xdg() {
        let env = |k: &str| match k {
            "XDG_RUNTIME_DIR" => Some("/run/user/1000".to_string()),
            "XDG_STATE_HOME" => Some("/home/u/.st".to_string()),
            "HOME" => Some("/home/u".to_string()),
            _ => None,
        };
        let c = cli(&[]).unwrap().resolve(1000, env);
        assert_eq!(c.socket, PathBuf::from("/run/user/1000/anonmap/ctl"));
        assert_eq!(c.mount, Some(PathBuf::from("/run/user/1000/anonmap/fs")));
        assert_eq!(c.state_dir, Some(PathBuf::from("/home/u/.st/anonmap")));
        let env = |k: &str| (k == "HOME").then(|| "/home/u".to_string());
        let c = cli(&[]).unwrap().resolve(1000, env);
        assert_eq!(
            c.state_dir,
            Some(PathBuf::from("/home/u/.local/state/anonmap"))
        );
        assert_eq!(c.socket, PathBuf::from("/tmp/anonmap-1000/anonmap/ctl"));
    }

    #[test]
    fn options_and_sizes() {
        let c = cli(&[
            "--socket",
            "/s",
            "--no-mount",
            "--ephemeral",
            "--ram",
            "512M",
            "--swap",
            "256M",
            "--fuse-threads",
            "2",
            "--demo",
        ])
        .unwrap()
        .resolve(0, no_env);
        assert_eq!(c.socket, PathBuf::from("/s"));
        assert_eq!(c.mount, None);
        assert_eq!(c.state_dir, None);
        assert_eq!(c.sizes.ram_bytes, 512 << 20);
        assert_eq!(c.sizes.swap_bytes, 256 << 20);
        assert_eq!(c.fuse_threads, 2);
        assert!(c.demo);
        assert!(cli(&["--mount", "/m", "--no-mount"]).is_err());
        assert!(cli(&["--state-dir", "/d", "--ephemeral"]).is_err());
        assert!(cli(&["--ram", "lots"]).is_err());
        assert!(cli(&["--fuse-threads", "0"]).is_err());
    }

    #[test]
    fn every_option_has_its_environment_variable() {
        for (arg, var) in [
            ("socket", "ANONMAP_SOCKET"),
            ("mount", "ANONMAP_MOUNT"),
            ("no_mount", "ANONMAP_NO_MOUNT"),
            ("state_dir", "ANONMAP_STATE_DIR"),
            ("ephemeral", "ANONMAP_EPHEMERAL"),
            ("ram", "ANONMAP_RAM"),
            ("swap", "ANONMAP_SWAP"),
            ("fuse_threads", "ANONMAP_FUSE_THREADS"),
            ("demo", "ANONMAP_DEMO"),
        ] {
            let cmd = <Cli as clap::CommandFactory>::command();
            let a = cmd
                .get_arguments()
                .find(|a| a.get_id() == arg)
                .unwrap_or_else(|| panic!("no argument {arg}"));
            assert_eq!(a.get_env().and_then(|e| e.to_str()), Some(var), "{arg}");
        }
    }
}
