//! Records the git revision for `backup_exporter_build_info{revision}`, and declares the
//! vendors' modules: every folder under `src/sources/` (a vendor's client) and
//! `src/simulator/` (its simulator) is a module compiled with the cargo feature of its
//! name, so a vendor is added by its two folders and its line in `src/engine/vendors.rs`
//! (and its feature in Cargo.toml), and a build without its feature knows nothing of it.

use std::path::Path;
use std::process::Command;

fn main() {
    revision();
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    // `every_vendor`: this build has every vendor (a helper only some vendors use is dead
    // code in a build without them, and only the full build is held to no dead code).
    println!("cargo::rustc-check-cfg=cfg(every_vendor)");
    let every_vendor = vendor_folders(Path::new("src/sources")).iter().all(|name| {
        std::env::var_os(format!(
            "CARGO_FEATURE_{}",
            name.to_uppercase().replace('-', "_")
        ))
        .is_some()
    });
    if every_vendor {
        println!("cargo::rustc-cfg=every_vendor");
    }
    for (dir, visibility, file) in [
        ("src/sources", "pub(crate)", "vendor_sources.rs"),
        ("src/simulator", "pub", "vendor_simulators.rs"),
    ] {
        println!("cargo:rerun-if-changed={dir}");
        let declarations = vendor_folders(Path::new(dir))
            .into_iter()
            .map(|name| {
                let path = Path::new(dir)
                    .join(&name)
                    .join("mod.rs")
                    .canonicalize()
                    .unwrap_or_else(|e| panic!("{dir}/{name}/mod.rs: {e}"));
                format!(
                    "#[cfg(feature = {name:?})]\n#[path = {:?}]\n{visibility} mod {name};\n",
                    path.display().to_string()
                )
            })
            .collect::<String>();
        std::fs::write(Path::new(&out).join(file), declarations).expect("writing to OUT_DIR");
    }
}

/// The folders directly under `dir`, sorted: each is one vendor's.
fn vendor_folders(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| {
            let entry = entry.ok()?;
            entry
                .file_type()
                .ok()?
                .is_dir()
                .then(|| entry.file_name().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    names
}

fn revision() {
    println!("cargo:rerun-if-env-changed=BACKUP_EXPORTER_REVISION");
    for path in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let revision = std::env::var("BACKUP_EXPORTER_REVISION")
        .ok()
        .filter(|r| !r.is_empty())
        .or_else(|| {
            let output = Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()?;
            output
                .status
                .success()
                .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=BACKUP_EXPORTER_REVISION={revision}");
}
