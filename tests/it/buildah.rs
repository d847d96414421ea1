//! buildah ownership and secrecy on the real buildah: what `herodo test` cleans up (only what
//! herodo created), reaping builders of dead herodo processes from the owner ledger, and env
//! values that never show in `--dry-run`, `-v`, debug output or errors.

use std::process::Command;

use herodo::buildah::owners::{record_path, OwnerRecord};
use herodo::host::{Host, Settings};

use crate::support::{herodo, require, test_image, TempDir};

const BASE: &str = "localhost/busybox:test";
const CANARY: &str = "S3CR3T-CANARY-9f8e7d";

/// buildah and the offline test image, or a printed skip (a failure under
/// HERODO_REQUIRE_TOOLS=1).
fn ready() -> bool {
    if !require(&["buildah"]) {
        return false;
    }
    test_image(None);
    true
}

fn buildah(args: &[&str]) -> std::process::Output {
    Command::new("buildah")
        .args(args)
        .output()
        .expect("run buildah")
}

fn builder_id(name: &str) -> Option<String> {
    let out = buildah(&[
        "inspect",
        "--type",
        "container",
        "--format",
        "{{.ContainerID}}",
        name,
    ]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn image_exists(name: &str) -> bool {
    buildah(&[
        "inspect",
        "--type",
        "image",
        "--format",
        "{{.FromImageID}}",
        name,
    ])
    .status
    .success()
}

/// Removes builders and image tags this test made by hand, even when an assertion fails.
struct Leftovers {
    builders: Vec<String>,
    images: Vec<String>,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        for b in &self.builders {
            let _ = buildah(&["rm", b]);
        }
        for i in &self.images {
            let _ = buildah(&["rmi", i]);
        }
    }
}

fn new_builder(name: &str) -> String {
    let out = buildah(&["from", "--name", name, BASE]);
    assert!(
        out.status.success(),
        "buildah from: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    builder_id(name).expect("the builder just made")
}

#[test]
fn test_cleanup_never_takes_over_existing_builders_or_tags() {
    if !ready() {
        return;
    }
    let pid = std::process::id();
    let pre_b = format!("pre-b-{pid}");
    let pre_tag = format!("localhost/herodo-pre:{pid}");
    let own_b = format!("own-b-{pid}");
    let own_tag = format!("localhost/herodo-own:{pid}");
    let _left = Leftovers {
        builders: vec![pre_b.clone(), own_b.clone()],
        images: vec![pre_tag.clone(), own_tag.clone()],
    };
    new_builder(&pre_b);
    assert!(buildah(&["tag", BASE, &pre_tag]).status.success());

    let dir = TempDir::new("bah-own");
    dir.write(
        "suite/own_test.rhai",
        r#"
fn test_reattach_and_tag_over_existing() {
    let b = bah_new(env_get("PRE_B"), "localhost/busybox:test");
    assert_ne(b.container_id, "");
    b.write_content("touched\n", "/touched");
    bah(env_get("PRE_B"), "localhost/busybox:test").run("true");
    bah_image_tag("localhost/busybox:test", env_get("PRE_TAG"));
    b.commit(env_get("PRE_TAG"));
    // What the test creates itself is still cleaned up.
    let own = bah_new(env_get("OWN_B"), "localhost/busybox:test");
    own.commit(env_get("OWN_TAG"));
}
"#,
    );
    let state = TempDir::new("bah-own-state");
    herodo(dir.path(), ["test", "suite"])
        .env("PRE_B", &pre_b)
        .env("PRE_TAG", &pre_tag)
        .env("OWN_B", &own_b)
        .env("OWN_TAG", &own_tag)
        .env("HERODO_STATE_DIR", &state.path().display().to_string())
        .run()
        .ok()
        .stdout_has("1 passed, 0 failed, 0 skipped")
        .stdout_lacks(&format!("buildah-container {pre_b}"))
        .stdout_lacks(&format!("image {pre_tag}"));
    assert!(
        builder_id(&pre_b).is_some(),
        "the pre-existing builder was removed"
    );
    assert!(image_exists(&pre_tag), "the pre-existing tag was removed");
    assert!(
        builder_id(&own_b).is_none(),
        "herodo's own builder was left"
    );
    assert!(!image_exists(&own_tag), "herodo's own tag was left");
    assert!(
        !record_path(state.path(), &own_b, None).exists(),
        "the owner record outlived its builder"
    );
    assert!(!record_path(state.path(), &pre_b, None).exists());
}

#[test]
fn test_reap_orphans_removes_only_dead_owners_builders() {
    if !ready() {
        return;
    }
    let pid = std::process::id();
    let name = |what: &str| format!("reap-{what}-{pid}");
    let (dead, reused, live, retaken) =
        (name("dead"), name("reused"), name("live"), name("retaken"));
    let _left = Leftovers {
        builders: vec![
            dead.clone(),
            reused.clone(),
            live.clone(),
            retaken.clone(),
            name("kept"),
        ],
        images: vec![],
    };
    let state = TempDir::new("bah-reap");
    let write = |owner: &str, name: &str, id: &str| {
        let rec = OwnerRecord {
            owner: owner.into(),
            name: name.into(),
            container_id: id.into(),
            remote: None,
        };
        herodo::common::state::write_json(&record_path(state.path(), name, None), &rec).unwrap();
    };
    let me = herodo::common::owner::owner_tag();
    // The same boot and pid with another start time: the pid was reused, the owner is dead.
    let (boot_pid, start) = me.rsplit_once('-').unwrap();
    let reused_tag = format!("{boot_pid}-{}-test", start.parse::<u64>().unwrap_or(0) + 1);
    // Test sessions' tags end in `-test`: only their builders are abandoned when they die; a
    // dead ordinary script's builder (kept to re-attach later) stays.
    write("0123456789ab-1-1-test", &dead, &new_builder(&dead));
    let kept = name("kept");
    write("0123456789ab-1-1", &kept, &new_builder(&kept));
    write(&reused_tag, &reused, &new_builder(&reused));
    write(me, &live, &new_builder(&live));
    // A dead herodo's builder that someone else re-created under the same name since.
    new_builder(&retaken);
    write("0123456789ab-1-1-test", &retaken, "0000000000000000");
    // A dead herodo's builder that is gone already.
    write("0123456789ab-1-1-test", &name("gone"), "1111111111111111");

    let mut host = Host::new(Settings::default());
    host.state_dir = state.path().to_path_buf();
    let cleaned = herodo::buildah::reap_orphans(&host);
    let mut names: Vec<(String, Option<String>)> =
        cleaned.into_iter().map(|c| (c.name, c.error)).collect();
    names.sort();
    assert_eq!(names, vec![(dead.clone(), None), (reused.clone(), None)]);
    assert!(builder_id(&dead).is_none());
    assert!(builder_id(&reused).is_none());
    assert!(
        builder_id(&live).is_some(),
        "a live owner's builder was reaped"
    );
    assert!(
        builder_id(&retaken).is_some(),
        "someone else's builder was reaped"
    );
    assert!(
        builder_id(&kept).is_some(),
        "an ordinary script's builder was reaped"
    );
    let left: Vec<bool> = [&dead, &reused, &live, &retaken, &name("gone")]
        .iter()
        .map(|n| record_path(state.path(), n, None).exists())
        .collect();
    assert_eq!(left, vec![false, false, true, false, false]);
}

#[test]
fn test_env_values_never_show() {
    if !ready() {
        return;
    }
    let pid = std::process::id();
    let (b1, b2) = (format!("secret-a-{pid}"), format!("secret-b-{pid}"));
    let _left = Leftovers {
        builders: vec![b1.clone(), b2.clone()],
        images: vec![],
    };
    let dir = TempDir::new("bah-secret");
    let script = dir.write(
        "secret.rhai",
        &format!(
            r#"
let b = bah_new("{b1}", "{BASE}");
b.debug_mode = true;
let r = b.config(#{{env: ["TOKEN={CANARY}", "PLAIN=1"]}});
print(r.cmd);
let f = bah("{b2}", "{BASE}").env("TOKEN", "{CANARY}");
print(f.result.cmd);
try {{
    b.config(#{{env: "TOKEN={CANARY}", healthcheck_retries: "abc"}});
}} catch (e) {{
    print(`caught ${{e.kind}}`);
    print(e.message);
    print(e.cmd);
    print(e.stderr);
    print(e);
}}
b.remove();
f.remove();
b.config(#{{env: "TOKEN={CANARY}", colour: "red"}});
"#
        ),
    );
    let script = script.display().to_string();
    let state = TempDir::new("bah-secret-state");
    let state_env = state.path().display().to_string();

    let dry = herodo(dir.path(), ["--dry-run", script.as_str()])
        .env("HERODO_STATE_DIR", &state_env)
        .run()
        .code(1)
        .stdout_has("[dry-run] buildah config --env *** --env *** ")
        .stdout_lacks(CANARY)
        .stderr_lacks(CANARY)
        .stderr_has("unknown key `colour`");
    drop(dry);
    assert!(
        std::fs::read_dir(state.path()).unwrap().next().is_none(),
        "--dry-run wrote to the state directory"
    );

    herodo(dir.path(), ["-v", script.as_str()])
        .env("HERODO_STATE_DIR", &state_env)
        .run()
        .code(1)
        .stdout_has("caught command_failed")
        .stdout_has("buildah config --env *** --env ***")
        .stderr_has("[buildah] buildah config --env ***")
        .stderr_has("+ buildah config --env ***")
        .stderr_has("unknown key `colour`")
        .stdout_lacks(CANARY)
        .stderr_lacks(CANARY);
    assert!(builder_id(&b1).is_none());
    assert!(builder_id(&b2).is_none());
}

/// Issue 18.9: a build's steps and RUN output show while it runs (as `run()` shows a command's);
/// `#{silent: true}` hides them; with build args the output is hidden unless `silent: false`.
#[test]
fn bah_build_streams_its_steps_unless_silent() {
    if !ready() {
        return;
    }
    let t = TempDir::new("bud-stream");
    t.write(
        "ctx/Containerfile",
        "FROM localhost/busybox:test\nARG V=x\nRUN echo streamed-marker-$V\n",
    );
    t.write(
        "stream_test.rhai",
        r#"fn test_loud() { bah_build("localhost/herodo-stream:1", "ctx", #{isolation: "chroot"}); }
fn test_quiet() { bah_build("localhost/herodo-stream:2", "ctx", #{isolation: "chroot", silent: true}); }
fn test_args_hidden() { bah_build("localhost/herodo-stream:3", "ctx", #{isolation: "chroot", build_args: #{V: "argval"}}); }
"#,
    );
    let loud = herodo(t.path(), ["test", "stream_test.rhai", "--filter", "loud"])
        .run()
        .ok();
    assert!(
        loud.stdout
            .contains("STEP 3/3: RUN echo streamed-marker-$V"),
        "{}",
        loud.stdout
    );
    assert!(
        loud.stdout.contains("\nstreamed-marker-x\n"),
        "{}",
        loud.stdout
    );
    herodo(
        t.path(),
        ["test", "stream_test.rhai", "--filter", "quiet|args"],
    )
    .run()
    .ok()
    .stdout_lacks("streamed-marker")
    .stdout_has("2 passed, 0 failed");
}
