//! Records the git revision for `backup_exporter_build_info{revision}`.

use std::process::Command;

fn main() {
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
