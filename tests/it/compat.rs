//! The original herodo's own example and test scripts (the herolib crates in cargo's registry)
//! run unchanged under herodo. The crates are fetched into the cargo cache with `cargo info`
//! (scripts/setup.sh does it too); each script runs from a scratch directory with two
//! substitutions only: `/tmp/` paths point into that directory, and image names point at the
//! offline test image. The scripts that cannot pass anywhere are listed in [`EXCEPTIONS`] with
//! the reason, and the README's "Compatibility with the original herodo" lists the same.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{herodo, require, root, test_image, TempDir};

/// (crate, version): herolib-do was never published as 0.3.13.
const CRATES: &[(&str, &str)] = &[
    ("herolib-os", "0.3.13"),
    ("herolib-core", "0.3.13"),
    ("herolib-virt", "0.3.13"),
    ("herolib-do", "0.3.12"),
];

/// The scripts of process, os, net and text that must pass: (crate directory, path in it).
const PASS: &[(&str, &str)] = &[
    // text
    (
        "herolib-core-0.3.13",
        "tests/rhai/text/01_text_indentation.rhai",
    ),
    (
        "herolib-core-0.3.13",
        "tests/rhai/text/02_name_path_fix.rhai",
    ),
    (
        "herolib-core-0.3.13",
        "tests/rhai/text/03_text_replacer.rhai",
    ),
    ("herolib-core-0.3.13", "tests/rhai/text/run_all_tests.rhai"),
    ("herolib-core-0.3.13", "examples/rhai/text/01_name_fix.rhai"),
    (
        "herolib-core-0.3.13",
        "examples/rhai/text/01_replacer_basic.rhai",
    ),
    ("herolib-core-0.3.13", "examples/rhai/text/02_dedent.rhai"),
    (
        "herolib-core-0.3.13",
        "examples/rhai/text/02_dedent_prefix.rhai",
    ),
    (
        "herolib-core-0.3.13",
        "examples/rhai/text/02_replacer_regex.rhai",
    ),
    ("herolib-core-0.3.13", "examples/rhai/text/03_prefix.rhai"),
    (
        "herolib-core-0.3.13",
        "examples/rhai/text/03_replacer_chain.rhai",
    ),
    (
        "herolib-os-0.3.13",
        "examples/rhai/template/07_template.rhai",
    ),
    (
        "herolib-os-0.3.13",
        "examples/rhai/template/07_template_demo.rhai",
    ),
    // net
    ("herolib-core-0.3.13", "examples/rhai/net/01_tcp_check.rhai"),
    (
        "herolib-core-0.3.13",
        "examples/rhai/net/02_http_check.rhai",
    ),
    ("herolib-os-0.3.13", "examples/rhai/net/01_tcp_check.rhai"),
    ("herolib-os-0.3.13", "examples/rhai/net/02_http_check.rhai"),
    (
        "herolib-os-0.3.13",
        "examples/rhai/net/04_advanced_port_scanning.rhai",
    ),
    (
        "herolib-os-0.3.13",
        "examples/rhai/net/05_http_health_checks.rhai",
    ),
    (
        "herolib-os-0.3.13",
        "examples/rhai/net/06_network_diagnostics.rhai",
    ),
    // process
    (
        "herolib-os-0.3.13",
        "examples/rhai/process/01_command_execution.rhai",
    ),
    (
        "herolib-os-0.3.13",
        "examples/rhai/process/01_run_commands.rhai",
    ),
    (
        "herolib-os-0.3.13",
        "examples/rhai/process/02_command_builder.rhai",
    ),
    (
        "herolib-os-0.3.13",
        "examples/rhai/process/02_process_management.rhai",
    ),
    (
        "herolib-os-0.3.13",
        "examples/rhai/process/03_process_management.rhai",
    ),
    ("herolib-os-0.3.13", "tests/rhai/process/run_all_tests.rhai"),
    // os
    (
        "herolib-os-0.3.13",
        "examples/rhai/os/01_disk_creation.rhai",
    ),
    ("herolib-os-0.3.13", "examples/rhai/os/01_filesystem.rhai"),
    ("herolib-os-0.3.13", "examples/rhai/os/02_platform.rhai"),
    (
        "herolib-os-0.3.13",
        "examples/rhai/os/03_commands_which.rhai",
    ),
    ("herolib-os-0.3.13", "examples/rhai/os/04_download.rhai"),
    ("herolib-os-0.3.13", "examples/rhai/os/05_package.rhai"),
];

/// The nerdctl and buildah scripts that must pass (on podman and buildah, with the offline
/// test image, in a container storage of their own).
const PASS_CONTAINERS: &[(&str, &str)] = &[
    (
        "herolib-virt-0.3.13",
        "examples/rhai/nerdctl/03_container_builder.rhai",
    ),
    (
        "herolib-virt-0.3.13",
        "examples/rhai/nerdctl/03_container_operations.rhai",
    ),
    (
        "herolib-virt-0.3.13",
        "examples/rhai/nerdctl/nerdctl_webserver.rhai",
    ),
    (
        "herolib-virt-0.3.13",
        "tests/rhai/nerdctl/01_container_operations.rhai",
    ),
    (
        "herolib-virt-0.3.13",
        "tests/rhai/nerdctl/run_all_tests.rhai",
    ),
    (
        "herolib-virt-0.3.13",
        "tests/rhai/buildah/run_all_tests.rhai",
    ),
];

/// The scripts of these domains that cannot pass anywhere, with the reason. The README's
/// "Compatibility with the original herodo" lists each (a test checks it).
pub const EXCEPTIONS: &[(&str, &str, &str)] = &[
    (
        "herolib-core-0.3.13",
        "examples/rhai/text/03_pcre_pattern_matching.rhai",
        "Kubernetes (needs a cluster)",
    ),
    (
        "herolib-core-0.3.13",
        "examples/rhai/text/markdown_overview.rhai",
        "Kubernetes (needs a cluster)",
    ),
    (
        "herolib-core-0.3.13",
        "examples/rhai/text/pattern_deletion.rhai",
        "Kubernetes (needs a cluster)",
    ),
    (
        "herolib-core-0.3.13",
        "examples/rhai/text/trend_analysis.rhai",
        "the original's profiling module",
    ),
    (
        "herolib-core-0.3.13",
        "examples/rhai/text/04_replacements.rhai",
        "heroscript playbooks",
    ),
    (
        "herolib-os-0.3.13",
        "examples/rhai/os/01_mount_operations.rhai",
        "rfs stubs",
    ),
    (
        "herolib-os-0.3.13",
        "examples/rhai/os/02_advanced_operations.rhai",
        "internet",
    ),
    (
        "herolib-os-0.3.13",
        "examples/rhai/os/production_setup.rhai",
        "Kubernetes (needs a cluster)",
    ),
    (
        "herolib-os-0.3.13",
        "examples/rhai/template/04_template_builder.rhai",
        "fails in the original",
    ),
    (
        "herolib-os-0.3.13",
        "examples/rhai/rsync/01_simple_local_sync.rhai",
        "syntax error",
    ),
    (
        "herolib-virt-0.3.13",
        "examples/rhai/buildah/01_basic_builder.rhai",
        "syntax error",
    ),
    (
        "herolib-virt-0.3.13",
        "examples/rhai/buildah/01_builder_pattern.rhai",
        "syntax error",
    ),
    (
        "herolib-virt-0.3.13",
        "examples/rhai/buildah/fluent_api_demo.rhai",
        "internet",
    ),
    (
        "herolib-virt-0.3.13",
        "examples/rhai/nerdctl/01_basic_containers.rhai",
        "never registered",
    ),
    (
        "herolib-do-0.3.12",
        "examples/rhai/02_image_and_file_operations.rhai",
        "internet",
    ),
    (
        "herolib-do-0.3.12",
        "examples/rhai/codebox.rhai",
        "fails in the original",
    ),
];

/// The crates unpacked into `dir`.
fn unpack(dir: &Path) {
    for (name, version) in CRATES {
        // The crates are a test suite: CI must have them (setup.sh fetches them).
        let file = crate::support::original_crate(name, version).unwrap_or_else(|| {
            panic!("{name} {version} is not in cargo's cache and cargo info could not fetch it")
        });
        let st = Command::new("tar")
            .arg("xzf")
            .arg(&file)
            .arg("-C")
            .arg(dir)
            .status()
            .expect("run tar");
        assert!(st.success(), "cannot unpack {}", file.display());
    }
}

/// The script text as it runs here: `/tmp/...` inside `tmp`, images the offline test image.
fn adapt(text: &str, tmp: &Path) -> String {
    let t = tmp.display().to_string();
    let mut s = text
        .replace("\"/tmp/", &format!("\"{t}/"))
        .replace("\"/tmp\"", &format!("\"{t}\""));
    for image in [
        "docker.io/library/alpine:latest",
        "docker.io/library/ubuntu:22.04",
        "docker.io/library/nginx:alpine",
        "alpine:latest",
        "nginx:alpine",
        "nginx:latest",
        "ubuntu:22.04",
        "node:18-alpine",
        "postgres:15-alpine",
        "redis:7-alpine",
        "python:3.11-slim",
        "debian:bookworm-slim",
        "node:18",
        "forge.ourworld.tf/omarz/hero_docker",
    ] {
        s = s.replace(&format!("\"{image}\""), "\"localhost/busybox:test\"");
    }
    s
}

fn run_all(cases: &[(&str, &str)], storage: Option<&Path>) {
    let work = TempDir::new("compat");
    unpack(work.path());
    let state = TempDir::new("compat-state");
    let mut failed = Vec::new();
    for (krate, path) in cases {
        let tmp = TempDir::new("compat-run");
        let text = std::fs::read_to_string(work.path().join(krate).join(path))
            .unwrap_or_else(|e| panic!("{krate}/{path}: {e}"));
        let script = tmp.write("script.rhai", &adapt(&text, tmp.path()));
        let mut h = herodo(tmp.path(), [script.as_os_str()])
            .env("HERODO_STATE_DIR", &state.path().display().to_string());
        if let Some(conf) = storage {
            h = h.env("CONTAINERS_STORAGE_CONF", &conf.display().to_string());
        }
        let done = h.run();
        if done.code != 0 {
            failed.push(format!(
                "{krate}/{path}: exit {}\n{}\n{}",
                done.code,
                tail(&done.stdout),
                tail(&done.stderr)
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} original scripts failed:\n\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n\n")
    );
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

#[test]
fn original_process_os_net_text_scripts_run_unchanged() {
    if !require(&["curl", "rsync", "ping"]) {
        return;
    }
    run_all(PASS, None);
}

/// A podman/buildah storage of its own (the scripts name their containers `webserver`,
/// `nginx-demo`, ...: they must not meet anyone else's), holding the offline test image;
/// emptied and removed on drop.
struct Storage {
    dir: TempDir,
}

impl Storage {
    fn new() -> Storage {
        test_image(None);
        let dir = TempDir::new("compat-storage");
        let d = dir.path().display().to_string();
        dir.write(
            "storage.conf",
            &format!("[storage]\ndriver = \"overlay\"\ngraphroot = \"{d}/root\"\nrunroot = \"{d}/run\"\n"),
        );
        let tar = dir.path().join("image.tar");
        let st = Command::new("podman")
            .args(["save", "-q", "-o"])
            .arg(&tar)
            .arg("localhost/busybox:test")
            .status()
            .unwrap();
        assert!(st.success(), "podman save failed");
        let s = Storage { dir };
        let out = s
            .tool("podman")
            .args(["load", "-q", "-i"])
            .arg(&tar)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "podman load failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        s
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("storage.conf")
    }

    fn tool(&self, name: &str) -> Command {
        let mut c = Command::new(name);
        c.env("CONTAINERS_STORAGE_CONF", self.conf());
        c
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        let _ = self.tool("podman").args(["rm", "-af", "-t", "0"]).output();
        let _ = self.tool("buildah").args(["rm", "--all"]).output();
        let _ = self.tool("podman").args(["system", "reset", "-f"]).output();
    }
}

#[test]
fn original_nerdctl_and_buildah_scripts_run_unchanged() {
    if !require(&["podman", "buildah"]) {
        return;
    }
    let _lock = crate::support::engine_lock();
    let storage = Storage::new();
    run_all(PASS_CONTAINERS, Some(&storage.conf()));
}

#[test]
fn every_exception_is_in_the_readme() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("## Compatibility with the original herodo")
        .nth(1)
        .expect("README has a \"Compatibility with the original herodo\" section");
    for (krate, path, _) in EXCEPTIONS {
        let name = format!(
            "{}/{path}",
            krate.rsplit_once('-').map_or(*krate, |(n, _)| n)
        );
        assert!(
            section.contains(&name),
            "README's compatibility section lacks {name}"
        );
    }
    assert!(!EXCEPTIONS.is_empty());
}

#[test]
fn container_builder_extras_reach_the_engine_command() {
    let t = TempDir::new("compat-extras");
    let script = r#"
        nerdctl_container_from_image("herodo-compat-extras", "localhost/busybox:test")
            .with_annotations(#{"org.example.a": "1"})
            .with_devices(["/dev/fuse"])
            .with_disk_limit("10G")
            .build();
        let o = new_run_options();
        print(`detach=${o.detach} snapshotter=${o.snapshotter} ports=${o.ports.len()}`);
    "#;
    herodo(t.path(), ["--dry-run", "--engine", "podman", "-e", script])
        .run()
        .ok()
        .stdout_has("--annotation 'org.example.a=1'")
        .stdout_has("--device /dev/fuse")
        .stdout_has("--annotation 'io.katacontainers.config.hypervisor.block_device_size=10G'")
        .stdout_has("detach=true snapshotter=native ports=0");
}

#[test]
fn fns_shows_both_spellings_and_check_knows_the_originals_names() {
    let t = TempDir::new("compat-fns");
    herodo(t.path(), ["fns", "net_tcp_check"])
        .run()
        .ok()
        .stdout_has("original herodo's name for `tcp_check`");
    let script = t.write(
        "orig.rhai",
        "let r = run(\"true\").execute();\nlet ok = net_tcp_check(\"127.0.0.1\", 1);\ndir_ensure(\"x\");\nlet e = execute(\"ls\").silent();\n",
    );
    herodo(
        t.path(),
        [std::ffi::OsStr::new("check"), script.as_os_str()],
    )
    .run()
    .ok()
    .stderr_lacks("did you mean");
}
