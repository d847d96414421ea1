//! Parsing of engine output. podman prints JSON arrays; docker and nerdctl print one JSON object
//! per line (`--format '{{json .}}'`) with other key names. Fixtures captured from the real
//! tools (nerdctl's from its documented shapes) live in tests/fixtures/containers.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::Flavor;

/// `inspect` of one container, as seed 000's ContainerStatus plus the exit code. Scripts see it
/// as [`StatusView`].
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Status {
    /// `created`, `running`, `paused`, `restarting`, `exited`, ...
    pub state: String,
    /// A one-line summary: `running`, `running (healthy)`, `exited (code 3)`.
    pub status: String,
    pub created: String,
    pub started: String,
    pub finished: String,
    pub running: bool,
    pub exit_code: i64,
    /// `starting`, `healthy`, `unhealthy`, or None without a health check.
    pub health_status: Option<String>,
    /// Output of the last health check.
    pub health_output: Option<String>,
    #[serde(skip)]
    pub failing_streak: i64,
    /// How often the health check runs: herodo's label on podman (where herodo runs the checks),
    /// else the engine's `Config.Healthcheck.Interval`; None when neither says.
    #[serde(skip)]
    pub health_interval: Option<Duration>,
}

/// What `status()` gives a script: the status with its phase.
#[derive(Serialize)]
pub struct StatusView<'a> {
    #[serde(flatten)]
    pub status: &'a Status,
    pub phase: &'static str,
}

impl Status {
    /// Seed 004's lifecycle state: `starting`, `running`, `healthy`, `unhealthy`, `stopped`.
    pub fn phase(&self) -> &'static str {
        match (self.state.as_str(), self.health_status.as_deref()) {
            ("running", Some("healthy")) => "healthy",
            ("running", Some("unhealthy")) => "unhealthy",
            ("running", _) => "running",
            ("created", _) | ("restarting", _) => "starting",
            ("paused", _) => "running",
            _ => "stopped",
        }
    }

    pub fn view(&self) -> StatusView<'_> {
        StatusView {
            status: self,
            phase: self.phase(),
        }
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(x) => x.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The first element of an inspect array.
pub fn inspect(text: &str) -> Result<Status, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let item = match &v {
        Value::Array(a) => a.first().ok_or("inspect returned no container")?,
        other => other,
    };
    let st = &item["State"];
    // podman says "stopped" for an exited container it has cleaned up, "configured" for one
    // created but never started: use the docker words everywhere.
    let state = match s(&st["Status"]).to_ascii_lowercase().as_str() {
        "stopped" => "exited".to_string(),
        "configured" => "created".to_string(),
        other => other.to_string(),
    };
    let health = if st["Health"].is_object() {
        &st["Health"]
    } else {
        &st["Healthcheck"]
    };
    let health_status = health["Status"]
        .as_str()
        .filter(|h| !h.is_empty())
        .map(String::from);
    let health_output = health["Log"]
        .as_array()
        .and_then(|l| l.last())
        .map(|e| s(&e["Output"]));
    let exit_code = st["ExitCode"].as_i64().unwrap_or(0);
    let health_interval = item["Config"]["Labels"][super::HEALTH_INTERVAL_LABEL]
        .as_str()
        .and_then(super::validate::parse_go_duration)
        .or_else(|| {
            item["Config"]["Healthcheck"]["Interval"]
                .as_u64()
                .filter(|ns| *ns > 0)
                .map(Duration::from_nanos)
        });
    let status = match (state.as_str(), &health_status) {
        ("running", Some(h)) => format!("running ({h})"),
        ("exited", _) => format!("exited (code {exit_code})"),
        (other, _) => other.to_string(),
    };
    Ok(Status {
        running: st["Running"].as_bool().unwrap_or(state == "running"),
        state,
        status,
        created: s(&item["Created"]),
        started: s(&st["StartedAt"]),
        finished: s(&st["FinishedAt"]),
        exit_code,
        health_status,
        health_output,
        failing_streak: health["FailingStreak"].as_i64().unwrap_or(0),
        health_interval,
    })
}

/// `stats` of one container (seed 000's ResourceUsage), as numbers: percentages as floats,
/// sizes in bytes. A value the engine does not report (`--`) is 0.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ResourceUsage {
    /// CPU use in percent of one core (can exceed 100 on several cores).
    pub cpu_usage: f64,
    pub memory_usage: i64,
    pub memory_limit: i64,
    pub memory_percentage: f64,
    pub network_input: i64,
    pub network_output: i64,
    pub block_input: i64,
    pub block_output: i64,
    pub pids: i64,
}

fn split_pair(v: &str) -> (&str, &str) {
    match v.split_once(" / ") {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (v.trim(), ""),
    }
}

/// `12.44%` -> 12.44; `--` or empty -> 0.
pub fn percent(v: &str) -> Result<f64, String> {
    let t = v.trim();
    if t.is_empty() || t == "--" {
        return Ok(0.0);
    }
    t.trim_end_matches('%')
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .ok_or_else(|| format!("`{v}` is not a percentage"))
}

pub use crate::common::size::bytes;

/// One object per line (docker, nerdctl) or a JSON array (podman), as a list of objects.
fn objects(text: &str) -> Result<Vec<Value>, String> {
    let t = text.trim();
    if t.is_empty() || t == "null" {
        return Ok(Vec::new());
    }
    if t.starts_with('[') {
        return match serde_json::from_str::<Value>(t).map_err(|e| e.to_string())? {
            Value::Array(a) => Ok(a),
            _ => Err("expected a JSON array".into()),
        };
    }
    t.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{e} in `{l}`")))
        .collect()
}

/// podman's raw `ContainerStats` record: numbers, no units.
fn raw_stats(o: &Value) -> Option<ResourceUsage> {
    let int = |k: &str| o[k].as_u64().and_then(|v| i64::try_from(v).ok());
    Some(ResourceUsage {
        cpu_usage: o["CPU"].as_f64()?,
        memory_usage: int("MemUsage")?,
        memory_limit: int("MemLimit")?,
        memory_percentage: o["MemPerc"].as_f64()?,
        network_input: int("NetInput")?,
        network_output: int("NetOutput")?,
        block_input: int("BlockInput")?,
        block_output: int("BlockOutput")?,
        pids: int("PIDs")?,
    })
}

pub fn stats(flavor: Flavor, text: &str) -> Result<ResourceUsage, String> {
    let all = objects(text)?;
    let o = all.first().ok_or("stats returned nothing")?;
    if o["MemUsage"].is_number() {
        return raw_stats(o).ok_or_else(|| format!("unexpected stats record: {o}"));
    }
    let (cpu, mem, memp, net, block, pids) = match flavor {
        Flavor::Podman => (
            "cpu_percent",
            "mem_usage",
            "mem_percent",
            "net_io",
            "block_io",
            "pids",
        ),
        _ => ("CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs"),
    };
    let (mem, net, block) = (s(&o[mem]), s(&o[net]), s(&o[block]));
    let (mu, ml) = split_pair(&mem);
    let (ni, no) = split_pair(&net);
    let (bi, bo) = split_pair(&block);
    let pids = s(&o[pids]);
    Ok(ResourceUsage {
        cpu_usage: percent(&s(&o[cpu]))?,
        memory_usage: bytes(mu)?,
        memory_limit: bytes(ml)?,
        memory_percentage: percent(&s(&o[memp]))?,
        network_input: bytes(ni)?,
        network_output: bytes(no)?,
        block_input: bytes(bi)?,
        block_output: bytes(bo)?,
        pids: match pids.trim() {
            "" | "--" => 0,
            p => p
                .parse()
                .map_err(|_| format!("`{pids}` is not a number of processes"))?,
        },
    })
}

/// One row of `ps`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ContainerRow {
    pub id: String,
    pub name: String,
    pub image: String,
    pub state: String,
    pub status: String,
    pub ports: String,
    /// For finding what herodo made; not shown to scripts.
    #[serde(skip)]
    pub labels: BTreeMap<String, String>,
}

/// Labels as podman prints them (a JSON object) or docker and nerdctl (`a=b,c=d` in one string).
fn labels(v: &Value) -> BTreeMap<String, String> {
    match v {
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), s(v))).collect(),
        Value::String(text) => text
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.to_string()))
            .collect(),
        _ => BTreeMap::new(),
    }
}

fn podman_ports(v: &Value) -> String {
    v.as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    let ip = p["host_ip"]
                        .as_str()
                        .filter(|i| !i.is_empty())
                        .unwrap_or("0.0.0.0");
                    format!(
                        "{ip}:{}->{}/{}",
                        p["host_port"],
                        p["container_port"],
                        p["protocol"].as_str().unwrap_or("tcp")
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// nerdctl's `ps` has no State: derive it from Status (`Up`, `Exited (3) ...`, `Created`).
fn state_from_status(status: &str) -> String {
    let l = status.to_ascii_lowercase();
    if l.starts_with("up") {
        "running".into()
    } else if l.starts_with("exited") {
        "exited".into()
    } else {
        l.split_whitespace().next().unwrap_or("").to_string()
    }
}

pub fn ps(flavor: Flavor, text: &str) -> Result<Vec<ContainerRow>, String> {
    Ok(objects(text)?
        .iter()
        .map(|o| match flavor {
            Flavor::Podman => ContainerRow {
                id: s(&o["Id"]).chars().take(12).collect(),
                name: o["Names"]
                    .as_array()
                    .and_then(|n| n.first())
                    .map(s)
                    .unwrap_or_default(),
                image: s(&o["Image"]),
                state: s(&o["State"]),
                status: s(&o["Status"]),
                ports: podman_ports(&o["Ports"]),
                labels: labels(&o["Labels"]),
            },
            _ => {
                let status = s(&o["Status"]);
                let state = match o.get("State") {
                    Some(v) if !s(v).is_empty() => s(v),
                    _ => state_from_status(&status),
                };
                ContainerRow {
                    id: s(&o["ID"]),
                    name: s(&o["Names"]),
                    image: s(&o["Image"]),
                    state,
                    status,
                    ports: s(&o["Ports"]),
                    labels: labels(&o["Labels"]),
                }
            }
        })
        .collect())
}

/// One row of `volume ls` or `network ls`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NamedRow {
    pub name: String,
    pub driver: String,
    /// For finding what herodo made; not shown to scripts.
    #[serde(skip)]
    pub labels: BTreeMap<String, String>,
}

/// `volume ls` / `network ls`: podman prints a JSON array (networks with lowercase keys), docker
/// and nerdctl one object per line.
pub fn named_rows(text: &str) -> Result<Vec<NamedRow>, String> {
    let pick = |v: &Value, keys: &[&str]| {
        keys.iter()
            .find_map(|k| v[*k].as_str().map(String::from))
            .unwrap_or_default()
    };
    Ok(objects(text)?
        .iter()
        .map(|v| NamedRow {
            name: pick(v, &["Name", "name"]),
            driver: pick(v, &["Driver", "driver"]),
            labels: labels(if v["Labels"].is_null() {
                &v["labels"]
            } else {
                &v["Labels"]
            }),
        })
        .collect())
}

/// One row of `images` (seed 001's Image).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ImageRow {
    pub id: String,
    pub repository: String,
    pub tag: String,
    /// Bytes: exact on podman, from the engine's rounded `1.98MB` on docker and nerdctl.
    pub size: i64,
    pub created: String,
}

pub fn images(flavor: Flavor, text: &str) -> Result<Vec<ImageRow>, String> {
    let mut out = Vec::new();
    for o in objects(text)? {
        match flavor {
            Flavor::Podman => {
                let id: String = s(&o["Id"]).chars().take(12).collect();
                let size = match o["Size"].as_i64() {
                    Some(n) => n,
                    None => bytes(&s(&o["Size"]))?,
                };
                let created = s(&o["CreatedAt"]);
                let names: Vec<String> = o["Names"]
                    .as_array()
                    .map(|n| n.iter().map(s).collect())
                    .unwrap_or_default();
                if names.is_empty() {
                    out.push(ImageRow {
                        id,
                        repository: "<none>".into(),
                        tag: "<none>".into(),
                        size,
                        created,
                    });
                    continue;
                }
                for n in names {
                    let (repo, tag) = split_reference(&n);
                    // podman lists an image once per name, each entry with all its names.
                    if out
                        .iter()
                        .any(|r: &ImageRow| r.id == id && r.repository == repo && r.tag == tag)
                    {
                        continue;
                    }
                    out.push(ImageRow {
                        id: id.clone(),
                        repository: repo,
                        tag,
                        size,
                        created: created.clone(),
                    });
                }
            }
            _ => out.push(ImageRow {
                id: s(&o["ID"]),
                repository: s(&o["Repository"]),
                tag: s(&o["Tag"]),
                size: bytes(&s(&o["Size"]))?,
                created: s(&o["CreatedAt"]),
            }),
        }
    }
    Ok(out)
}

/// `host:5000/a/b:tag` -> (`host:5000/a/b`, `tag`); no tag -> `latest`.
pub fn split_reference(r: &str) -> (String, String) {
    let last_slash = r.rfind('/').map_or(0, |i| i + 1);
    match r[last_slash..].rfind(':') {
        Some(i) => (
            r[..last_slash + i].to_string(),
            r[last_slash + i + 1..].to_string(),
        ),
        None => (r.to_string(), "latest".into()),
    }
}

/// The host address a container port is published on, from `port NAME PORT` output
/// (`127.0.0.1:18080`, `0.0.0.0:80`, `[::]:80`, one per line).
pub fn published(text: &str) -> Option<(String, u16)> {
    let line = text
        .lines()
        .find(|l| l.contains("0.0.0.0") || l.contains("127."))
        .or_else(|| text.lines().next())?;
    let (host, port) = line.trim().rsplit_once(':')?;
    let host = match host {
        "0.0.0.0" | "" | "[::]" | "::" => "127.0.0.1".to_string(),
        h => h.trim_matches(['[', ']']).to_string(),
    };
    Some((host, port.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/containers")
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn inspect_running_and_healthy_on_every_flavor() {
        for f in ["podman_inspect_healthy.json", "docker_inspect_healthy.json"] {
            let st = inspect(&fixture(f)).unwrap();
            assert_eq!(st.state, "running", "{f}");
            assert!(st.running);
            assert_eq!(st.health_status.as_deref(), Some("healthy"), "{f}");
            assert_eq!(st.phase(), "healthy");
            assert_eq!(st.status, "running (healthy)");
            assert!(st.created.starts_with("20"), "{f}: {}", st.created);
            assert!(st.started.starts_with("20"), "{f}");
        }
        let st = inspect(&fixture("nerdctl_inspect.json")).unwrap();
        assert_eq!(st.phase(), "unhealthy");
        assert_eq!(st.failing_streak, 3);
        assert!(st.health_output.unwrap().contains("HTTP/1.1 500"));
    }

    #[test]
    fn inspect_exited() {
        for f in ["podman_inspect_exited.json", "docker_inspect_exited.json"] {
            let st = inspect(&fixture(f)).unwrap();
            assert_eq!(st.state, "exited", "{f}");
            assert_eq!(st.exit_code, 3, "{f}");
            assert_eq!(st.phase(), "stopped");
            assert_eq!(st.status, "exited (code 3)");
            assert_eq!(st.health_status, None);
        }
        let stopped = r#"[{"Created": "x", "State": {"Status": "stopped", "Running": false, "ExitCode": 2}}]"#;
        let st = inspect(stopped).unwrap();
        assert_eq!(
            (st.state.as_str(), st.status.as_str()),
            ("exited", "exited (code 2)")
        );
        assert!(inspect("[]").is_err());
        assert!(inspect("{not json").is_err());
    }

    #[test]
    fn stats_per_flavor() {
        // podman 4.3's `--format json`: SI units everywhere, four digits.
        let p = stats(Flavor::Podman, &fixture("podman_stats.json")).unwrap();
        assert_eq!(
            p,
            ResourceUsage {
                cpu_usage: 7.72,
                memory_usage: 1_823_000,
                memory_limit: 25_280_000_000,
                memory_percentage: 0.01,
                network_input: 180,
                network_output: 536,
                block_input: 0,
                block_output: 0,
                pids: 1,
            }
        );
        // podman 4.3's raw record (what herodo asks for): exact numbers.
        let raw = stats(Flavor::Podman, &fixture("podman_stats_raw.jsonl")).unwrap();
        assert_eq!(
            raw,
            ResourceUsage {
                cpu_usage: 3.419792467213373,
                memory_usage: 253_952,
                memory_limit: 64 * 1024 * 1024,
                memory_percentage: 0.37841796875,
                network_input: 426,
                network_output: 880,
                block_input: 0,
                block_output: 0,
                pids: 1,
            }
        );
        assert!(stats(Flavor::Podman, r#"{"MemUsage": 1}"#).is_err());
        // docker 20.10: memory in powers of 1024, I/O in powers of 1000.
        let d = stats(Flavor::Docker, &fixture("docker_stats.jsonl")).unwrap();
        assert_eq!(
            d,
            ResourceUsage {
                cpu_usage: 1.62,
                memory_usage: (1.832f64 * 1024.0 * 1024.0).round() as i64,
                memory_limit: (23.54f64 * 1024.0 * 1024.0 * 1024.0).round() as i64,
                memory_percentage: 0.01,
                network_input: 736,
                network_output: 0,
                block_input: 0,
                block_output: 0,
                pids: 1,
            }
        );
        let n = stats(Flavor::Nerdctl, &fixture("nerdctl_stats.jsonl")).unwrap();
        assert_eq!(
            n,
            ResourceUsage {
                cpu_usage: 0.25,
                memory_usage: (1.148f64 * 1024.0 * 1024.0).round() as i64,
                memory_limit: (23.5f64 * 1024.0 * 1024.0 * 1024.0).round() as i64,
                memory_percentage: 0.01,
                network_input: 1200,
                network_output: 648,
                block_input: 4100,
                block_output: 0,
                pids: 1,
            }
        );
        assert!(stats(Flavor::Podman, r#"[{"cpu_percent": "lots"}]"#).is_err());
    }

    #[test]
    fn sizes_and_percentages() {
        for (v, want) in [
            ("651.3kB", 651_300),
            ("648B", 648),
            ("0B", 0),
            ("1KiB", 1024),
            ("1.5MiB", 1_572_864),
            ("2GB", 2_000_000_000),
            ("1TiB", 1_099_511_627_776),
            ("--", 0),
            ("", 0),
            ("12", 12),
        ] {
            assert_eq!(bytes(v), Ok(want), "{v}");
        }
        for bad in ["lots", "1XB", "1.2.3kB", "1kiB2"] {
            assert!(bytes(bad).is_err(), "{bad}");
        }
        assert_eq!(percent("12.44%"), Ok(12.44));
        assert_eq!(percent("--"), Ok(0.0));
        assert!(percent("x%").is_err());
    }

    #[test]
    fn ps_per_flavor() {
        let p = ps(Flavor::Podman, &fixture("podman_ps.json")).unwrap();
        let fx1 = p.iter().find(|r| r.name == "fx1").unwrap();
        assert_eq!(fx1.state, "running");
        assert_eq!(fx1.image, "localhost/busybox:test");
        assert_eq!(fx1.ports, "127.0.0.1:18090->80/tcp");
        assert_eq!(fx1.id.len(), 12);
        let d = ps(Flavor::Docker, &fixture("docker_ps.jsonl")).unwrap();
        assert_eq!(d[0].name, "fx1");
        assert_eq!(d[0].state, "running");
        assert_eq!(d[0].ports, "127.0.0.1:18091->80/tcp");
        let n = ps(Flavor::Nerdctl, &fixture("nerdctl_ps.jsonl")).unwrap();
        assert_eq!(n[0].state, "running");
        assert_eq!(n[1].state, "exited");
        assert_eq!(n[1].name, "done");
        assert!(ps(Flavor::Podman, "null").unwrap().is_empty());
        assert_eq!(
            fx1.labels.get("io.buildah.version").map(String::as_str),
            Some("1.28.2")
        );
        assert_eq!(
            d[0].labels.get("io.buildah.version").map(String::as_str),
            Some("1.28.2")
        );
    }

    #[test]
    fn labelled_listings_for_reaping() {
        let tag = Some("0123abcd-4242-777");
        let c = ps(Flavor::Podman, &fixture("podman_ps_labelled.json")).unwrap();
        assert_eq!(c[0].name, "ctest-fx-c");
        assert_eq!(c[0].labels.get("io.herodo.owner").map(String::as_str), tag);
        assert_eq!(c[0].labels.get("app").map(String::as_str), Some("demo"));
        let v = named_rows(&fixture("podman_volume_ls.json")).unwrap();
        assert_eq!(
            (v[0].name.as_str(), v[0].driver.as_str()),
            ("ctest-fx-vol", "local")
        );
        assert_eq!(v[0].labels.get("io.herodo.owner").map(String::as_str), tag);
        let n = named_rows(&fixture("podman_network_ls.json")).unwrap();
        assert_eq!(
            (n[0].name.as_str(), n[0].driver.as_str()),
            ("ctest-fx-net", "bridge")
        );
        assert_eq!(n[0].labels.get("io.herodo.owner").map(String::as_str), tag);
        for f in ["docker_volume_ls.jsonl", "docker_network_ls.jsonl"] {
            let rows = named_rows(&fixture(f)).unwrap();
            assert_eq!(rows.len(), 1, "{f}");
            assert!(rows[0].name.starts_with("ctest-fx-"), "{f}");
            assert_eq!(
                rows[0].labels.get("io.herodo.owner").map(String::as_str),
                tag,
                "{f}"
            );
        }
        let d = ps(Flavor::Docker, &fixture("docker_ps_labelled.jsonl")).unwrap();
        assert_eq!(d[0].name, "ctest-fx-c");
        assert_eq!(d[0].labels.get("io.herodo.owner").map(String::as_str), tag);
        assert!(named_rows("not json").is_err());
    }

    #[test]
    fn images_per_flavor() {
        let p = images(Flavor::Podman, &fixture("podman_images.json")).unwrap();
        assert!(
            p.iter().any(|i| i.repository == "localhost/busybox"
                && i.tag == "test"
                && i.size == 2_126_672),
            "{p:?}"
        );
        // An image with two names is listed twice by podman (captured from podman 4.3):
        // one row per name, not four.
        let two = images(Flavor::Podman, &fixture("podman_images_two_names.json")).unwrap();
        let busybox: Vec<_> = two
            .iter()
            .filter(|i| i.repository == "localhost/busybox" && i.tag == "test")
            .collect();
        assert_eq!(busybox.len(), 1, "{two:?}");
        assert_eq!(
            two.iter()
                .filter(|i| i.repository == "localhost/dupcheck" && i.tag == "x")
                .count(),
            1
        );
        let d = images(Flavor::Docker, &fixture("docker_images.jsonl")).unwrap();
        assert_eq!(
            (d[0].repository.as_str(), d[0].tag.as_str(), d[0].size),
            ("localhost/busybox", "test", 1_980_000)
        );
        let n = images(Flavor::Nerdctl, &fixture("nerdctl_images.jsonl")).unwrap();
        assert_eq!(n[0].id, "e671bc11e7c6");
        assert_eq!(n[0].size, 2 * 1024 * 1024);
    }

    #[test]
    fn references_and_published_ports() {
        assert_eq!(
            split_reference("127.0.0.1:5000/a/b:1"),
            ("127.0.0.1:5000/a/b".into(), "1".into())
        );
        assert_eq!(
            split_reference("127.0.0.1:5000/a"),
            ("127.0.0.1:5000/a".into(), "latest".into())
        );
        assert_eq!(
            published("127.0.0.1:18080\n"),
            Some(("127.0.0.1".into(), 18080))
        );
        assert_eq!(
            published("0.0.0.0:80\n[::]:80\n"),
            Some(("127.0.0.1".into(), 80))
        );
        assert_eq!(published(""), None);
    }
}
