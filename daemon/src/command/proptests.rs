//! Property tests: every op prints to a line that parses back to it (`Op<Addr>` directly,
//! `Op<u64>` directly and through the conversion), and no input makes the parser panic.

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

fn addr() -> impl Strategy<Value = Addr> {
    prop_oneof![
        number().prop_map(Addr::Abs),
        (label(), number()).prop_map(|(label, offset)| Addr::Label { label, offset }),
        label().prop_map(|label| Addr::Label { label, offset: 0 }),
    ]
}

fn prot() -> impl Strategy<Value = Prot> {
    any::<[bool; 3]>().prop_map(|[read, write, exec]| Prot { read, write, exec })
}

/// Non-empty: an `mmap` line must have at least one flag.
fn mmap_flags() -> impl Strategy<Value = MmapFlags> {
    any::<[bool; 8]>()
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
        })
}

fn mremap_flags() -> impl Strategy<Value = MremapFlags> {
    any::<[bool; 2]>().prop_map(|[maymove, fixed]| MremapFlags { maymove, fixed })
}

fn advice() -> impl Strategy<Value = Advice> {
    proptest::sample::select(Advice::ALL.to_vec())
}

fn access() -> impl Strategy<Value = Access> {
    prop_oneof![Just(Access::Read), Just(Access::Write)]
}

/// Any op whose addresses come from `addr`.
fn op<A: Clone + std::fmt::Debug + 'static>(
    addr: impl Strategy<Value = A> + Clone + 'static,
) -> impl Strategy<Value = Op<A>> {
    let pid = any::<u32>;
    prop_oneof![
        (
            proptest::option::of(pid()),
            proptest::option::of(text()),
            proptest::option::of(pid()),
            proptest::option::of(number()),
            any::<bool>()
        )
            .prop_map(|(pid, comm, uid, start_brk, bare)| Op::Spawn {
                pid,
                comm,
                uid,
                start_brk,
                bare
            }),
        pid().prop_map(|pid| Op::Exit { pid }),
        (pid(), proptest::option::of(pid())).prop_map(|(pid, child)| Op::Fork { pid, child }),
        (
            pid(),
            proptest::option::of(addr.clone()),
            number(),
            prot(),
            mmap_flags(),
            proptest::option::of(text()),
            proptest::option::of(number()),
            proptest::option::of(label()),
        )
            .prop_map(
                |(pid, addr, len, prot, flags, file, offset, label)| Op::Mmap {
                    pid,
                    addr,
                    len,
                    prot,
                    flags,
                    file,
                    offset,
                    label,
                }
            ),
        (pid(), addr.clone(), number()).prop_map(|(pid, addr, len)| Op::Munmap { pid, addr, len }),
        (pid(), addr.clone(), number()).prop_map(|(pid, addr, len)| Op::Reclaim { pid, addr, len }),
        (pid(), addr.clone(), number(), prot()).prop_map(|(pid, addr, len, prot)| {
            Op::Mprotect {
                pid,
                addr,
                len,
                prot,
            }
        }),
        (
            pid(),
            addr.clone(),
            number(),
            number(),
            mremap_flags(),
            proptest::option::of(addr.clone()),
            proptest::option::of(label()),
        )
            .prop_map(
                |(pid, addr, old_len, new_len, flags, new_addr, label)| Op::Mremap {
                    pid,
                    addr,
                    old_len,
                    new_len,
                    flags,
                    new_addr,
                    label,
                }
            ),
        (pid(), addr.clone(), number(), advice()).prop_map(|(pid, addr, len, advice)| {
            Op::Madvise {
                pid,
                addr,
                len,
                advice,
            }
        }),
        (pid(), proptest::option::of(addr.clone())).prop_map(|(pid, addr)| Op::Brk { pid, addr }),
        (pid(), addr.clone(), number(), proptest::option::of(text())).prop_map(
            |(pid, addr, len, name)| Op::Name {
                pid,
                addr,
                len,
                name,
            }
        ),
        (pid(), addr, number(), access()).prop_map(|(pid, addr, len, access)| Op::Touch {
            pid,
            addr,
            len,
            access,
        }),
        (text(), number()).prop_map(|(path, size)| Op::File { path, size }),
        text().prop_map(|path| Op::Read { path }),
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
        op(addr().boxed()),
        proptest::collection::vec((any::<proptest::sample::Index>(), mutation()), 0..3),
    )
        .prop_map(|(op, mutations)| {
            let mut words = words(&op.to_string());
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
fn reordered(op: Op<Addr>) -> impl Strategy<Value = (Op<Addr>, String)> {
    let mut words = words(&op.to_string());
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
            (op.clone(), line)
        })
}

/// If `line` parses, its canonical form parses to the same op and prints the same.
fn check_canonical(line: &str) -> Result<(), TestCaseError> {
    if let Ok(Some(op)) = parse_line(line) {
        let printed = op.to_string();
        prop_assert_eq!(
            parse_line(&printed),
            Ok(Some(op)),
            "{:?} -> {:?}",
            line,
            printed
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn addr_ops_round_trip(op in op(addr().boxed())) {
        let line = op.to_string();
        prop_assert_eq!(parse_line(&line), Ok(Some(op)), "{}", line);
    }

    #[test]
    fn resolved_ops_round_trip(op in op(number().boxed())) {
        let addr_form = Op::<Addr>::from(op.clone());
        let line = op.to_string();
        prop_assert_eq!(&addr_form.to_string(), &line);
        let parsed = parse_line(&line);
        prop_assert_eq!(&parsed, &Ok(Some(addr_form)), "{}", line);
        let resolved = parsed.ok().flatten().map(|op| op.resolve(&Labels::new()));
        prop_assert_eq!(resolved, Some(Ok(op)));
    }

    #[test]
    fn argument_order_and_blanks_do_not_matter(
        (op, line) in op(addr().boxed()).prop_flat_map(reordered)
    ) {
        prop_assert_eq!(parse_line(&line), Ok(Some(op)), "{:?}", line);
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
