//! What `kube_wait` waits for, decided on one object (pure, tested as a table): `Available`,
//! `Ready`, `Established` or any other condition type (its status "True"), a pod phase
//! (`Running`, `Succeeded`, ...), or `deleted` (decided by the watcher: the object is gone).

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
        ];
        for (cond, obj, want) in table {
            assert_eq!(
                Condition::parse(cond).unwrap().met(obj),
                want,
                "{cond} on {obj}"
            );
        }
    }
}
