//! The deployment files mean what they say: the systemd unit verifies and is sandboxed,
//! the Kubernetes Deployment runs non-root on a read-only filesystem with probes on the
//! exporter's real endpoints and its configuration and secrets where the configuration
//! expects them, the shipped configurations pass `--config.check`, and the Dockerfile's
//! runtime stage is non-root with a health check the binary implements. (Schema validation
//! of the Kubernetes objects is in .ci/kubernetes-schema, run by .ci/run.)

mod common;

use std::path::Path;
use std::process::Command;

use yaml_serde::Value;

const BIN: &str = env!("CARGO_BIN_EXE_backup-exporter");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap()
}

/// Runs `--config.check` on `config` with every `secret_dir/NAME` path replaced by a
/// temporary file holding a made-up secret: the file's shape is what is checked.
fn config_check(config: &str, secret_dir: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    for name in ["code42", "druva"] {
        std::fs::write(dir.path().join(name), "made-up-secret").unwrap();
    }
    let text = config.replace(secret_dir, &dir.path().display().to_string());
    let file = dir.path().join("backup-exporter.yml");
    std::fs::write(&file, text).unwrap();
    let output = Command::new(BIN)
        .args(["--config.check", "--config.file"])
        .arg(&file)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

#[test]
fn systemd_unit_verifies_and_is_sandboxed() {
    let unit = read("deploy/systemd/backup-exporter.service");
    for directive in [
        "DynamicUser=yes",
        "LoadCredential=code42:/etc/backup-exporter/secrets/code42",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
        "StateDirectory=backup-exporter",
        "--storage.path=/var/lib/backup-exporter",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "LimitNOFILE=8192",
    ] {
        assert!(unit.contains(directive), "the unit lacks {directive:?}");
    }
    // The configuration it ships reads the credentials systemd provides.
    let config = read("deploy/systemd/backup-exporter.yml");
    let (ok, output) = config_check(&config, "/run/credentials/backup-exporter.service");
    assert!(ok, "{output}");

    let Some(analyze) = common::required_tool(&["systemd-analyze"], "systemd") else {
        return;
    };
    // systemd-analyze checks that ExecStart exists: point it at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup-exporter.service");
    std::fs::write(&file, unit.replace("/usr/local/bin/backup-exporter", BIN)).unwrap();
    let verify = Command::new(&analyze)
        .arg("verify")
        .arg(&file)
        .output()
        .unwrap();
    let complaints = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success() && complaints.trim().is_empty(),
        "{complaints}"
    );
    let security = Command::new(&analyze)
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&file)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&security.stdout);
    let exposure: f64 = report
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for backup-exporter.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|score| score.parse().ok())
        .unwrap_or_else(|| panic!("no exposure score in:\n{report}"));
    // 0 is fully locked down, 10 unprotected; systemd calls below 2 "OK".
    assert!(exposure < 2.0, "exposure {exposure}:\n{report}");
}

fn get<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    path.iter()
        .fold(value, |v, key| match key.parse::<usize>() {
            Ok(i) => &v[i],
            Err(_) => &v[*key],
        })
}

fn text<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    get(value, path)
        .as_str()
        .unwrap_or_else(|| panic!("{path:?} is not a string"))
}

/// The value of `--flag=value` in a container's args.
fn arg<'a>(args: &'a [Value], flag: &str) -> &'a str {
    args.iter()
        .filter_map(|a| a.as_str())
        .find_map(|a| a.strip_prefix(&format!("{flag}=")))
        .unwrap_or_else(|| panic!("no {flag} in {args:?}"))
}

#[test]
fn kubernetes_deployment_runs_locked_down_with_its_config_and_secrets() {
    let deployment: Value =
        yaml_serde::from_str(&read("deploy/kubernetes/deployment.yaml")).unwrap();
    let pod = get(&deployment, &["spec", "template", "spec"]);
    let container = get(pod, &["containers", "0"]);

    assert_eq!(
        get(pod, &["securityContext", "runAsNonRoot"]),
        &Value::Bool(true)
    );
    assert_ne!(
        get(pod, &["securityContext", "runAsUser"]).as_u64(),
        Some(0)
    );
    let security = get(container, &["securityContext"]);
    assert_eq!(security["readOnlyRootFilesystem"], Value::Bool(true));
    assert_eq!(security["allowPrivilegeEscalation"], Value::Bool(false));
    assert_eq!(text(security, &["capabilities", "drop", "0"]), "ALL");
    assert_eq!(pod["automountServiceAccountToken"], Value::Bool(false));

    // Probes on the exporter's own endpoints and on the port it listens on.
    let args = get(container, &["args"]).as_sequence().unwrap();
    let listen = arg(args, "--web.listen-address");
    let port = get(container, &["ports", "0"]);
    assert_eq!(
        listen.rsplit(':').next().unwrap(),
        port["containerPort"].as_u64().unwrap().to_string()
    );
    for (probe, path) in [
        ("readinessProbe", "/-/ready"),
        ("livenessProbe", "/-/healthy"),
    ] {
        assert_eq!(text(container, &[probe, "httpGet", "path"]), path);
        assert_eq!(
            get(container, &[probe, "httpGet", "port"]),
            &port["name"],
            "{probe} uses the named port"
        );
    }

    // Memory sized from docs/performance.md: the 100k-device busy peak (230 MiB) fits.
    let mib = |quantity: &str| quantity.strip_suffix("Mi").unwrap().parse::<u64>().unwrap();
    assert!(mib(text(container, &["resources", "limits", "memory"])) >= 256);
    assert!(mib(text(container, &["resources", "requests", "memory"])) >= 50);

    // The config file is where the ConfigMap is mounted, under the name kustomize gives it.
    let mounts = get(container, &["volumeMounts"]).as_sequence().unwrap();
    let mount_of = |volume: &str| {
        mounts
            .iter()
            .find(|m| m["name"].as_str() == Some(volume))
            .map(|m| text(m, &["mountPath"]).to_string())
            .unwrap_or_else(|| panic!("no mount of {volume}"))
    };
    let volumes = get(pod, &["volumes"]).as_sequence().unwrap();
    let volume = |name: &str| {
        volumes
            .iter()
            .find(|v| v["name"].as_str() == Some(name))
            .unwrap()
    };
    let config_file = arg(args, "--config.file");
    let kustomization: Value =
        yaml_serde::from_str(&read("deploy/kubernetes/kustomization.yaml")).unwrap();
    let generator = get(&kustomization, &["configMapGenerator", "0"]);
    assert_eq!(
        text(volume("config"), &["configMap", "name"]),
        text(generator, &["name"])
    );
    let file_name = text(generator, &["files", "0"]);
    assert_eq!(config_file, format!("{}/{file_name}", mount_of("config")));
    let storage = arg(args, "--storage.path");
    assert_eq!(storage, mount_of("state"), "--storage.path is writable");

    // Secrets are files from the Secret's mount, and the configuration reads them there.
    let secret_dir = mount_of("secrets");
    assert!(volume("secrets")["secret"]["secretName"].is_string());
    let config = read(&format!("deploy/kubernetes/{file_name}"));
    assert!(config.contains(&format!("client_secret_file: {secret_dir}/code42")));
    let (ok, output) = config_check(&config, &secret_dir);
    assert!(ok, "{output}");

    // Every resource the kustomization lists exists.
    for resource in get(&kustomization, &["resources"]).as_sequence().unwrap() {
        let path = format!("deploy/kubernetes/{}", resource.as_str().unwrap());
        assert!(Path::new(ROOT).join(&path).is_file(), "{path} is missing");
    }
}

#[test]
fn service_monitor_scrapes_the_service_as_the_rules_expect() {
    let service: Value = yaml_serde::from_str(&read("deploy/kubernetes/service.yaml")).unwrap();
    let monitor: Value =
        yaml_serde::from_str(&read("deploy/kubernetes/servicemonitor.yaml")).unwrap();
    // Prometheus Operator names the job after the Service; the rules select job="backup-exporter".
    assert_eq!(text(&service, &["metadata", "name"]), "backup-exporter");
    assert!(
        read("alerts/config.libsonnet").contains("exporterSelector: 'job=\"backup-exporter\"'")
    );
    let selector = get(&monitor, &["spec", "selector", "matchLabels"]);
    for (key, value) in selector.as_mapping().unwrap() {
        assert_eq!(&service["metadata"]["labels"][key.as_str().unwrap()], value);
    }
    let endpoint = get(&monitor, &["spec", "endpoints", "0"]);
    assert_eq!(endpoint["port"], service["spec"]["ports"][0]["name"]);
    assert_eq!(text(endpoint, &["path"]), "/metrics");
}

#[test]
fn generated_kubernetes_objects_hold_the_committed_rules_and_dashboards() {
    let rule: Value = yaml_serde::from_str(&read("deploy/kubernetes/prometheusrule.yaml")).unwrap();
    let rules: Value = yaml_serde::from_str(&read("alerts/backup-exporter.rules.yml")).unwrap();
    assert_eq!(rule["spec"]["groups"], rules["groups"]);

    let text = read("deploy/kubernetes/dashboards.yaml");
    let mut seen = Vec::new();
    for document in text.split("\n---\n") {
        let config_map: Value = yaml_serde::from_str(document).unwrap();
        assert_eq!(config_map["metadata"]["labels"]["grafana_dashboard"], "1");
        for (file, json) in config_map["data"].as_mapping().unwrap() {
            let file = file.as_str().unwrap();
            let shipped: serde_json::Value = serde_json::from_str(json.as_str().unwrap()).unwrap();
            let committed: serde_json::Value =
                serde_json::from_str(&read(&format!("dashboards/{file}"))).unwrap();
            assert_eq!(shipped, committed, "{file}");
            seen.push(file.to_string());
        }
    }
    let mut dashboards: Vec<String> = std::fs::read_dir(Path::new(ROOT).join("dashboards"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    dashboards.sort();
    seen.sort();
    assert_eq!(seen, dashboards);
}

#[test]
fn dockerfile_builds_then_runs_non_root_with_a_health_check() {
    let dockerfile = read("Dockerfile");
    let from: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(from.len(), 2, "a build stage and a runtime stage");
    assert!(from[0].ends_with(" AS build"));
    let runtime = &dockerfile[dockerfile.rfind("\nFROM ").unwrap()..];
    let user = runtime
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the runtime stage sets USER");
    assert!(
        !user.starts_with("0") && !user.starts_with("root"),
        "{user}"
    );
    assert!(runtime.contains(
        "--from=build /src/target/release/backup-exporter /usr/local/bin/backup-exporter"
    ));
    assert!(runtime.contains(r#"CMD ["/usr/local/bin/backup-exporter", "healthcheck", "--url", "http://127.0.0.1:9877/-/healthy"]"#));
    assert!(runtime.contains("EXPOSE 9877"));
    // What the build stage copies exists, and is all the release build needs (the build
    // script included: it sets the revision the binary reports).
    assert!(
        dockerfile.contains("build.rs"),
        "the build stage copies build.rs"
    );
    for line in dockerfile
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        for source in &words[1..words.len() - 1] {
            assert!(Path::new(ROOT).join(source).exists(), "{source} is missing");
        }
    }
    let manifest = read("Cargo.toml");
    for setting in [
        "[profile.release]",
        "lto = \"thin\"",
        "codegen-units = 1",
        "strip = true",
    ] {
        assert!(manifest.contains(setting), "Cargo.toml lacks {setting}");
    }
}
