//! No import circle between the files of any of the three crates (`harness/src`,
//! `harness/model/src`, `harness/report/src`): run alone with
//! `cargo test -p paybench --test import_circles` (docs/architecture.md). Between the crates,
//! Cargo itself forbids circles.
//!
//! Every `.rs` file of a crate reached from its roots (`lib.rs`, and its binary's file) by `mod`
//! declarations is read, and what it imports from other files of the crate is collected:
//!
//! - `use crate::a::b::{...}` (and `paybench::...` in the binary's files), `use super::...` and
//!   `use self::...`, in any block;
//! - `crate::a::b::name`, `super::name` and `self::name` paths in code.
//!
//! Not imports: `mod` declarations (a parent declaring a child), `pub use` of any visibility (a
//! face handing names on), a parent's references to its own children by their bare name
//! (`html::render` in `report/mod.rs`), paths in comments and string literals, and test code
//! (`#[cfg(test)]` items and files named `tests.rs`: test code may import anything).
//!
//! A path goes to the file that defines its longest module prefix: `crate::a::b::Name`, where
//! `b` is `a/b.rs` or `a/b/mod.rs`, goes to that file; `crate::a::Name` goes to `a/mod.rs` even
//! when `a/mod.rs` only re-exports `Name` (good enough: a face imports nothing). A child using
//! `super::X`, with `X` defined in the parent's `mod.rs`, imports that `mod.rs`.
//!
//! A circle is a strongly connected component of more than one file; the test lists each one
//! with the arrows that tie it and the names each arrow carries.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each crate: its source folder under `harness/`, its binary's root file (beside `lib.rs`), and
/// fewer arrows than it certainly has (a reader that saw nothing would find no circle).
const CRATES: [(&str, Option<&str>, usize); 3] =
    [("src", Some("main.rs"), 100), ("model/src", None, 20), ("report/src", Some("bin/paybench-compare.rs"), 30)];

#[test]
fn no_import_circle_between_files() {
    for (folder, binary, fewer_arrows) in CRATES {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
        let mut files = BTreeMap::new();
        read_tree(&src, &src, &mut files);
        let graph = Graph::of(&files, binary).unwrap_or_else(|e| panic!("harness/{folder}: {e}"));
        let arrows: usize = graph.edges.values().map(BTreeMap::len).sum();
        assert!(
            arrows > fewer_arrows,
            "harness/{folder}: only {arrows} imports read from {} files: the reader is broken",
            graph.files.len()
        );
        let circles = graph.circles();
        assert!(
            circles.is_empty(),
            "{} import circle(s) between files of harness/{folder} (cut each by moving the shared names down, \
             into the lower file or a new file below both; see docs/architecture.md):\n{}",
            circles.len(),
            circles.join("\n")
        );
    }
}

/// Every `.rs` file under `dir`, by its path relative to `src` (`/`-separated).
fn read_tree(src: &Path, dir: &Path, files: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            read_tree(src, &path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(src).unwrap().components();
            let rel: Vec<String> = rel.map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            files.insert(rel.join("/"), std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// Files and who imports what from whom.
#[derive(Debug)]
struct Graph {
    files: BTreeSet<String>,
    /// importer -> imported -> names.
    edges: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
}

/// Which target a file belongs to: the library (`lib.rs`) or the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Krate {
    Lib,
    Bin,
}

impl Graph {
    /// The import graph of `files` (path relative to `src` -> source), whose binary's root is
    /// `binary` (if any).
    fn of(files: &BTreeMap<String, String>, binary: Option<&str>) -> Result<Graph, String> {
        // Module tree, from each root by `mod` declarations.
        let mut modules: BTreeMap<(Krate, Vec<String>), String> = BTreeMap::new();
        let mut module_of: BTreeMap<String, (Krate, Vec<String>)> = BTreeMap::new();
        // Files declared by `#[cfg(test)] mod x;` (and their children): test code.
        let mut test_code: BTreeSet<String> = BTreeSet::new();
        for (krate, root) in [(Krate::Lib, Some("lib.rs")), (Krate::Bin, binary)] {
            let Some(root) = root.filter(|r| files.contains_key(*r)) else { continue };
            let mut todo = vec![(root.to_owned(), Vec::<String>::new(), false)];
            while let Some((file, path, test)) = todo.pop() {
                let tokens = tokens(&strip(&files[&file]));
                // Children of a root or of `x/mod.rs` live beside it; those of `x/y.rs` in `x/y/`.
                let dir = match file.rsplit_once('/') {
                    Some((dir, "mod.rs")) => format!("{dir}/"),
                    _ if path.is_empty() => String::new(),
                    _ => format!("{}/", file.trim_end_matches(".rs")),
                };
                for (child, cfg_test) in file_modules(&tokens) {
                    let candidates = [format!("{dir}{child}.rs"), format!("{dir}{child}/mod.rs")];
                    let Some(found) = candidates.iter().find(|c| files.contains_key(*c)) else {
                        return Err(format!("{file}: `mod {child};` has no file ({})", candidates.join(" or ")));
                    };
                    let mut child_path = path.clone();
                    child_path.push(child);
                    todo.push((found.clone(), child_path, test || cfg_test));
                }
                if test {
                    test_code.insert(file.clone());
                }
                modules.insert((krate, path.clone()), file.clone());
                module_of.insert(file, (krate, path));
            }
        }
        if let Some(lost) = files.keys().find(|f| !module_of.contains_key(*f)) {
            return Err(format!("{lost} is not reached from lib.rs or the binary by `mod` declarations"));
        }
        let mut graph = Graph { files: BTreeSet::new(), edges: BTreeMap::new() };
        for (file, (krate, path)) in &module_of {
            if is_test_file(file) || test_code.contains(file) {
                continue;
            }
            graph.files.insert(file.clone());
            for (root, segments) in imports(&tokens(&strip(&files[file])), path) {
                let krate = if root == Root::Lib { Krate::Lib } else { *krate };
                let Some((target, name)) = resolve(&modules, krate, &segments) else { continue };
                if target != *file && !is_test_file(&target) && !test_code.contains(&target) {
                    graph.edges.entry(file.clone()).or_default().entry(target).or_default().insert(name);
                }
            }
        }
        Ok(graph)
    }

    /// Each circle (strongly connected component of two files or more), as text: its files, then
    /// one line per arrow inside it with the names it carries.
    fn circles(&self) -> Vec<String> {
        let nodes: Vec<&String> = self.files.iter().collect();
        let index: BTreeMap<&String, usize> = nodes.iter().enumerate().map(|(i, f)| (*f, i)).collect();
        let next: Vec<Vec<usize>> = nodes
            .iter()
            .map(|f| {
                self.edges.get(*f).map_or_else(Vec::new, |to| to.keys().filter_map(|t| index.get(t).copied()).collect())
            })
            .collect();
        let mut out = Vec::new();
        for component in strongly_connected(&next) {
            if component.len() < 2 {
                continue;
            }
            let members: BTreeSet<&String> = component.iter().map(|&i| nodes[i]).collect();
            let mut text = format!(
                "circle of {} files: {}",
                members.len(),
                members.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            );
            for from in &members {
                for (to, names) in &self.edges[*from] {
                    if members.contains(to) {
                        let names: Vec<&str> = names.iter().map(String::as_str).collect();
                        text.push_str(&format!("\n  {from} -> {to}: {}", names.join(", ")));
                    }
                }
            }
            out.push(text);
        }
        out
    }
}

fn is_test_file(file: &str) -> bool {
    file == "tests.rs" || file.ends_with("/tests.rs")
}

/// Tarjan's strongly connected components of the graph `next` (node -> successors).
fn strongly_connected(next: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct State<'a> {
        next: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        counter: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State<'_>, v: usize) {
        s.index[v] = Some(s.counter);
        s.low[v] = s.counter;
        s.counter += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in &s.next[v] {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(i) if s.on_stack[w] => s.low[v] = s.low[v].min(i),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            s.out.push(component);
        }
    }
    let n = next.len();
    let mut s = State {
        next,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        counter: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    s.out
}

/// `source` with comments blanked and every string, byte string, raw string and char literal
/// replaced by `""`, so that neither holds a path.
fn strip(source: &str) -> String {
    let c: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let prev_ident = i > 0 && ident(c[i - 1]);
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if !prev_ident && (c[i] == 'r' || (c[i] == 'b' && c.get(i + 1) == Some(&'r'))) && {
            let mut j = if c[i] == 'b' { i + 2 } else { i + 1 };
            while c.get(j) == Some(&'#') {
                j += 1;
            }
            c.get(j) == Some(&'"')
        } {
            // Raw string: r"..", r#".."#, br#".."#.
            let mut j = if c[i] == 'b' { i + 2 } else { i + 1 };
            let mut hashes = 0;
            while c[j] == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1;
            loop {
                if j >= c.len() {
                    break;
                }
                if c[j] == '"' && (0..hashes).all(|k| c.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c[i] == '"' {
            // A string; a `b` or `c` prefix before it stays as a harmless identifier.
            let mut j = i + 1;
            while j < c.len() && c[j] != '"' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i = j + 1;
        } else if c[i] == '\'' && (!prev_ident || (c[i - 1] == 'b' && (i < 2 || !ident(c[i - 2])))) {
            // A char literal ('a', '\n', '\u{1F600}', '\'') or a lifetime ('a, 'static).
            if c.get(i + 1) == Some(&'\\') {
                let mut j = i + 3;
                while j < c.len() && c[j] != '\'' {
                    j += 1;
                }
                out.push_str("\"\"");
                i = j + 1;
            } else if c.get(i + 2) == Some(&'\'') {
                out.push_str("\"\"");
                i += 3;
            } else {
                out.push('\'');
                i += 1;
            }
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// A token: an identifier (keywords and numbers included) or one punctuation character, with
/// `::` as one token.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Punct(&'static str),
    Other(char),
}

fn tokens(stripped: &str) -> Vec<Tok> {
    let c: Vec<char> = stripped.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch.is_alphanumeric() || ch == '_' {
            // `r#type` is the identifier `type`.
            if ch == 'r' && c.get(i + 1) == Some(&'#') && c.get(i + 2).is_some_and(|n| n.is_alphabetic()) {
                i += 2;
            }
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(c[start..i].iter().collect()));
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push(Tok::Punct("::"));
            i += 2;
        } else {
            let punct = match ch {
                '{' => Some("{"),
                '}' => Some("}"),
                '(' => Some("("),
                ')' => Some(")"),
                '[' => Some("["),
                ']' => Some("]"),
                ';' => Some(";"),
                ',' => Some(","),
                '#' => Some("#"),
                '*' => Some("*"),
                '!' => Some("!"),
                _ => None,
            };
            out.push(punct.map_or(Tok::Other(ch), Tok::Punct));
            i += 1;
        }
    }
    out
}

fn is_ident(t: Option<&Tok>, word: &str) -> bool {
    matches!(t, Some(Tok::Ident(w)) if w == word)
}

fn is_punct(t: Option<&Tok>, p: &str) -> bool {
    matches!(t, Some(Tok::Punct(q)) if *q == p)
}

/// The index after the bracket group opening at `i` (`{`, `(` or `[`), nesting included.
fn skip_group(t: &[Tok], i: usize) -> usize {
    let mut depth = 0usize;
    let mut j = i;
    while j < t.len() {
        match &t[j] {
            Tok::Punct("{" | "(" | "[") => depth += 1,
            Tok::Punct("}" | ")" | "]") => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    t.len()
}

/// Where the attributes starting at `i` end, and whether one of them is `#[cfg(test)]`.
fn attributes(t: &[Tok], mut i: usize) -> (usize, bool) {
    let mut cfg_test = false;
    while is_punct(t.get(i), "#") && is_punct(t.get(i + 1), "[") {
        let end = skip_group(t, i + 1);
        let inner = &t[i + 2..end - 1];
        if inner.len() == 4
            && is_ident(inner.first(), "cfg")
            && is_punct(inner.get(1), "(")
            && is_ident(inner.get(2), "test")
            && is_punct(inner.get(3), ")")
        {
            cfg_test = true;
        }
        i = end;
    }
    (i, cfg_test)
}

/// The index after the item starting at `i`: its `;`, or the block it opens, whichever comes
/// first outside brackets.
fn skip_item(t: &[Tok], mut i: usize) -> usize {
    let start = visibility(t, i).unwrap_or(i);
    if is_ident(t.get(start), "use") {
        return skip_use(t, start);
    }
    while i < t.len() {
        match &t[i] {
            Tok::Punct(";") => return i + 1,
            Tok::Punct("{") => return skip_group(t, i),
            Tok::Punct("(" | "[") => i = skip_group(t, i),
            _ => i += 1,
        }
    }
    t.len()
}

/// The index after the `use` declaration starting at `i` (its `;`, past any braces).
fn skip_use(t: &[Tok], mut i: usize) -> usize {
    while i < t.len() {
        match &t[i] {
            Tok::Punct(";") => return i + 1,
            Tok::Punct("{" | "(" | "[") => i = skip_group(t, i),
            _ => i += 1,
        }
    }
    t.len()
}

/// A visibility (`pub`, `pub(crate)`, `pub(in crate::a)`) starting at `i`: where it ends.
fn visibility(t: &[Tok], i: usize) -> Option<usize> {
    if !is_ident(t.get(i), "pub") {
        return None;
    }
    Some(if is_punct(t.get(i + 1), "(") { skip_group(t, i + 1) } else { i + 1 })
}

/// The file modules `tokens` declares (`mod name;`), each with whether it is test code
/// (`#[cfg(test)] mod name;`).
fn file_modules(t: &[Tok]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut cfg_test = false;
    let mut i = 0;
    while i < t.len() {
        let (after, test) = attributes(t, i);
        if after != i {
            cfg_test = test;
            i = after;
            continue;
        }
        let j = visibility(t, i).unwrap_or(i);
        if is_ident(t.get(j), "mod") && is_punct(t.get(j + 2), ";") {
            if let Some(Tok::Ident(name)) = t.get(j + 1) {
                out.push((name.clone(), cfg_test));
            }
        }
        cfg_test = false;
        i += 1;
    }
    out
}

/// Where a path starts: this crate (`crate`, `super`, `self`, resolved against the file's module
/// path), or the library from the binary (`paybench`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Here,
    Lib,
}

/// Every path to another module of the crate that a file imports, absolute (from its crate's root),
/// outside test code, `pub use` and comments. `module` is the file's module path.
fn imports(t: &[Tok], module: &[String]) -> Vec<(Root, Vec<String>)> {
    let mut out = Vec::new();
    // Inline modules (`mod claim { ... }`) open around the code inside them: (name, brace depth).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < t.len() {
        let (after, cfg_test) = attributes(t, i);
        if after != i {
            i = if cfg_test { skip_item(t, after) } else { after };
            continue;
        }
        let here: Vec<String> = module.iter().cloned().chain(inline.iter().map(|(n, _)| n.clone())).collect();
        if let Some(j) = visibility(t, i) {
            if is_ident(t.get(j), "use") {
                // `pub use` hands names on: not an import.
                i = skip_use(t, j);
            } else {
                i = j;
            }
            continue;
        }
        match &t[i] {
            Tok::Ident(w) if w == "use" => {
                let end = skip_use(t, i);
                let mut paths = Vec::new();
                use_tree(&t[i + 1..end - 1], &mut Vec::new(), &mut paths);
                out.extend(paths.into_iter().filter_map(|p| absolute(&p, &here)));
                i = end;
            }
            Tok::Ident(w) if w == "mod" && is_punct(t.get(i + 2), "{") => {
                if let Some(Tok::Ident(name)) = t.get(i + 1) {
                    inline.push((name.clone(), depth));
                }
                i += 2;
            }
            Tok::Ident(w)
                if matches!(w.as_str(), "crate" | "super" | "self" | "paybench")
                    && is_punct(t.get(i + 1), "::")
                    && !is_punct(t.get(i.wrapping_sub(1)), "::") =>
            {
                let mut path = vec![w.clone()];
                let mut j = i + 1;
                while is_punct(t.get(j), "::") {
                    match t.get(j + 1) {
                        Some(Tok::Ident(next)) => path.push(next.clone()),
                        _ => break,
                    }
                    j += 2;
                }
                out.extend(absolute(&path, &here));
                i = j;
            }
            Tok::Punct("{") => {
                depth += 1;
                i += 1;
            }
            Tok::Punct("}") => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// The paths of a use tree (`a::{b, c::{self, D}}` -> `a::b`, `a::c::self`, `a::c::D`); an alias
/// (`as x`) is dropped, a glob kept as `*`.
fn use_tree(t: &[Tok], prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let start = prefix.len();
    let mut i = 0;
    // Leading `::` (`use ::std::x`): an external crate.
    while i < t.len() {
        match &t[i] {
            Tok::Ident(w) if w == "as" => i += 2,
            Tok::Ident(w) => {
                prefix.push(w.clone());
                i += 1;
            }
            Tok::Punct("::") => i += 1,
            Tok::Punct("*") => {
                prefix.push("*".into());
                i += 1;
            }
            Tok::Punct("{") => {
                let end = skip_group(t, i);
                let inner = &t[i + 1..end - 1];
                let mut part_start = 0;
                let mut k = 0;
                while k <= inner.len() {
                    if k == inner.len() || is_punct(inner.get(k), ",") {
                        if part_start < k {
                            use_tree(&inner[part_start..k], prefix, out);
                        }
                        part_start = k + 1;
                        k += 1;
                    } else if is_punct(inner.get(k), "{") {
                        k = skip_group(inner, k);
                    } else {
                        k += 1;
                    }
                }
                prefix.truncate(start);
                return;
            }
            _ => i += 1,
        }
    }
    if prefix.len() > start {
        out.push(prefix.clone());
    }
    prefix.truncate(start);
}

/// `path` (as written in a file whose module path is `here`) from its crate's root, or `None`
/// when it does not start in this crate (`std::`, a bare child or extern name).
fn absolute(path: &[String], here: &[String]) -> Option<(Root, Vec<String>)> {
    let first = path.first()?;
    let (root, mut base, rest) = match first.as_str() {
        "crate" => (Root::Here, Vec::new(), &path[1..]),
        "paybench" => (Root::Lib, Vec::new(), &path[1..]),
        "self" => (Root::Here, here.to_vec(), &path[1..]),
        "super" => {
            let mut base = here.to_vec();
            let mut k = 0;
            while path.get(k).is_some_and(|s| s == "super") {
                base.pop()?;
                k += 1;
            }
            (Root::Here, base, &path[k..])
        }
        _ => return None,
    };
    base.extend(rest.iter().cloned());
    Some((root, base))
}

/// The file that defines the longest module prefix of `segments`, and the name taken from it:
/// the next segment, or the module's own name when the path names the module.
fn resolve(
    modules: &BTreeMap<(Krate, Vec<String>), String>,
    krate: Krate,
    segments: &[String],
) -> Option<(String, String)> {
    let segments: Vec<String> = segments.iter().filter(|s| *s != "self").cloned().collect();
    for len in (0..=segments.len()).rev() {
        if let Some(file) = modules.get(&(krate, segments[..len].to_vec())) {
            let name = segments.get(len).or(segments.last()).cloned().unwrap_or_else(|| "crate".into());
            return Some((file.clone(), name));
        }
    }
    None
}

// The checker's own cases, on small in-memory crates.

fn graph(files: &[(&str, &str)]) -> Graph {
    let files: BTreeMap<String, String> = files.iter().map(|(p, s)| ((*p).to_owned(), (*s).to_owned())).collect();
    Graph::of(&files, Some("main.rs")).unwrap()
}

fn arrow(g: &Graph, from: &str, to: &str) -> Option<Vec<String>> {
    g.edges.get(from)?.get(to).map(|names| names.iter().cloned().collect())
}

#[test]
fn finds_a_circle_of_two_files_with_its_names() {
    let g = graph(&[
        ("lib.rs", "pub mod a;\npub mod b;\n"),
        ("a.rs", "use crate::b::Bee;\npub struct Ay(Bee);\n"),
        ("b.rs", "pub struct Bee;\npub fn f() -> crate::a::Ay { crate::a::Ay(Bee) }\n"),
    ]);
    let circles = g.circles();
    assert_eq!(circles.len(), 1, "{circles:?}");
    assert!(circles[0].starts_with("circle of 2 files: a.rs, b.rs"), "{}", circles[0]);
    assert!(circles[0].contains("a.rs -> b.rs: Bee"), "{}", circles[0]);
    assert!(circles[0].contains("b.rs -> a.rs: Ay"), "{}", circles[0]);
}

#[test]
fn finds_a_circle_of_three_files_through_super_and_self() {
    let g = graph(&[
        ("lib.rs", "pub mod m;\n"),
        ("m/mod.rs", "pub mod leaf;\npub mod top;\nuse self::top::Top;\npub struct Base(Top);\n"),
        ("m/leaf.rs", "pub fn f(b: &super::Base) {}\n"),
        ("m/top.rs", "use super::leaf;\npub struct Top;\nfn g() { leaf::f(todo!()) }\n"),
    ]);
    let circles = g.circles();
    assert_eq!(circles.len(), 1, "{circles:?}");
    assert!(circles[0].starts_with("circle of 3 files: m/leaf.rs, m/mod.rs, m/top.rs"), "{}", circles[0]);
    assert_eq!(arrow(&g, "m/mod.rs", "m/top.rs"), Some(vec!["Top".into()]));
    assert_eq!(arrow(&g, "m/leaf.rs", "m/mod.rs"), Some(vec!["Base".into()]));
    assert_eq!(arrow(&g, "m/top.rs", "m/leaf.rs"), Some(vec!["leaf".into()]));
}

#[test]
fn a_layered_crate_has_no_circle() {
    let g = graph(&[
        ("lib.rs", "pub mod report;\npub use report::Report;\n"),
        (
            "report/mod.rs",
            // A face: declares its children, hands their names on, calls them by bare name.
            "pub mod format;\npub mod verdict;\npub use verdict::Verdict;\npub struct Report;\n\
             pub fn render() -> String { format::us(1.0) }\n",
        ),
        ("report/format.rs", "pub fn us(v: f64) -> String { v.to_string() }\n"),
        (
            "report/verdict.rs",
            "use super::format::{self, us};\nuse crate::report::Report;\npub struct Verdict;\n\
             fn f() { let _ = format::us(2.0); let _ = us(1.0); let _: Option<super::Report> = None; }\n",
        ),
    ]);
    assert_eq!(g.circles(), Vec::<String>::new());
    assert_eq!(arrow(&g, "report/verdict.rs", "report/format.rs"), Some(vec!["format".into(), "us".into()]));
    assert_eq!(arrow(&g, "report/verdict.rs", "report/mod.rs"), Some(vec!["Report".into()]));
    assert_eq!(arrow(&g, "report/mod.rs", "report/verdict.rs"), None, "pub use and mod are no imports");
    assert_eq!(arrow(&g, "lib.rs", "report/mod.rs"), None);
}

#[test]
fn test_code_comments_and_strings_are_not_imports() {
    let g = graph(&[
        ("lib.rs", "pub mod a;\npub mod b;\nmod tests;\n"),
        ("a.rs", "use crate::b::Bee;\npub struct Ay;\n"),
        (
            "b.rs",
            "pub struct Bee;\n// crate::a::Ay\n/* use crate::a::Ay; /* nested */ crate::a::Ay */\n\
             const S: &str = \"crate::a::Ay\";\nconst B: u8 = b'\"';\nconst R: &str = r#\"use crate::a::Ay;\"#;\nconst C: char = '\"';\n\
             fn life<'a>(x: &'a str) -> &'a str { x }\n\
             #[cfg(test)]\nmod tests {\n    use crate::a::Ay;\n    fn t() { let _ = super::super::a::Ay; }\n}\n\
             #[cfg(test)]\nfn helper() -> crate::a::Ay { crate::a::Ay }\n#[cfg(test)]\nmod more;\n",
        ),
        ("b/more.rs", "use crate::a::Ay;\n"),
        ("tests.rs", "use crate::a::Ay;\n"),
    ]);
    assert_eq!(g.circles(), Vec::<String>::new());
    assert_eq!(arrow(&g, "b.rs", "a.rs"), None);
    assert_eq!(arrow(&g, "a.rs", "b.rs"), Some(vec!["Bee".into()]));
}

#[test]
fn nested_use_trees_inline_modules_and_the_binary_resolve() {
    let g = graph(&[
        ("lib.rs", "pub mod a;\npub mod b;\npub mod c;\npub use a::Ay;\npub struct Error;\n"),
        ("a.rs", "pub struct Ay;\n"),
        ("b/mod.rs", "pub mod deep;\n"),
        ("b/deep.rs", "pub struct Deep;\npub mod inner {\n    pub const X: u8 = 1;\n}\n"),
        (
            "c.rs",
            "use crate::{a::Ay as A, b::{deep::{self, inner::X}}, Error};\n\
             mod local {\n    use super::super::a::Ay;\n}\n",
        ),
        ("main.rs", "mod cli;\nfn main() { cli::run() }\n"),
        ("cli/mod.rs", "use paybench::b::deep::Deep;\npub fn run() { crate::cli::helper() }\nfn helper() {}\n"),
    ]);
    assert_eq!(arrow(&g, "c.rs", "a.rs"), Some(vec!["Ay".into()]));
    assert_eq!(arrow(&g, "c.rs", "b/deep.rs"), Some(vec!["deep".into(), "inner".into()]));
    assert_eq!(arrow(&g, "c.rs", "lib.rs"), Some(vec!["Error".into()]));
    assert_eq!(arrow(&g, "cli/mod.rs", "b/deep.rs"), Some(vec!["Deep".into()]));
    assert_eq!(arrow(&g, "main.rs", "cli/mod.rs"), None, "a bare child path is not read");
}

#[test]
fn a_missing_module_file_is_an_error_not_a_pass() {
    let files: BTreeMap<String, String> = [("lib.rs", "pub mod gone;\n"), ("stray.rs", "")]
        .iter()
        .map(|(p, s)| ((*p).to_owned(), (*s).to_owned()))
        .collect();
    let e = Graph::of(&files, Some("main.rs")).unwrap_err();
    assert!(e.contains("gone"), "{e}");
    let files: BTreeMap<String, String> =
        [("lib.rs", ""), ("stray.rs", "")].iter().map(|(p, s)| ((*p).to_owned(), (*s).to_owned())).collect();
    let e = Graph::of(&files, Some("main.rs")).unwrap_err();
    assert!(e.contains("stray.rs"), "{e}");
}
