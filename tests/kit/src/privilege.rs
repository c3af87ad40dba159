//! Tests that need root (FUSE mounts, another uid, the kernel's own pagemap PFNs) skip
//! themselves for a user who is not root, saying so on the terminal: [`skip_unless_root!`].
//! As root they all run.

use std::io::Write;

/// Whether the tests run as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Whether `/dev/fuse` is there to mount the tree with.
pub fn has_fuse() -> bool {
    std::path::Path::new("/dev/fuse").exists()
}

/// Prints `skipped: TEST: REASON` on a line of its own to the terminal, past the test harness's
/// output capture, so a normal `cargo test` run shows it. TEST is the running test's name (the
/// harness names each test's thread after it), else `module`.
pub fn report_skip(module: &str, reason: &str) {
    let thread = std::thread::current();
    let test = thread.name().filter(|n| *n != "main").unwrap_or(module);
    let line = format!("\nskipped: {test}: {reason}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Returns from the calling test, with a printed reason, unless it runs as root (and, with
/// `fuse`, `/dev/fuse` exists): `skip_unless_root!("mounts the tree")`,
/// `skip_unless_root!(fuse, "mounts the tree")`.
#[macro_export]
macro_rules! skip_unless_root {
    (fuse, $why:expr) => {
        if !$crate::privilege::is_root() || !$crate::privilege::has_fuse() {
            $crate::privilege::report_skip(
                module_path!(),
                concat!("needs root and /dev/fuse: ", $why),
            );
            return;
        }
    };
    ($why:expr) => {
        if !$crate::privilege::is_root() {
            $crate::privilege::report_skip(module_path!(), concat!("needs root: ", $why));
            return;
        }
    };
}
