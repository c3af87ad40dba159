//! Tests against the contract (`command-language.md`): its example and table forms parse, their
//! labels resolved against the bindings, to the expected [`Command`]s (typed ABI calls or a
//! `read`), each class of malformed line is `EINVAL` with a message naming the culprit, and every
//! kernel oracle script of `tests/fixtures` parses with no labels bound and survives
//! print → parse.

use anonmap_abi::{
    Access, Advice, BrkArgs, Call, ClearRefsArgs, Errno, Error, ExitArgs, FileArgs, ForkArgs,
    Kernel, MadviseArgs, MigrateArgs, MlockArgs, MlockFlags, MlockallArgs, MlockallFlags, MmapArgs,
    MmapFlags, MprotectArgs, MremapArgs, MremapFlags, MunlockArgs, MunlockallArgs, MunmapArgs,
    NameArgs, OomScoreAdjArgs, Outcome, Prot, ReclaimArgs, SpawnArgs, TouchArgs,
};

use super::*;
use crate::value::{access_word, mlockall_flag_words, mmap_flag_words, mremap_flag_words};

/// Where the tests' labels are bound.
const HEAP: u64 = 0x7000_0000_0000;
const STACK: u64 = 0x7ff0_0000_0000;
const A: u64 = 0x1000_0000;
const X: u64 = 0x2000_0000;
const B: u64 = 0x3000_0000;

const BASES: [(&str, u64); 5] = [
    ("heap", HEAP),
    ("stack", STACK),
    ("a", A),
    ("x", X),
    ("b", B),
];

/// Every label of [`BASES`], bound.
fn labels() -> Labels {
    let mut labels = Labels::new();
    for (label, base) in BASES {
        labels.bind(label, base);
    }
    labels
}

/// The base [`BASES`] gives `label`: the address a call binding it "returns".
fn base(label: &str) -> u64 {
    BASES
        .iter()
        .find(|(l, _)| *l == label)
        .unwrap_or_else(|| panic!("no base for label {label:?}"))
        .1
}

/// `line` parsed against `labels`; it must carry a command.
fn parse_with(line: &str, labels: &Labels) -> Command {
    match parse_line(line, labels) {
        Ok(Some(command)) => command,
        other => panic!("{line:?} did not parse to a command: {other:?}"),
    }
}

/// `line` parsed with every label of [`BASES`] bound.
fn parse(line: &str) -> Command {
    parse_with(line, &labels())
}

/// The commands of a script, parsed in order against `labels`; a call's `as=LABEL` binds
/// LABEL to its base in [`BASES`] for the lines after it. A failure is `line N: message`.
fn parse_script(text: &str, labels: &mut Labels) -> Result<Vec<Command>, Error> {
    let mut commands = Vec::new();
    for stmt in script::statements(text) {
        let stmt = stmt.map_err(|e| Error::new(Errno::EINVAL, e.to_string()))?;
        let command = parse_line(stmt.text, labels)
            .map_err(|e| Error::new(e.errno, format!("line {}: {}", stmt.line_no, e.message)))?;
        let Some(command) = command else { continue };
        if let Command::Call {
            bind: Some(label), ..
        } = &command
        {
            labels.bind(label.as_str(), base(label));
        }
        commands.push(command);
    }
    Ok(commands)
}

/// A call that binds no label.
fn call(call: impl Into<Call>) -> Command {
    Command::Call {
        call: call.into(),
        bind: None,
    }
}

/// A call that binds `label`.
fn bound(call: impl Into<Call>, label: &str) -> Command {
    Command::Call {
        call: call.into(),
        bind: Some(label.into()),
    }
}

fn read(path: &str) -> Command {
    Command::Read {
        path: path.into(),
        offset: None,
        len: None,
    }
}

/// `command` printed and parsed again, with no labels bound, is `command`; a call's canonical
/// line parses back to the bare call.
fn assert_round_trip(command: &Command) {
    let printed = command.to_string();
    assert_eq!(
        parse_line(&printed, &Labels::new()),
        Ok(Some(command.clone())),
        "{printed}"
    );
    if let Command::Call { call, .. } = command {
        let printed = line(call).to_string();
        assert_eq!(
            parse_line(&printed, &Labels::new()),
            Ok(Some(Command::Call {
                call: call.clone(),
                bind: None
            })),
            "{printed}"
        );
        assert_eq!(parse_call(&printed).as_ref(), Ok(call), "{printed}");
    }
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
    locked: false,
};

/// A machine that records the calls it is given: `mmap` returns [`HEAP`], `spawn` and `fork`
/// the pid they name, everything else succeeds with nothing.
#[derive(Default)]
struct Recorder {
    calls: Vec<Call>,
}

impl Kernel for Recorder {
    fn apply(&mut self, call: &Call) -> Result<Outcome, Error> {
        self.calls.push(call.clone());
        Ok(match call {
            Call::Mmap(_) => Outcome::Addr(HEAP),
            Call::Spawn(s) => Outcome::Pid(s.pid.unwrap_or(1)),
            Call::Fork(f) => Outcome::Pid(f.child.unwrap_or(2)),
            _ => Outcome::Done,
        })
    }
}

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
        call(SpawnArgs {
            pid: Some(100),
            comm: Some("zygote".into()),
            uid: None,
            start_brk: None,
            bare: false,
        }),
        bound(
            MmapArgs {
                pid: 100,
                addr: None,
                len: 64 << 20,
                prot: Prot::RW,
                flags: PRIVATE_ANON,
                file: None,
                offset: None,
            },
            "heap",
        ),
        call(NameArgs {
            pid: 100,
            addr: HEAP,
            len: 64 << 20,
            name: Some("dalvik-main space".into()),
        }),
        call(TouchArgs {
            pid: 100,
            addr: HEAP,
            len: 16 << 20,
            access: Access::Write,
        }),
        call(ForkArgs {
            pid: 100,
            child: Some(101),
        }),
        call(TouchArgs {
            pid: 101,
            addr: HEAP + (4 << 20),
            len: 1 << 20,
            access: Access::Write,
        }),
    ];
    // `heap` is unbound until the mmap line binds it.
    let mut bindings = Labels::new();
    let got = parse_script(script, &mut bindings).unwrap();
    assert_eq!(got, want);
    assert_eq!(bindings.get("heap"), Some(HEAP));
    got.iter().for_each(assert_round_trip);
    assert_eq!(
        got.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        [
            "spawn pid=100 comm=zygote",
            "mmap pid=100 len=0x4000000 prot=rw- flags=private,anonymous as=heap",
            "name pid=100 addr=0x700000000000 len=0x4000000 name=\"dalvik-main space\"",
            "touch pid=100 addr=0x700000000000 len=0x1000000 access=write",
            "fork pid=100 child=101",
            "touch pid=101 addr=0x700000400000 len=0x100000 access=write",
        ]
    );
    // The session binds `heap` to what the mmap returned and makes the same calls.
    let mut machine = Recorder::default();
    let mut session = Session::new();
    let summary = session.run_script(&mut machine, script).unwrap();
    assert_eq!(summary.calls, want.len());
    assert_eq!(summary.expected_failures, 0);
    assert_eq!(session.labels().get("heap"), Some(HEAP));
    let want_calls: Vec<Call> = want
        .into_iter()
        .map(|c| match c {
            Command::Call { call, .. } => call,
            read => panic!("{read:?}"),
        })
        .collect();
    assert_eq!(machine.calls, want_calls);
}

#[test]
fn the_table_forms_parse() {
    let cases: Vec<(&str, Command)> =
        vec![
        (
            "spawn pid=7 comm=init bare",
            call(SpawnArgs {
                pid: Some(7),
                comm: Some("init".into()),
                uid: None,
                start_brk: None,
                bare: true,
            }),
        ),
        (
            "spawn pid=1",
            call(SpawnArgs {
                pid: Some(1),
                comm: None,
                uid: None,
                start_brk: None,
                bare: false,
            }),
        ),
        (
            "spawn comm=\"my app\"",
            call(SpawnArgs {
                pid: None,
                comm: Some("my app".into()),
                uid: None,
                start_brk: None,
                bare: false,
            }),
        ),
        (
            "spawn",
            call(SpawnArgs {
                pid: None,
                comm: None,
                uid: None,
                start_brk: None,
                bare: false,
            }),
        ),
        (
            "spawn bare uid=1000 pid=0x10",
            call(SpawnArgs {
                pid: Some(16),
                comm: None,
                uid: Some(1000),
                start_brk: None,
                bare: true,
            }),
        ),
        (
            "spawn pid=9 comm=app bare brk=0x556367271000",
            call(SpawnArgs {
                pid: Some(9),
                comm: Some("app".into()),
                uid: None,
                start_brk: Some(0x5563_6727_1000),
                bare: true,
            }),
        ),
        (
            "spawn brk=64M",
            call(SpawnArgs {
                pid: None,
                comm: None,
                uid: None,
                start_brk: Some(64 << 20),
                bare: false,
            }),
        ),
        (
            "spawn brk=4096 uid=3",
            call(SpawnArgs {
                pid: None,
                comm: None,
                uid: Some(3),
                start_brk: Some(4096),
                bare: false,
            }),
        ),
        ("exit pid=12", call(ExitArgs { pid: 12 })),
        (
            "fork pid=1 child=2",
            call(ForkArgs {
                pid: 1,
                child: Some(2),
            }),
        ),
        ("fork pid=1", call(ForkArgs { pid: 1, child: None })),
        (
            "mmap pid=1 addr=0x7f0000000000 len=4096 prot=r-- flags=shared,fixed file=/data/a.bin \
             offset=0x1000 as=lib",
            bound(
                MmapArgs {
                    pid: 1,
                    addr: Some(0x7f00_0000_0000),
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
                },
                "lib",
            ),
        ),
        (
            "mmap pid=1 len=8K prot=rwx flags=private,anonymous,fixed_noreplace,populate,\
             noreserve,growsdown addr=stack+4K",
            call(MmapArgs {
                pid: 1,
                addr: Some(STACK + 4096),
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
            }),
        ),
        (
            "mmap pid=1 len=16K prot=rw- flags=private,anonymous,locked,populate",
            call(MmapArgs {
                pid: 1,
                addr: None,
                len: 16 << 10,
                prot: Prot::RW,
                flags: MmapFlags {
                    locked: true,
                    populate: true,
                    ..PRIVATE_ANON
                },
                file: None,
                offset: None,
            }),
        ),
        (
            "munmap pid=1 addr=0x1000 len=0x2000",
            call(MunmapArgs {
                pid: 1,
                addr: 0x1000,
                len: 0x2000,
            }),
        ),
        (
            "reclaim pid=1 addr=heap+4K len=64K",
            call(ReclaimArgs {
                pid: 1,
                addr: HEAP + 0x1000,
                len: 0x10000,
            }),
        ),
        (
            "migrate pid=1 addr=heap+4K len=64K",
            call(MigrateArgs {
                pid: 1,
                addr: HEAP + 0x1000,
                len: 0x10000,
            }),
        ),
        (
            "mprotect pid=1 addr=heap len=4K prot=---",
            call(MprotectArgs {
                pid: 1,
                addr: HEAP,
                len: 4096,
                prot: Prot::NONE,
            }),
        ),
        (
            "mremap pid=1 addr=0x1000 old_len=4K new_len=8K flags=maymove,fixed new_addr=0x9000 \
             as=moved",
            bound(
                MremapArgs {
                    pid: 1,
                    addr: 0x1000,
                    old_len: 4096,
                    new_len: 8192,
                    flags: MremapFlags {
                        maymove: true,
                        fixed: true,
                        dontunmap: false,
                    },
                    new_addr: Some(0x9000),
                },
                "moved",
            ),
        ),
        (
            "mremap pid=1 addr=a old_len=4K new_len=8K",
            call(MremapArgs {
                pid: 1,
                addr: A,
                old_len: 4096,
                new_len: 8192,
                flags: MremapFlags::default(),
                new_addr: None,
            }),
        ),
        (
            "mremap pid=1 addr=a old_len=4K new_len=8K flags=maymove",
            call(MremapArgs {
                pid: 1,
                addr: A,
                old_len: 4096,
                new_len: 8192,
                flags: MremapFlags {
                    maymove: true,
                    fixed: false,
                    dontunmap: false,
                },
                new_addr: None,
            }),
        ),
        (
            "mremap pid=1 addr=a old_len=4K new_len=4K flags=maymove,fixed,dontunmap new_addr=b",
            call(MremapArgs {
                pid: 1,
                addr: A,
                old_len: 4096,
                new_len: 4096,
                flags: MremapFlags {
                    maymove: true,
                    fixed: true,
                    dontunmap: true,
                },
                new_addr: Some(B),
            }),
        ),
        (
            "madvise pid=1 addr=0x1000 len=4K advice=dontneed",
            call(MadviseArgs {
                pid: 1,
                addr: 0x1000,
                len: 4096,
                advice: Advice::DontNeed,
            }),
        ),
        ("brk pid=1", call(BrkArgs { pid: 1, addr: None })),
        (
            "brk pid=1 addr=0x560000",
            call(BrkArgs {
                pid: 1,
                addr: Some(0x56_0000),
            }),
        ),
        (
            "name pid=1 addr=0x1000 len=4K name=\"TEXT\"",
            call(NameArgs {
                pid: 1,
                addr: 0x1000,
                len: 4096,
                name: Some("TEXT".into()),
            }),
        ),
        (
            "name pid=1 addr=0x1000 len=4K name=plain",
            call(NameArgs {
                pid: 1,
                addr: 0x1000,
                len: 4096,
                name: Some("plain".into()),
            }),
        ),
        (
            "name pid=1 addr=0x1000 len=4K clear",
            call(NameArgs {
                pid: 1,
                addr: 0x1000,
                len: 4096,
                name: None,
            }),
        ),
        (
            "touch pid=1 addr=0x1000 len=4K access=read",
            call(TouchArgs {
                pid: 1,
                addr: 0x1000,
                len: 4096,
                access: Access::Read,
            }),
        ),
        (
            "touch pid=1 addr=0x1000 len=4K access=write",
            call(TouchArgs {
                pid: 1,
                addr: 0x1000,
                len: 4096,
                access: Access::Write,
            }),
        ),
        (
            "file path=/data/app.so size=1M",
            call(FileArgs {
                path: "/data/app.so".into(),
                size: 1 << 20,
            }),
        ),
        ("read path=12/smaps", read("12/smaps")),
        (
            "  read path=\"a \\\"b\\\" \\\\c\"  \r\n",
            read("a \"b\" \\c"),
        ),
    ];
    for (line, want) in cases {
        assert_eq!(
            parse_line(line, &labels()),
            Ok(Some(want.clone())),
            "{line:?}"
        );
        assert_round_trip(&want);
    }
    for advice in Advice::ALL {
        let line = format!("madvise pid=1 addr=0x1000 len=4K advice={}", advice.name());
        match parse(&line) {
            Command::Call {
                call: Call::Madvise(MadviseArgs { advice: got, .. }),
                bind: None,
            } => assert_eq!(got, advice),
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
            call(MprotectArgs {
                pid: 1,
                addr: 0x1000,
                len: 4096,
                prot
            })
        );
        assert_eq!(prot.to_string(), text);
        assert_eq!(value::parse_prot(text), Ok(prot));
    }
}

#[test]
fn blank_and_comment_lines_are_ignored() {
    for line in [
        "",
        "  \t ",
        "# a comment",
        "   #indented",
        "\r\n",
        "#! err EINVAL",
    ] {
        assert_eq!(parse_line(line, &Labels::new()), Ok(None), "{line:?}");
    }
    assert_eq!(
        parse_script("# only\n\n  \n", &mut Labels::new()).unwrap(),
        vec![]
    );
    assert_eq!(script::statements("# only\n\n  \n").count(), 0);
}

/// Asserts that `line`, parsed against `labels`, is `EINVAL` with a one-line message
/// containing `want`.
fn assert_einval(line: &str, labels: &Labels, want: &str) {
    let e = parse_line(line, labels).unwrap_err();
    assert_eq!(e.errno, Errno::EINVAL, "{line:?}");
    assert!(
        e.message.contains(want),
        "{line:?}: got {:?}, want {want:?}",
        e.message
    );
    assert!(!e.message.contains('\n'), "{line:?}: multi-line message");
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
            "madvise pid=1 addr=0x1000 len=4K advice=hugepage",
            "madvise: invalid advice=: unknown advice \"hugepage\"",
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
        ("migrate pid=1", "migrate: missing required key addr="),
        ("comm pid=1 name=x", "unknown command \"comm\""),
        ("pid=1", "must start with a command word"),
    ];
    for (line, want) in cases {
        assert_einval(line, &labels(), want);
    }
    // Labels: an unbound one, and an offset past 64 bits.
    let unbound = [
        (
            "munmap pid=1 addr=heap+0x1000 len=4K",
            "munmap: addr=heap+0x1000: unknown label \"heap\" (bind it first",
        ),
        (
            "mremap pid=1 addr=0x1000 old_len=4K new_len=8K flags=maymove,fixed new_addr=b",
            "mremap: new_addr=b: unknown label \"b\"",
        ),
        (
            "mmap pid=1 addr=stack len=4K prot=rw- flags=private",
            "mmap: addr=stack: unknown label \"stack\"",
        ),
    ];
    for (line, want) in unbound {
        assert_einval(line, &Labels::new(), want);
    }
    assert_einval(
        "touch pid=1 addr=heap+0xffffffffffffffff len=1 access=read",
        &labels(),
        "touch: addr=heap+0xffffffffffffffff: label \"heap\" is 0x700000000000; adding offset \
         0xffffffffffffffff overflows 64 bits",
    );
}

#[test]
fn script_errors_name_the_line() {
    let text = "spawn pid=1\n# c\nmmap pid=1\n";
    let e = parse_script(text, &mut Labels::new()).unwrap_err();
    assert_eq!(e.errno, Errno::EINVAL);
    assert_eq!(e.message, "line 3: mmap: missing required key len=");
    // The session stops at the same line, after applying the lines before it.
    let mut machine = Recorder::default();
    let e = Session::new().run_script(&mut machine, text).unwrap_err();
    assert_eq!(e.line_no, 3);
    assert_eq!(e.line, "mmap pid=1");
    assert_eq!(e.message, "EINVAL mmap: missing required key len=");
    assert_eq!(
        e.to_string(),
        "line 3: mmap pid=1: EINVAL mmap: missing required key len="
    );
    assert_eq!(machine.calls.len(), 1);
}

#[test]
fn canonical_printing() {
    let command = parse(
        "mmap as=x file=\"a b\" offset=4K flags=anonymous,private prot=r-x len=1M addr=0x10 pid=3",
    );
    assert_eq!(
        command.to_string(),
        "mmap pid=3 addr=0x10 len=0x100000 prot=r-x flags=private,anonymous file=\"a b\" \
         offset=0x1000 as=x"
    );
    // Labels are resolved: the canonical line carries the address.
    for (line, canonical) in [
        (
            "spawn bare uid=5 comm=\"a\\\\b\" pid=1",
            "spawn pid=1 comm=\"a\\\\b\" uid=5 bare",
        ),
        (
            "spawn bare brk=1M comm=x pid=2 uid=0",
            "spawn pid=2 comm=x uid=0 brk=0x100000 bare",
        ),
        (
            "name clear len=1 addr=x+0 pid=2",
            "name pid=2 addr=0x20000000 len=0x1 clear",
        ),
        (
            "name name=\"\" len=1 addr=x pid=2",
            "name pid=2 addr=0x20000000 len=0x1 name=\"\"",
        ),
        (
            "file size=0 path=a:b@c+d-e_f.g/h",
            "file path=a:b@c+d-e_f.g/h size=0x0",
        ),
    ] {
        assert_eq!(parse(line).to_string(), canonical, "{line}");
    }
    let munmap = Call::Munmap(MunmapArgs {
        pid: 4,
        addr: 0xdead_b000,
        len: 4096,
    });
    assert_eq!(
        line(&munmap).to_string(),
        "munmap pid=4 addr=0xdeadb000 len=0x1000"
    );
    assert_eq!(
        Command::Read {
            path: "12/pagemap".into(),
            offset: Some(0x8000),
            len: Some(4096),
        }
        .to_string(),
        "read path=12/pagemap offset=0x8000 len=0x1000"
    );
    assert_eq!(Addr::Abs(255).to_string(), "0xff");
    let label = |label: &str, offset| Addr::Label {
        label: label.to_owned(),
        offset,
    };
    assert_eq!(label("h", 0).to_string(), "h");
    assert_eq!(label("h", 16).to_string(), "h+0x10");
    assert_eq!(access_word(Access::Read), "read");
    assert_eq!(Advice::WipeOnFork.name(), "wipeonfork");
    let set: Vec<&str> = mremap_flag_words(MremapFlags {
        maymove: true,
        fixed: true,
        dontunmap: true,
    })
    .iter()
    .filter(|(_, set)| *set)
    .map(|(word, _)| *word)
    .collect();
    assert_eq!(set.join(","), "maymove,fixed,dontunmap");
}

/// The kernel oracle scripts: every `<case>/script.anonmap` under these folders of
/// `tests/fixtures`.
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures");
const SCRIPT_DIRS: [&str; 2] = ["fidelity", "kernel-6.18"];

#[test]
fn fidelity_scripts_parse_and_round_trip() {
    let mut scripts = 0;
    let mut ops = 0;
    let mut expected_failures = 0;
    for sub in SCRIPT_DIRS {
        let dir = std::path::Path::new(FIXTURES).join(sub);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        let mut paths: Vec<_> = entries
            .map(|entry| entry.unwrap().path().join("script.anonmap"))
            .filter(|path| path.is_file())
            .collect();
        paths.sort();
        assert!(
            !paths.is_empty(),
            "no */script.anonmap under {}",
            dir.display()
        );
        for path in paths {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let mut parsed = 0;
            for stmt in script::statements(&text) {
                let stmt = stmt.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                // The oracle scripts use no labels: every line parses with none bound.
                let command = parse_line(stmt.text, &Labels::new())
                    .unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), stmt.line_no))
                    .unwrap_or_else(|| panic!("{}:{}: no command", path.display(), stmt.line_no));
                assert_round_trip(&command);
                parsed += 1;
                expected_failures += usize::from(stmt.expect.is_some());
            }
            assert!(parsed > 0, "{}: no command", path.display());
            ops += parsed;
            scripts += 1;
        }
    }
    assert!(scripts > 0, "no script.anonmap under {FIXTURES}");
    println!("{scripts} fidelity scripts, {ops} ops parsed ({expected_failures} with #! err)");
}

#[test]
fn read_takes_a_byte_range() {
    let none = Labels::new();
    assert_eq!(
        parse_line("read path=12/pagemap offset=0x8000 len=4K", &none),
        Ok(Some(Command::Read {
            path: "12/pagemap".into(),
            offset: Some(0x8000),
            len: Some(4096),
        }))
    );
    assert_eq!(
        parse_line("read path=names", &none),
        Ok(Some(Command::Read {
            path: "names".into(),
            offset: None,
            len: None,
        }))
    );
    assert_eq!(
        parse_line("exit pid=3", &none),
        Ok(Some(call(ExitArgs { pid: 3 })))
    );
    assert_eq!(parse_line("  # comment", &none), Ok(None));
    let e = parse_line("read path=x offset=1 offset=2", &none).unwrap_err();
    assert_eq!(e.errno, Errno::EINVAL);
    assert!(e.message.contains("offset= given twice"), "{e}");
    // The range keys are part of every read now, in scripts too.
    assert_eq!(
        parse_line("read path=x len=8", &none),
        Ok(Some(Command::Read {
            path: "x".into(),
            offset: None,
            len: Some(8),
        }))
    );
    // A read is not a call.
    let e = parse_call("read path=x len=8").unwrap_err();
    assert_eq!(e.errno, Errno::EINVAL);
}

/// The forms of the calls that lock memory and of `clear_refs`, the new madvise advices,
/// `locked` on mmap and `dontunmap` on mremap: each example parses (labels, offsets and size
/// suffixes as everywhere else) to its typed call and survives print → parse.
#[test]
fn locking_clear_refs_and_new_words_parse() {
    let mlockall = |current, future, onfault| {
        call(MlockallArgs {
            pid: 5,
            flags: MlockallFlags {
                current,
                future,
                onfault,
            },
        })
    };
    let cases: Vec<(&str, Command)> = vec![
        (
            "mlock pid=3 addr=heap len=16K",
            call(MlockArgs {
                pid: 3,
                addr: HEAP,
                len: 16 << 10,
                flags: MlockFlags::default(),
            }),
        ),
        (
            "mlock pid=3 addr=heap+4K len=1M flags=onfault",
            call(MlockArgs {
                pid: 3,
                addr: HEAP + 4096,
                len: 1 << 20,
                flags: MlockFlags { onfault: true },
            }),
        ),
        (
            "mlock flags=onfault len=0x2000 addr=0x10000000 pid=0x10",
            call(MlockArgs {
                pid: 16,
                addr: 0x1000_0000,
                len: 0x2000,
                flags: MlockFlags { onfault: true },
            }),
        ),
        (
            "munlock pid=3 addr=stack+0x1000 len=8K",
            call(MunlockArgs {
                pid: 3,
                addr: STACK + 0x1000,
                len: 8 << 10,
            }),
        ),
        ("mlockall pid=5 flags=current", mlockall(true, false, false)),
        (
            "mlockall pid=5 flags=current,future",
            mlockall(true, true, false),
        ),
        (
            "mlockall pid=5 flags=current,future,onfault",
            mlockall(true, true, true),
        ),
        (
            "mlockall flags=onfault,future pid=5",
            mlockall(false, true, true),
        ),
        // Combinations the kernel refuses parse all the same: EINVAL is the simulator's.
        ("mlockall pid=5 flags=future", mlockall(false, true, false)),
        ("mlockall pid=5 flags=onfault", mlockall(false, false, true)),
        ("munlockall pid=5", call(MunlockallArgs { pid: 5 })),
        (
            "clear_refs pid=7 value=1",
            call(ClearRefsArgs { pid: 7, value: 1 }),
        ),
        (
            "clear_refs pid=7 value=5",
            call(ClearRefsArgs { pid: 7, value: 5 }),
        ),
        (
            "clear_refs value=-1 pid=7",
            call(ClearRefsArgs { pid: 7, value: -1 }),
        ),
        (
            "clear_refs pid=7 value=0",
            call(ClearRefsArgs { pid: 7, value: 0 }),
        ),
        (
            "clear_refs pid=7 value=7",
            call(ClearRefsArgs { pid: 7, value: 7 }),
        ),
        (
            "clear_refs pid=7 value=-9223372036854775808",
            call(ClearRefsArgs {
                pid: 7,
                value: i64::MIN,
            }),
        ),
        (
            "mmap pid=1 addr=0x10000000 len=64K prot=rw- flags=locked,fixed,anonymous,private \
             as=buf",
            bound(
                MmapArgs {
                    pid: 1,
                    addr: Some(0x1000_0000),
                    len: 64 << 10,
                    prot: Prot::RW,
                    flags: MmapFlags {
                        fixed: true,
                        locked: true,
                        ..PRIVATE_ANON
                    },
                    file: None,
                    offset: None,
                },
                "buf",
            ),
        ),
        (
            "mremap pid=1 addr=x old_len=8K new_len=8K flags=dontunmap,maymove as=moved",
            bound(
                MremapArgs {
                    pid: 1,
                    addr: X,
                    old_len: 8 << 10,
                    new_len: 8 << 10,
                    flags: MremapFlags {
                        maymove: true,
                        fixed: false,
                        dontunmap: true,
                    },
                    new_addr: None,
                },
                "moved",
            ),
        ),
    ];
    for (line, want) in cases {
        assert_eq!(
            parse_line(line, &labels()),
            Ok(Some(want.clone())),
            "{line:?}"
        );
        assert_round_trip(&want);
    }
    let advices = [
        ("free", Advice::Free),
        ("cold", Advice::Cold),
        ("pageout", Advice::PageOut),
        ("populate_read", Advice::PopulateRead),
        ("populate_write", Advice::PopulateWrite),
        ("willneed", Advice::WillNeed),
        ("dontneed_locked", Advice::DontNeedLocked),
    ];
    for (word, advice) in advices {
        let want = call(MadviseArgs {
            pid: 2,
            addr: A + 0x2000,
            len: 0x3000,
            advice,
        });
        let line = format!("madvise pid=2 addr=a+8K len=0x3000 advice={word}");
        assert_eq!(parse(&line), want, "{line}");
        assert_eq!(advice.name(), word);
        assert_eq!(
            want.to_string(),
            format!("madvise pid=2 addr=0x10002000 len=0x3000 advice={word}")
        );
        assert_round_trip(&want);
    }
}

/// The canonical lines of the new forms: keys in their fixed order, lengths in hex, the
/// `value=` of `clear_refs` in signed decimal, flag lists in the ABI's order.
#[test]
fn locking_clear_refs_and_new_words_print_canonically() {
    for (line, canonical) in [
        (
            "mlock len=16K addr=heap pid=3",
            "mlock pid=3 addr=0x700000000000 len=0x4000",
        ),
        (
            "mlock flags=onfault len=1M addr=a+4K pid=3",
            "mlock pid=3 addr=0x10001000 len=0x100000 flags=onfault",
        ),
        (
            "munlock len=4096 addr=0X1000 pid=3",
            "munlock pid=3 addr=0x1000 len=0x1000",
        ),
        (
            "mlockall flags=onfault,future,current pid=0x5",
            "mlockall pid=5 flags=current,future,onfault",
        ),
        (
            "mlockall flags=onfault,current pid=5",
            "mlockall pid=5 flags=current,onfault",
        ),
        ("munlockall pid=005", "munlockall pid=5"),
        ("clear_refs value=-1 pid=7", "clear_refs pid=7 value=-1"),
        ("clear_refs value=007 pid=7", "clear_refs pid=7 value=7"),
        ("clear_refs value=-0 pid=7", "clear_refs pid=7 value=0"),
        (
            "mmap flags=locked,anonymous,private prot=rw- len=16K pid=1",
            "mmap pid=1 len=0x4000 prot=rw- flags=private,anonymous,locked",
        ),
        (
            "mremap new_addr=b flags=dontunmap,fixed,maymove new_len=4K old_len=4K addr=a pid=1",
            "mremap pid=1 addr=0x10000000 old_len=0x1000 new_len=0x1000 \
             flags=maymove,fixed,dontunmap new_addr=0x30000000",
        ),
    ] {
        assert_eq!(parse(line).to_string(), canonical, "{line}");
    }
    // An mlockall with no flag prints `flags=""`, which does not parse back: a line needs one.
    let none = Call::Mlockall(MlockallArgs {
        pid: 5,
        flags: MlockallFlags::default(),
    });
    assert_eq!(line(&none).to_string(), "mlockall pid=5 flags=\"\"");
    assert_einval(
        &line(&none).to_string(),
        &Labels::new(),
        "mlockall: invalid flags=: empty mlockall flag list",
    );
    let words = |set: &[(&'static str, bool)]| -> Vec<&'static str> {
        set.iter().map(|(word, _)| *word).collect()
    };
    assert_eq!(
        words(&mlockall_flag_words(MlockallFlags::default())),
        ["current", "future", "onfault"]
    );
    assert_eq!(
        words(&mmap_flag_words(MmapFlags::default())).last(),
        Some(&"locked")
    );
    assert_eq!(
        verb(&Call::ClearRefs(ClearRefsArgs { pid: 1, value: 1 })),
        "clear_refs"
    );
    assert_eq!(
        verb(&Call::Munlockall(MunlockallArgs { pid: 1 })),
        "munlockall"
    );
}

/// Bad words and missing keys in the new forms: `EINVAL` naming the key and listing what is
/// accepted.
#[test]
fn locking_clear_refs_and_new_words_errors() {
    let cases = [
        (
            "mlock pid=1 addr=0x1000 len=4K flags=future",
            "mlock: invalid flags=: unknown mlock flag \"future\" (expected onfault)",
        ),
        (
            "mlock pid=1 addr=0x1000 len=4K flags=onfault,onfault",
            "mlock: invalid flags=: mlock flag \"onfault\" given twice",
        ),
        (
            "mlock pid=1 addr=0x1000 len=4K flags=\"\"",
            "mlock: invalid flags=: empty mlock flag list",
        ),
        (
            "mlock pid=1 addr=0x1000 len=4K onfault",
            "mlock: unknown flag \"onfault\" (expected pid=, addr=, len=, flags=)",
        ),
        (
            "mlock pid=1 addr=0x1000",
            "mlock: missing required key len=",
        ),
        ("mlock pid=1 len=4K", "mlock: missing required key addr="),
        (
            "mlock addr=0x1000 len=4K",
            "mlock: missing required key pid=",
        ),
        (
            "mlock pid=1 addr=0x1000 len=4k",
            "mlock: invalid len=: number \"4k\" is not decimal, hex (0x...) or K/M/G-suffixed",
        ),
        (
            "munlock pid=1 len=4K",
            "munlock: missing required key addr=",
        ),
        (
            "munlock pid=1 addr=0x1000 len=4K flags=onfault",
            "munlock: unknown key \"flags\" (expected pid=, addr=, len=)",
        ),
        ("mlockall pid=1", "mlockall: missing required key flags="),
        (
            "mlockall flags=current",
            "mlockall: missing required key pid=",
        ),
        (
            "mlockall pid=1 flags=current,now",
            "mlockall: invalid flags=: unknown mlockall flag \"now\" (expected current, future, \
             onfault)",
        ),
        (
            "mlockall pid=1 flags=current,current",
            "mlockall: invalid flags=: mlockall flag \"current\" given twice",
        ),
        (
            "mlockall pid=1 flags=current,,future",
            "mlockall: invalid flags=: empty item in mlockall flag list \"current,,future\"",
        ),
        (
            "mlockall pid=1 current",
            "mlockall: unknown flag \"current\" (expected pid=, flags=)",
        ),
        ("munlockall", "munlockall: missing required key pid="),
        (
            "munlockall pid=1 flags=current",
            "munlockall: unknown key \"flags\" (expected pid=)",
        ),
        (
            "clear_refs pid=1",
            "clear_refs: missing required key value=",
        ),
        (
            "clear_refs value=1",
            "clear_refs: missing required key pid=",
        ),
        (
            "clear_refs pid=1 value",
            "clear_refs: key value= needs a value, as value=...",
        ),
        (
            "clear_refs pid=1 value=0x1",
            "clear_refs: invalid value=: number \"0x1\" is not a decimal integer (an optional - \
             and digits)",
        ),
        (
            "clear_refs pid=1 value=+1",
            "clear_refs: invalid value=: number \"+1\" is not a decimal integer",
        ),
        (
            "clear_refs pid=1 value=-",
            "clear_refs: invalid value=: number \"-\" is not a decimal integer",
        ),
        (
            "clear_refs pid=1 value=4K",
            "clear_refs: invalid value=: number \"4K\" is not a decimal integer",
        ),
        (
            "clear_refs pid=1 value=9223372036854775808",
            "clear_refs: invalid value=: number \"9223372036854775808\" does not fit in 64 bits \
             (min -9223372036854775808, max 9223372036854775807)",
        ),
        (
            "clear_refs pid=1 value=1 value=2",
            "clear_refs: key value= given twice",
        ),
        (
            "clear_refs pid=1 value=1 addr=0x1000",
            "clear_refs: unknown key \"addr\" (expected pid=, value=)",
        ),
        (
            "madvise pid=1 addr=0x1000 len=4K advice=hugepage",
            "madvise: invalid advice=: unknown advice \"hugepage\" (expected dontneed, dontfork, \
             dofork, wipeonfork, keeponfork, dontdump, dodump, free, cold, pageout, \
             populate_read, populate_write, willneed, dontneed_locked)",
        ),
        (
            "madvise pid=1 addr=0x1000 len=4K advice=populate",
            "madvise: invalid advice=: unknown advice \"populate\"",
        ),
        (
            "mmap pid=1 len=4K prot=rw- flags=private,lockd",
            "mmap: invalid flags=: unknown mmap flag \"lockd\" (expected private, shared, \
             anonymous, fixed, fixed_noreplace, populate, noreserve, growsdown, locked)",
        ),
        (
            "mmap pid=1 len=4K prot=rw- flags=private,locked,locked",
            "mmap: invalid flags=: mmap flag \"locked\" given twice",
        ),
        (
            "mremap pid=1 addr=a old_len=1 new_len=2 flags=maymove,dontunmp",
            "mremap: invalid flags=: unknown mremap flag \"dontunmp\" (expected maymove, fixed, \
             dontunmap)",
        ),
        (
            "frobnicate pid=1",
            "unknown command \"frobnicate\" (expected one of spawn, exit, fork, mmap, munmap, \
             mprotect, mremap, madvise, mlock, munlock, mlockall, munlockall, reclaim, migrate, brk, \
             name, touch, clear_refs, oom_score_adj, file, read)",
        ),
        ("Mlock pid=1", "unknown command \"Mlock\""),
    ];
    for (line, want) in cases {
        assert_einval(line, &labels(), want);
    }
    for (line, want) in [
        (
            "mlock pid=1 addr=buf+4K len=4K",
            "mlock: addr=buf+0x1000: unknown label \"buf\" (bind it first",
        ),
        (
            "munlock pid=1 addr=buf len=4K",
            "munlock: addr=buf: unknown label \"buf\"",
        ),
    ] {
        assert_einval(line, &Labels::new(), want);
    }
}

/// A session runs the new forms as calls, a label bound by `mmap ... locked` serving `mlock`
/// and `munlock`.
#[test]
fn a_session_runs_the_locking_forms() {
    let script = "\
mmap pid=1 len=64K prot=rw- flags=private,anonymous,locked as=buf
munlock pid=1 addr=buf len=64K
mlock pid=1 addr=buf+16K len=16K flags=onfault
madvise pid=1 addr=buf len=64K advice=pageout
mlockall pid=1 flags=current,future
munlockall pid=1
clear_refs pid=1 value=-1
";
    let mut machine = Recorder::default();
    let mut session = Session::new();
    let summary = session.run_script(&mut machine, script).unwrap();
    assert_eq!(summary.calls, 7);
    assert_eq!(session.labels().get("buf"), Some(HEAP));
    assert_eq!(
        machine.calls,
        [
            Call::Mmap(MmapArgs {
                pid: 1,
                addr: None,
                len: 64 << 10,
                prot: Prot::RW,
                flags: MmapFlags {
                    locked: true,
                    ..PRIVATE_ANON
                },
                file: None,
                offset: None,
            }),
            Call::Munlock(MunlockArgs {
                pid: 1,
                addr: HEAP,
                len: 64 << 10,
            }),
            Call::Mlock(MlockArgs {
                pid: 1,
                addr: HEAP + (16 << 10),
                len: 16 << 10,
                flags: MlockFlags { onfault: true },
            }),
            Call::Madvise(MadviseArgs {
                pid: 1,
                addr: HEAP,
                len: 64 << 10,
                advice: Advice::PageOut,
            }),
            Call::Mlockall(MlockallArgs {
                pid: 1,
                flags: MlockallFlags {
                    current: true,
                    future: true,
                    onfault: false,
                },
            }),
            Call::Munlockall(MunlockallArgs { pid: 1 }),
            Call::ClearRefs(ClearRefsArgs { pid: 1, value: -1 }),
        ]
    );
}

/// `oom_score_adj pid=N value=V`: any signed 64-bit value parses (the range -1000..=1000 is the
/// machine's EINVAL), keys in either order; the canonical line is `pid` then `value` in signed
/// decimal; it survives print → parse; a session hands it to the machine as one call.
#[test]
fn oom_score_adj_parses_prints_and_runs() {
    let adj = |pid, value| {
        call(OomScoreAdjArgs {
            pid,
            value,
            unprivileged: false,
        })
    };
    for (line, want, canonical) in [
        (
            "oom_score_adj pid=7 value=-500",
            adj(7, -500),
            "oom_score_adj pid=7 value=-500",
        ),
        (
            "oom_score_adj value=1000 pid=7",
            adj(7, 1000),
            "oom_score_adj pid=7 value=1000",
        ),
        (
            "oom_score_adj pid=0x7 value=-1000",
            adj(7, -1000),
            "oom_score_adj pid=7 value=-1000",
        ),
        (
            "oom_score_adj pid=7 value=-0",
            adj(7, 0),
            "oom_score_adj pid=7 value=0",
        ),
        (
            "oom_score_adj pid=7 value=0010",
            adj(7, 10),
            "oom_score_adj pid=7 value=10",
        ),
        // A writer without CAP_SYS_RESOURCE: the flag prints last.
        (
            "oom_score_adj unprivileged pid=7 value=3",
            call(OomScoreAdjArgs {
                pid: 7,
                value: 3,
                unprivileged: true,
            }),
            "oom_score_adj pid=7 value=3 unprivileged",
        ),
        // Out of the kernel's range: parsed all the same, refused when it runs.
        (
            "oom_score_adj pid=7 value=1001",
            adj(7, 1001),
            "oom_score_adj pid=7 value=1001",
        ),
        (
            "oom_score_adj pid=7 value=-9223372036854775808",
            adj(7, i64::MIN),
            "oom_score_adj pid=7 value=-9223372036854775808",
        ),
    ] {
        assert_eq!(parse(line), want, "{line}");
        assert_eq!(want.to_string(), canonical, "{line}");
        assert_round_trip(&want);
    }
    assert_eq!(
        verb(&Call::OomScoreAdj(OomScoreAdjArgs {
            pid: 1,
            value: 0,
            unprivileged: false
        })),
        "oom_score_adj"
    );
    assert_eq!(
        Call::OomScoreAdj(OomScoreAdjArgs {
            pid: 9,
            value: 0,
            unprivileged: true
        })
        .pid(),
        Some(9)
    );

    let mut machine = Recorder::default();
    let mut session = Session::new();
    let summary = session
        .run_script(
            &mut machine,
            "oom_score_adj pid=1 value=-500\noom_score_adj unprivileged value=300 pid=2\n",
        )
        .unwrap();
    assert_eq!(summary.calls, 2);
    assert_eq!(
        machine.calls,
        [
            Call::OomScoreAdj(OomScoreAdjArgs {
                pid: 1,
                value: -500,
                unprivileged: false
            }),
            Call::OomScoreAdj(OomScoreAdjArgs {
                pid: 2,
                value: 300,
                unprivileged: true
            }),
        ]
    );
}

/// Malformed `oom_score_adj` lines: `EINVAL` naming the key, as for `clear_refs` (the value is
/// the language's signed decimal, not the file's `kstrtoint` base 0: no hex, no `+`).
#[test]
fn oom_score_adj_errors() {
    for (line, want) in [
        (
            "oom_score_adj pid=1",
            "oom_score_adj: missing required key value=",
        ),
        (
            "oom_score_adj value=1",
            "oom_score_adj: missing required key pid=",
        ),
        (
            "oom_score_adj pid=1 value",
            "oom_score_adj: key value= needs a value, as value=...",
        ),
        (
            "oom_score_adj pid=1 value=0x10",
            "oom_score_adj: invalid value=: number \"0x10\" is not a decimal integer (an \
             optional - and digits)",
        ),
        (
            "oom_score_adj pid=1 value=+1",
            "oom_score_adj: invalid value=: number \"+1\" is not a decimal integer",
        ),
        (
            "oom_score_adj pid=1 value=1K",
            "oom_score_adj: invalid value=: number \"1K\" is not a decimal integer",
        ),
        (
            "oom_score_adj pid=1 value=9223372036854775808",
            "oom_score_adj: invalid value=: number \"9223372036854775808\" does not fit in 64 \
             bits (min -9223372036854775808, max 9223372036854775807)",
        ),
        (
            "oom_score_adj pid=1 value=1 value=2",
            "oom_score_adj: key value= given twice",
        ),
        (
            "oom_score_adj pid=1 value=1 privileged",
            "oom_score_adj: unknown flag \"privileged\" (expected pid=, value=, unprivileged)",
        ),
        (
            "oom_score_adj pid=1 value=1 uid=0",
            "oom_score_adj: unknown key \"uid\" (expected pid=, value=, unprivileged)",
        ),
        (
            "oom_score_adj pid=-1 value=1",
            "oom_score_adj: invalid pid=: number \"-1\" is not decimal",
        ),
        ("oom_adj pid=1 value=1", "unknown command \"oom_adj\""),
    ] {
        assert_einval(line, &labels(), want);
    }
}
