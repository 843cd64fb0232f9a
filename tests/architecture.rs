//! The architecture's rules, checked on the import graph of `src/` (the `crate::` paths of
//! each file's non-test code): no two top-level modules import each other (directly or in
//! a longer cycle); vendor code imports nothing from the web layer; the web layer and the
//! exposition import no vendor; the simulator and the vendor clients share nothing; vendors
//! do not import each other. docs/design.md states them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

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
    out
}

/// The file's module path under `src/`: `sources/code42/estate.rs` → ["sources", "code42", "estate"].
fn module_of(path: &Path) -> Vec<String> {
    let relative = path.strip_prefix(SRC).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The code of a file without its unit tests (they sit at its end, in `mod tests`).
fn non_test_code(text: &str) -> &str {
    let markers = [
        "#[cfg(test)]\nmod tests",
        "#[cfg(test)]\npub(crate) mod tests",
    ];
    let end = markers
        .iter()
        .filter_map(|m| text.find(m))
        .min()
        .unwrap_or(text.len());
    &text[..end]
}

/// Every `crate::a::b…` path a file names, as its segments.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        paths.push(
            path.split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        );
    }
    paths
}

struct Import {
    /// The importing file's module path.
    from: Vec<String>,
    /// The imported path.
    to: Vec<String>,
}

fn imports() -> Vec<Import> {
    let mut out = Vec::new();
    for file in files(Path::new(SRC)) {
        let text = std::fs::read_to_string(&file).unwrap();
        let from = module_of(&file);
        for to in crate_paths(non_test_code(&text)) {
            out.push(Import {
                from: from.clone(),
                to,
            });
        }
    }
    out
}

fn starts_with(path: &[String], prefix: &[&str]) -> bool {
    path.len() >= prefix.len() && path.iter().zip(prefix).all(|(a, b)| a == b)
}

#[test]
fn top_level_modules_form_no_cycle() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for import in imports() {
        let (Some(from), Some(to)) = (import.from.first(), import.to.first()) else {
            continue;
        };
        if from != to && !["lib", "main"].contains(&from.as_str()) {
            graph.entry(from.clone()).or_default().insert(to.clone());
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
    let vendors = ["code42", "druva"];
    let mut violations = Vec::new();
    for import in imports() {
        let (from, to) = (&import.from, &import.to);
        let rule = if starts_with(from, &["sources"]) && starts_with(to, &["web"]) {
            Some("vendor code imports the web layer")
        } else if (starts_with(from, &["web"]) || starts_with(from, &["exposition"]))
            && vendors.iter().any(|v| starts_with(to, &["sources", v]))
        {
            Some("the web layer or the exposition imports a vendor")
        } else if starts_with(from, &["simulator"]) && starts_with(to, &["sources"]) {
            Some("the simulator imports the clients' code")
        } else if starts_with(from, &["sources"]) && starts_with(to, &["simulator"]) {
            Some("a client imports the simulator")
        } else if vendors.iter().any(|a| {
            starts_with(from, &["sources", a])
                && vendors
                    .iter()
                    .any(|b| a != b && starts_with(to, &["sources", b]))
        }) {
            Some("a vendor imports another vendor")
        } else {
            None
        };
        if let Some(rule) = rule {
            violations.push(format!(
                "{rule}: {} → crate::{}",
                from.join("/"),
                to.join("::")
            ));
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_registry_is_the_one_place_that_names_the_vendors() {
    let naming: BTreeSet<String> = imports()
        .into_iter()
        .filter(|i| {
            !starts_with(&i.from, &["sources"])
                && ["code42", "druva"]
                    .iter()
                    .any(|v| starts_with(&i.to, &["sources", v]))
        })
        .map(|i| i.from.join("/"))
        .collect();
    let allowed: BTreeSet<String> = ["engine/vendors", "lib"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(
        naming.is_subset(&allowed),
        "vendor modules named outside the registry: {naming:?}"
    );
}
