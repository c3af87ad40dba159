//! The layering of the workspace, checked: every crate depends only on the crates below it
//! (ARCHITECTURE.md draws the layers), the pure crates pull in no async runtime, FUSE, CLI or
//! error-reporting crate even indirectly, and they forbid unsafe code.
//!
//! The dependency graph comes from `cargo metadata` (normal dependencies only: dev-dependencies
//! do not ship), resolved for the host platform.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// Each workspace crate and the workspace crates it may depend on (normal dependencies).
const ALLOWED: &[(&str, &[&str])] = &[
    ("anonmap-abi", &[]),
    ("anonmap-proc", &["anonmap-abi"]),
    ("anonmap-mm", &["anonmap-abi", "anonmap-proc"]),
    ("anonmap-lang", &["anonmap-abi"]),
    ("anonmap-fusefs", &["anonmap-abi", "anonmap-proc"]),
    (
        "anonmap-daemon",
        &[
            "anonmap-abi",
            "anonmap-proc",
            "anonmap-mm",
            "anonmap-lang",
            "anonmap-fusefs",
        ],
    ),
    ("anonmap", &["anonmap-abi", "anonmap-proc", "anonmap-lang"]),
    (
        "anonmap-testkit",
        &[
            "anonmap-abi",
            "anonmap-proc",
            "anonmap-mm",
            "anonmap-lang",
            "anonmap-fusefs",
            "anonmap-daemon",
        ],
    ),
    ("anonmap-tests", &[]),
];

/// The pure crates: no I/O frameworks, and `#![forbid(unsafe_code)]`.
const PURE: &[&str] = &["anonmap-abi", "anonmap-proc", "anonmap-mm", "anonmap-lang"];

/// What no pure crate may depend on, directly or not.
const NOT_IN_PURE: &[&str] = &[
    "tokio",
    "tokio-util",
    "fuser",
    "dashmap",
    "clap",
    "anyhow",
    "tracing-subscriber",
];

struct Graph {
    /// Package id -> (name, manifest path).
    packages: BTreeMap<String, (String, String)>,
    /// Package id -> the ids of its normal dependencies.
    normal: BTreeMap<String, Vec<String>>,
    members: BTreeSet<String>,
}

fn graph() -> Graph {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let host = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .args(["--filter-platform", &host])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = m["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap().to_string();
            (s("id"), (s("name"), s("manifest_path")))
        })
        .collect();
    let normal = m["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let deps = n["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| {
                    d["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|k| k["kind"].is_null())
                })
                .map(|d| d["pkg"].as_str().unwrap().to_string())
                .collect();
            (n["id"].as_str().unwrap().to_string(), deps)
        })
        .collect();
    let members = m["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    Graph {
        packages,
        normal,
        members,
    }
}

impl Graph {
    fn name(&self, id: &str) -> &str {
        &self.packages[id].0
    }

    fn id(&self, name: &str) -> &str {
        self.members
            .iter()
            .find(|id| self.name(id) == name)
            .unwrap_or_else(|| panic!("no workspace crate {name}"))
    }

    /// Every package `id` depends on through normal dependencies, by name.
    fn closure(&self, id: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![id.to_string()];
        while let Some(p) = stack.pop() {
            for d in &self.normal[&p] {
                if seen.insert(self.name(d).to_string()) {
                    stack.push(d.clone());
                }
            }
        }
        seen
    }
}

#[test]
fn every_crate_depends_only_on_the_layers_below() {
    let g = graph();
    let names: BTreeSet<&str> = g.members.iter().map(|id| g.name(id)).collect();
    let listed: BTreeSet<&str> = ALLOWED.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names, listed,
        "every workspace crate has its row in ALLOWED"
    );
    let mut bad = Vec::new();
    for (crate_name, allowed) in ALLOWED {
        let id = g.id(crate_name);
        for dep in &g.normal[id] {
            let dep_name = g.name(dep);
            if names.contains(dep_name) && !allowed.contains(&dep_name) {
                bad.push(format!("{crate_name} depends on {dep_name}"));
            }
        }
    }
    assert!(bad.is_empty(), "layering broken:\n{}", bad.join("\n"));
}

#[test]
fn the_pure_crates_need_no_runtime_fuse_or_cli() {
    let g = graph();
    let mut bad = Vec::new();
    for name in PURE {
        let all = g.closure(g.id(name));
        for forbidden in NOT_IN_PURE {
            if all.contains(*forbidden) {
                bad.push(format!("{name} pulls in {forbidden}"));
            }
        }
        eprintln!("{name}: {} crates below it: {:?}", all.len(), all);
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_pure_crates_forbid_unsafe_code() {
    let g = graph();
    for name in PURE {
        let manifest = Path::new(&g.packages[g.id(name)].1);
        let lib = manifest.parent().unwrap().join("src/lib.rs");
        let text = std::fs::read_to_string(&lib).unwrap();
        assert!(
            text.lines().any(|l| l.trim() == "#![forbid(unsafe_code)]"),
            "{} lacks #![forbid(unsafe_code)]",
            lib.display()
        );
    }
}
