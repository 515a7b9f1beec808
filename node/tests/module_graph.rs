//! node/src's files import each other without cycles between files of different concerns.
//!
//! Each file is a module (`server/quorum.rs` is `server/quorum`, `codec/proto/mod.rs` is
//! `codec/proto`); `a` depends on `b` when `a` names `crate::…` or `super::…` paths that
//! resolve to `b` (the longest module prefix that is a file), or a child module of its own.
//! A module and the files it is split into (its descendants) are one concern, so edges between
//! them do not count; any other cycle fails the test with its members.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
    for e in std::fs::read_dir(dir).expect("read node/src") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            rust_files(&p, root, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p.strip_prefix(root).expect("under src").with_extension("");
            let rel = rel.to_string_lossy().replace('\\', "/");
            let module = match rel.as_str() {
                "lib" | "main" => String::new(),
                r => r.strip_suffix("/mod").unwrap_or(r).to_string(),
            };
            let text = std::fs::read_to_string(&p).expect("read file");
            // Comments name modules in prose; only code counts.
            let code: Vec<&str> = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect();
            out.insert(module, code.join("\n"));
        }
    }
}

/// The module a path `segs` names: its longest prefix that is a file.
fn resolve(files: &BTreeMap<String, String>, segs: &[&str]) -> Option<String> {
    (1..=segs.len())
        .rev()
        .map(|k| segs[..k].join("/"))
        .find(|m| files.contains_key(m))
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The paths after `prefix::` in `code`: `a::b::C` or each item of `a::{b, c::D}`.
fn paths_after<'a>(code: &'a str, prefix: &str) -> Vec<Vec<&'a str>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| is_ident(c) || c == ':') {
            continue;
        }
        let head_len = rest
            .find(|c: char| !(is_ident(c) || c == ':'))
            .unwrap_or(rest.len());
        let head: Vec<&str> = rest[..head_len]
            .split("::")
            .filter(|s| !s.is_empty())
            .collect();
        if rest[head_len..].starts_with('{') {
            let end = rest[head_len..]
                .find('}')
                .map_or(rest.len(), |e| head_len + e);
            for item in rest[head_len + 1..end].split(',') {
                let item = item.split(" as ").next().unwrap_or("").trim();
                let mut p = head.clone();
                p.extend(item.split("::").filter(|s| !s.is_empty() && *s != "self"));
                out.push(p);
            }
        } else {
            out.push(head);
        }
    }
    out
}

fn graph(files: &BTreeMap<String, String>) -> Graph {
    let mut g = Graph::new();
    for (module, code) in files {
        let own: Vec<&str> = module.split('/').filter(|s| !s.is_empty()).collect();
        let parent = &own[..own.len().saturating_sub(1)];
        let mut deps = BTreeSet::new();
        for p in paths_after(code, "crate::") {
            deps.extend(resolve(files, &p));
        }
        for p in paths_after(code, "super::") {
            let mut segs = parent.to_vec();
            segs.extend(p);
            deps.extend(resolve(files, &segs));
        }
        // A parent's use of its own children (`use child::X`, `child::f()`).
        for (child, _) in files.range(format!("{module}/")..) {
            let Some(name) = child
                .strip_prefix(&format!("{module}/"))
                .filter(|n| !n.contains('/'))
            else {
                continue;
            };
            if !paths_after(code, &format!("{name}::")).is_empty() {
                deps.insert(child.clone());
            }
        }
        deps.remove(module);
        g.insert(module.clone(), deps);
    }
    g
}

/// `a` is `b`, or one is inside the other (a module and the files it is split into).
fn same_concern(a: &str, b: &str) -> bool {
    a.is_empty()
        || b.is_empty()
        || a.starts_with(&format!("{b}/"))
        || b.starts_with(&format!("{a}/"))
}

/// The strongly connected components with more than one member (Tarjan).
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    struct T<'g> {
        g: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(t: &mut T<'g>, v: &'g str) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut c = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                c.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if c.len() > 1 {
                c.sort();
                t.out.push(c);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn node_files_of_different_concerns_import_each_other_without_cycles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    rust_files(&root, &root, &mut files);
    assert!(files.len() > 40, "read node/src: {} files", files.len());
    let full = graph(&files);
    let concerns: Graph = full
        .iter()
        .map(|(a, deps)| {
            let deps = deps
                .iter()
                .filter(|b| !same_concern(a, b))
                .cloned()
                .collect();
            (a.clone(), deps)
        })
        .collect();
    let edges: usize = concerns.values().map(BTreeSet::len).sum();
    println!("{} files, {edges} edges between concerns", files.len());
    // The check sees real edges: the peer task depends on the quorum port, not the reverse.
    assert!(concerns["server/runtime"].contains("server/quorum"));
    assert!(!concerns["server/quorum"].contains("server/runtime"));
    let found = cycles(&concerns);
    assert!(found.is_empty(), "import cycles in node/src: {found:?}");
}

#[test]
fn a_cycle_between_two_files_is_found() {
    let mut g = Graph::new();
    g.insert("a".into(), ["b".to_string()].into());
    g.insert("b".into(), ["c".to_string()].into());
    g.insert("c".into(), ["a".to_string()].into());
    g.insert("d".into(), ["a".to_string()].into());
    assert_eq!(cycles(&g), vec![vec!["a", "b", "c"]]);
    let files: BTreeMap<String, String> = [
        ("x".to_string(), "use crate::y::{Z, w::V};".to_string()),
        ("y".to_string(), "fn f() { super::x::g() }".to_string()),
        ("y/w".to_string(), String::new()),
    ]
    .into();
    let g = graph(&files);
    assert_eq!(g["x"], ["y".to_string(), "y/w".to_string()].into());
    assert_eq!(g["y"], ["x".to_string()].into());
}
