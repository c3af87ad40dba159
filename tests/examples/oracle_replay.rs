//! Replays a folder of kernel oracle cases from their seeds and prints what differs.
//!
//! `cargo run --release -p anonmap-tests --example oracle_replay -- DIR` where DIR holds
//! `seed-*/{script.anonmap,expected.N.smaps}` folders made by `gen.c` on a real kernel
//! (`gcc -O2 gen.c -o gen && for s in $(seq 11 610); do mkdir -p DIR/seed-$s && ./gen $s DIR/seed-$s; done`).
//! Exits 1 if any case diverges.

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: oracle_replay DIR");
        std::process::exit(2);
    };
    let dir = std::fs::canonicalize(&dir).unwrap_or_else(|e| {
        eprintln!("oracle_replay: {dir}: {e}");
        std::process::exit(2);
    });
    let r = anonmap_tests::oracle::replay_all(&dir.to_string_lossy());
    for f in &r.failures {
        println!("{f}");
    }
    println!(
        "oracle replay: {} cases, {} expected files compared, {} differ; {} failed calls replayed",
        r.cases,
        r.files,
        r.failures.len(),
        r.failed_calls
    );
    println!(
        "from the scripts alone: {} of {} expected files match; {} differ without a failed mprotect/madvise to explain it{}",
        r.script_only_matches,
        r.files,
        r.script_only_unexplained.len(),
        if r.script_only_unexplained.is_empty() { String::new() } else { format!(": {}", r.script_only_unexplained.join(" ")) }
    );
    std::process::exit(i32::from(
        !r.failures.is_empty() || !r.script_only_unexplained.is_empty(),
    ));
}
