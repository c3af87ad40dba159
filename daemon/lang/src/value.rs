//! Values of the command language: numbers, signed integers, addresses and labels, `prot=`,
//! `flags=`, `advice=` and `access=`, read into the ABI's types (and, for the word lists,
//! printed back).
//!
//! Grammar (each failure is `EINVAL` with a message quoting the offending text):
//! - number: decimal digits (`4096`), `0x` or `0X` followed by hex digits in either case
//!   (`0x7fFF`), or decimal digits followed by one binary suffix `K` (2^10), `M` (2^20) or `G`
//!   (2^30), uppercase only (`64K`). A suffix on a hex number (`0x10K`), signs, underscores and
//!   empty digit strings are rejected; so is any value that does not fit in 64 bits.
//! - signed integer (`value=` of `clear_refs` and `oom_score_adj`): an optional `-` followed
//!   by decimal digits (`-1`, `0`, `7`), in the range of an `i64`. No `+`, hex or suffix.
//! - label: `[A-Za-z_][A-Za-z0-9_.-]*`. A label cannot start with a digit, so a word that starts
//!   with a digit is always read as a number.
//! - address: a number, `LABEL`, or `LABEL+OFFSET` where OFFSET is a number in any form
//!   (`heap+4M`, `stack+0x1000`).
//! - `prot=`: exactly three characters `r|-`, `w|-`, `x|-`.
//! - `flags=`: a non-empty comma list of distinct flag words, no empty items.

use anonmap_abi::{
    err, Access, Advice, Error, MlockFlags, MlockallFlags, MmapFlags, MremapFlags, Prot,
};

use crate::labels::Addr;

/// Parses a number: decimal, `0x` hex, or decimal with a `K`/`M`/`G` binary suffix.
pub fn parse_number(s: &str) -> Result<u64, Error> {
    let malformed = || {
        err!(
            EINVAL,
            "number {s:?} is not decimal, hex (0x...) or K/M/G-suffixed"
        )
    };
    let overflow = || err!(EINVAL, "number {s:?} does not fit in 64 bits");
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malformed());
        }
        return u64::from_str_radix(hex, 16).map_err(|_| overflow());
    }
    let (digits, shift) = match s.as_bytes().last() {
        Some(b'K') => (&s[..s.len() - 1], 10),
        Some(b'M') => (&s[..s.len() - 1], 20),
        Some(b'G') => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    let n: u64 = digits.parse().map_err(|_| overflow())?;
    n.checked_mul(1 << shift).ok_or_else(overflow)
}

/// Parses a signed decimal integer: an optional `-` and decimal digits, fitting in an `i64`.
pub fn parse_signed(s: &str) -> Result<i64, Error> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err!(
            EINVAL,
            "number {s:?} is not a decimal integer (an optional - and digits)"
        ));
    }
    s.parse().map_err(|_| {
        err!(
            EINVAL,
            "number {s:?} does not fit in 64 bits (min {}, max {})",
            i64::MIN,
            i64::MAX
        )
    })
}

/// Parses a number that must fit in 32 bits (pids, uids).
pub(crate) fn parse_u32(s: &str) -> Result<u32, Error> {
    let n = parse_number(s)?;
    u32::try_from(n).map_err(|_| {
        err!(
            EINVAL,
            "number {s:?} does not fit in 32 bits (max 4294967295)"
        )
    })
}

/// Whether `s` is a label: `[A-Za-z_][A-Za-z0-9_.-]*`.
pub fn is_label(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Parses the value of `as=`: a label.
pub(crate) fn parse_label(s: &str) -> Result<String, Error> {
    if is_label(s) {
        Ok(s.to_owned())
    } else {
        Err(err!(
            EINVAL,
            "label {s:?} is not of the form [A-Za-z_][A-Za-z0-9_.-]*"
        ))
    }
}

/// Parses an address: a number, `LABEL` or `LABEL+OFFSET`.
pub fn parse_addr(s: &str) -> Result<Addr, Error> {
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        return parse_number(s).map(Addr::Abs);
    }
    let (label, offset) = match s.split_once('+') {
        Some((label, offset)) => (label, Some(offset)),
        None => (s, None),
    };
    if !is_label(label) {
        return Err(err!(
            EINVAL,
            "address {s:?} is neither a number nor LABEL[+OFFSET] (a label is \
             [A-Za-z_][A-Za-z0-9_.-]*)"
        ));
    }
    let offset = match offset {
        Some(offset) => parse_number(offset)
            .map_err(|e| err!(EINVAL, "offset of address {s:?}: {}", e.message))?,
        None => 0,
    };
    Ok(Addr::Label {
        label: label.to_owned(),
        offset,
    })
}

/// Parses `prot=`: three characters `r|-`, `w|-`, `x|-`.
pub fn parse_prot(s: &str) -> Result<Prot, Error> {
    match s.as_bytes() {
        [r @ (b'r' | b'-'), w @ (b'w' | b'-'), x @ (b'x' | b'-')] => Ok(Prot {
            read: *r == b'r',
            write: *w == b'w',
            exec: *x == b'x',
        }),
        _ => Err(err!(
            EINVAL,
            "expected 3 characters r|-, w|-, x|-, got {s:?}"
        )),
    }
}

/// Parses a comma list of the flag words `words` (`kind` names the list in messages) into
/// which of them are set.
fn parse_flag_list<const N: usize>(
    s: &str,
    kind: &str,
    words: [&str; N],
) -> Result<[bool; N], Error> {
    if s.is_empty() {
        return Err(err!(EINVAL, "empty {kind} flag list"));
    }
    let mut set = [false; N];
    for item in s.split(',') {
        if item.is_empty() {
            return Err(err!(EINVAL, "empty item in {kind} flag list {s:?}"));
        }
        let Some(i) = words.iter().position(|w| *w == item) else {
            return Err(err!(
                EINVAL,
                "unknown {kind} flag {item:?} (expected {})",
                words.join(", ")
            ));
        };
        if set[i] {
            return Err(err!(EINVAL, "{kind} flag {item:?} given twice"));
        }
        set[i] = true;
    }
    Ok(set)
}

/// The `mmap` flag words, in canonical order.
const MMAP_FLAG_WORDS: [&str; 9] = [
    "private",
    "shared",
    "anonymous",
    "fixed",
    "fixed_noreplace",
    "populate",
    "noreserve",
    "growsdown",
    "locked",
];

/// The `mremap` flag words, in canonical order.
const MREMAP_FLAG_WORDS: [&str; 3] = ["maymove", "fixed", "dontunmap"];

/// The `mlock` flag words, in canonical order.
const MLOCK_FLAG_WORDS: [&str; 1] = ["onfault"];

/// The `mlockall` flag words, in canonical order.
const MLOCKALL_FLAG_WORDS: [&str; 3] = ["current", "future", "onfault"];

/// Each `mmap` flag word in canonical order, with whether it is set in `f`.
pub fn mmap_flag_words(f: MmapFlags) -> [(&'static str, bool); 9] {
    let set = [
        f.private,
        f.shared,
        f.anonymous,
        f.fixed,
        f.fixed_noreplace,
        f.populate,
        f.noreserve,
        f.growsdown,
        f.locked,
    ];
    std::array::from_fn(|i| (MMAP_FLAG_WORDS[i], set[i]))
}

/// Parses the `flags=` of `mmap`.
pub fn parse_mmap_flags(s: &str) -> Result<MmapFlags, Error> {
    let [private, shared, anonymous, fixed, fixed_noreplace, populate, noreserve, growsdown, locked] =
        parse_flag_list(s, "mmap", MMAP_FLAG_WORDS)?;
    Ok(MmapFlags {
        private,
        shared,
        anonymous,
        fixed,
        fixed_noreplace,
        populate,
        noreserve,
        growsdown,
        locked,
    })
}

/// Each `mremap` flag word in canonical order, with whether it is set in `f`.
pub fn mremap_flag_words(f: MremapFlags) -> [(&'static str, bool); 3] {
    let set = [f.maymove, f.fixed, f.dontunmap];
    std::array::from_fn(|i| (MREMAP_FLAG_WORDS[i], set[i]))
}

/// Parses the `flags=` of `mremap`.
pub fn parse_mremap_flags(s: &str) -> Result<MremapFlags, Error> {
    let [maymove, fixed, dontunmap] = parse_flag_list(s, "mremap", MREMAP_FLAG_WORDS)?;
    Ok(MremapFlags {
        maymove,
        fixed,
        dontunmap,
    })
}

/// Each `mlock` flag word in canonical order, with whether it is set in `f`.
pub fn mlock_flag_words(f: MlockFlags) -> [(&'static str, bool); 1] {
    [(MLOCK_FLAG_WORDS[0], f.onfault)]
}

/// Parses the `flags=` of `mlock`.
pub fn parse_mlock_flags(s: &str) -> Result<MlockFlags, Error> {
    let [onfault] = parse_flag_list(s, "mlock", MLOCK_FLAG_WORDS)?;
    Ok(MlockFlags { onfault })
}

/// Each `mlockall` flag word in canonical order, with whether it is set in `f`.
pub fn mlockall_flag_words(f: MlockallFlags) -> [(&'static str, bool); 3] {
    let set = [f.current, f.future, f.onfault];
    std::array::from_fn(|i| (MLOCKALL_FLAG_WORDS[i], set[i]))
}

/// Parses the `flags=` of `mlockall`: any non-empty set of its words (which combinations are
/// valid is the simulator's EINVAL, as it is the kernel's).
pub fn parse_mlockall_flags(s: &str) -> Result<MlockallFlags, Error> {
    let [current, future, onfault] = parse_flag_list(s, "mlockall", MLOCKALL_FLAG_WORDS)?;
    Ok(MlockallFlags {
        current,
        future,
        onfault,
    })
}

/// Parses `advice=`: an advice's name ([`Advice::name`]).
pub fn parse_advice(s: &str) -> Result<Advice, Error> {
    Advice::ALL
        .into_iter()
        .find(|a| a.name() == s)
        .ok_or_else(|| {
            let words: Vec<&str> = Advice::ALL.iter().map(|a| a.name()).collect();
            err!(
                EINVAL,
                "unknown advice {s:?} (expected {})",
                words.join(", ")
            )
        })
}

/// The word after `access=`.
pub fn access_word(a: Access) -> &'static str {
    match a {
        Access::Read => "read",
        Access::Write => "write",
    }
}

/// Parses `access=`: `read` or `write`.
pub fn parse_access(s: &str) -> Result<Access, Error> {
    match s {
        "read" => Ok(Access::Read),
        "write" => Ok(Access::Write),
        _ => Err(err!(
            EINVAL,
            "unknown access {s:?} (expected read or write)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let ok = [
            ("0", 0),
            ("4096", 4096),
            ("007", 7),
            ("0x1000", 0x1000),
            ("0XaBcD", 0xabcd),
            ("0x0000000000000000000001", 1),
            ("64K", 65536),
            ("64M", 64 << 20),
            ("3G", 3 << 30),
            ("0K", 0),
            ("18446744073709551615", u64::MAX),
            ("0xffffffffffffffff", u64::MAX),
            ("17179869183G", 17179869183 << 30),
        ];
        for (s, n) in ok {
            assert_eq!(parse_number(s), Ok(n), "{s}");
        }
        let malformed = [
            "", "0x", "0xzz", "0x10K", "64k", "64KB", "K", "-1", "+1", "1_000", " 1", "1.5", "٣",
        ];
        for s in malformed {
            let e = parse_number(s).unwrap_err();
            assert_eq!(
                e.message,
                format!("number {s:?} is not decimal, hex (0x...) or K/M/G-suffixed")
            );
        }
        for s in [
            "18446744073709551616",
            "0x10000000000000000",
            "17179869184G",
            "99999999999999999999K",
        ] {
            let e = parse_number(s).unwrap_err();
            assert_eq!(e.message, format!("number {s:?} does not fit in 64 bits"));
        }
        assert_eq!(parse_u32("4294967295"), Ok(u32::MAX));
        assert!(parse_u32("4G").unwrap_err().message.contains("\"4G\""));
    }

    #[test]
    fn signed_integers() {
        let ok = [
            ("0", 0),
            ("-0", 0),
            ("7", 7),
            ("-1", -1),
            ("007", 7),
            ("-9223372036854775808", i64::MIN),
            ("9223372036854775807", i64::MAX),
        ];
        for (s, n) in ok {
            assert_eq!(parse_signed(s), Ok(n), "{s}");
        }
        for s in ["", "-", "+1", "--1", "0x10", "4K", "1-", " 1", "1.5", "-a"] {
            let e = parse_signed(s).unwrap_err();
            assert_eq!(
                e.message,
                format!("number {s:?} is not a decimal integer (an optional - and digits)")
            );
        }
        for s in ["9223372036854775808", "-9223372036854775809"] {
            let e = parse_signed(s).unwrap_err();
            assert_eq!(
                e.message,
                format!(
                    "number {s:?} does not fit in 64 bits (min -9223372036854775808, max \
                     9223372036854775807)"
                )
            );
        }
    }

    #[test]
    fn labels_and_addresses() {
        for s in ["heap", "_", "A.b-c_9", "x1"] {
            assert!(is_label(s), "{s}");
        }
        for s in ["", "1a", "-a", ".a", "a+b", "a b", "é", "a/b"] {
            assert!(!is_label(s), "{s}");
        }
        let label = |l: &str, offset| Addr::Label {
            label: l.to_owned(),
            offset,
        };
        assert_eq!(parse_addr("0x1000"), Ok(Addr::Abs(0x1000)));
        assert_eq!(parse_addr("4K"), Ok(Addr::Abs(4096)));
        assert_eq!(parse_addr("heap"), Ok(label("heap", 0)));
        assert_eq!(parse_addr("heap+4M"), Ok(label("heap", 4 << 20)));
        assert_eq!(parse_addr("heap+0x10"), Ok(label("heap", 16)));
        assert_eq!(parse_addr("a.b-c+7"), Ok(label("a.b-c", 7)));
        let bad = [
            ("heap+", "offset of address \"heap+\""),
            ("heap+zz", "number \"zz\""),
            ("heap+1+2", "number \"1+2\""),
            ("1heap", "number \"1heap\""),
            ("0x1000+4K", "number \"0x1000+4K\""),
            ("+4K", "address \"+4K\" is neither"),
            ("he ap", "address \"he ap\" is neither"),
        ];
        for (s, want) in bad {
            let e = parse_addr(s).unwrap_err();
            assert!(e.message.contains(want), "{s}: {e}");
        }
    }

    #[test]
    fn prot_flags_advice_access() {
        assert_eq!(parse_prot("rw-"), Ok(Prot::RW));
        assert_eq!(parse_prot("---"), Ok(Prot::NONE));
        for s in ["rwz", "rw", "rw--", "wr-", "", "RW-"] {
            let e = parse_prot(s).unwrap_err();
            assert_eq!(
                e.message,
                format!("expected 3 characters r|-, w|-, x|-, got {s:?}")
            );
        }
        let f = parse_mmap_flags("growsdown,private").unwrap();
        assert!(f.private && f.growsdown && !f.shared);
        for (s, want) in [
            ("", "empty"),
            ("private,,fixed", "empty item"),
            ("private,privat", "unknown mmap flag \"privat\""),
            ("fixed,private,fixed", "\"fixed\" given twice"),
        ] {
            let e = parse_mmap_flags(s).unwrap_err();
            assert!(e.message.contains(want), "{s:?}: {e}");
        }
        let f = parse_mmap_flags("locked,private,anonymous").unwrap();
        assert!(f.private && f.anonymous && f.locked && !f.populate);
        assert_eq!(mmap_flag_words(f).map(|(w, _)| w).last(), Some(&"locked"));
        assert!(parse_mremap_flags("maymove,private")
            .unwrap_err()
            .message
            .contains("unknown mremap flag \"private\" (expected maymove, fixed, dontunmap)"));
        assert_eq!(
            parse_mremap_flags("dontunmap,maymove"),
            Ok(MremapFlags {
                maymove: true,
                fixed: false,
                dontunmap: true,
            })
        );
        assert_eq!(
            parse_mlock_flags("onfault"),
            Ok(MlockFlags { onfault: true })
        );
        assert_eq!(
            parse_mlock_flags("current").unwrap_err().message,
            "unknown mlock flag \"current\" (expected onfault)"
        );
        assert_eq!(
            parse_mlockall_flags("onfault,current"),
            Ok(MlockallFlags {
                current: true,
                future: false,
                onfault: true,
            })
        );
        assert_eq!(
            parse_mlockall_flags("future,past").unwrap_err().message,
            "unknown mlockall flag \"past\" (expected current, future, onfault)"
        );
        assert_eq!(
            parse_mlockall_flags("").unwrap_err().message,
            "empty mlockall flag list"
        );
        for a in Advice::ALL {
            assert_eq!(parse_advice(a.name()), Ok(a));
        }
        assert_eq!(parse_advice("populate_write"), Ok(Advice::PopulateWrite));
        assert_eq!(
            parse_advice("hugepage").unwrap_err().message,
            "unknown advice \"hugepage\" (expected dontneed, dontfork, dofork, wipeonfork, \
             keeponfork, dontdump, dodump, free, cold, pageout, populate_read, populate_write, \
             willneed, dontneed_locked)"
        );
        assert_eq!(parse_access("write"), Ok(Access::Write));
        assert_eq!(access_word(Access::Write), "write");
        assert!(parse_access("exec").is_err());
    }
}
