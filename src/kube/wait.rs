//! What `kube_wait` waits for, decided on one object (pure, tested as a table): `Available`,
//! `Ready`, `Established` or any other condition type (its status "True"), a pod phase
//! (`Running`, `Succeeded`, ...), or `deleted` (decided by the watcher: the object is gone).
//!
//! While waiting, [`Condition::problem`] tells a pod or job that will not get there on its own
//! (image missing, crash loop, unschedulable, ended, job failed), so the wait fails at once with
//! the reason instead of running into its timeout.

use serde_json::Value;

use super::error::{KubeError, Result};

/// What to wait for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// The object no longer exists.
    Deleted,
    /// `Ready`: a condition Ready=True, or for workloads every wanted replica ready.
    Ready,
    /// A pod phase.
    Phase(String),
    /// A condition of that type with status "True" (`Available`, `Established`, ...).
    Type(String),
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Condition::Deleted => f.write_str("deleted"),
            Condition::Ready => f.write_str("Ready"),
            Condition::Phase(p) | Condition::Type(p) => f.write_str(p),
        }
    }
}

const PHASES: [&str; 5] = ["Pending", "Running", "Succeeded", "Failed", "Unknown"];

impl Condition {
    pub fn parse(s: &str) -> Result<Condition> {
        let t = s.trim();
        if t.is_empty() {
            return Err(KubeError::invalid("condition", "is empty"));
        }
        Ok(match t {
            "deleted" | "Deleted" | "delete" => Condition::Deleted,
            "Ready" | "ready" => Condition::Ready,
            p if PHASES.contains(&p) => Condition::Phase(p.to_string()),
            other => Condition::Type(other.to_string()),
        })
    }

    /// Whether `obj` (as the API returns it) is there yet.
    pub fn met(&self, obj: &Value) -> bool {
        match self {
            Condition::Deleted => false,
            Condition::Phase(p) => obj["status"]["phase"] == p.as_str(),
            Condition::Type(t) => condition_true(obj, t),
            Condition::Ready => {
                if condition_true(obj, "Ready") {
                    return true;
                }
                match obj["kind"].as_str() {
                    Some("Deployment" | "StatefulSet" | "ReplicaSet") => {
                        let want = obj["spec"]["replicas"].as_i64().unwrap_or(1);
                        let ready = obj["status"]["readyReplicas"].as_i64().unwrap_or(0);
                        ready >= want && observed_current(obj)
                    }
                    _ => false,
                }
            }
        }
    }
}

/// Why a pod or job will not reach what is waited for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The image is not there (`ErrImageNeverPull`, `ErrImagePull`, `ImagePullBackOff`,
    /// `InvalidImageName`).
    ImageNotFound { container: String, message: String },
    /// `CrashLoopBackOff`: the container keeps exiting (`exit`: the last exit code).
    CrashLoop {
        container: String,
        message: String,
        exit: Option<i64>,
    },
    /// The scheduler found no node (`PodScheduled=False reason Unschedulable`).
    Unschedulable { message: String },
    /// The pod ended (phase Failed or Succeeded) or cannot start a container
    /// (`CreateContainerConfigError`).
    NotRunning { message: String },
    /// A job's `Failed` condition.
    JobFailed { message: String },
}

impl Condition {
    /// Whether waiting on for this condition is pointless: what stands in the way.
    /// Waits for a phase that is itself an end (`Failed`, `Succeeded`) or for `deleted` see
    /// no problem.
    pub fn problem(&self, obj: &Value) -> Option<Problem> {
        match self {
            Condition::Deleted => None,
            Condition::Phase(p) if p != "Running" => None,
            _ => match obj["kind"].as_str() {
                Some("Pod") => pod_problem(obj),
                Some("Job") if condition_true(obj, "Failed") => {
                    let c = find_condition(obj, "Failed");
                    Some(Problem::JobFailed {
                        message: format!(
                            "job {} failed: {} ({})",
                            obj["metadata"]["name"].as_str().unwrap_or_default(),
                            c["message"].as_str().unwrap_or("no message"),
                            c["reason"].as_str().unwrap_or("no reason")
                        ),
                    })
                }
                _ => None,
            },
        }
    }
}

fn find_condition<'a>(obj: &'a Value, kind: &str) -> &'a Value {
    obj["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
        .unwrap_or(&Value::Null)
}

const IMAGE_REASONS: [&str; 4] = [
    "ErrImageNeverPull",
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
];

/// What keeps a pod from running, read from its status.
pub fn pod_problem(pod: &Value) -> Option<Problem> {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let sched = find_condition(pod, "PodScheduled");
    if sched["status"] == "False" && sched["reason"] == "Unschedulable" {
        return Some(Problem::Unschedulable {
            message: format!(
                "pod {name} cannot be scheduled: {}",
                sched["message"].as_str().unwrap_or("no node fits")
            ),
        });
    }
    let statuses = ["initContainerStatuses", "containerStatuses"]
        .iter()
        .filter_map(|k| pod["status"][k].as_array())
        .flatten();
    for cs in statuses {
        let container = cs["name"].as_str().unwrap_or_default().to_string();
        let waiting = &cs["state"]["waiting"];
        let reason = waiting["reason"].as_str().unwrap_or_default();
        let message = waiting["message"].as_str().unwrap_or_default();
        if IMAGE_REASONS.contains(&reason) {
            return Some(Problem::ImageNotFound {
                message: format!(
                    "pod {name}: container {container}: {reason}: {}",
                    if message.is_empty() {
                        cs["image"].as_str().unwrap_or_default()
                    } else {
                        message
                    }
                ),
                container,
            });
        }
        if reason == "CrashLoopBackOff" {
            let last = &cs["lastState"]["terminated"];
            let exit = last["exitCode"].as_i64();
            let mut text = format!(
                "pod {name}: container {container} keeps exiting (CrashLoopBackOff, {} restarts)",
                cs["restartCount"].as_i64().unwrap_or(0)
            );
            if let Some(code) = exit {
                text.push_str(&format!(
                    "; last exit code {code} ({})",
                    last["reason"].as_str().unwrap_or("Error")
                ));
            }
            if let Some(m) = last["message"].as_str().filter(|m| !m.is_empty()) {
                text.push_str(&format!(": {m}"));
            }
            return Some(Problem::CrashLoop {
                container,
                message: text,
                exit,
            });
        }
        if reason == "CreateContainerConfigError" || reason == "CreateContainerError" {
            return Some(Problem::NotRunning {
                message: format!("pod {name}: container {container}: {reason}: {message}"),
            });
        }
    }
    let phase = pod["status"]["phase"].as_str().unwrap_or_default();
    if phase == "Failed" || phase == "Succeeded" {
        let mut text = format!("pod {name} has ended (phase {phase})");
        if let Some(cs) = pod["status"]["containerStatuses"].as_array() {
            for c in cs {
                let t = &c["state"]["terminated"];
                if let Some(code) = t["exitCode"].as_i64() {
                    text.push_str(&format!(
                        "; container {} exited with code {code} ({})",
                        c["name"].as_str().unwrap_or_default(),
                        t["reason"].as_str().unwrap_or_default()
                    ));
                    if let Some(m) = t["message"].as_str().filter(|m| !m.is_empty()) {
                        text.push_str(&format!(": {m}"));
                    }
                }
            }
        }
        return Some(Problem::NotRunning { message: text });
    }
    None
}

/// Containers of a running pod whose readiness probe has not passed: names, for the error
/// a wait for Ready ends with when its time is up.
pub fn unready_probed(pod: &Value) -> Vec<String> {
    if pod["status"]["phase"] != "Running" {
        return Vec::new();
    }
    let probed: Vec<&str> = pod["spec"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter(|c| c["readinessProbe"].is_object())
                .filter_map(|c| c["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    pod["status"]["containerStatuses"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter(|c| c["ready"] == false && c["state"]["running"].is_object())
                .filter_map(|c| c["name"].as_str())
                .filter(|n| probed.contains(n))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn condition_true(obj: &Value, kind: &str) -> bool {
    obj["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == kind && c["status"] == "True")
    })
}

/// The status describes the current spec (a controller has seen the latest generation).
fn observed_current(obj: &Value) -> bool {
    match (
        obj["metadata"]["generation"].as_i64(),
        obj["status"]["observedGeneration"].as_i64(),
    ) {
        (Some(g), Some(o)) => o >= g,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_parse() {
        assert_eq!(Condition::parse("deleted").unwrap(), Condition::Deleted);
        assert_eq!(Condition::parse("Ready").unwrap(), Condition::Ready);
        assert_eq!(
            Condition::parse("Running").unwrap(),
            Condition::Phase("Running".into())
        );
        assert_eq!(
            Condition::parse("Available").unwrap(),
            Condition::Type("Available".into())
        );
        assert!(Condition::parse(" ").is_err());
    }

    #[test]
    fn conditions_on_objects() {
        let available = json!({"kind": "Deployment", "status": {"conditions": [
            {"type": "Progressing", "status": "True"}, {"type": "Available", "status": "True"}]}});
        let unavailable = json!({"kind": "Deployment", "status": {"conditions": [
            {"type": "Available", "status": "False"}]}});
        let ready_dep = json!({"kind": "Deployment", "metadata": {"generation": 2},
            "spec": {"replicas": 2}, "status": {"readyReplicas": 2, "observedGeneration": 2}});
        let stale_dep = json!({"kind": "Deployment", "metadata": {"generation": 3},
            "spec": {"replicas": 2}, "status": {"readyReplicas": 2, "observedGeneration": 2}});
        let ready_pod = json!({"kind": "Pod", "status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}]}});
        let pending_pod = json!({"kind": "Pod", "status": {"phase": "Pending"}});
        let complete_job = json!({"kind": "Job", "status": {"conditions": [
            {"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}});
        let failed_job = json!({"kind": "Job", "status": {"conditions": [
            {"type": "FailureTarget", "status": "True"}, {"type": "Failed", "status": "True",
             "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}});
        assert!(matches!(
            Condition::parse("Complete").unwrap().problem(&failed_job),
            Some(Problem::JobFailed { message }) if message.contains("BackoffLimitExceeded")
        ));
        assert_eq!(
            Condition::parse("Complete").unwrap().problem(&complete_job),
            None
        );
        let table = [
            ("Available", &available, true),
            ("Available", &unavailable, false),
            ("Ready", &ready_dep, true),
            ("Ready", &stale_dep, false),
            ("Ready", &ready_pod, true),
            ("Ready", &pending_pod, false),
            ("Running", &ready_pod, true),
            ("Running", &pending_pod, false),
            ("Pending", &pending_pod, true),
            ("deleted", &ready_pod, false),
            ("Established", &available, false),
            ("Complete", &complete_job, true),
            ("Complete", &failed_job, false),
        ];
        for (cond, obj, want) in table {
            assert_eq!(
                Condition::parse(cond).unwrap().met(obj),
                want,
                "{cond} on {obj}"
            );
        }
    }

    /// Pod statuses as the recordings show them (pod-failures.json, readiness-probe.json).
    #[test]
    fn pod_problems_from_recorded_statuses() {
        let never_pull = json!({"kind": "Pod", "metadata": {"name": "no-image"},
            "status": {"phase": "Pending", "containerStatuses": [{"name": "main",
                "image": "localhost/node/absent:1", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ErrImageNeverPull",
                    "message": "Container image \"localhost/node/absent:1\" is not present with pull policy of Never"}}}]}});
        let crash = json!({"kind": "Pod", "metadata": {"name": "crashloop"},
            "status": {"phase": "Running", "containerStatuses": [{"name": "main", "ready": false,
                "restartCount": 1,
                "lastState": {"terminated": {"exitCode": 2, "reason": "Error"}},
                "state": {"waiting": {"reason": "CrashLoopBackOff",
                    "message": "back-off 10s restarting failed container=main pod=crashloop_rec-node(7f78)"}}}]}});
        let unsched = json!({"kind": "Pod", "metadata": {"name": "unschedulable"},
            "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled",
                "status": "False", "reason": "Unschedulable",
                "message": "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."}]}});
        let failed = json!({"kind": "Pod", "metadata": {"name": "bad-cmd"},
            "status": {"phase": "Failed", "containerStatuses": [{"name": "main",
                "state": {"terminated": {"exitCode": 128, "reason": "StartError",
                    "message": "exec: \"/no/such/file\": stat /no/such/file: no such file or directory"}}}]}});
        let creating = json!({"kind": "Pod", "metadata": {"name": "life"},
            "status": {"phase": "Pending", "containerStatuses": [{"name": "main",
                "state": {"waiting": {"reason": "ContainerCreating"}}}]}});
        let ready = Condition::Ready;
        match ready.problem(&never_pull) {
            Some(Problem::ImageNotFound { container, message }) => {
                assert_eq!(container, "main");
                assert!(message.contains("ErrImageNeverPull"), "{message}");
                assert!(message.contains("localhost/node/absent:1"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        match ready.problem(&crash) {
            Some(Problem::CrashLoop {
                container,
                message,
                exit,
            }) => {
                assert_eq!((container.as_str(), exit), ("main", Some(2)));
                assert!(message.contains("last exit code 2"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(ready.problem(&unsched),
            Some(Problem::Unschedulable { message }) if message.contains("0/1 nodes")));
        assert!(matches!(ready.problem(&failed),
            Some(Problem::NotRunning { message }) if message.contains("code 128 (StartError)")));
        assert_eq!(ready.problem(&creating), None);
        // Waiting for the end itself is no problem.
        assert_eq!(Condition::parse("Failed").unwrap().problem(&failed), None);
        assert_eq!(Condition::Deleted.problem(&crash), None);
        assert!(Condition::parse("Running")
            .unwrap()
            .problem(&crash)
            .is_some());
    }

    #[test]
    fn unready_probed_containers() {
        let pod = json!({"kind": "Pod",
            "spec": {"containers": [
                {"name": "main", "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}}},
                {"name": "side"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "main", "ready": false, "state": {"running": {}}},
                {"name": "side", "ready": false, "state": {"running": {}}}]}});
        assert_eq!(unready_probed(&pod), vec!["main".to_string()]);
        let mut ok = pod.clone();
        ok["status"]["containerStatuses"][0]["ready"] = json!(true);
        assert!(unready_probed(&ok).is_empty());
    }
}
