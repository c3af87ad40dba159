//! Tests against the contract (`command-language.md`): its example and table forms parse to the
//! expected ops, each class of malformed line is `EINVAL` with a message naming the culprit, and
//! every kernel oracle script parses and survives print → parse.

use super::*;
use crate::Errno;

fn parse(line: &str) -> Op<Addr> {
    match parse_line(line) {
        Ok(Some(op)) => op,
        other => panic!("{line:?} did not parse to an op: {other:?}"),
    }
}

fn label(label: &str, offset: u64) -> Addr {
    Addr::Label {
        label: label.to_owned(),
        offset,
    }
}

/// `op` printed and parsed again is `op`.
fn assert_round_trip(op: &Op<Addr>) {
    let line = op.to_string();
    assert_eq!(parse_line(&line), Ok(Some(op.clone())), "{line}");
}

const PRIVATE_ANON: MmapFlags = MmapFlags {
    private: true,
    shared: false,
    anonymous: true,
    fixed: false,
    fixed_noreplace: false,
    populate: false,
    noreserve: false,
    growsdown: false,
};

#[test]
fn the_example_block_parses() {
    let script = "\
spawn pid=100 comm=zygote
mmap pid=100 len=64M prot=rw- flags=private,anonymous as=heap
name pid=100 addr=heap len=64M name=\"dalvik-main space\"
touch pid=100 addr=heap len=16M access=write
fork pid=100 child=101
touch pid=101 addr=heap+4M len=1M access=write
";
    let want = vec![
        Op::Spawn {
            pid: Some(100),
            comm: Some("zygote".into()),
            uid: None,
            start_brk: None,
            bare: false,
        },
        Op::Mmap {
            pid: 100,
            addr: None,
            len: 64 << 20,
            prot: Prot::RW,
            flags: PRIVATE_ANON,
            file: None,
            offset: None,
            label: Some("heap".into()),
        },
        Op::Name {
            pid: 100,
            addr: label("heap", 0),
            len: 64 << 20,
            name: Some("dalvik-main space".into()),
        },
        Op::Touch {
            pid: 100,
            addr: label("heap", 0),
            len: 16 << 20,
            access: Access::Write,
        },
        Op::Fork {
            pid: 100,
            child: Some(101),
        },
        Op::Touch {
            pid: 101,
            addr: label("heap", 4 << 20),
            len: 1 << 20,
            access: Access::Write,
        },
    ];
    let got = parse_script(script).unwrap();
    assert_eq!(got, want);
    got.iter().for_each(assert_round_trip);
    assert_eq!(
        got.iter().map(|op| op.to_string()).collect::<Vec<_>>(),
        [
            "spawn pid=100 comm=zygote",
            "mmap pid=100 len=0x4000000 prot=rw- flags=private,anonymous as=heap",
            "name pid=100 addr=heap len=0x4000000 name=\"dalvik-main space\"",
            "touch pid=100 addr=heap len=0x1000000 access=write",
            "fork pid=100 child=101",
            "touch pid=101 addr=heap+0x400000 len=0x100000 access=write",
        ]
    );
}

#[test]
fn the_table_forms_parse() {
    let cases: Vec<(&str, Op<Addr>)> =
        vec![
        (
            "spawn pid=7 comm=init bare",
            Op::Spawn {
                pid: Some(7),
                comm: Some("init".into()),
                uid: None,
                start_brk: None,
                bare: true,
            },
        ),
        (
            "spawn pid=1",
            Op::Spawn {
                pid: Some(1),
                comm: None,
                uid: None,
                start_brk: None,
                bare: false,
            },
        ),
        (
            "spawn comm=\"my app\"",
            Op::Spawn {
                pid: None,
                comm: Some("my app".into()),
                uid: None,
                start_brk: None,
                bare: false,
            },
        ),
        (
            "spawn",
            Op::Spawn {
                pid: None,
                comm: None,
                uid: None,
                start_brk: None,
                bare: false,
            },
        ),
        (
            "spawn bare uid=1000 pid=0x10",
            Op::Spawn {
                pid: Some(16),
                comm: None,
                uid: Some(1000),
                start_brk: None,
                bare: true,
            },
        ),
        (
            "spawn pid=9 comm=app bare brk=0x556367271000",
            Op::Spawn {
                pid: Some(9),
                comm: Some("app".into()),
                uid: None,
                start_brk: Some(0x5563_6727_1000),
                bare: true,
            },
        ),
        (
            "spawn brk=64M",
            Op::Spawn {
                pid: None,
                comm: None,
                uid: None,
                start_brk: Some(64 << 20),
                bare: false,
            },
        ),
        (
            "spawn brk=4096 uid=3",
            Op::Spawn {
                pid: None,
                comm: None,
                uid: Some(3),
                start_brk: Some(4096),
                bare: false,
            },
        ),
        ("exit pid=12", Op::Exit { pid: 12 }),
        (
            "fork pid=1 child=2",
            Op::Fork {
                pid: 1,
                child: Some(2),
            },
        ),
        ("fork pid=1", Op::Fork { pid: 1, child: None }),
        (
            "mmap pid=1 addr=0x7f0000000000 len=4096 prot=r-- flags=shared,fixed file=/data/a.bin \
             offset=0x1000 as=lib",
            Op::Mmap {
                pid: 1,
                addr: Some(Addr::Abs(0x7f00_0000_0000)),
                len: 4096,
                prot: Prot {
                    read: true,
                    write: false,
                    exec: false,
                },
                flags: MmapFlags {
                    shared: true,
                    fixed: true,
                    ..MmapFlags::default()
                },
                file: Some("/data/a.bin".into()),
                offset: Some(0x1000),
                label: Some("lib".into()),
            },
        ),
        (
            "mmap pid=1 len=8K prot=rwx flags=private,anonymous,fixed_noreplace,populate,\
             noreserve,growsdown addr=stack+4K",
            Op::Mmap {
                pid: 1,
                addr: Some(label("stack", 4096)),
                len: 8192,
                prot: Prot {
                    read: true,
                    write: true,
                    exec: true,
                },
                flags: MmapFlags {
                    private: true,
                    anonymous: true,
                    fixed_noreplace: true,
                    populate: true,
                    noreserve: true,
                    growsdown: true,
                    ..MmapFlags::default()
                },
                file: None,
                offset: None,
                label: None,
            },
        ),
        (
            "munmap pid=1 addr=0x1000 len=0x2000",
            Op::Munmap {
                pid: 1,
                addr: Addr::Abs(0x1000),
                len: 0x2000,
            },
        ),
        (
            "reclaim pid=1 addr=heap+4K len=64K",
            Op::Reclaim {
                pid: 1,
                addr: label("heap", 0x1000),
                len: 0x10000,
            },
        ),
        (
            "mprotect pid=1 addr=heap len=4K prot=---",
            Op::Mprotect {
                pid: 1,
                addr: label("heap", 0),
                len: 4096,
                prot: Prot::NONE,
            },
        ),
        (
            "mremap pid=1 addr=0x1000 old_len=4K new_len=8K flags=maymove,fixed new_addr=0x9000 \
             as=moved",
            Op::Mremap {
                pid: 1,
                addr: Addr::Abs(0x1000),
                old_len: 4096,
                new_len: 8192,
                flags: MremapFlags {
                    maymove: true,
                    fixed: true,
                },
                new_addr: Some(Addr::Abs(0x9000)),
                label: Some("moved".into()),
            },
        ),
        (
            "mremap pid=1 addr=a old_len=4K new_len=8K",
            Op::Mremap {
                pid: 1,
                addr: label("a", 0),
                old_len: 4096,
                new_len: 8192,
                flags: MremapFlags::default(),
                new_addr: None,
                label: None,
            },
        ),
        (
            "mremap pid=1 addr=a old_len=4K new_len=8K flags=maymove",
            Op::Mremap {
                pid: 1,
                addr: label("a", 0),
                old_len: 4096,
                new_len: 8192,
                flags: MremapFlags {
                    maymove: true,
                    fixed: false,
                },
                new_addr: None,
                label: None,
            },
        ),
        (
            "madvise pid=1 addr=0x1000 len=4K advice=dontneed",
            Op::Madvise {
                pid: 1,
                addr: Addr::Abs(0x1000),
                len: 4096,
                advice: Advice::DontNeed,
            },
        ),
        ("brk pid=1", Op::Brk { pid: 1, addr: None }),
        (
            "brk pid=1 addr=0x560000",
            Op::Brk {
                pid: 1,
                addr: Some(Addr::Abs(0x56_0000)),
            },
        ),
        (
            "name pid=1 addr=0x1000 len=4K name=\"TEXT\"",
            Op::Name {
                pid: 1,
                addr: Addr::Abs(0x1000),
                len: 4096,
                name: Some("TEXT".into()),
            },
        ),
        (
            "name pid=1 addr=0x1000 len=4K name=plain",
            Op::Name {
                pid: 1,
                addr: Addr::Abs(0x1000),
                len: 4096,
                name: Some("plain".into()),
            },
        ),
        (
            "name pid=1 addr=0x1000 len=4K clear",
            Op::Name {
                pid: 1,
                addr: Addr::Abs(0x1000),
                len: 4096,
                name: None,
            },
        ),
        (
            "touch pid=1 addr=0x1000 len=4K access=read",
            Op::Touch {
                pid: 1,
                addr: Addr::Abs(0x1000),
                len: 4096,
                access: Access::Read,
            },
        ),
        (
            "touch pid=1 addr=0x1000 len=4K access=write",
            Op::Touch {
                pid: 1,
                addr: Addr::Abs(0x1000),
                len: 4096,
                access: Access::Write,
            },
        ),
        (
            "file path=/data/app.so size=1M",
            Op::File {
                path: "/data/app.so".into(),
                size: 1 << 20,
            },
        ),
        (
            "read path=12/smaps",
            Op::Read {
                path: "12/smaps".into(),
            },
        ),
        (
            "  read path=\"a \\\"b\\\" \\\\c\"  \r\n",
            Op::Read {
                path: "a \"b\" \\c".into(),
            },
        ),
    ];
    for (line, want) in cases {
        assert_eq!(parse_line(line), Ok(Some(want.clone())), "{line:?}");
        assert_round_trip(&want);
    }
    for advice in Advice::ALL {
        let line = format!("madvise pid=1 addr=0x1000 len=4K advice={}", advice.word());
        match parse(&line) {
            Op::Madvise { advice: got, .. } => assert_eq!(got, advice),
            other => panic!("{other:?}"),
        }
    }
    for (text, prot) in [
        ("rw-", Prot::RW),
        ("---", Prot::NONE),
        (
            "r--",
            Prot {
                read: true,
                ..Prot::NONE
            },
        ),
        (
            "rwx",
            Prot {
                read: true,
                write: true,
                exec: true,
            },
        ),
    ] {
        assert_eq!(
            parse(&format!("mprotect pid=1 addr=0x1000 len=4096 prot={text}")),
            Op::Mprotect {
                pid: 1,
                addr: Addr::Abs(0x1000),
                len: 4096,
                prot
            }
        );
        assert_eq!(prot.to_string(), text);
    }
}

#[test]
fn blank_and_comment_lines_are_ignored() {
    for line in ["", "  \t ", "# a comment", "   #indented", "\r\n"] {
        assert_eq!(parse_line(line), Ok(None), "{line:?}");
    }
    assert_eq!(parse_script("# only\n\n  \n").unwrap(), vec![]);
}

#[test]
fn malformed_lines_are_einval_naming_the_culprit() {
    let cases = [
        // unknown, duplicate and missing keys
        ("mmap pid=1 lenn=4K", "mmap: unknown key \"lenn\""),
        (
            "munmap pid=1 addr=0x1000 addr=0x2000 len=4K",
            "munmap: key addr= given twice",
        ),
        (
            "mmap pid=1 prot=rw- flags=private",
            "mmap: missing required key len=",
        ),
        ("exit", "exit: missing required key pid="),
        ("file path=a", "file: missing required key size="),
        ("read size=1", "read: unknown key \"size\""),
        (
            "mremap pid=1 addr=a old_len=1 len=2",
            "mremap: unknown key \"len\"",
        ),
        // flags and key/flag confusion
        ("spawn pid=1 bare bare", "spawn: flag bare given twice"),
        ("spawn bare=1", "spawn: bare is a flag and takes no value"),
        ("spawn pid=1 brk", "spawn: key brk= needs a value"),
        ("spawn brk=heap", "spawn: invalid brk=: number \"heap\""),
        (
            "spawn brk=heap+4K",
            "spawn: invalid brk=: number \"heap+4K\"",
        ),
        ("spawn brk=0x1000 brk=0x2000", "spawn: key brk= given twice"),
        ("exit pid", "exit: key pid= needs a value"),
        ("exit pid=1 bare", "exit: unknown flag \"bare\""),
        (
            "name pid=1 addr=0x1000 len=4K",
            "name: missing required key name=",
        ),
        (
            "name pid=1 addr=0x1000 len=4K name=x clear",
            "either name=\"...\" or clear",
        ),
        (
            "name pid=1 addr=0x1000 len=4K clear clear",
            "name: flag clear given twice",
        ),
        // values
        (
            "exit pid=0xzz",
            "exit: invalid pid=: number \"0xzz\" is not decimal, hex (0x...) or K/M/G-suffixed",
        ),
        (
            "exit pid=4294967296",
            "exit: invalid pid=: number \"4294967296\" does not fit in 32 bits",
        ),
        (
            "munmap pid=1 addr=0x1000 len=18446744073709551616",
            "munmap: invalid len=: number \"18446744073709551616\" does not fit in 64 bits",
        ),
        ("munmap pid=1 addr=0x1000 len=0x10K", "number \"0x10K\""),
        ("munmap pid=1 addr=0x1000 len=64k", "number \"64k\""),
        (
            "munmap pid=1 addr=he/ap len=4K",
            "munmap: invalid addr=: address \"he/ap\"",
        ),
        (
            "munmap pid=1 addr=heap+ len=4K",
            "munmap: invalid addr=: offset of address \"heap+\"",
        ),
        (
            "mprotect pid=1 addr=0x1000 len=4K prot=rwz",
            "mprotect: invalid prot=: expected 3 characters r|-, w|-, x|-, got \"rwz\"",
        ),
        (
            "mmap pid=1 len=4K prot=rw- flags=private,privat",
            "mmap: invalid flags=: unknown mmap flag \"privat\"",
        ),
        (
            "mmap pid=1 len=4K prot=rw- flags=\"\"",
            "mmap: invalid flags=: empty mmap flag list",
        ),
        (
            "mmap pid=1 len=4K prot=rw- flags=private,,fixed",
            "empty item in mmap flag list",
        ),
        (
            "mmap pid=1 len=4K prot=rw- flags=private,private",
            "mmap flag \"private\" given twice",
        ),
        (
            "mremap pid=1 addr=a old_len=1 new_len=2 flags=private",
            "mremap: invalid flags=: unknown mremap flag \"private\"",
        ),
        (
            "mmap pid=1 len=4K prot=rw- flags=private as=1heap",
            "mmap: invalid as=: label \"1heap\"",
        ),
        (
            "madvise pid=1 addr=0x1000 len=4K advice=free",
            "madvise: invalid advice=: unknown advice \"free\"",
        ),
        (
            "touch pid=1 addr=0x1000 len=4K access=exec",
            "touch: invalid access=: unknown access \"exec\"",
        ),
        // lexical
        (
            "name pid=1 addr=0x1000 len=4K name=\"abc",
            "name: unterminated quoted string",
        ),
        (
            "name pid=1 addr=0x1000 len=4K name=\"a\\tb\"",
            "name: invalid escape \"\\t\"",
        ),
        ("spawn comm=a\0b", "spawn: control character U+0000"),
        ("spawn comm=\"a\u{1b}b\"", "spawn: control character U+001B"),
        ("spawn PID=1", "spawn: invalid key \"PID\""),
        ("spawn 12", "spawn: unexpected word \"12\""),
        ("mmap pid=1 len= prot=rw-", "mmap: key len= has no value"),
        // commands
        ("Spawn pid=1", "unknown command \"Spawn\""),
        ("reclaim pid=1", "reclaim: missing required key addr="),
        ("migrate pid=1", "unknown command \"migrate\""),
        ("pid=1", "must start with a command word"),
    ];
    for (line, want) in cases {
        let e = parse_line(line).unwrap_err();
        assert_eq!(e.errno, Errno::EINVAL, "{line:?}");
        assert!(
            e.message.contains(want),
            "{line:?}: got {:?}, want {want:?}",
            e.message
        );
        assert!(!e.message.contains('\n'), "{line:?}: multi-line message");
    }
}

#[test]
fn script_errors_name_the_line() {
    let e = parse_script("spawn pid=1\n# c\nmmap pid=1\n").unwrap_err();
    assert_eq!(e.errno, Errno::EINVAL);
    assert_eq!(e.message, "line 3: mmap: missing required key len=");
}

#[test]
fn canonical_printing() {
    let op = parse(
        "mmap as=x file=\"a b\" offset=4K flags=anonymous,private prot=r-x len=1M addr=0x10 pid=3",
    );
    assert_eq!(
        op.to_string(),
        "mmap pid=3 addr=0x10 len=0x100000 prot=r-x flags=private,anonymous file=\"a b\" \
         offset=0x1000 as=x"
    );
    let op = parse("spawn bare uid=5 comm=\"a\\\\b\" pid=1");
    assert_eq!(op.to_string(), "spawn pid=1 comm=\"a\\\\b\" uid=5 bare");
    let op = parse("spawn bare brk=1M comm=x pid=2 uid=0");
    assert_eq!(op.to_string(), "spawn pid=2 comm=x uid=0 brk=0x100000 bare");
    let op = parse("name clear len=1 addr=x+0 pid=2");
    assert_eq!(op.to_string(), "name pid=2 addr=x len=0x1 clear");
    let op = parse("name name=\"\" len=1 addr=x pid=2");
    assert_eq!(op.to_string(), "name pid=2 addr=x len=0x1 name=\"\"");
    let op = parse("file size=0 path=a:b@c+d-e_f.g/h");
    assert_eq!(op.to_string(), "file path=a:b@c+d-e_f.g/h size=0x0");
    let resolved: Op<u64> = Op::Munmap {
        pid: 4,
        addr: 0xdead_b000,
        len: 4096,
    };
    assert_eq!(
        resolved.to_string(),
        "munmap pid=4 addr=0xdeadb000 len=0x1000"
    );
    assert_eq!(Addr::Abs(255).to_string(), "0xff");
    assert_eq!(label("h", 0).to_string(), "h");
    assert_eq!(label("h", 16).to_string(), "h+0x10");
    assert_eq!(Access::Read.to_string(), "read");
    assert_eq!(Advice::WipeOnFork.to_string(), "wipeonfork");
    assert_eq!(
        MremapFlags {
            maymove: true,
            fixed: true
        }
        .to_string(),
        "maymove,fixed"
    );
}

#[test]
fn fidelity_scripts_parse_and_round_trip() {
    let dir = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fidelity/cases"
    ));
    let Ok(entries) = std::fs::read_dir(dir) else {
        println!(
            "note: {} is absent; no fidelity scripts checked",
            dir.display()
        );
        return;
    };
    let mut scripts = 0;
    let mut ops = 0;
    for entry in entries {
        let path = entry.unwrap().path().join("script.anonmap");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let parsed = parse_script(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!parsed.is_empty(), "{}", path.display());
        ops += parsed.len();
        for op in &parsed {
            assert_round_trip(op);
        }
        // The oracle scripts use no labels: resolving changes nothing.
        for op in parsed {
            let resolved = op.clone().resolve(&Labels::new()).unwrap();
            assert_eq!(Op::<Addr>::from(resolved), op);
        }
        scripts += 1;
        ops += text
            .lines()
            .filter(|l| parse_line(l).unwrap().is_some())
            .count();
    }
    assert!(scripts > 0, "no script.anonmap under {}", dir.display());
    println!("{scripts} fidelity scripts, {ops} ops parsed");
}

#[test]
fn socket_read_takes_a_byte_range() {
    assert_eq!(
        parse_request("read path=12/pagemap offset=0x8000 len=4K"),
        Ok(Some(Request::Read {
            path: "12/pagemap".into(),
            offset: Some(0x8000),
            len: Some(4096),
        }))
    );
    assert_eq!(
        parse_request("read path=names"),
        Ok(Some(Request::Read {
            path: "names".into(),
            offset: None,
            len: None,
        }))
    );
    assert_eq!(
        parse_request("exit pid=3"),
        Ok(Some(Request::Op(Op::Exit { pid: 3 })))
    );
    assert_eq!(parse_request("  # comment"), Ok(None));
    let e = parse_request("read path=x offset=1 offset=2").unwrap_err();
    assert_eq!(e.errno, Errno::EINVAL);
    assert!(e.message.contains("offset= given twice"), "{e}");
    // Scripts keep the plain form: the range keys belong to the socket.
    assert_eq!(
        parse_line("read path=x len=8").unwrap_err().errno,
        Errno::EINVAL
    );
}
