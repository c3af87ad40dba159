//! Runs a folder of kernel oracle cases and prints what differs.
//!
//! `cargo run --release -p anonmap-testkit --example oracle_cases -- DIR` where DIR holds
//! `seed-*/{script.anonmap,expected.N.smaps}` folders made by `gen.c` on a real kernel
//! (`gcc -O2 gen.c -o gen && for s in $(seq 11 610); do mkdir -p DIR/seed-$s && ./gen $s DIR/seed-$s; done`).
//! Every call of every script runs with its `#! err` expectation and the invariants checked.
//! Exits 1 if any case diverges.

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: oracle_cases DIR");
        std::process::exit(2);
    };
    let dir = std::fs::canonicalize(&dir).unwrap_or_else(|e| {
        eprintln!("oracle_cases: {dir}: {e}");
        std::process::exit(2);
    });
    let r = anonmap_testkit::oracle::run_cases(&dir);
    for f in &r.failures {
        println!("{f}");
    }
    println!(
        "oracle cases: {} cases, {} calls ({} failed as the kernel's did), {} expected files \
         compared, {} differ",
        r.cases,
        r.calls,
        r.expected_failures,
        r.files,
        r.failures.len()
    );
    std::process::exit(i32::from(!r.failures.is_empty()));
}
