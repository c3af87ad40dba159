//! Category rules: which category a mapping name rolls up into.
//!
//! Rules are tried in order and the first match wins; user rules (from `--rules FILE`) come
//! before the built-in ones, and `--no-builtin` drops the built-in ones. The name is matched
//! with a trailing ` (deleted)` removed. A name no rule matches goes to `Other mmap`.
//!
//! Built-in rules follow Android's `dumpsys meminfo` (androidprocheaps.cpp, Debug.java): Native
//! (`[heap]`, `[anon:libc_malloc]`, `[anon:scudo:*`, `[anon:GWP-ASan*`), Stack, the Dalvik heap
//! sub-spaces (`Dalvik .Heap`, `.LOS`, `.NonMoving`, `.Zygote`) and `Dalvik Other` ones, the
//! ashmem/device/file kinds (`.so mmap`, `.jar mmap`, `.apk mmap`, `.ttf mmap`, `.dex mmap`,
//! `.oat mmap`, `.art mmap`), then glibc's `[anon: glibc: ...]` names (tunable
//! glibc.mem.decorate_maps) and Go's `[anon: Go: ...]` names (one category per Go name), and
//! `Unknown` for any other anonymous memory, named or not (as dumpsys does).
//!
//! # The rules file
//! One rule per line; blank lines and lines starting with `#` are ignored:
//!
//! ```text
//! CATEGORY = HOW:PATTERN
//! ```
//!
//! CATEGORY is everything before the first ` = ` (trimmed; may contain spaces). HOW is one of
//! `exact`, `prefix`, `suffix`, `contains`, `regex` or `kind`, and PATTERN is everything after
//! the colon, verbatim (spaces kept). For `regex`, CATEGORY may use `$1`, `${name}` to insert
//! capture groups. `kind` matches the mapping kind (`anon`, `anon_named`, `shmem`, `file`,
//! `heap`, `stack`, `special`). Example:
//!
//! ```text
//! # my app's caches, one category per cache
//! Cache $1 = regex:^\[anon:cache-(\w+)\]$
//! Decoders = prefix:[anon:app:decode
//! Files = kind:file
//! ```

use regex::Regex;

use crate::model::Kind;

/// How a rule matches.
#[derive(Debug, Clone)]
pub enum Match {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    Regex(Regex),
    Kind(Kind),
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub category: String,
    pub how: Match,
}

/// A bad rules file line.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}: {text:?}")]
pub struct RuleError {
    pub file: String,
    pub line: usize,
    pub text: String,
    pub message: String,
}

impl Rule {
    fn new(category: &str, how: Match) -> Rule {
        Rule {
            category: category.into(),
            how,
        }
    }

    /// The category of `name` if this rule matches.
    pub fn apply(&self, name: &str, kind: Kind) -> Option<String> {
        let ok = match &self.how {
            Match::Exact(p) => name == p,
            Match::Prefix(p) => name.starts_with(p.as_str()),
            Match::Suffix(p) => name.ends_with(p.as_str()),
            Match::Contains(p) => name.contains(p.as_str()),
            Match::Kind(k) => *k == kind,
            Match::Regex(r) => {
                let caps = r.captures(name)?;
                let mut out = String::new();
                caps.expand(&self.category, &mut out);
                return Some(out);
            }
        };
        ok.then(|| self.category.clone())
    }
}

/// Parses a rules file (see the module docs). `file` is used in error messages.
pub fn parse_rules(text: &str, file: &str) -> Result<Vec<Rule>, RuleError> {
    let mut rules = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let t = raw.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let err = |message: &str| RuleError {
            file: file.into(),
            line: i + 1,
            text: raw.into(),
            message: message.into(),
        };
        let (cat, rest) = t
            .split_once(" = ")
            .ok_or_else(|| err("expected `CATEGORY = HOW:PATTERN`"))?;
        let cat = cat.trim();
        if cat.is_empty() {
            return Err(err("empty category"));
        }
        let (how, pat) = rest
            .split_once(':')
            .ok_or_else(|| err("expected HOW:PATTERN after ` = `"))?;
        let how = match how.trim() {
            "exact" => Match::Exact(pat.into()),
            "prefix" => Match::Prefix(pat.into()),
            "suffix" => Match::Suffix(pat.into()),
            "contains" => Match::Contains(pat.into()),
            "regex" => Match::Regex(Regex::new(pat).map_err(|e| err(&format!("bad regex: {e}")))?),
            "kind" => Match::Kind(Kind::from_word(pat.trim()).ok_or_else(|| {
                err("unknown kind (anon, anon_named, shmem, file, heap, stack, special)")
            })?),
            _ => {
                return Err(err(
                    "HOW must be exact, prefix, suffix, contains, regex or kind",
                ))
            }
        };
        rules.push(Rule::new(cat, how));
    }
    Ok(rules)
}

/// The built-in rules, in order.
pub fn builtin() -> Vec<Rule> {
    use Match::*;
    let p = |s: &str| Prefix(s.into());
    let s = |x: &str| Suffix(x.into());
    let e = |x: &str| Exact(x.into());
    let r = |x: &str| Regex(regex::Regex::new(x).expect("built-in regex"));
    let list: Vec<(&str, Match)> = vec![
        ("Native", e("[heap]")),
        ("Native", e("[anon:libc_malloc]")),
        ("Native", p("[anon:scudo:")),
        ("Native", p("[anon:GWP-ASan")),
        ("Stack", p("[stack")),
        ("Stack", p("[anon:stack_and_tls:")),
        ("Dalvik .Heap", p("[anon:dalvik-main space")),
        ("Dalvik .Heap", p("[anon:dalvik-alloc space")),
        ("Dalvik .LOS", p("[anon:dalvik-large object space")),
        (
            "Dalvik .LOS",
            p("[anon:dalvik-free list large object space"),
        ),
        ("Dalvik .NonMoving", p("[anon:dalvik-non moving space")),
        ("Dalvik .Zygote", p("[anon:dalvik-zygote space")),
        ("Dalvik Other .LinearAlloc", p("[anon:dalvik-LinearAlloc")),
        ("Dalvik Other .IndirectRef", p("[anon:dalvik-indirect ref")),
        (
            "Dalvik Other .ZygoteJIT",
            p("[anon:dalvik-zygote-jit-code-cache"),
        ),
        ("Dalvik Other .AppJIT", p("[anon:dalvik-jit-code-cache")),
        (
            "Dalvik Other .CompilerMetadata",
            p("[anon:dalvik-CompilerMetadata"),
        ),
        ("Dalvik Other .GC", p("[anon:dalvik-")),
        ("Cursor", p("/dev/ashmem/CursorWindow")),
        ("Ashmem", p("/dev/ashmem")),
        ("Gfx dev", p("/dev/kgsl-3d0")),
        ("Other dev", p("/dev/")),
        (".so mmap", s(".so")),
        (".jar mmap", s(".jar")),
        (".apk mmap", s(".apk")),
        (".ttf mmap", s(".ttf")),
        (".dex mmap", s(".dex")),
        (".dex mmap", s(".odex")),
        (".dex mmap", s(".vdex")),
        (".oat mmap", s(".oat")),
        (".art mmap", s(".art")),
        (".art mmap", s(".art]")),
        (".dex mmap", p("/memfd:jit-cache")),
        (".dex mmap", p("/memfd:jit-zygote-cache")),
        (
            "glibc: $1",
            r(r"^\[anon: glibc: (malloc arena|malloc|loader malloc)\]$"),
        ),
        ("glibc: other", p("[anon: glibc: ")),
        ("Go: $1", r(r"^\[anon: Go: (.*)\]$")),
        ("Unknown", p("[anon:")),
        ("Unknown", Kind(crate::model::Kind::Anon)),
    ];
    list.into_iter().map(|(c, m)| Rule::new(c, m)).collect()
}

/// The category a name falls into, or `Other mmap`.
pub fn categorize(rules: &[Rule], name: &str, kind: Kind) -> String {
    let name = name.strip_suffix(" (deleted)").unwrap_or(name);
    rules
        .iter()
        .find_map(|r| r.apply(name, kind))
        .unwrap_or_else(|| "Other mmap".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(name: &str, kind: Kind) -> String {
        categorize(&builtin(), name, kind)
    }

    #[test]
    fn builtin_android_glibc_go() {
        assert_eq!(
            cat("[anon:dalvik-main space]", Kind::AnonNamed),
            "Dalvik .Heap"
        );
        assert_eq!(
            cat("[anon:dalvik-main space (region space)]", Kind::AnonNamed),
            "Dalvik .Heap"
        );
        assert_eq!(
            cat("[anon:dalvik-large object space]", Kind::AnonNamed),
            "Dalvik .LOS"
        );
        assert_eq!(
            cat("[anon:dalvik-/apex/x/boot.art]", Kind::AnonNamed),
            "Dalvik Other .GC"
        );
        assert_eq!(cat("[anon:scudo:primary]", Kind::AnonNamed), "Native");
        assert_eq!(cat("[heap]", Kind::Heap), "Native");
        assert_eq!(cat("[anon:stack_and_tls:1234]", Kind::AnonNamed), "Stack");
        assert_eq!(cat("/system/lib64/libc.so", Kind::File), ".so mmap");
        assert_eq!(
            cat("/system/lib64/libc.so (deleted)", Kind::File),
            ".so mmap"
        );
        assert_eq!(
            cat("/system/framework/framework.jar", Kind::File),
            ".jar mmap"
        );
        assert_eq!(cat("/dev/ashmem/CursorWindow x", Kind::File), "Cursor");
        assert_eq!(
            cat("[anon: glibc: malloc arena]", Kind::AnonNamed),
            "glibc: malloc arena"
        );
        assert_eq!(
            cat("[anon: glibc: malloc]", Kind::AnonNamed),
            "glibc: malloc"
        );
        assert_eq!(
            cat("[anon: glibc: pthread stack: 12]", Kind::AnonNamed),
            "glibc: other"
        );
        assert_eq!(cat("[anon: Go: heap]", Kind::AnonNamed), "Go: heap");
        assert_eq!(cat("[anon:app:decode buffer]", Kind::AnonNamed), "Unknown");
        assert_eq!(cat("[anon]", Kind::Anon), "Unknown");
        assert_eq!(cat("[anon_shmem:GraphicBuffer]", Kind::Shmem), "Other mmap");
        assert_eq!(cat("/data/x.bin", Kind::File), "Other mmap");
    }

    #[test]
    fn user_rules_parse_and_come_first() {
        let text = "# c\n\nCache $1 = regex:^\\[anon:cache-(\\w+)\\]$\nDecoders = prefix:[anon:app:decode \nFiles = kind:file\n";
        let mut rules = parse_rules(text, "r").unwrap();
        assert_eq!(rules.len(), 3);
        rules.extend(builtin());
        assert_eq!(
            categorize(&rules, "[anon:cache-img]", Kind::AnonNamed),
            "Cache img"
        );
        assert_eq!(
            categorize(&rules, "[anon:app:decode buffer]", Kind::AnonNamed),
            "Decoders"
        );
        // the pattern keeps its trailing space
        assert_eq!(
            categorize(&rules, "[anon:app:decoder]", Kind::AnonNamed),
            "Unknown"
        );
        assert_eq!(
            categorize(&rules, "/system/lib64/libc.so", Kind::File),
            "Files"
        );
    }

    #[test]
    fn bad_rules_name_the_line() {
        let e = parse_rules("ok = exact:x\nnope\n", "f.rules").unwrap_err();
        assert_eq!((e.line, e.file.as_str()), (2, "f.rules"));
        assert!(parse_rules("x = glob:*", "f")
            .unwrap_err()
            .message
            .contains("HOW"));
        assert!(parse_rules("x = regex:(", "f")
            .unwrap_err()
            .message
            .contains("bad regex"));
        assert!(parse_rules("x = kind:nope", "f")
            .unwrap_err()
            .message
            .contains("kind"));
    }
}
