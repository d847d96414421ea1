//! Issue 17 items 4 and 6: `herodo clean` reaps what heropods left after `kill -9` of herodo
//! and `rm -rf` of a base dir (processes, cgroups, mounts, leases, veths, namespaces), and a
//! fetch killed with `kill -9` leaves neither its helpers nor, after the next fetch or clean,
//! its staging directory. Real runc, skopeo and umoci; a state directory, base dirs and a
//! bridge (hdreap0, 10.89.201.0/24) of these tests' own, so other tests' (and other people's)
//! containers, veths and namespaces on this machine are never touched.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{engine_lock, herodo, require, test_image, wait_until, TempDir, BIN};

const BRIDGE: &str = "hdreap0";
const SUBNET: &str = "10.89.201.0/24";

/// herodo's names for the veth and namespace of an address (network::attachment_for).
fn hex(ip: &str) -> String {
    let ip: std::net::Ipv4Addr = ip.parse().unwrap();
    format!("{:08x}", u32::from(ip))
}

/// Whether process `pid` (started at `start`) still runs.
fn alive(pid: i64, start: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        let rest: Vec<&str> = s[s.rfind(')').unwrap() + 1..].split_whitespace().collect();
        rest[19] == start && rest[0] != "Z"
    })
}

fn start_time(pid: i64) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest: Vec<&str> = s[s.rfind(')').unwrap() + 1..].split_whitespace().collect();
    rest[19].to_string()
}

/// The cgroup directories of `pid` in every mounted hierarchy under /sys/fs/cgroup.
fn cgroup_dirs(pid: i64) -> Vec<PathBuf> {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let roots: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    let mut out = Vec::new();
    for line in cg.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap().trim_start_matches('/');
        for r in &roots {
            let d = r.join(path);
            if !path.is_empty() && d.is_dir() && !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Namespaces (and their veth) this test made itself, removed when dropped.
struct Namespaces(Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
        }
    }
}

/// Runs `herodo clean` on the test's state dir when dropped, and deletes every container left
/// in its base dirs (a failed test must not leave containers running).
struct Reaper(PathBuf, String);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = Command::new(BIN)
            .arg("clean")
            .env("HERODO_STATE_DIR", &self.1)
            .current_dir(&self.0)
            .output();
        for b in ["pods", "pods2"] {
            let script = format!(
                r#"let p = heropods_new(#{{base_dir: "{}"}}); for s in p.list() {{ p.get(s.name).delete(); }}"#,
                self.0.join(b).display()
            );
            let _ = Command::new(BIN)
                .args(["-e", &script])
                .env("HERODO_STATE_DIR", &self.1)
                .current_dir(&self.0)
                .output();
        }
        crate::support::remove_test_bridge(BRIDGE, SUBNET);
    }
}

fn kill9(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn clean_reaps_heropods_of_a_killed_test_run_and_a_removed_base_dir() {
    if !require(&["runc", "skopeo", "umoci", "podman", "ip", "iptables"]) {
        return;
    }
    // `herodo clean` also reaps engine containers of dead test sessions: not while another
    // test counts on its own.
    let _engines = engine_lock();
    test_image(None);
    let t = TempDir::new("reap");
    let state = t.path().join("state").display().to_string();
    let base = t.path().join("pods");
    let base2 = t.path().join("pods2");
    let ready = t.path().join("ready");
    // A published port of the orphan: its rules go with it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let state_rules = || -> Vec<String> {
        let prefix = herodo::heropods::ports::state_prefix(&t.path().join("state"));
        let out = Command::new("iptables-save").output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains(&format!("--comment \"{prefix}")))
            .map(str::to_string)
            .collect()
    };
    // Should an assertion fail, what the test made still goes (before the temp dir does).
    let _reaper = Reaper(t.path().to_path_buf(), state.clone());
    let open = |b: &Path| {
        format!(
            r#"heropods_new(#{{base_dir: "{}", bridge: "{BRIDGE}", subnet: "{SUBNET}"}})"#,
            b.display()
        )
    };
    // An ordinary script's container, whose owner is gone too: never reaped.
    herodo(
        t.path(),
        [
            "-e",
            &format!(
                r#"{}.container_new(#{{name: "kept", image: "localhost/busybox:test"}});"#,
                open(&base2)
            ),
        ],
    )
    .env("HERODO_STATE_DIR", &state)
    .run()
    .ok();
    // A test run with two running containers, killed with SIGKILL.
    t.write(
        "leak_test.rhai",
        &format!(
            r#"fn test_leak() {{
    let c = {}.container_new(#{{name: "orphan", image: "localhost/busybox:test", cmd: ["sleep", "600"],
        ports: ["127.0.0.1:{port}:80"]}});
    c.start();
    let d = {}.container_new(#{{name: "left", image: "localhost/busybox:test", cmd: ["sleep", "600"]}});
    d.start();
    let s = c.status();
    let r = d.status();
    file_write("{}", `${{s.pid}} ${{s.ip}} ${{r.pid}} ${{r.ip}}`);
    sleep(600000);
}}
"#,
            open(&base),
            open(&base2),
            ready.display()
        ),
    );
    // The two containers' pids and addresses, once the run is killed.
    let leak_and_kill = || -> (i64, String, i64, String) {
        let _ = std::fs::remove_file(&ready);
        let child = Command::new(BIN)
            .args(["test", "leak_test.rhai"])
            .current_dir(t.path())
            .env("HERODO_STATE_DIR", &state)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_until("the leaking test run", Duration::from_secs(120), || {
            std::fs::read_to_string(&ready).is_ok_and(|s| s.split(' ').count() == 4)
        });
        kill9(child);
        let text = std::fs::read_to_string(&ready).unwrap();
        let f: Vec<&str> = text.split(' ').collect();
        (
            f[0].parse::<i64>().unwrap(),
            f[1].to_string(),
            f[2].parse::<i64>().unwrap(),
            f[3].to_string(),
        )
    };
    let (pid, ip1, pid2, ip2) = leak_and_kill();
    assert!(
        !state_rules().is_empty(),
        "the orphan's port is not published"
    );
    let (start, start2) = (start_time(pid), start_time(pid2));
    let cgroups = cgroup_dirs(pid);
    assert!(!cgroups.is_empty(), "the container has no cgroup dir");

    // Leftovers of no lease: a veth and namespace on the bridge's subnet, and a namespace of
    // another subnet that is none of this state dir's business.
    let stray = hex("10.89.201.254");
    let foreign = format!("herodo-{}", hex("10.89.202.254"));
    let _ns = Namespaces(vec![format!("herodo-{stray}"), foreign.clone()]);
    ip(&["netns", "add", &format!("herodo-{stray}")]);
    ip(&[
        "link",
        "add",
        &format!("hp{stray}"),
        "master",
        BRIDGE,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        &format!("herodo-{stray}"),
    ]);
    ip(&["netns", "add", &foreign]);
    let made = Instant::now();

    // The base dir goes while its container runs (rm -rf cannot remove the mounted root).
    let _ = Command::new("rm").arg("-rf").arg(&base).output().unwrap();
    assert!(!base.join("containers/orphan/container.json").exists());
    assert!(!base.join("runtime").exists());
    assert!(alive(pid, &start) && alive(pid2, &start2));

    // A namespace younger than 10 s may be a start in progress elsewhere: wait that out.
    std::thread::sleep(Duration::from_secs(11).saturating_sub(made.elapsed()));
    let would = herodo(t.path(), ["--dry-run", "clean"])
        .env("HERODO_STATE_DIR", &state)
        .run()
        .ok();
    for line in [
        format!("would remove heropod orphan in {}", base.display()),
        format!("would remove heropod left in {}", base2.display()),
        format!("would remove lease {ip1} on {BRIDGE}"),
        format!("would remove veth hp{stray}"),
        format!("would remove netns herodo-{stray}"),
    ] {
        assert!(would.stdout.contains(&line), "{line}\n{}", would.stdout);
    }
    assert!(
        alive(pid, &start) && alive(pid2, &start2),
        "--dry-run killed"
    );
    assert!(Path::new(&format!("/sys/class/net/hp{stray}")).exists());
    // Listing port rules runs iptables-save, which --dry-run does not: they are left alone.
    assert!(!state_rules().is_empty(), "--dry-run removed port rules");

    let done = herodo(t.path(), ["clean"])
        .env("HERODO_STATE_DIR", &state)
        .run()
        .ok();
    for line in [
        format!("removed heropod orphan in {}", base.display()),
        format!("removed heropod left in {}", base2.display()),
        format!("removed lease {ip1} on {BRIDGE}"),
        format!("removed veth hp{stray}"),
        format!("removed netns herodo-{stray}"),
        format!("removed port-rules orphan in {}", base.display()),
    ] {
        assert!(done.stdout.contains(&line), "{line}\n{}", done.stdout);
    }
    assert!(!done.stdout.contains("kept"), "{}", done.stdout);
    assert!(!done.stdout.contains(&foreign), "{}", done.stdout);

    // Nothing of either container is left.
    assert!(!alive(pid, &start), "the orphan's process still runs");
    assert!(
        !alive(pid2, &start2),
        "the dead session's container still runs"
    );
    for d in &cgroups {
        assert!(!d.exists(), "cgroup {} left", d.display());
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for b in [&base, &base2] {
        let gone = b.join("containers/orphan");
        assert!(!mounts.contains(&gone.display().to_string()), "{mounts}");
    }
    assert!(!base.exists(), "the removed base dir is back");
    let leases = std::fs::read_to_string(
        t.path()
            .join(format!("state/heropods/networks/{BRIDGE}.json")),
    )
    .unwrap();
    for a in [&ip1, &ip2] {
        assert!(!leases.contains(&format!("\"{a}\"")), "{leases}");
        let h = hex(a);
        assert!(!Path::new(&format!("/sys/class/net/hp{h}")).exists());
        assert!(!Path::new(&format!("/run/netns/herodo-{h}")).exists());
    }
    assert!(!Path::new(&format!("/sys/class/net/hp{stray}")).exists());
    assert!(!Path::new(&format!("/run/netns/herodo-{stray}")).exists());
    assert!(
        Path::new("/run/netns").join(&foreign).exists(),
        "a namespace of another subnet was removed"
    );
    assert!(base2.join("containers/kept/container.json").exists());
    assert_eq!(state_rules(), Vec::<String>::new(), "port rules left");

    // Done: a second clean finds nothing of heropods.
    let again = herodo(t.path(), ["clean"])
        .env("HERODO_STATE_DIR", &state)
        .run()
        .ok();
    assert!(!again.stdout.contains("heropod"), "{}", again.stdout);

    // The next `herodo test` reaps too (the killed session left its marker).
    let (pid, _, pid2, _) = leak_and_kill();
    let (start, start2) = (start_time(pid), start_time(pid2));
    t.write("fine_test.rhai", "fn test_fine() { assert_true(true); }\n");
    herodo(t.path(), ["test", "fine_test.rhai"])
        .env("HERODO_STATE_DIR", &state)
        .run()
        .ok()
        .stderr_has("left behind by herodo processes that are gone");
    assert!(!alive(pid, &start) && !alive(pid2, &start2));
    assert!(!base.join("containers/orphan").exists());
    assert!(!base2.join("containers/left").exists());
    assert!(base2.join("containers/kept/container.json").exists());
    assert_eq!(state_rules(), Vec::<String>::new(), "port rules left");
    herodo(
        t.path(),
        [
            "-e",
            &format!(r#"assert_true({}.get("kept").delete());"#, open(&base2)),
        ],
    )
    .env("HERODO_STATE_DIR", &state)
    .run()
    .ok();
}

/// The pid of a process named `name` whose parent is `parent`.
fn child_named(parent: u32, name: &str) -> Option<i64> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i64 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let comm = &stat[stat.find('(')? + 1..stat.rfind(')')?];
        let ppid: u32 = stat[stat.rfind(')')? + 1..]
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        (comm == name && ppid == parent).then_some(pid)
    })
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// One ustar header block: an empty file (or, with `dir`, a directory) `name`.
fn tar_header(name: &str, dir: bool) -> [u8; 512] {
    let mut h = [0u8; 512];
    let mut put = |at: usize, s: &str| h[at..at + s.len()].copy_from_slice(s.as_bytes());
    put(0, name);
    put(100, if dir { "0000755" } else { "0000644" });
    put(108, "0000000");
    put(116, "0000000");
    put(124, "00000000000");
    put(136, "00000000000");
    put(148, "        ");
    put(156, if dir { "5" } else { "0" });
    put(257, "ustar");
    put(263, "00");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// An OCI image layout (tag `big`) in `dir` whose one layer holds `files` empty files: a
/// download of a few hundred KiB that umoci takes seconds to unpack (file by file).
fn many_files_layout(dir: &Path, files: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mut tar = Vec::with_capacity((files + 3) * 512);
    tar.extend_from_slice(&tar_header("d/", true));
    for i in 0..files {
        tar.extend_from_slice(&tar_header(&format!("d/f{i}"), false));
    }
    tar.extend_from_slice(&[0u8; 1024]);
    std::fs::write(dir.join("layer.tar"), tar).unwrap();
    const SCRIPT: &str = r#"set -e
cd "$1"
mkdir -p blobs/sha256
diff=$(sha256sum layer.tar | cut -d' ' -f1)
gzip -1 -n layer.tar
blob() { d=$(sha256sum "$1" | cut -d' ' -f1); s=$(stat -c %s "$1"); mv "$1" "blobs/sha256/$d"; echo "\"digest\":\"sha256:$d\",\"size\":$s"; }
layer=$(blob layer.tar.gz)
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/true"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$diff" > config
config=$(blob config)
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json",%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip",%s}]}' "$config" "$layer" > manifest
manifest=$(blob manifest)
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",%s,"annotations":{"org.opencontainers.image.ref.name":"big"}}]}' "$manifest" > index.json
printf '{"imageLayoutVersion":"1.0.0"}' > oci-layout
"#;
    let out = Command::new("bash")
        .args(["-c", SCRIPT, "many-files-layout"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "making the layout: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_fetch_killed_with_sigkill_takes_its_helpers_and_leaves_a_dir_the_next_fetch_or_clean_collects()
{
    if !require(&["skopeo", "umoci"]) {
        return;
    }
    let _engines = engine_lock();
    let t = TempDir::new("reap-fetch");
    let state = t.path().join("state").display().to_string();
    let base = t.path().join("pods");
    let incoming = base.join("images/.incoming");
    // A registry that never answers: skopeo waits on it.
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hang.local_addr().unwrap().port();
    let fetch = format!(
        r#"heropods_new(#{{base_dir: "{}"}}).container_new(#{{name: "f", image: "127.0.0.1:{port}/hang:1"}});"#,
        base.display()
    );
    // An image of a big layer: umoci unpacks it long after skopeo is done.
    let layout = t.path().join("big");
    many_files_layout(&layout, 20_000);
    let unpack = format!(
        r#"heropods_new(#{{base_dir: "{}"}}).container_new(#{{name: "u", image: "oci:{}:big"}});"#,
        base.display(),
        layout.display()
    );
    // herodo killed while `tool` (skopeo fetching, umoci unpacking) runs for `script`: the
    // tool dies with it, the staging dir stays.
    let killed_fetch = |script: &str, tool: &str| -> PathBuf {
        let child = Command::new(BIN)
            .args(["-e", script])
            .current_dir(t.path())
            .env("HERODO_STATE_DIR", &state)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let herodo_pid = child.id();
        let mut helper = None;
        wait_until(&format!("{tool} to run"), Duration::from_secs(60), || {
            helper = child_named(herodo_pid, tool);
            helper.is_some()
        });
        let helper = helper.unwrap();
        let start = start_time(helper);
        let staged = entries(&incoming);
        assert_eq!(staged.len(), 1, "{staged:?}");
        if tool == "umoci" {
            wait_until("umoci to unpack", Duration::from_secs(30), || {
                staged[0].join("rootfs").exists()
            });
        }
        assert!(alive(helper, &start), "{tool} ended before the kill");
        kill9(child);
        let until = Instant::now() + Duration::from_secs(5);
        while alive(helper, &start) {
            assert!(
                Instant::now() < until,
                "{tool} {helper} outlived the herodo that ran it"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(staged[0].exists(), "kill -9 should have left {staged:?}");
        staged[0].clone()
    };

    // The next fetch in that base dir collects a stale staging dir (this one fails fast: no
    // such layout), and so does `herodo clean`.
    let fetch_none = format!(
        r#"heropods_new(#{{base_dir: "{}"}}).container_new(#{{name: "g", image: "oci:{}/none"}});"#,
        base.display(),
        t.path().display()
    );
    let next_fetch_collects = |stale: &Path| {
        herodo(t.path(), ["-e", &fetch_none])
            .env("HERODO_STATE_DIR", &state)
            .run()
            .code(1);
        assert!(!stale.exists(), "the next fetch left {}", stale.display());
        assert!(entries(&incoming).is_empty(), "{:?}", entries(&incoming));
    };
    let clean_collects = |stale: &Path| {
        herodo(t.path(), ["clean"])
            .env("HERODO_STATE_DIR", &state)
            .run()
            .ok()
            .stdout_has(&format!("removed image-download {}", stale.display()));
        assert!(!stale.exists(), "herodo clean left {}", stale.display());
    };

    next_fetch_collects(&killed_fetch(&fetch, "skopeo"));
    clean_collects(&killed_fetch(&fetch, "skopeo"));
    drop(hang);
    // The same while umoci unpacks (what it unpacked so far is in the staging dir).
    clean_collects(&killed_fetch(&unpack, "umoci"));
    next_fetch_collects(&killed_fetch(&unpack, "umoci"));
}
