//! `anonmapd` end to end: the control socket ([`socket`]), the socket and the FUSE mount
//! together ([`e2e`]), the writable `<pid>/clear_refs` ([`clear_refs`]), `<pid>/oom_score_adj`
//! with `oom_score`, `vmstat` and `kmsg` ([`oom_score_adj`]), and the FUSE adapter over a fake
//! machine ([`mount`]).
//!
//! Tests that need root (a mount, a client of another uid) say so and skip themselves for other
//! users; as root everything runs. The `anonmapd` binary must sit next to the tests
//! (`cargo test --workspace` builds it).

mod clear_refs;
mod e2e;
mod mount;
mod oom_score_adj;
mod pressure;
mod socket;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use anonmap_testkit::daemon::{output_within_timeout, Dirs};
use anonmap_testkit::wire::exchange_on;

/// Not a test of its own: when `ANONMAP_TEST_CLIENT` names a socket, sends the lines of
/// `ANONMAP_TEST_LINES` and prints the replies. [`as_nobody`] runs it as uid 65534.
#[test]
fn client_helper() {
    let Ok(socket) = std::env::var("ANONMAP_TEST_CLIENT") else {
        return;
    };
    let lines = std::env::var("ANONMAP_TEST_LINES").unwrap();
    let n = lines.lines().count();
    let got = exchange_on(UnixStream::connect(socket).unwrap(), lines.into_bytes(), n);
    for r in got {
        println!("REPLY {}", r.trim_end());
    }
}

/// Sends `lines` to the daemon at `socket` as uid 65534 and returns the replies (their first
/// lines). The client is this test binary, copied into `dirs` where that uid may run it (the
/// build directory may not be reachable for it). Needs root.
pub fn as_nobody(dirs: &Dirs, socket: &Path, lines: &str) -> Vec<String> {
    let helper = dirs.root().join("client-helper");
    std::fs::copy(std::env::current_exe().unwrap(), &helper).unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = output_within_timeout(
        Command::new(&helper)
            .args([
                "--exact",
                "client_helper",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("ANONMAP_TEST_CLIENT", socket)
            .env("ANONMAP_TEST_LINES", lines)
            .uid(65534)
            .gid(65534),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.find("REPLY ").map(|i| l[i + 6..].to_string()))
        .collect()
}
