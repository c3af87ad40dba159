//! Journal tests: the torn last line, damage reported with file and line, and snapshots plus
//! journals replaying to exactly the state of a fresh in-process replay.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::*;
use crate::server::source::dump;
use crate::server::{Peer, SharedMachine};
use crate::DEMO;
use anonmap_mm::{Machine, MachineConfig};

const SIZES: MachineConfig = MachineConfig {
    ram_bytes: 512 << 20,
    swap_bytes: 0,
    soft_dirty: false,
    auto_reclaim: true,
};

fn write_journal(dir: &Path, gen: u64, body: &str) {
    fs::write(
        journal_path(dir, gen),
        format!("{}{body}", header_line(gen, SIZES)),
    )
    .unwrap();
}

/// A daemon's machine with its journal, in-process.
struct Daemon {
    shared: Arc<SharedMachine>,
    journal: Journal,
}

impl Daemon {
    fn start(dir: &Path, options: JournalOptions) -> Daemon {
        let r = recover(dir, SIZES).unwrap();
        let (shared, journal) =
            SharedMachine::with_journal(dir, r, options, CancellationToken::new()).unwrap();
        Daemon { shared, journal }
    }

    /// Runs `lines` in `session`; every reply must be `ok`.
    fn run(&self, session: &mut Peer, lines: &str) {
        for line in lines.lines() {
            if let Some(r) = self.shared.execute(session, line.as_bytes()) {
                assert!(
                    r.bytes.starts_with(b"ok"),
                    "{line}: {}",
                    String::from_utf8_lossy(&r.bytes)
                );
            }
        }
    }

    fn stop(self) -> Arc<SharedMachine> {
        self.journal.stop().unwrap();
        self.shared
    }
}

/// The tree of `lines` applied to a fresh machine, in-process, without a journal.
fn fresh_dump(lines: &str) -> String {
    let shared = SharedMachine::new(Machine::new(SIZES));
    let mut session = Peer::new(0);
    for line in lines.lines() {
        shared.execute(&mut session, line.as_bytes());
    }
    dump(&shared)
}

fn recovered_dump(dir: &Path) -> (String, Recovered) {
    let mut r = recover(dir, SIZES).unwrap();
    let machine = std::mem::replace(&mut r.machine, Machine::new(SIZES));
    (dump(&SharedMachine::new(machine)), r)
}

#[test]
fn torn_last_line_is_dropped_and_cut_before_appending() {
    let dir = tempfile::tempdir().unwrap();
    let whole = "spawn pid=1 uid=0\n#! err EEXIST\nspawn pid=1 uid=0\n";
    write_journal(dir.path(), 0, &format!("{whole}spawn pid=3 u"));
    let r = recover(dir.path(), SIZES).unwrap();
    assert!(r.torn_dropped);
    assert_eq!(r.ops_replayed, 2);
    assert_eq!(r.machine.pids(), vec![1]);
    assert_eq!(
        r.valid_len,
        Some((header_line(0, SIZES).len() + whole.len()) as u64)
    );

    // An `#! err` line whose op was cut goes too.
    write_journal(dir.path(), 0, &format!("{whole}#! err ESRCH\n"));
    let r = recover(dir.path(), SIZES).unwrap();
    assert!(r.torn_dropped);
    assert_eq!(
        r.valid_len,
        Some((header_line(0, SIZES).len() + whole.len()) as u64)
    );

    write_journal(dir.path(), 0, &format!("{whole}spawn pid=3 u"));
    let d = Daemon::start(dir.path(), JournalOptions::default());
    d.run(&mut Peer::new(0), "spawn pid=4");
    d.stop();
    let text = fs::read_to_string(journal_path(dir.path(), 0)).unwrap();
    assert!(
        text.ends_with(&format!("{whole}spawn pid=4 uid=0\n")),
        "{text}"
    );
    let r = recover(dir.path(), SIZES).unwrap();
    assert!(!r.torn_dropped);
    assert_eq!(r.machine.pids(), vec![1, 4]);
}

#[test]
fn damage_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let expect_damage = |body: &str, line: usize, words: &str| {
        write_journal(dir.path(), 0, body);
        let e = recover(dir.path(), SIZES).unwrap_err();
        let text = e.to_string();
        let at = format!("{}:{line}: ", journal_path(dir.path(), 0).display());
        assert!(text.starts_with(&at), "{text} (want {at})");
        assert!(text.contains(words), "{text} (want {words})");
    };
    expect_damage(
        "spawn pid=1\nmmap pid=1 lenn=4K\nspawn pid=2\n",
        3,
        "cannot parse",
    );
    expect_damage(
        "spawn pid=1\nspawn pid=1\n",
        3,
        "gave err EEXIST, but the journal recorded ok",
    );
    expect_damage(
        "#! err EEXIST\nspawn pid=1\n",
        3,
        "gave ok, but the journal recorded err EEXIST",
    );
    expect_damage("#! err EWHAT\nspawn pid=1\n", 2, "unknown errno");
    expect_damage(
        "mmap pid=1 len=4K prot=rw- flags=private,anonymous as=x\n",
        2,
        "label",
    );
    expect_damage("read path=names\n", 2, "not a line the journal writes");
    let mut bytes = format!("{}spawn pid=1\n", header_line(0, SIZES)).into_bytes();
    bytes.extend_from_slice(b"\xff\n");
    fs::write(journal_path(dir.path(), 0), bytes).unwrap();
    let e = recover(dir.path(), SIZES).unwrap_err().to_string();
    assert!(e.contains("journal.0:3: not valid UTF-8"), "{e}");

    // A bad header.
    fs::write(journal_path(dir.path(), 0), "spawn pid=1\n").unwrap();
    let e = recover(dir.path(), SIZES).unwrap_err().to_string();
    assert!(
        e.contains("journal.0:1: missing or bad journal header"),
        "{e}"
    );

    // A torn line is damage in a journal that is not the last.
    write_journal(dir.path(), 0, "spawn pid=1\nspawn pi");
    write_journal(dir.path(), 1, "spawn pid=2\n");
    let e = recover(dir.path(), SIZES).unwrap_err().to_string();
    assert!(e.contains("journal.0:3: torn line"), "{e}");

    // A missing generation.
    fs::remove_file(journal_path(dir.path(), 0)).unwrap();
    let e = recover(dir.path(), SIZES).unwrap_err().to_string();
    assert!(e.contains("journal.1") && e.contains("no snapshot"), "{e}");
}

#[test]
fn snapshots_and_journals_replay_to_a_fresh_replay() {
    let dir = tempfile::tempdir().unwrap();
    let options = JournalOptions {
        snapshot_every_ops: 7,
        ..JournalOptions::default()
    };
    // The demo in two daemon lifetimes, with a snapshot every 7 ops.
    let lines: Vec<&str> = DEMO.lines().collect();
    let (first, second) = lines.split_at(lines.len() / 2);
    let (first, second) = (first.join("\n"), second.join("\n"));
    // The labels live in the client's session, across the restart.
    let mut session = Peer::new(0);
    let d = Daemon::start(dir.path(), options);
    d.run(&mut session, &first);
    d.stop();
    assert!(dir.path().join(SNAPSHOT).exists());
    let (dump1, r) = recovered_dump(dir.path());
    assert!(r.from_snapshot);
    assert_eq!(dump1, fresh_dump(&first));

    let d = Daemon::start(dir.path(), options);
    d.run(&mut session, &second);
    let live = d.stop();
    let (dump2, r) = recovered_dump(dir.path());
    assert!(r.from_snapshot);
    let all = format!("{first}\n{second}");
    let fresh = fresh_dump(&all);
    assert_eq!(dump2, fresh);
    assert_eq!(dump(&*live), fresh);
    assert!(fresh.contains("dalvik-main space"));
    // Only the journals after the snapshot are left.
    let gens = journal_generations(dir.path()).unwrap();
    assert!(gens.len() <= 2, "{gens:?}");

    // Failed ops that change state are journaled and replayed: mprotect stopping at a hole.
    let d = Daemon::start(dir.path(), options);
    let mut s = Peer::new(0);
    let reply = |s: &mut Peer, l: &str| {
        String::from_utf8(d.shared.execute(s, l.as_bytes()).unwrap().bytes).unwrap()
    };
    assert_eq!(reply(&mut s, "spawn pid=900 bare"), "ok pid=900\n");
    assert_eq!(
        reply(
            &mut s,
            "mmap pid=900 addr=0x10000000 len=8K prot=rw- flags=private,anonymous,fixed"
        ),
        "ok addr=0x10000000\n"
    );
    let r = reply(&mut s, "mprotect pid=900 addr=0x10000000 len=16K prot=r--");
    assert!(r.starts_with("err ENOMEM"), "{r}");
    let live = d.stop();
    let (dump3, _) = recovered_dump(dir.path());
    assert_eq!(dump3, dump(&*live));
    assert!(
        dump3.contains("10000000-10002000 r--p"),
        "mprotect changed the mapped part"
    );
}
