//! Property tests: every typed [`Call`] prints to a canonical line ([`line`]) that parses back
//! to it, every [`Command`] (a call with its `as=` label, or a `read`) too; the order of the
//! arguments and the blanks between them do not matter; a label plus an offset resolves to the
//! same call as the absolute address; and no input makes the parser panic.

use anonmap_abi::{
    Access, Advice, BrkArgs, Call, ClearRefsArgs, ExitArgs, FileArgs, ForkArgs, MadviseArgs,
    MigrateArgs, MlockArgs, MlockFlags, MlockallArgs, MlockallFlags, MmapArgs, MmapFlags,
    MprotectArgs, MremapArgs, MremapFlags, MunlockArgs, MunlockallArgs, MunmapArgs, NameArgs,
    OomScoreAdjArgs, Prot, ReclaimArgs, SpawnArgs, TouchArgs,
};
use proptest::prelude::*;

use super::*;

const CASES: u32 = 4000;

/// Strings as names, `comm=` and paths: often bare-safe, often full of spaces, quotes,
/// backslashes, `#`, `=` and non-ASCII characters.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_./:@+-]{1,12}",
        "[ -~]{0,16}",
        "[ \"\\\\/:=#a-z\u{e9}\u{a0}\u{2603}]{0,12}",
    ]
}

fn label() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_.-]{0,10}"
}

fn number() -> impl Strategy<Value = u64> {
    prop_oneof![any::<u64>(), 0..=0x10_0000u64, Just(0), Just(u64::MAX)]
}

/// The `value=` of `clear_refs`: often the kernel's 1 to 5, often near them, negative or not.
fn signed() -> impl Strategy<Value = i64> {
    prop_oneof![any::<i64>(), -10..=10i64, Just(i64::MIN), Just(i64::MAX)]
}

/// The `value=` of `oom_score_adj`: often in the kernel's -1000..=1000, often just outside it.
fn adj() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        -1000..=1000i64,
        -1010..=-990i64,
        990..=1010i64,
        Just(i64::MIN),
        Just(i64::MAX)
    ]
}

fn prot() -> impl Strategy<Value = Prot> {
    any::<[bool; 3]>().prop_map(|[read, write, exec]| Prot { read, write, exec })
}

/// Non-empty: an `mmap` line must have at least one flag.
fn mmap_flags() -> impl Strategy<Value = MmapFlags> {
    any::<[bool; 9]>()
        .prop_filter("at least one flag", |f| f.contains(&true))
        .prop_map(|f| MmapFlags {
            private: f[0],
            shared: f[1],
            anonymous: f[2],
            fixed: f[3],
            fixed_noreplace: f[4],
            populate: f[5],
            noreserve: f[6],
            growsdown: f[7],
            locked: f[8],
        })
}

fn mremap_flags() -> impl Strategy<Value = MremapFlags> {
    any::<[bool; 3]>().prop_map(|[maymove, fixed, dontunmap]| MremapFlags {
        maymove,
        fixed,
        dontunmap,
    })
}

fn mlock_flags() -> impl Strategy<Value = MlockFlags> {
    any::<bool>().prop_map(|onfault| MlockFlags { onfault })
}

/// Non-empty: an `mlockall` line must have at least one flag.
fn mlockall_flags() -> impl Strategy<Value = MlockallFlags> {
    any::<[bool; 3]>()
        .prop_filter("at least one flag", |f| f.contains(&true))
        .prop_map(|[current, future, onfault]| MlockallFlags {
            current,
            future,
            onfault,
        })
}

fn advice() -> impl Strategy<Value = Advice> {
    proptest::sample::select(Advice::ALL.to_vec())
}

fn access() -> impl Strategy<Value = Access> {
    prop_oneof![Just(Access::Read), Just(Access::Write)]
}

fn pid() -> impl Strategy<Value = u32> {
    any::<u32>()
}

/// Any call with a required `addr=` (the ones a label can stand in for).
fn addr_call() -> impl Strategy<Value = Call> {
    prop_oneof![
        (pid(), number(), number()).prop_map(|(pid, addr, len)| Call::Munmap(MunmapArgs {
            pid,
            addr,
            len
        })),
        (pid(), number(), number()).prop_map(|(pid, addr, len)| Call::Reclaim(ReclaimArgs {
            pid,
            addr,
            len
        })),
        (pid(), number(), number()).prop_map(|(pid, addr, len)| Call::Migrate(MigrateArgs {
            pid,
            addr,
            len
        })),
        (pid(), number(), number(), prot()).prop_map(|(pid, addr, len, prot)| {
            Call::Mprotect(MprotectArgs {
                pid,
                addr,
                len,
                prot,
            })
        }),
        (
            pid(),
            number(),
            number(),
            number(),
            mremap_flags(),
            proptest::option::of(number()),
        )
            .prop_map(|(pid, addr, old_len, new_len, flags, new_addr)| {
                Call::Mremap(MremapArgs {
                    pid,
                    addr,
                    old_len,
                    new_len,
                    flags,
                    new_addr,
                })
            }),
        (pid(), number(), number(), advice()).prop_map(|(pid, addr, len, advice)| {
            Call::Madvise(MadviseArgs {
                pid,
                addr,
                len,
                advice,
            })
        }),
        (pid(), number(), number(), proptest::option::of(text())).prop_map(
            |(pid, addr, len, name)| Call::Name(NameArgs {
                pid,
                addr,
                len,
                name,
            })
        ),
        (pid(), number(), number(), access()).prop_map(|(pid, addr, len, access)| {
            Call::Touch(TouchArgs {
                pid,
                addr,
                len,
                access,
            })
        }),
        (pid(), number(), number(), mlock_flags()).prop_map(|(pid, addr, len, flags)| {
            Call::Mlock(MlockArgs {
                pid,
                addr,
                len,
                flags,
            })
        }),
        (pid(), number(), number()).prop_map(|(pid, addr, len)| Call::Munlock(MunlockArgs {
            pid,
            addr,
            len
        })),
    ]
}

/// Any call of the machine.
fn call() -> impl Strategy<Value = Call> {
    prop_oneof![
        1 => (
            proptest::option::of(pid()),
            proptest::option::of(text()),
            proptest::option::of(pid()),
            proptest::option::of(number()),
            any::<bool>()
        )
            .prop_map(|(pid, comm, uid, start_brk, bare)| Call::Spawn(SpawnArgs {
                pid,
                comm,
                uid,
                start_brk,
                bare
            })),
        1 => pid().prop_map(|pid| Call::Exit(ExitArgs { pid })),
        1 => (pid(), proptest::option::of(pid()))
            .prop_map(|(pid, child)| Call::Fork(ForkArgs { pid, child })),
        1 => (
            pid(),
            proptest::option::of(number()),
            number(),
            prot(),
            mmap_flags(),
            proptest::option::of(text()),
            proptest::option::of(number()),
        )
            .prop_map(|(pid, addr, len, prot, flags, file, offset)| {
                Call::Mmap(MmapArgs {
                    pid,
                    addr,
                    len,
                    prot,
                    flags,
                    file,
                    offset,
                })
            }),
        1 => (pid(), proptest::option::of(number()))
            .prop_map(|(pid, addr)| Call::Brk(BrkArgs { pid, addr })),
        1 => (text(), number()).prop_map(|(path, size)| Call::File(FileArgs { path, size })),
        1 => (pid(), mlockall_flags())
            .prop_map(|(pid, flags)| Call::Mlockall(MlockallArgs { pid, flags })),
        1 => pid().prop_map(|pid| Call::Munlockall(MunlockallArgs { pid })),
        1 => (pid(), signed())
            .prop_map(|(pid, value)| Call::ClearRefs(ClearRefsArgs { pid, value })),
        1 => (pid(), adj(), any::<bool>()).prop_map(|(pid, value, unprivileged)| {
            Call::OomScoreAdj(OomScoreAdjArgs {
                pid,
                value,
                unprivileged,
            })
        }),
        // Ten of the twenty calls take a required address.
        10 => addr_call(),
    ]
}

/// Any command: a call, with an `as=` label where the call takes one, or a `read`.
fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        6 => (call(), proptest::option::of(label())).prop_map(|(call, bind)| {
            let bind = bind.filter(|_| matches!(call, Call::Mmap(_) | Call::Mremap(_)));
            Command::Call { call, bind }
        }),
        1 => (
            text(),
            proptest::option::of(number()),
            proptest::option::of(number())
        )
            .prop_map(|(path, offset, len)| Command::Read { path, offset, len }),
    ]
}

/// How [`mutated`] damages one word of a canonical line.
#[derive(Debug, Clone)]
enum Mutation {
    Drop,
    Duplicate,
    Insert(String),
    Cut(proptest::sample::Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let junk = prop_oneof![
        proptest::sample::select(vec![
            "pid=1",
            "bare",
            "brk=0x1000",
            "clear",
            "addr=heap+4K",
            "len=4K",
            "prot=rw-",
            "flags=private",
            "as=x",
            "name=\"a b\"",
            "access=read",
            "advice=dontneed",
            "advice=free",
            "flags=onfault",
            "flags=current,future",
            "flags=maymove,dontunmap",
            "flags=private,locked",
            "value=-1",
            "value=7",
            "value=-1000",
            "-",
            "-0",
            "path=a",
            "size=1",
            "pid=",
            "=",
            "\"",
            "\\",
            "\\\"",
            "#",
            ",",
            "+",
            "\r",
            "\n",
            "\0",
            "\t",
            "\u{e9}",
            "0x",
            "ffffffffffffffffff",
            "G",
            "rwz",
            "PID=1",
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,4}",
    ];
    prop_oneof![
        Just(Mutation::Drop),
        Just(Mutation::Duplicate),
        junk.prop_map(Mutation::Insert),
        any::<proptest::sample::Index>().prop_map(Mutation::Cut),
    ]
}

/// A canonical line with a few words dropped, duplicated, cut short or inserted: near misses
/// that mostly fail to parse, and some that still do.
fn mutated() -> impl Strategy<Value = String> {
    (
        command(),
        proptest::collection::vec((any::<proptest::sample::Index>(), mutation()), 0..3),
    )
        .prop_map(|(command, mutations)| {
            let mut words = words(&command.to_string());
            for (at, mutation) in mutations {
                let i = at.index(words.len());
                match mutation {
                    Mutation::Drop => {
                        words.remove(i);
                    }
                    Mutation::Duplicate => words.insert(i, words[i].clone()),
                    Mutation::Insert(junk) => words.insert(i, junk),
                    Mutation::Cut(cut) => {
                        let word = &words[i];
                        let n = cut.index(word.chars().count() + 1);
                        words[i] = word.chars().take(n).collect();
                    }
                }
                if words.is_empty() {
                    break;
                }
            }
            words.join(" ")
        })
}

/// Splits a canonical line into its words (a quoted value with its blanks is one word).
fn words(line: &str) -> Vec<String> {
    let mut words = vec![String::new()];
    let (mut quoted, mut escaped) = (false, false);
    for c in line.chars() {
        if c == ' ' && !quoted {
            words.push(String::new());
            continue;
        }
        if let Some(word) = words.last_mut() {
            word.push(c);
        }
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        }
    }
    words
}

/// A canonical line with its arguments in another order, blanks of other widths and line ends.
fn reordered(command: Command) -> impl Strategy<Value = (Command, String)> {
    let mut words = words(&command.to_string());
    let verb = words.remove(0);
    (
        Just(words).prop_shuffle(),
        proptest::collection::vec(proptest::sample::select(vec![" ", "\t", "  \t"]), 9),
        proptest::sample::select(vec!["", " ", "\r\n", "\t\n"]),
    )
        .prop_map(move |(words, seps, end)| {
            let mut line = format!("{}{verb}", seps[8]);
            for (word, sep) in words.iter().zip(seps) {
                line.push_str(sep);
                line.push_str(word);
            }
            line.push_str(end);
            (command.clone(), line)
        })
}

/// A call with a required address, a label bound to a base at or below that address, and the
/// call's canonical line with `addr=0x...` rewritten as `addr=LABEL+0x(addr-base)` (`addr=LABEL`
/// when the offset is 0).
fn labeled() -> impl Strategy<Value = (Call, Labels, String)> {
    (addr_call(), label(), any::<bool>())
        .prop_flat_map(|(call, label, at_addr)| {
            let addr = required_addr(&call);
            // Often exactly at the address, to exercise the bare `addr=LABEL` form.
            let base = if at_addr {
                Just(addr).boxed()
            } else {
                (0..=addr).boxed()
            };
            (Just(call), Just(label), base)
        })
        .prop_map(|(call, label, base)| {
            let addr = required_addr(&call);
            let offset = addr - base;
            let written = if offset == 0 {
                format!("addr={label}")
            } else {
                format!("addr={label}+{offset:#x}")
            };
            let canonical = format!("addr={addr:#x}");
            let words: Vec<String> = words(&line(&call).to_string())
                .into_iter()
                .map(|w| if w == canonical { written.clone() } else { w })
                .collect();
            let mut labels = Labels::new();
            labels.bind(label, base);
            (call, labels, words.join(" "))
        })
}

/// The `addr=` of a call that requires one.
fn required_addr(call: &Call) -> u64 {
    match call {
        Call::Munmap(MunmapArgs { addr, .. })
        | Call::Reclaim(ReclaimArgs { addr, .. })
        | Call::Migrate(MigrateArgs { addr, .. })
        | Call::Mprotect(MprotectArgs { addr, .. })
        | Call::Mremap(MremapArgs { addr, .. })
        | Call::Madvise(MadviseArgs { addr, .. })
        | Call::Name(NameArgs { addr, .. })
        | Call::Touch(TouchArgs { addr, .. })
        | Call::Mlock(MlockArgs { addr, .. })
        | Call::Munlock(MunlockArgs { addr, .. }) => *addr,
        other => panic!("{other:?} has no required addr="),
    }
}

/// The labels [`check_canonical`] parses against, so that junk such as `addr=heap+4K` can parse.
fn junk_labels() -> Labels {
    let mut labels = Labels::new();
    labels.bind("heap", 0x7000_0000_0000);
    labels.bind("x", 0x2000_0000);
    labels
}

/// If `line` parses, its canonical form parses (with no labels: they are resolved) to the same
/// command and prints the same.
fn check_canonical(line: &str) -> Result<(), TestCaseError> {
    if let Ok(Some(command)) = parse_line(line, &junk_labels()) {
        let printed = command.to_string();
        let reparsed = parse_line(&printed, &Labels::new());
        prop_assert_eq!(&reparsed, &Ok(Some(command)), "{:?} -> {:?}", line, printed);
        if let Ok(Some(again)) = reparsed {
            prop_assert_eq!(again.to_string(), printed);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn calls_round_trip(call in call()) {
        let printed = line(&call).to_string();
        prop_assert_eq!(
            parse_line(&printed, &Labels::new()),
            Ok(Some(Command::Call { call: call.clone(), bind: None })),
            "{}",
            printed
        );
        prop_assert_eq!(parse_call(&printed), Ok(call), "{}", printed);
    }

    #[test]
    fn commands_round_trip(command in command()) {
        let printed = command.to_string();
        prop_assert_eq!(parse_line(&printed, &Labels::new()), Ok(Some(command)), "{}", printed);
    }

    #[test]
    fn argument_order_and_blanks_do_not_matter(
        (command, line) in command().prop_flat_map(reordered)
    ) {
        prop_assert_eq!(parse_line(&line, &Labels::new()), Ok(Some(command)), "{:?}", line);
    }

    #[test]
    fn labels_resolve_to_the_same_call((call, labels, written) in labeled()) {
        // The address is written with the label, not as the canonical number.
        prop_assert_ne!(&written, &line(&call).to_string());
        prop_assert_eq!(
            parse_line(&written, &labels),
            Ok(Some(Command::Call { call, bind: None })),
            "{:?} with {:?}",
            written,
            labels
        );
    }

    #[test]
    fn arbitrary_strings_never_panic(line in any::<String>()) {
        check_canonical(&line)?;
    }

    #[test]
    fn near_misses_never_panic_and_reprint_canonically(line in mutated()) {
        check_canonical(&line)?;
    }
}
