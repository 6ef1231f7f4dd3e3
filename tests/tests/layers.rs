//! The shared crate's modules are layers (`shared/src/lib.rs` lists them), and this test holds
//! them to it: it reads every source file of `shared/src`, resolves each `crate::` and `super::`
//! path it names (outside `#[cfg(test)]` code) to the file that defines it, and checks that
//!
//! - no module imports a layer above its own, nor a sibling of its own layer (`store` and
//!   `gateway` share one and stay apart);
//! - the files' import graph has no cycle (a name re-exported by a `mod.rs` counts as an import
//!   of the file that defines it, not of the `mod.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first; a module may import only its own layer's module and lower layers.
const LAYERS: &[&[&str]] = &[
    &["domain"],
    &["store", "gateway"],
    &["service"],
    &["http"],
    &["ws"],
    &["lambda"],
];

fn rank(top: &str) -> usize {
    LAYERS
        .iter()
        .position(|layer| layer.contains(&top))
        .unwrap_or_else(|| panic!("module `{top}` is in no layer: add it to LAYERS and to lib.rs's list"))
}

/// Every module of the crate (`store::dynamo::calls`) and its file; the crate root is "".
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(src).unwrap().with_extension("");
                let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
                if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
                    parts.pop();
                }
                found.insert(parts.join("::"), path);
            }
        }
    }
    found
}

/// A file's code without its tests and comments.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each path written after `crate::` or `super::` (`crate::a::b`, `super::{c, d::{e, f}}`), as
/// its prefix (`usize::MAX` for `crate`, else the number of `super`s) and the names it goes on
/// with: one path per leaf of a group.
fn paths(code: &str) -> Vec<(usize, Vec<String>)> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while let Some(offset) = code[at..].find(['c', 's']) {
        let start = at + offset;
        at = start + 1;
        let before = start.checked_sub(1).map(|i| bytes[i]);
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':') {
            continue;
        }
        let rest = &code[start..];
        let (ups, tail) = if let Some(tail) = rest.strip_prefix("crate::") {
            (usize::MAX, tail)
        } else if rest.starts_with("super::") {
            let mut ups = 0;
            let mut tail = rest;
            while let Some(t) = tail.strip_prefix("super::") {
                ups += 1;
                tail = t;
            }
            (ups, tail)
        } else {
            continue;
        };
        let (trees, used) = tree(tail);
        at = code.len() - tail.len() + used;
        found.extend(trees.into_iter().map(|names| (ups, names)));
    }
    found
}

/// The paths of a use tree (`a::b`, `a::{b, c::{d}}`, `self`), and how many bytes it took.
fn tree(text: &str) -> (Vec<Vec<String>>, usize) {
    let skip_space = |at: usize| at + text[at..].len() - text[at..].trim_start().len();
    let mut names = Vec::new();
    let mut at = 0;
    loop {
        let name: String = text[at..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        at += name.len();
        if !name.is_empty() && name != "self" {
            names.push(name.clone());
        }
        if text[at..].starts_with("::{") || (name.is_empty() && text[at..].starts_with('{')) {
            at += if name.is_empty() { 1 } else { 3 };
            let mut leaves = Vec::new();
            loop {
                at = skip_space(at);
                if at >= text.len() || text[at..].starts_with('}') {
                    return (leaves, (at + 1).min(text.len()));
                }
                let (inner, used) = tree(&text[at..]);
                leaves.extend(
                    inner
                        .into_iter()
                        .map(|leaf| names.iter().cloned().chain(leaf).collect()),
                );
                at = skip_space(at + used.max(1));
                if text[at..].starts_with(',') {
                    at += 1;
                }
            }
        }
        match text[at..].strip_prefix("::") {
            Some(_) if !name.is_empty() => at += 2,
            _ => return (vec![names], at),
        }
    }
}

/// For each module, the names its file re-exports from a child (`pub use child::{Name, ...}`).
fn re_exports(modules: &BTreeMap<String, PathBuf>) -> BTreeMap<(String, String), String> {
    let mut map = BTreeMap::new();
    for (module, path) in modules {
        let text = code(path);
        for line in text.split(';') {
            let Some(used) = line.trim().strip_prefix("pub use ") else {
                continue;
            };
            let child: String = used.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let child_module = if module.is_empty() {
                child.clone()
            } else {
                format!("{module}::{child}")
            };
            if !modules.contains_key(&child_module) {
                continue;
            }
            for (_, names) in paths(&format!("crate::{}", &used[child.len() + 2..])) {
                if let Some(name) = names.last() {
                    map.insert((module.clone(), name.clone()), child_module.clone());
                }
            }
        }
    }
    map
}

/// The module each file's paths lead to.
fn imports(modules: &BTreeMap<String, PathBuf>) -> BTreeMap<String, BTreeSet<String>> {
    let exported = re_exports(modules);
    let mut graph = BTreeMap::new();
    for (module, path) in modules {
        let is_dir = path.ends_with("mod.rs") || path.ends_with("lib.rs");
        let here: Vec<String> = module.split("::").filter(|p| !p.is_empty()).map(String::from).collect();
        let mut targets = BTreeSet::new();
        for (ups, names) in paths(&code(path)) {
            let mut full = if ups == usize::MAX {
                Vec::new()
            } else {
                let mut base = if is_dir {
                    here.clone()
                } else {
                    here[..here.len() - 1].to_vec()
                };
                for _ in 1..ups {
                    base.pop();
                }
                base
            };
            full.extend(names);
            // The longest prefix that is a module, then a name it re-exports, if it is one.
            let Some(depth) = (0..=full.len())
                .rev()
                .find(|k| modules.contains_key(&full[..*k].join("::")))
            else {
                continue;
            };
            let mut target = full[..depth].join("::");
            if let Some(name) = full.get(depth) {
                if let Some(child) = exported.get(&(target.clone(), name.clone())) {
                    target = child.clone();
                }
            }
            if target != *module && !target.is_empty() {
                targets.insert(target);
            }
        }
        graph.insert(module.clone(), targets);
    }
    graph
}

fn shared_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/src")
}

#[test]
fn no_module_imports_a_layer_above_its_own_or_a_sibling_layer() {
    let graph = imports(&modules(&shared_src()));
    assert!(graph.len() > 40, "the crate's files were read: {}", graph.len());
    let mut wrong = Vec::new();
    for (module, targets) in graph.iter().filter(|(m, _)| !m.is_empty()) {
        let top = module.split("::").next().unwrap();
        for target in targets {
            let target_top = target.split("::").next().unwrap();
            if rank(target_top) > rank(top) || (rank(target_top) == rank(top) && target_top != top) {
                wrong.push(format!("{module} imports {target}"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layers:\n{}", wrong.join("\n"));
    // The check sees what it should: the adapters do reach the use cases, the use cases the store.
    assert!(graph["http"].contains("service::listing"), "{:?}", graph["http"]);
    assert!(
        graph["service::offline"].contains("store"),
        "{:?}",
        graph["service::offline"]
    );
}

#[test]
fn the_import_graph_has_no_cycle() {
    let graph = imports(&modules(&shared_src()));
    // Depth-first search; a module met again while still on the path closes a cycle.
    fn visit<'a>(
        module: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
        cycles: &mut Vec<String>,
    ) {
        if let Some(at) = path.iter().position(|m| *m == module) {
            cycles.push(format!("{} -> {module}", path[at..].join(" -> ")));
            return;
        }
        if !done.insert(module) {
            return;
        }
        path.push(module);
        for target in graph.get(module).into_iter().flatten() {
            visit(target, graph, path, done, cycles);
        }
        path.pop();
    }
    let mut cycles = Vec::new();
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        visit(module, &graph, &mut Vec::new(), &mut done, &mut cycles);
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_path_reader_follows_groups_and_supers() {
    let found = paths("use super::super::{a::{B, c::D}, self};\nlet x = crate::e::f(1); notcrate::g; x::crate::h");
    assert_eq!(
        found,
        vec![
            (2, vec!["a".to_string(), "B".into()]),
            (2, vec!["a".to_string(), "c".into(), "D".into()]),
            (2, vec![]),
            (usize::MAX, vec!["e".to_string(), "f".into()]),
        ]
    );
}
