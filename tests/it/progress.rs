//! Long work shows its progress on a terminal, and only there (issue 18.9): an image pull shows
//! the engine's per-layer lines, a heropods fetch skopeo's per-blob lines; a pipe (a CI log)
//! and `-q` get none. Run under a real pseudo-terminal (`script`), as a user's shell is.

use std::process::Command;

use crate::support::{engine_lock, require, root, start_registry, test_image, TempDir, BIN};

/// Run `herodo ARGS` under a pseudo-terminal (util-linux `script`); its whole output.
fn on_a_terminal(args: &str, env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &format!("{BIN} {args}"), "/dev/null"])
        .current_dir(root())
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("script");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).replace('\r', ""),
    )
}

/// The same through pipes.
fn through_pipes(args: &str, env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(shell_words::split(args).unwrap())
        .current_dir(root())
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("herodo");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn pulls_and_fetches_show_progress_on_a_terminal_only() {
    if !require(&[
        "script",
        "podman",
        "skopeo",
        "umoci",
        "buildah",
        "docker-registry",
    ]) {
        return;
    }
    let _engines = engine_lock();
    test_image(None);
    let (_registry, addr) = start_registry();
    let dir = TempDir::new("progress");
    let state = TempDir::new("progress-state");
    let remote = format!("{addr}/herodo/progress:v1");
    let push = dir.write(
        "push.rhai",
        &format!(
            r#"nerdctl_image_push("localhost/busybox:test", "{remote}");
nerdctl_image_remove("{remote}");
print("pushed");"#
        ),
    );
    let pull = dir.write(
        "pull.rhai",
        &format!(
            r#"nerdctl_image_pull("{remote}");
nerdctl_image_remove("{remote}");
print("pulled");"#
        ),
    );
    let fetch = dir.write(
        "fetch.rhai",
        &format!(
            r#"let pods = heropods_new(#{{base_dir: "{}/base"}});
let c = pods.container_new(#{{name: "prog", image: "{remote}", reset: true}});
c.delete();
pods.image_remove("{remote}");
print("fetched");"#,
            dir.path().display()
        ),
    );
    let env = [
        ("HERODO_CONTAINER_ENGINE", "podman"),
        ("HERODO_STATE_DIR", &*state.path().display().to_string()),
    ];
    let (ok, out) = through_pipes(&push.display().to_string(), &env);
    assert!(ok && out.contains("pushed"), "{out}");

    // A terminal: the engine's own per-layer lines.
    let (ok, out) = on_a_terminal(&pull.display().to_string(), &env);
    assert!(ok && out.contains("pulled"), "{out}");
    assert!(out.contains("Copying blob"), "no layer progress: {out}");
    // A pipe or -q: none.
    let (ok, out) = through_pipes(&pull.display().to_string(), &env);
    assert!(ok && out.contains("pulled"), "{out}");
    assert!(!out.contains("Copying blob"), "progress in a pipe: {out}");
    let (ok, out) = on_a_terminal(&format!("-q {}", pull.display()), &env);
    assert!(ok && out.contains("pulled"), "{out}");
    assert!(!out.contains("Copying blob"), "progress with -q: {out}");

    // heropods fetches from the registry with skopeo: its per-blob lines on a terminal.
    let (ok, out) = on_a_terminal(&fetch.display().to_string(), &env);
    assert!(ok && out.contains("fetched"), "{out}");
    assert!(out.contains("Copying blob"), "no fetch progress: {out}");
    let (ok, out) = through_pipes(&fetch.display().to_string(), &env);
    assert!(ok && out.contains("fetched"), "{out}");
    assert!(
        !out.contains("Copying blob"),
        "fetch progress in a pipe: {out}"
    );
}

/// `qcow2_build_base` draws its own bar (`[####...]`) while it downloads, on a terminal only:
/// through pipes and with `-q` there is none.
#[test]
fn base_image_downloads_draw_a_bar_on_a_terminal_only() {
    if !require(&["script", "qemu-img", "python3", "sha256sum"]) {
        return;
    }
    let server = crate::vm::http_server();
    let img = server.files.join("img.qcow2");
    let made = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&img)
        .arg("1G")
        .status()
        .unwrap();
    assert!(made.success());
    let sum = Command::new("sha256sum").arg(&img).output().unwrap();
    let sum = String::from_utf8_lossy(&sum.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let dir = TempDir::new("progress-base");
    let build = dir.write(
        "build.rhai",
        r#"let b = qcow2_build_base(#{url: env_get("URL"), sha256: env_get("SUM"), dest: env_get("DEST")});
print(`built ${b.snapshot}`);"#,
    );
    let url = format!("http://127.0.0.1:{}/img.qcow2", server.port);
    let run = |how: &str, dest: &str| {
        let dest = dir.path().join(dest).display().to_string();
        let env = [
            ("URL", url.as_str()),
            ("SUM", sum.as_str()),
            ("DEST", dest.as_str()),
        ];
        let script = build.display().to_string();
        match how {
            "terminal" => on_a_terminal(&script, &env),
            "quiet" => on_a_terminal(&format!("-q {script}"), &env),
            _ => through_pipes(&script, &env),
        }
    };
    let (ok, out) = run("terminal", "t.qcow2");
    assert!(ok && out.contains("built base"), "{out}");
    assert!(out.contains("[#"), "no progress bar on a terminal: {out}");
    assert!(out.contains("100%"), "{out}");
    let (ok, out) = run("pipes", "p.qcow2");
    assert!(ok && out.contains("built base"), "{out}");
    assert!(
        !out.contains("[#") && !out.contains("downloading"),
        "a bar in a pipe: {out}"
    );
    let (ok, out) = run("quiet", "q.qcow2");
    assert!(ok && out.contains("built base"), "{out}");
    assert!(
        !out.contains("[#") && !out.contains("downloading"),
        "a bar with -q: {out}"
    );
}
