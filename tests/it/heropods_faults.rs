//! heropods after faults, on the real runtime: processes killed at every step, a full disk, a
//! corrupt record, two processes racing on one name. After each, the next call tells the truth
//! (the runtime's state wins over herodo's files), cleanup removes everything, and the host
//! shows no difference ([`HostView`]: runtime state, mounts, veths, namespaces, iptables rules,
//! cgroups, leases and processes of the test's base directory).
//!
//! The tests share one bridge of their own and run one at a time (they compare host state).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::support::{herodo, require, test_image, wait_until, Done, TempDir, BIN};

/// The test bridge: one per test process (10.88.X.0/24, bridge `hdfX`), so that runs side by
/// side never share addresses or see each other's interfaces. Made by each test's first start
/// and removed when the test ends.
struct Net {
    bridge: String,
    subnet: String,
    /// The names heropods derives from the subnet's addresses (10.88.X.n = 0a58XXnn).
    veth_prefix: String,
    netns_prefix: String,
}

fn net() -> &'static Net {
    static NET: OnceLock<Net> = OnceLock::new();
    NET.get_or_init(|| {
        let x = std::process::id() % 250 + 1;
        Net {
            bridge: format!("hdf{x}"),
            subnet: format!("10.88.{x}.0/24"),
            veth_prefix: format!("hp0a58{x:02x}"),
            netns_prefix: format!("herodo-0a58{x:02x}"),
        }
    })
}

fn serial() -> MutexGuard<'static, ()> {
    static M: Mutex<()> = Mutex::new(());
    M.lock().unwrap_or_else(|e| e.into_inner())
}

fn ready() -> bool {
    if !require(&["runc", "skopeo", "umoci", "podman", "ip", "iptables"]) {
        return false;
    }
    static IMG: OnceLock<()> = OnceLock::new();
    IMG.get_or_init(|| test_image(None));
    true
}

/// A base directory and state directory of one test.
struct Pods {
    dir: TempDir,
    base: PathBuf,
    state: PathBuf,
}

impl Pods {
    fn new(tag: &str) -> Pods {
        let dir = TempDir::new(tag);
        let base = dir.path().join("pods");
        let state = dir.path().join("state");
        let p = Pods { dir, base, state };
        // The bridge is made by the first bridged start; make it before any baseline.
        p.run(
            "let c = p.container_new(#{name: \"warm\", image: \"localhost/busybox:test\", \
               cmd: [\"true\"]}); c.start(); c.delete();",
        )
        .ok();
        p
    }

    fn script(&self, body: &str) -> String {
        format!(
            "let p = heropods_new(#{{base_dir: \"{}\", bridge: \"{}\", subnet: \"{}\"}});\n{body}",
            self.base.display(),
            net().bridge,
            net().subnet
        )
    }

    fn run(&self, body: &str) -> Done {
        herodo(self.dir.path(), ["-e", &self.script(body)])
            .env("HERODO_STATE_DIR", &self.state.display().to_string())
            .run()
    }

    /// A herodo running `body`, not waited for (to be killed).
    fn spawn(&self, body: &str) -> Child {
        Command::new(BIN)
            .args(["-e", &self.script(body)])
            .current_dir(self.dir.path())
            .env("HERODO_STATE_DIR", &self.state)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn herodo")
    }

    /// Create and start the container `c` (sleeping for an hour); its pid.
    fn start_sleeper(&self) -> i64 {
        last_int(
            &self
                .run(&format!(
                    "{SLEEPER}.start(); print(p.get(\"c\").status().pid);"
                ))
                .ok(),
        )
    }

    fn cdir(&self, name: &str) -> PathBuf {
        self.base.join("containers").join(name)
    }

    /// What runc itself says of `name`: its status, or None when it knows no such container.
    fn runc_status(&self, name: &str) -> Option<String> {
        let out = Command::new("runc")
            .arg("--root")
            .arg(self.base.join("runtime"))
            .args(["state", name])
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        v["status"].as_str().map(str::to_string)
    }

    fn view(&self) -> HostView {
        HostView::of(&self.base, &self.state)
    }

    /// Assert the host is as `before`, retrying briefly (a killed process is reaped
    /// asynchronously).
    fn assert_same(&self, before: &HostView, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.view();
            if &now == before {
                return;
            }
            if Instant::now() > deadline {
                panic!("{what}: the host differs\nbefore: {before:#?}\nafter: {now:#?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Pods {
    /// The test bridge and its iptables rules go with the test (the next test makes them
    /// again before its baseline).
    fn drop(&mut self) {
        let n = net();
        crate::support::remove_test_bridge(&n.bridge, &n.subnet);
    }
}

/// One fault test's world: its pods, the host as it was before the test, and its turn (the
/// tests run one at a time). Fields drop in order: the pods (and the bridge) go before the
/// next test may start.
struct Fixture {
    pods: Pods,
    before: HostView,
    _serial: MutexGuard<'static, ()>,
}

impl Fixture {
    /// None (the test skips, with a printed reason) when a tool is missing.
    fn new(tag: &str) -> Option<Fixture> {
        if !ready() {
            return None;
        }
        let serial = serial();
        let pods = Pods::new(tag);
        let before = pods.view();
        Some(Fixture {
            pods,
            before,
            _serial: serial,
        })
    }
}

/// Everything of the test's base directories (its own and every one registered in its state
/// directory) and of the test bridge that a fault could leave on the host.
#[derive(Debug, PartialEq, Eq)]
struct HostView {
    runtime_ids: Vec<String>,
    mounts: Vec<String>,
    veths: Vec<String>,
    netns: Vec<String>,
    iptables: Vec<String>,
    cgroups: Vec<String>,
    leases: String,
    processes: Vec<String>,
}

fn lines_of(cmd: &mut Command) -> Vec<String> {
    let out = cmd.output().expect("run a host tool");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The base directories registered in `state` (`heropods/bases/*.json`, see heropods::reap).
fn registered_bases(state: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(state.join("heropods/bases"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(e.path()).ok()?).ok()?;
            v["path"].as_str().map(PathBuf::from)
        })
        .collect()
}

impl HostView {
    fn of(base: &Path, state: &Path) -> HostView {
        let mut bases = registered_bases(state);
        if !bases.iter().any(|b| b == base) {
            bases.push(base.to_path_buf());
        }
        bases.sort();
        let names: Vec<String> = bases.iter().map(|b| b.display().to_string()).collect();
        // What runc knows under every base dir, as `BASE: ID`.
        let mut runtime_ids = Vec::new();
        for (b, name) in bases.iter().zip(&names) {
            let runtime = b.join("runtime");
            if runtime.exists() {
                let ids = lines_of(
                    Command::new("runc")
                        .arg("--root")
                        .arg(&runtime)
                        .args(["list", "-q"]),
                );
                runtime_ids.extend(ids.into_iter().map(|id| format!("{name}: {id}")));
            }
        }
        let under_a_base = |s: &str| names.iter().any(|b| s.contains(b.as_str()));
        let mounts = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| names.iter().any(|b| m.starts_with(b.as_str())))
            .map(str::to_string)
            .collect();
        let veths = lines_of(Command::new("ip").args(["-o", "link", "show"]))
            .iter()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_string())
            .filter(|n| n.starts_with(&net().veth_prefix))
            .collect();
        let netns = std::fs::read_dir("/run/netns")
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().to_str().map(str::to_string))
                    .filter(|n| n.starts_with(&net().netns_prefix))
                    .collect()
            })
            .unwrap_or_default();
        // The bridge's rules, and every published port's (tagged with the state dir: a DNAT
        // rule names the container's address, not the subnet).
        let ports = herodo::heropods::ports::state_prefix(state);
        let iptables = lines_of(&mut Command::new("iptables-save"))
            .into_iter()
            .filter(|l| {
                l.starts_with('-')
                    && (l.contains(&net().subnet)
                        || l.contains(&net().bridge)
                        || l.contains(&format!("--comment \"{ports}")))
            })
            .collect();
        let mut cgroups = Vec::new();
        for b in &bases {
            let tag = herodo::heropods::store::Paths::new(b).cgroup_parent();
            for h in std::fs::read_dir("/sys/fs/cgroup")
                .into_iter()
                .flatten()
                .flatten()
            {
                find_dirs(&h.path(), &tag, 3, &mut cgroups);
            }
        }
        let leases =
            std::fs::read_to_string(state.join(format!("heropods/networks/{}.json", net().bridge)))
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .map(|v| v["leases"].to_string())
                .unwrap_or_else(|| "{}".into());
        let me = std::process::id().to_string();
        let processes = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|p| p.chars().all(|c| c.is_ascii_digit()) && *p != me)
            .filter_map(|p| {
                let cmd = std::fs::read(format!("/proc/{p}/cmdline")).ok()?;
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                under_a_base(&cmd).then_some(cmd)
            })
            .collect();
        HostView {
            runtime_ids: sorted(runtime_ids),
            mounts: sorted(mounts),
            veths: sorted(veths),
            netns: sorted(netns),
            iptables: sorted(iptables),
            cgroups: sorted(cgroups),
            leases,
            processes: sorted(processes),
        }
    }
}

/// Directories named `tag` (and everything below them) up to `depth` levels below `dir`.
fn find_dirs(dir: &Path, tag: &str, depth: usize, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let p = e.path();
        if e.file_name().to_str() == Some(tag) {
            out.push(p.display().to_string());
            let mut below = Vec::new();
            find_dirs_all(&p, &mut below);
            out.extend(below);
        } else if depth > 0 {
            find_dirs(&p, tag, depth - 1, out);
        }
    }
}

fn find_dirs_all(dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.push(e.path().display().to_string());
            find_dirs_all(&e.path(), out);
        }
    }
}

/// Field 4 (the parent pid) of /proc/PID/stat.
fn parent_of(pid: i64) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(1)?.parse().ok()
}

fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 2..];
            rest.chars().next()
        })
        .is_some_and(|state| state != 'Z' && state != 'X')
}

fn kill9(pid: i64) {
    // SAFETY: a signal to a process this test started or found in its container.
    unsafe {
        libc::kill(pid as i32, libc::SIGKILL);
    }
}

/// The last line of `out`'s stdout as an integer.
fn last_int(out: &Done) -> i64 {
    out.stdout
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no number in {:?} / {:?}", out.stdout, out.stderr))
}

const SLEEPER: &str =
    r#"p.container_new(#{name: "c", image: "localhost/busybox:test", cmd: ["sleep", "3600"]})"#;

#[test]
fn a_killed_foreground_runtime_does_not_hide_a_running_container() {
    let Some(fx) = Fixture::new("hpf-runc") else {
        return;
    };
    let (pods, before) = (&fx.pods, &fx.before);
    let pid = pods.start_sleeper();
    // The container's parent is the foreground `runc run` under the monitor: as the OOM
    // killer may, kill it. The monitor then records 137 while the container runs on.
    let runc = parent_of(pid).expect("the init has a parent");
    kill9(runc);
    let exit_file = pods.cdir("c").join("exit_code");
    wait_until(
        "the monitor to record an exit",
        Duration::from_secs(10),
        || std::fs::read_to_string(&exit_file).is_ok_and(|s| !s.trim().is_empty()),
    );
    assert!(alive(pid), "the container still runs");
    assert_eq!(pods.runc_status("c").as_deref(), Some("running"));
    pods.run(
        r#"let c = p.get("c");
assert_eq(c.status().state, "running");
assert_eq(p.list()[0].state, "running");
assert_eq(c.exec(["echo", "still here"]).stdout, "still here\n");
c.stop(1);
assert_eq(c.status().state, "stopped");
c.start();
assert_eq(c.status().state, "running");
print(c.status().pid);"#,
    )
    .ok();
    assert!(!alive(pid), "stop() ended the orphaned container");
    // Once more, and delete() this time: it kills what the runtime still runs.
    let pid2 = last_int(&pods.run("print(p.get(\"c\").status().pid);").ok());
    assert_ne!(pid, pid2);
    kill9(parent_of(pid2).unwrap());
    wait_until(
        "the monitor to record an exit",
        Duration::from_secs(10),
        || std::fs::read_to_string(&exit_file).is_ok_and(|s| !s.trim().is_empty()),
    );
    pods.run("assert_eq(p.get(\"c\").delete(), true); assert_eq(p.list().len(), 0);")
        .ok();
    assert!(!alive(pid2), "delete() ended the orphaned container");
    pods.assert_same(before, "after delete");
}

#[test]
fn a_herodo_killed_during_a_start_leaves_the_truth_and_nothing_behind() {
    let Some(fx) = Fixture::new("hpf-kill") else {
        return;
    };
    kill_sweep(&fx, SLEEPER, &[0, 3, 6, 10, 15, 20, 30, 45, 60, 90], None);
}

#[test]
fn a_herodo_killed_during_a_start_of_a_published_port_leaves_no_rule_behind() {
    let Some(mut fx) = Fixture::new("hpf-kill-port") else {
        return;
    };
    let port = free_low_port();
    let sleeper = format!(
        r#"p.container_new(#{{name: "c", image: "localhost/busybox:test", cmd: ["sleep", "3600"],
    ports: ["127.0.0.1:{port}:80"]}})"#
    );
    // The bridge's loopback guard comes with its first published port and stays with the
    // bridge: in the baseline.
    fx.pods
        .run(&format!("let c = {sleeper}; c.start(); c.delete();"))
        .ok();
    fx.before = fx.pods.view();
    kill_sweep(&fx, &sleeper, &[0, 10, 20, 45], Some(port));
}

/// A TCP port on 127.0.0.1 below the ephemeral range (32768 and up), free now: no outgoing
/// connection of the host takes it meanwhile.
fn free_low_port() -> u16 {
    let first = 20000 + (std::process::id() % 10000) as u16;
    (first..32768)
        .chain(10000..first)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port below 32768")
}

/// Create the container `c` with `create` and start it in a herodo killed with SIGKILL after
/// each of `delays` (a first start, then a restart); each time, herodo's answer is the
/// runtime's, and stop, start and delete leave the host as it was. With `port` (published by
/// `create`), the host view is checked to see its DNAT rules while it runs.
fn kill_sweep(fx: &Fixture, create: &str, delays: &[u64], port: Option<u16>) {
    let (pods, before) = (&fx.pods, &fx.before);
    for restart in [false, true] {
        for &delay_ms in delays {
            pods.run(&format!("{create};")).ok();
            if restart {
                pods.run("let c = p.get(\"c\"); c.start(); c.stop(0);").ok();
            }
            let mut child = pods.spawn("p.get(\"c\").start();");
            std::thread::sleep(Duration::from_millis(delay_ms));
            let _ = child.kill();
            let _ = child.wait();
            // A runtime the killed herodo had started finishes its own start (or fails) on
            // its own: compare once it has settled.
            let mut last = pods.runc_status("c");
            let settle = Instant::now() + Duration::from_secs(5);
            while Instant::now() < settle {
                std::thread::sleep(Duration::from_millis(100));
                let now = pods.runc_status("c");
                if now == last && now.as_deref() != Some("created") {
                    break;
                }
                last = now;
            }
            // Whatever the moment, herodo's answer is the runtime's.
            let out = pods
                .run("let s = p.get(\"c\").status(); print(s.state);")
                .ok();
            let said = out.stdout.trim().to_string();
            let runc = pods.runc_status("c");
            let truth = match runc.as_deref() {
                Some("running") => "running",
                _ => "not running",
            };
            assert_eq!(
                said == "running",
                truth == "running",
                "restart={restart} delay={delay_ms}ms: herodo says {said}, runc says {runc:?}"
            );
            // It can be stopped, started again and deleted without leaving anything.
            pods.run(
                r#"let c = p.get("c"); c.stop(0); assert_eq(c.status().running, false);
c.start(); assert_eq(c.status().state, "running");"#,
            )
            .ok();
            if let Some(port) = port {
                let dnat = format!("--dport {port} ");
                let view = pods.view();
                assert!(
                    view.iptables
                        .iter()
                        .any(|l| l.contains(&dnat) && l.contains("-j DNAT")),
                    "the host view misses the published port's rules: {:#?}",
                    view.iptables
                );
            }
            pods.run("assert_eq(p.get(\"c\").delete(), true);").ok();
            pods.assert_same(before, &format!("restart={restart} delay={delay_ms}ms"));
        }
    }
}

#[test]
fn a_full_disk_during_a_start_leaves_no_running_container() {
    let Some(fx) = Fixture::new("hpf-full") else {
        return;
    };
    let pods = &fx.pods;
    std::fs::create_dir_all(&pods.base).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=24m", "herodo-full"])
        .arg(&pods.base)
        .status()
        .unwrap();
    assert!(mounted.success(), "mount a small tmpfs");
    let before = pods.view();
    pods.run(&format!("{SLEEPER};")).ok();
    let fill = pods.base.join("fill");
    let mut failures = 0;
    // Leave 0, 1, 2, ... pages free: each start runs out of space at another step.
    for pages in 0..12u64 {
        let _ = std::fs::remove_file(&fill);
        fill_up(&pods.base, &fill, pages * 4096);
        let out = pods.run(
            r#"let c = p.get("c");
try { c.start(); print("started"); } catch (e) { print(`failed ${e.kind}: ${e.message}`); }"#,
        );
        let said = out.stdout.trim().to_string();
        let runc = pods.runc_status("c");
        if said.starts_with("failed") {
            failures += 1;
            // A start that failed left nothing running.
            assert_ne!(runc.as_deref(), Some("running"), "{pages} pages: {said}");
        } else {
            assert_eq!(said, "started", "{pages} pages: {}", out.stderr);
            assert_eq!(runc.as_deref(), Some("running"), "{pages} pages");
        }
        let _ = std::fs::remove_file(&fill);
        // With space again, the container is told as it is, and stops and starts.
        pods.run(
            r#"let c = p.get("c"); let s = c.status().state;
assert(s == "running" || s == "stopped" || s == "created", s);
c.stop(0); assert_eq(c.status().running, false);"#,
        )
        .ok();
    }
    assert!(
        failures > 0,
        "the disk was never full enough to fail a start"
    );
    pods.run("p.get(\"c\").delete();").ok();
    // The image cache stays (it was there before the first container too).
    pods.run("for i in p.images() { p.image_remove(i.id); }")
        .ok();
    let unmounted = Command::new("umount").arg(&pods.base).status().unwrap();
    assert!(unmounted.success());
    let mut before = before;
    before.mounts.clear();
    pods.assert_same(&before, "after the full-disk starts");
}

/// Fill the file system of `dir` with `file` until `leave` bytes are free.
fn fill_up(dir: &Path, file: &Path, leave: u64) {
    let c = std::ffi::CString::new(dir.display().to_string()).unwrap();
    // SAFETY: statvfs fills the zeroed struct; the path is a valid C string.
    let free = unsafe {
        let mut s: libc::statvfs = std::mem::zeroed();
        assert_eq!(libc::statvfs(c.as_ptr(), &mut s), 0);
        s.f_bavail * s.f_frsize
    };
    let size = free.saturating_sub(leave);
    let f = std::fs::File::create(file).unwrap();
    let data = vec![0xa5u8; 1 << 20];
    let mut left = size;
    use std::io::Write;
    let mut w = std::io::BufWriter::new(f);
    while left > 0 {
        let n = left.min(data.len() as u64) as usize;
        if w.write_all(&data[..n]).is_err() {
            break;
        }
        left -= n as u64;
    }
    let _ = w.flush();
}

#[test]
fn a_corrupt_record_is_listed_as_broken_and_removed() {
    let Some(fx) = Fixture::new("hpf-corrupt") else {
        return;
    };
    let (pods, before) = (&fx.pods, &fx.before);
    for garbage in ["", "{\"name\": \"c\", \"ima", "\u{0}\u{1}not json"] {
        let pid = pods.start_sleeper();
        std::fs::write(pods.cdir("c").join("container.json"), garbage).unwrap();
        pods.run(
            r#"let l = p.list();
assert_eq(l.len(), 1);
assert_eq(l[0].state, "broken");
assert_contains(l[0].problem, "delete()");
let c = p.get("c");
assert_eq(c.status().state, "broken");
try {
    p.container_new(#{name: "c", image: "localhost/busybox:test"});
    throw "accepted";
} catch (e) {
    assert_eq(e.kind, "parse");
    assert_contains(e.message, "reset");
}"#,
        )
        .ok();
        assert!(alive(pid));
        if garbage.is_empty() {
            // reset: true replaces it with a fresh container.
            let pid2 = last_int(
                &pods
                    .run(
                        r#"let c = p.container_new(#{name: "c", image: "localhost/busybox:test", reset: true, cmd: ["sleep", "3600"]});
c.start(); print(c.status().pid);"#,
                    )
                    .ok(),
            );
            assert_ne!(pid, pid2);
            assert!(!alive(pid), "reset removed the old container");
            pods.run("assert_eq(p.get(\"c\").delete(), true);").ok();
        } else {
            pods.run("assert_eq(p.get(\"c\").delete(), true); assert_eq(p.list().len(), 0);")
                .ok();
            assert!(
                !alive(pid),
                "delete() ended the container of a corrupt record"
            );
        }
        pods.assert_same(before, &format!("corrupt record {garbage:?}"));
    }
}

#[test]
fn a_removed_record_never_lets_a_new_container_adopt_the_old_one() {
    let Some(fx) = Fixture::new("hpf-orphan") else {
        return;
    };
    let (pods, before) = (&fx.pods, &fx.before);
    let pid = pods.start_sleeper();
    std::fs::remove_file(pods.cdir("c").join("container.json")).unwrap();
    let out = pods
        .run(&format!(
            "let c = {SLEEPER}; c.start(); let s = c.status(); print(s.ip); print(s.pid);"
        ))
        .ok();
    let pid2 = last_int(&out);
    assert_ne!(pid, pid2, "the new container is not the orphan");
    assert!(!alive(pid), "the orphan is gone");
    assert!(
        !out.stdout.starts_with("()"),
        "the new container has an address"
    );
    pods.run("let c = p.get(\"c\"); assert_eq(c.exec([\"true\"]).code, 0); c.delete();")
        .ok();
    pods.assert_same(before, "after the orphan");
}

#[test]
fn start_stop_and_delete_of_one_container_from_two_processes() {
    let Some(fx) = Fixture::new("hpf-race") else {
        return;
    };
    let (pods, before) = (&fx.pods, &fx.before);
    let script = |body: &str| pods.script(body);
    let run_bg = |body: String| {
        let dir = pods.dir.path().to_path_buf();
        let state = pods.state.display().to_string();
        std::thread::spawn(move || {
            herodo(&dir, ["-e", &body])
                .env("HERODO_STATE_DIR", &state)
                .run()
        })
    };
    for round in 0..6 {
        pods.run(&format!("{SLEEPER};")).ok();
        let start = run_bg(script(
            "try { p.get(\"c\").start(); print(\"ok\"); } catch (e) { print(`${e.kind}|${e.message}|${e.stderr}`); }",
        ));
        if round % 2 == 1 {
            std::thread::sleep(Duration::from_millis(15));
        }
        let delete = run_bg(script(
            "try { p.get(\"c\").delete(); print(\"ok\"); } catch (e) { print(`${e.kind}|${e.message}|${e.stderr}`); }",
        ));
        let (s, d) = (start.join().unwrap(), delete.join().unwrap());
        for (what, out) in [("start", &s), ("delete", &d)] {
            let said = out.stdout.trim();
            assert_eq!(out.code, 0, "{what}: {}", out.stderr);
            // Either it worked, or the container was gone first: never a half-state error.
            assert!(
                said == "ok" || said.starts_with("no_such_container|"),
                "round {round}: {what} said {said}"
            );
        }
        pods.run("let c = p.list(); for x in c { p.get(x.name).delete(); }")
            .ok();
        pods.assert_same(before, &format!("race round {round}"));
    }
}

#[test]
fn a_dead_monitor_costs_stop_no_wait_and_exec_says_not_running() {
    let Some(fx) = Fixture::new("hpf-monitor") else {
        return;
    };
    let (pods, before) = (&fx.pods, &fx.before);
    let pid = pods.start_sleeper();
    // The monitor: the shell above the foreground runtime. Without it no exit code is written.
    let runc = parent_of(pid).unwrap();
    let monitor = parent_of(runc).unwrap();
    kill9(monitor);
    let t = Instant::now();
    pods.run("let c = p.get(\"c\"); c.stop(1); assert_eq(c.status().running, false);")
        .ok();
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(6),
        "stop() waited {took:?} for a monitor that is dead"
    );
    // Everything of that run killed at once: the runtime still has a (stopped) state.
    pods.run("p.get(\"c\").start();").ok();
    let pid = last_int(&pods.run("print(p.get(\"c\").status().pid);").ok());
    let runc = parent_of(pid).unwrap();
    let monitor = parent_of(runc).unwrap();
    for p in [monitor, runc, pid] {
        kill9(p);
    }
    wait_until("the container to end", Duration::from_secs(10), || {
        !alive(pid)
    });
    pods.run(
        r#"let c = p.get("c");
try { c.exec(["true"]); throw "ran"; } catch (e) { assert_eq(e.kind, "not_running"); }
assert_eq(c.delete(), true);"#,
    )
    .ok();
    pods.assert_same(before, "after a dead monitor");
}

#[test]
fn a_failed_start_shows_what_ran_and_why() {
    let Some(fx) = Fixture::new("hpf-failed") else {
        return;
    };
    let (pods, before) = (&fx.pods, &fx.before);
    pods.run(
        r#"let c = p.container_new(#{name: "c", image: "localhost/busybox:test", cmd: ["/no/such/program"]});
try { c.start(); throw "started"; } catch (e) {
    assert_eq(e.kind, "command_failed");
    assert_contains(e.cmd, " run --pid-file ");
    assert(!e.cmd.contains("--detach"), e.cmd);
    assert_contains(e.stderr, "/no/such/program");
}
assert_eq(c.status().running, false);
c.delete();"#,
    )
    .ok();
    pods.assert_same(before, "after a failed start");
}

#[test]
fn a_rootfs_still_in_use_makes_delete_busy_not_a_parse_error() {
    let Some(fx) = Fixture::new("hpf-busy") else {
        return;
    };
    let (pods, before) = (&fx.pods, &fx.before);
    pods.run(&format!("{SLEEPER};")).ok();
    let mnt = pods.cdir("c").join("rootfs/mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "herodo-busy"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(ok.success());
    let out = pods
        .run(r#"try { p.get("c").delete(); print("deleted"); } catch (e) { print(`${e.kind}|${e.message}`); }"#)
        .ok();
    let _ = Command::new("umount").arg(&mnt).status();
    assert!(out.stdout.starts_with("busy|"), "{}", out.stdout);
    assert!(out.stdout.contains("mounted"), "{}", out.stdout);
    pods.run("assert_eq(p.get(\"c\").delete(), true);").ok();
    pods.assert_same(before, "after a busy delete");
}

#[test]
fn logs_are_bounded_on_disk_and_read_from_the_end() {
    let Some(fx) = Fixture::new("hpf-logs") else {
        return;
    };
    let (pods, before) = (&fx.pods, &fx.before);
    // 40 MiB of output: far more than the log keeps (two files of 8 MiB).
    pods.run(
        r#"let c = p.container_new(#{name: "c", image: "localhost/busybox:test",
    cmd: ["sh", "-c", "yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopq | head -c 41943040; echo the-end"]});
c.start();
let deadline = timestamp() + 120;
while c.status().running && timestamp() < deadline { sleep(200); }
assert_eq(c.status().exit_code, 0);"#,
    )
    .ok();
    let log = pods.cdir("c").join("container.log");
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let older = PathBuf::from(format!("{}.1", log.display()));
    assert!(size(&older) > 0, "the log was rotated");
    assert!(
        size(&log) + size(&older) <= 16 * 1024 * 1024 + 128 * 1024,
        "log files hold {} bytes",
        size(&log) + size(&older)
    );
    pods.run(
        r#"let c = p.get("c");
try { c.logs(); throw "read it all"; } catch (e) { assert_eq(e.kind, "limit"); assert_contains(e.message, "tail"); }
assert_eq(c.logs(#{tail: 1}), "the-end\n");
let t = c.logs(#{tail: 3}).split("\n");
assert_eq(t.len(), 4);
assert_eq(t[2], "the-end");
assert_eq(t[0].len(), 63);
c.delete();"#,
    )
    .ok();
    pods.assert_same(before, "after the logs");
}

/// The peak resident set (VmHWM, in KiB) in a /proc/PID/status text.
fn vm_hwm_kib(status: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in {status:?}"))
}

#[test]
fn a_container_that_grows_its_hosts_file_costs_the_next_start_no_memory() {
    let Some(fx) = Fixture::new("hpf-hosts") else {
        return;
    };
    let (pods, before) = (&fx.pods, &fx.before);
    // Container a makes its /etc/hosts (a file of herodo's, bound into it) 1 GiB.
    pods.run(
        r#"let a = p.container_new(#{name: "a", image: "localhost/busybox:test", cmd: ["sleep", "3600"]});
a.start();
assert_eq(a.exec(["truncate", "-s", "1G", "/etc/hosts"]).code, 0);"#,
    )
    .ok();
    let hosts = pods.cdir("a").join("hosts");
    assert_eq!(std::fs::metadata(&hosts).unwrap().len(), 1 << 30);
    // The start of b rewrites a's file (b is a new name on the bridge): in a herodo whose
    // peak memory the script reports before it ends.
    let out = pods
        .run(
            r#"let b = p.container_new(#{name: "b", image: "localhost/busybox:test", cmd: ["sleep", "3600"]});
b.start();
assert_eq(b.status().state, "running");
print(file_read("/proc/self/status"));"#,
        )
        .ok();
    let peak = vm_hwm_kib(&out.stdout);
    assert!(
        peak < 100 * 1024,
        "herodo peaked at {peak} KiB starting b next to a 1 GiB /etc/hosts"
    );
    // a's file is the short list again, with b in it.
    let len = std::fs::metadata(&hosts).unwrap().len();
    assert!(len < 4096, "a's /etc/hosts is {len} bytes");
    pods.run(
        r#"let t = p.get("a").exec(["cat", "/etc/hosts"]).stdout;
assert_contains(t, "\ta\n");
assert_contains(t, "\tb\n");
p.get("a").delete();
p.get("b").delete();"#,
    )
    .ok();
    pods.assert_same(before, "after a grown /etc/hosts");
}

#[test]
fn a_new_container_in_a_removed_base_dir_never_shares_the_orphans_cgroup() {
    let Some(fx) = Fixture::new("hpf-rmrf") else {
        return;
    };
    let (pods, before) = (&fx.pods, &fx.before);
    // Copies, not overlay mounts: `rm -rf` removes everything of the base dir.
    let open = format!(
        r#"let p = heropods_new(#{{base_dir: "{}", bridge: "{}", subnet: "{}", storage: "copy"}});"#,
        pods.base.display(),
        net().bridge,
        net().subnet
    );
    let suffix = format!(
        "{}/c",
        herodo::heropods::store::Paths::new(&pods.base).cgroup_parent()
    );
    let own_cgroups = |pid: i64| -> Vec<String> {
        herodo::heropods::runtime::cgroup_dirs_of(pid)
            .into_iter()
            .filter(|d| herodo::heropods::runtime::is_container_cgroup(d, &suffix))
            .collect()
    };
    for network in ["none", "bridge"] {
        let sleeper = format!(
            r#"let c = p.container_new(#{{name: "c", image: "localhost/busybox:test",
    cmd: ["sleep", "3600"], network: "{network}"}});
c.start(); print(c.status().pid);"#
        );
        let old = last_int(&pods.run(&format!("{open}\n{sleeper}")).ok());
        let old_cgroups = own_cgroups(old);
        assert!(!old_cgroups.is_empty(), "{network}: no container cgroup");
        let rm = Command::new("rm")
            .arg("-rf")
            .arg(&pods.base)
            .status()
            .unwrap();
        assert!(rm.success() && !pods.base.exists(), "{network}: rm -rf");
        assert!(alive(old), "{network}: the orphan runs on");
        // The same name in the same base dir, no `herodo clean` between.
        let new = last_int(&pods.run(&format!("{open}\n{sleeper}")).ok());
        assert_ne!(old, new);
        assert!(!alive(old), "{network}: the orphan still runs");
        let new_cgroups = own_cgroups(new);
        assert!(!new_cgroups.is_empty(), "{network}: no container cgroup");
        for d in new_cgroups.iter().chain(&old_cgroups) {
            let procs = herodo::heropods::runtime::cgroup_procs(d);
            assert!(!procs.contains(&old), "{network}: the orphan is in {d}");
            if new_cgroups.contains(d) {
                assert_eq!(procs, vec![new], "{network}: {d} holds others");
            }
        }
        pods.run(&format!(
            "{open}\nassert_eq(p.get(\"c\").exec([\"true\"]).code, 0); assert_eq(p.get(\"c\").delete(), true);"
        ))
        .ok();
        pods.assert_same(before, &format!("after rm -rf ({network})"));
    }
}
