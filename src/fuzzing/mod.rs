//! The fuzz targets' entry points (built with the `fuzzing` feature for `fuzz/`), and the
//! replay of their corpus in `cargo test`. Each target hands bytes from outside to the
//! function production hands them to: the configuration and web configuration files, what
//! an HTTP client sends, a snapshot of any labels and values, and each vendor's inputs
//! (`Vendor::FUZZ_TARGETS`, and its state file). docs/reliability.md has the campaign.

mod http;
mod snapshot;

use std::path::Path;

pub use crate::sources::fuzzing::FuzzTarget;
use crate::web::webconfig::WebConfig;

const TARGETS: &[FuzzTarget] = &[
    FuzzTarget {
        name: "config",
        run: config,
    },
    FuzzTarget {
        name: "web_config",
        run: web_config,
    },
    FuzzTarget {
        name: "http_request",
        run: http::request,
    },
    FuzzTarget {
        name: "snapshot",
        run: snapshot::snapshot,
    },
];

/// Every fuzz target of this build.
pub fn targets() -> Vec<&'static FuzzTarget> {
    TARGETS
        .iter()
        .chain(crate::engine::fuzz_targets())
        .collect()
}

/// The target called `name`.
pub fn target(name: &str) -> fn(&[u8]) {
    targets()
        .into_iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no fuzz target {name} in this build"))
        .run
}

/// The configuration file, read and validated as `--config.file` and `--config.check` do.
fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::engine::parse_config("fuzz.yml", text);
    }
}

/// The web configuration file, as read at start and at each reload. A file the exporter
/// takes sets something, and a reload from basic auth to it is taken only if it keeps it.
fn web_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = WebConfig::parse(text, Path::new("fuzz-web.yml")) else {
        return;
    };
    assert!(
        config.tls.is_some() || config.requires_auth() || !config.headers.is_empty(),
        "a web configuration that sets nothing is refused"
    );
    if http::PROTECTED.dropped_by(&config).is_empty() {
        assert!(config.requires_auth(), "a reload keeps basic auth on");
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    /// `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`: every input fuzzing kept
    /// or that once crashed, replayed through the same entry points on stable.
    fn inputs(target: &str) -> Vec<PathBuf> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        let mut files = Vec::new();
        for dir in ["corpus", "regressions"] {
            if let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) {
                files.extend(entries.map(|e| e.unwrap().path()));
            }
        }
        files.sort();
        files
    }

    #[test]
    fn every_target_has_a_corpus_and_replays_it() {
        for target in super::targets() {
            let files = inputs(target.name);
            assert!(!files.is_empty(), "fuzz/corpus/{} is empty", target.name);
            for file in files {
                let data = std::fs::read(&file).unwrap();
                let replay = std::panic::catch_unwind(|| (target.run)(&data));
                assert!(
                    replay.is_ok(),
                    "{} panics on {}",
                    target.name,
                    file.display()
                );
            }
        }
    }

    #[test]
    fn every_target_has_its_fuzz_binary() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
        for target in super::targets() {
            let file = dir.join(format!("{}.rs", target.name));
            let code = std::fs::read_to_string(&file).unwrap_or_default();
            assert!(
                code.contains(&format!("target(\"{}\")", target.name)),
                "{} does not run the target",
                file.display()
            );
        }
    }
}
