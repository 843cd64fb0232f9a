//! The architecture's rules, checked on the source of `src/` (each file's code without its
//! comments and unit tests): the import graph of the top-level modules has no cycle; vendor
//! code imports nothing from the web layer; the web layer and the exposition import no
//! vendor; the simulator and the vendor clients share nothing; vendors do not import each
//! other; and outside a vendor's two folders only the registry (`src/engine/vendors.rs`)
//! names it at all. The vendors are the folders under `src/sources/`, so every rule holds
//! for a vendor added later. Files stay small enough to read: docs/design.md states these
//! rules and the limits.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
/// The registry, the one file outside the vendors' folders that names them.
const REGISTRY: &str = "engine/vendors";
/// Lines of code (tests and comments excluded) a file may have, and a function.
const MAX_FILE_LINES: usize = 700;
const MAX_FUNCTION_LINES: usize = 80;

/// Every `.rs` file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The vendors: the folders under `src/sources/`.
fn vendors() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(Path::new(SRC).join("sources"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A file of `src/`, read.
struct Source {
    /// Its module path: `sources/code42/estate.rs` → ["sources", "code42", "estate"].
    module: Vec<String>,
    /// Its code without comments and without its unit tests; string literals kept.
    code: String,
    /// The same with every string literal emptied, for reading paths.
    paths_code: String,
}

impl Source {
    fn read(path: &Path) -> Source {
        let relative = path.strip_prefix(SRC).unwrap().with_extension("");
        let mut module: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if module.last().is_some_and(|p| p == "mod") {
            module.pop();
        }
        let text = std::fs::read_to_string(path).unwrap();
        let code = strip(&text, false);
        let code = without_tests(&code).to_string();
        let paths_code = strip(&code, true);
        Source {
            module,
            code,
            paths_code,
        }
    }

    fn name(&self) -> String {
        self.module.join("/")
    }
}

/// `text` without comments; with `empty_strings`, string and char literals are emptied too.
/// A small lexer: enough for rustfmt-formatted Rust (raw strings, escapes, lifetimes).
fn strip(text: &str, empty_strings: bool) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&chars, i) {
            // A raw string: r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let start = i;
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (0..hashes).all(|h| chars.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            if empty_strings {
                out.push_str("\"\"");
            } else {
                out.extend(&chars[start..j]);
            }
            i = j;
        } else if c == '"' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            if empty_strings {
                out.push_str("\"\"");
            } else {
                out.extend(&chars[start..i.min(chars.len())]);
            }
        } else if c == '\'' && is_char_literal(&chars, i) {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            if empty_strings {
                out.push_str("' '");
            } else {
                out.extend(&chars[start..i.min(chars.len())]);
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// `'x'`, `'\n'`, `'\u{1F600}'` — not a lifetime (`'a`, `'static`).
fn is_char_literal(chars: &[char], i: usize) -> bool {
    matches!(
        (chars.get(i + 1), chars.get(i + 2)),
        (Some('\\'), _) | (Some(_), Some('\''))
    )
}

/// The code before the file's unit tests: `mod tests` at its end, with the attributes
/// (`#[cfg(test)]` and any other) and blank lines before it.
fn without_tests(code: &str) -> &str {
    let Some(at) = ["\nmod tests {", "\npub(crate) mod tests {"]
        .iter()
        .filter_map(|m| code.find(m))
        .min()
    else {
        return code;
    };
    let mut end = at;
    while let Some(line_start) = code[..end].rfind('\n') {
        let line = code[line_start + 1..end].trim();
        if !(line.is_empty() || line.starts_with("#[")) {
            break;
        }
        end = line_start;
    }
    &code[..end]
}

/// Every path of a `use` tree, grouped imports expanded: `a::{b, c::{d, self}}` →
/// `a::b`, `a::c::d`, `a::c`.
fn expand(tree: &str) -> Vec<Vec<String>> {
    // Renames (`a::b as c`) dropped, then whitespace.
    let words: Vec<&str> = tree.split_whitespace().collect();
    let mut kept = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if words[i] == "as" {
            i += 2;
            // `c,` or `c}` keep what follows the name.
            if let Some(name) = words.get(i - 1) {
                kept.push(name.trim_start_matches(|c: char| c.is_alphanumeric() || c == '_'));
            }
            continue;
        }
        kept.push(words[i]);
        i += 1;
    }
    let tree = kept.concat();
    let Some(open) = tree.find('{') else {
        return vec![segments(&tree)];
    };
    let prefix = segments(&tree[..open]);
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    let mut out = Vec::new();
    for part in parts.into_iter().filter(|p| !p.is_empty()) {
        for tail in expand(part) {
            let mut path = prefix.clone();
            path.extend(tail.into_iter().filter(|s| s != "self"));
            out.push(path);
        }
    }
    out
}

fn segments(path: &str) -> Vec<String> {
    path.split("::")
        .filter(|s| !s.is_empty() && *s != "*")
        .map(|s| s.trim_start_matches("r#").to_string())
        .collect()
}

/// What a file imports, as module paths under `src/`: its `use` declarations (grouped and
/// relative ones resolved) and every `crate::…` or `super::…` path in its code.
fn imports(file: &Source) -> Vec<Vec<String>> {
    let code = &file.paths_code;
    let children: BTreeSet<String> = code
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l
                .strip_prefix("pub(crate) ")
                .or(l.strip_prefix("pub "))
                .unwrap_or(l);
            l.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(str::to_string)
        })
        .collect();
    let mut paths = Vec::new();
    // The `use` declarations, and the code without them.
    let mut other_code = String::new();
    let mut rest = code.as_str();
    while let Some(at) = find_word(rest, "use") {
        other_code.push_str(&rest[..at]);
        rest = &rest[at + 3..];
        let Some(end) = rest.find(';') else { break };
        paths.extend(expand(&rest[..end]));
        rest = &rest[end..];
    }
    other_code.push_str(rest);
    for prefix in ["crate::", "super::"] {
        let mut rest = other_code.as_str();
        while let Some(at) = rest.find(prefix) {
            let before = other_code.len() - rest.len() + at;
            rest = &rest[at..];
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            rest = &rest[path.len().max(1)..];
            // `super::super::x` is read once, from its first `super`.
            if other_code[..before].ends_with("super::") {
                continue;
            }
            paths.push(segments(&path));
        }
    }
    paths
        .into_iter()
        .filter_map(|p| resolve(&file.module, &children, p))
        .collect()
}

/// The position of `word` in `text` as a whole word.
fn find_word(text: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = text[from..].find(word) {
        let at = from + at;
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let boundary = |c: Option<char>| !c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        if boundary(before) && after.is_some_and(char::is_whitespace) {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

/// `path` as a module path under `src/`, or `None` for another crate's.
fn resolve(
    module: &[String],
    children: &BTreeSet<String>,
    path: Vec<String>,
) -> Option<Vec<String>> {
    let first = path.first()?.as_str();
    let mut base: Vec<String> = match first {
        "crate" => Vec::new(),
        "self" => module.to_vec(),
        "super" => module.to_vec(),
        name if children.contains(name) => module.to_vec(),
        _ => return None,
    };
    let mut rest = path.as_slice();
    if first == "crate" || first == "self" {
        rest = &rest[1..];
    }
    while rest.first().is_some_and(|s| s == "super") {
        base.pop();
        rest = &rest[1..];
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

fn sources() -> Vec<Source> {
    files(Path::new(SRC))
        .iter()
        .map(|f| Source::read(f))
        .collect()
}

fn starts_with(path: &[String], prefix: &[&str]) -> bool {
    path.len() >= prefix.len() && path.iter().zip(prefix).all(|(a, b)| a == b)
}

/// The vendor whose folder (under `sources/` or `simulator/`) `module` is in.
fn vendor_of<'v>(module: &[String], vendors: &'v [String]) -> Option<&'v str> {
    vendors
        .iter()
        .find(|v| {
            starts_with(module, &["sources", v.as_str()])
                || starts_with(module, &["simulator", v.as_str()])
        })
        .map(String::as_str)
}

#[test]
fn the_reader_sees_grouped_and_relative_imports() {
    let module: Vec<String> = ["sources", "druva", "state"].map(String::from).to_vec();
    let source = Source {
        module,
        code: String::new(),
        paths_code: strip(
            "mod merge;\nuse super::{api::Api, reports::{self, Parsed}};\nuse crate::web::{App};\n// use crate::cli;\nlet s = \"crate::engine\";\nuse merge::Job;\nuse std::sync::Arc;\nfn f() { super::super::http::send(); }\n",
            true,
        ),
    };
    let found: BTreeSet<String> = imports(&source).iter().map(|p| p.join("::")).collect();
    let expected: BTreeSet<String> = [
        "sources::druva::api::Api",
        "sources::druva::reports",
        "sources::druva::reports::Parsed",
        "web::App",
        "sources::druva::state::merge::Job",
        "sources::http::send",
    ]
    .map(String::from)
    .into();
    assert_eq!(found, expected);
}

#[test]
fn top_level_modules_form_no_cycle() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in sources() {
        let Some(from) = file.module.first().cloned() else {
            continue;
        };
        if ["lib", "main"].contains(&from.as_str()) {
            continue;
        }
        for to in imports(&file) {
            if let Some(to) = to.first().filter(|to| **to != from) {
                graph.entry(from.clone()).or_default().insert(to.clone());
            }
        }
    }
    // Depth-first search for a path back to where it started.
    fn reaches(
        graph: &BTreeMap<String, BTreeSet<String>>,
        from: &str,
        target: &str,
        seen: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> bool {
        for next in graph.get(from).into_iter().flatten() {
            path.push(next.clone());
            if next == target
                || (seen.insert(next.clone()) && reaches(graph, next, target, seen, path))
            {
                return true;
            }
            path.pop();
        }
        false
    }
    for module in graph.keys() {
        let mut path = vec![module.clone()];
        let cycle = reaches(&graph, module, module, &mut BTreeSet::new(), &mut path);
        assert!(!cycle, "import cycle: {}", path.join(" → "));
    }
    // The graph is not trivially empty.
    assert!(graph["engine"].contains("sources") && graph["web"].contains("engine"));
}

#[test]
fn each_layer_imports_only_what_it_may() {
    let vendors = vendors();
    assert!(vendors.len() >= 2, "vendors found: {vendors:?}");
    let mut violations = Vec::new();
    let mut checked = 0;
    for file in sources() {
        let from = &file.module;
        for to in imports(&file) {
            checked += 1;
            let from_vendor = vendor_of(from, &vendors);
            let to_vendor = vendor_of(&to, &vendors);
            let rule = if starts_with(from, &["sources"]) && starts_with(&to, &["web"]) {
                Some("vendor code imports the web layer")
            } else if (starts_with(from, &["web"]) || starts_with(from, &["exposition"]))
                && to_vendor.is_some()
            {
                Some("the web layer or the exposition imports a vendor")
            } else if starts_with(from, &["simulator"]) && starts_with(&to, &["sources"]) {
                Some("the simulator imports the clients' code")
            } else if starts_with(from, &["sources"]) && starts_with(&to, &["simulator"]) {
                Some("a client imports the simulator")
            } else if from_vendor.is_some() && to_vendor.is_some() && from_vendor != to_vendor {
                Some("a vendor imports another vendor")
            } else if to_vendor.is_some() && from_vendor.is_none() && file.name() != REGISTRY {
                Some("a vendor is imported outside the registry")
            } else {
                None
            };
            if let Some(rule) = rule {
                violations.push(format!(
                    "{rule}: {} → crate::{}",
                    file.name(),
                    to.join("::")
                ));
            }
        }
    }
    assert!(checked > 300, "only {checked} imports read");
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn outside_its_folders_only_the_registry_names_a_vendor() {
    let vendors = vendors();
    let mut naming = Vec::new();
    for file in sources() {
        let code = file.code.to_lowercase();
        for vendor in &vendors {
            if vendor_of(&file.module, &vendors) == Some(vendor.as_str()) || file.name() == REGISTRY
            {
                continue;
            }
            if let Some(line) = code.lines().find(|l| l.contains(vendor.as_str())) {
                naming.push(format!("{} names {vendor}: {}", file.name(), line.trim()));
            }
        }
    }
    assert!(naming.is_empty(), "{}", naming.join("\n"));
    // The check reads what it should: the registry names every vendor.
    let registry = sources()
        .into_iter()
        .find(|f| f.name() == REGISTRY)
        .unwrap();
    for vendor in &vendors {
        assert!(registry.code.contains(vendor.as_str()), "{vendor}");
    }
}

#[test]
fn files_and_functions_fit_in_a_head() {
    let mut too_long = Vec::new();
    for file in sources() {
        let lines: Vec<&str> = file.code.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.len() > MAX_FILE_LINES {
            too_long.push(format!("{}: {} lines of code", file.name(), lines.len()));
        }
        // rustfmt puts a function's closing brace at the indent of its `fn`.
        let all: Vec<&str> = file.code.lines().collect();
        for (at, line) in all.iter().enumerate() {
            let trimmed = line.trim_start();
            let indent = &line[..line.len() - trimmed.len()];
            let signature = [
                "fn ",
                "pub fn ",
                "pub(crate) fn ",
                "async fn ",
                "pub async fn ",
                "pub(crate) async fn ",
                "const fn ",
                "pub const fn ",
                "pub(crate) const fn ",
            ]
            .iter()
            .any(|p| trimmed.starts_with(p));
            if !signature || trimmed.ends_with(';') {
                continue;
            }
            let closing = format!("{indent}}}");
            if let Some(end) = all[at + 1..].iter().position(|l| *l == closing) {
                let body = all[at..at + end + 2]
                    .iter()
                    .filter(|l| !l.trim().is_empty())
                    .count();
                if body > MAX_FUNCTION_LINES {
                    too_long.push(format!(
                        "{}:{}: {} lines: {}",
                        file.name(),
                        at + 1,
                        body,
                        trimmed
                    ));
                }
            }
        }
    }
    assert!(
        too_long.is_empty(),
        "too long to read at once:\n{}",
        too_long.join("\n")
    );
}
