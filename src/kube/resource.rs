//! Kinds and manifests, without a server: the built-in kinds herodo knows by name (so common
//! calls need no discovery round trip), manifest parsing (YAML or JSON, one or more documents),
//! the checks a manifest must pass before any request, and the summary rows of listings.

use serde_json::Value;

use super::error::{KubeError, Result};

/// One resource type: what a URL needs (group, version, plural, scope) and its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kind {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
}

impl Kind {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn api_resource(&self) -> ::kube::discovery::ApiResource {
        ::kube::discovery::ApiResource {
            group: self.group.clone(),
            version: self.version.clone(),
            api_version: self.api_version(),
            kind: self.kind.clone(),
            plural: self.plural.clone(),
        }
    }
}

/// (group, version, kind, plural, namespaced, short names).
type Builtin = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
);

const BUILTIN: &[Builtin] = &[
    ("", "v1", "Pod", "pods", true, &["po"]),
    ("", "v1", "Service", "services", true, &["svc"]),
    ("", "v1", "ConfigMap", "configmaps", true, &["cm"]),
    ("", "v1", "Secret", "secrets", true, &[]),
    ("", "v1", "Namespace", "namespaces", false, &["ns"]),
    ("", "v1", "Node", "nodes", false, &["no"]),
    ("", "v1", "ServiceAccount", "serviceaccounts", true, &["sa"]),
    (
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
        &["pvc"],
    ),
    (
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        false,
        &["pv"],
    ),
    ("", "v1", "Endpoints", "endpoints", true, &["ep"]),
    ("", "v1", "Event", "events", true, &["ev"]),
    ("apps", "v1", "Deployment", "deployments", true, &["deploy"]),
    ("apps", "v1", "ReplicaSet", "replicasets", true, &["rs"]),
    ("apps", "v1", "StatefulSet", "statefulsets", true, &["sts"]),
    ("apps", "v1", "DaemonSet", "daemonsets", true, &["ds"]),
    ("batch", "v1", "Job", "jobs", true, &[]),
    ("batch", "v1", "CronJob", "cronjobs", true, &["cj"]),
    (
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        true,
        &["ing"],
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        &["crd", "crds"],
    ),
];

fn builtin_kind(b: &Builtin) -> Kind {
    Kind {
        group: b.0.into(),
        version: b.1.into(),
        kind: b.2.into(),
        plural: b.3.into(),
        namespaced: b.4,
    }
}

/// A built-in kind named by kind, plural, singular or short name, any case
/// (`Deployment`, `deployments`, `deploy`).
pub fn builtin(name: &str) -> Option<Kind> {
    let n = name.to_ascii_lowercase();
    BUILTIN
        .iter()
        .find(|b| b.2.to_ascii_lowercase() == n || b.3 == n || b.5.contains(&n.as_str()))
        .map(builtin_kind)
}

/// The built-in kind of an `apiVersion` + `kind` pair.
pub fn builtin_for(api_version: &str, kind: &str) -> Option<Kind> {
    BUILTIN
        .iter()
        .map(builtin_kind)
        .find(|k| k.kind == kind && k.api_version() == api_version)
}

/// Whether an API resource entry (from discovery) answers to `name`.
pub fn entry_matches(
    name: &str,
    kind: &str,
    plural: &str,
    singular: &str,
    short: &[String],
) -> bool {
    let n = name.to_ascii_lowercase();
    kind.to_ascii_lowercase() == n
        || plural == n
        || (!singular.is_empty() && singular == n)
        || short.contains(&n)
}

/// An RFC 1123 label (namespaces, services): at most 63 lower-case alphanumerics or '-',
/// starting and ending alphanumeric.
pub fn check_label(field: &str, v: &str) -> Result<()> {
    let ok = !v.is_empty()
        && v.len() <= 63
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !v.starts_with('-')
        && !v.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(KubeError::invalid(
            field,
            format!(
                "{v:?} is not a DNS label (at most 63 of a-z, 0-9 and '-', starting and ending \
                 with a letter or digit)"
            ),
        ))
    }
}

/// An RFC 1123 subdomain (most object names): dot-separated labels, at most 253 characters.
pub fn check_name(field: &str, v: &str) -> Result<()> {
    let ok = !v.is_empty() && v.len() <= 253 && v.split('.').all(|l| check_label(field, l).is_ok());
    if ok {
        Ok(())
    } else {
        Err(KubeError::invalid(
            field,
            format!(
                "{v:?} is not a valid object name (lower-case letters, digits, '-' and '.', \
                 starting and ending with a letter or digit, at most 253)"
            ),
        ))
    }
}

/// The documents of a YAML or JSON text (`---` separates YAML documents; empty ones are
/// skipped). Every document must be a map.
pub fn parse_manifests(text: &str) -> Result<Vec<Value>> {
    let docs: Vec<Value> = serde_saphyr::from_str_multiple(text)
        .map_err(|e| KubeError::invalid("manifest", format!("not YAML or JSON: {e}")))?;
    let mut out = Vec::new();
    for (i, v) in docs.into_iter().enumerate() {
        match v {
            Value::Null => continue,
            Value::Object(_) => out.push(v),
            other => {
                return Err(KubeError::invalid(
                    "manifest",
                    format!("document {} is not a map but {}", i + 1, json_type(&other)),
                ))
            }
        }
    }
    if out.is_empty() {
        return Err(KubeError::invalid("manifest", "holds no document"));
    }
    Ok(out)
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// What a manifest names: (apiVersion, kind, name, namespace). Checked before any request.
pub fn identify(obj: &Value) -> Result<(String, String, String, Option<String>)> {
    identify_with(obj, false)
}

/// `identify` for a create, where `metadata.generateName` may stand in for the name (then the
/// name is shown as `PREFIX<generated>`).
pub fn identify_create(obj: &Value) -> Result<(String, String, String, Option<String>)> {
    identify_with(obj, true)
}

fn identify_with(
    obj: &Value,
    allow_generate: bool,
) -> Result<(String, String, String, Option<String>)> {
    let s = |v: Option<&Value>, field: &str| -> Result<String> {
        match v {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(other) if !other.is_null() => Err(KubeError::invalid(
                field,
                format!("expected a string, got {}", json_type(other)),
            )),
            _ => Err(KubeError::invalid(field, "is required")),
        }
    };
    let api_version = s(obj.get("apiVersion"), "apiVersion")?;
    let kind = s(obj.get("kind"), "kind")?;
    let meta = obj.get("metadata");
    if meta.is_some_and(|m| !m.is_object()) {
        return Err(KubeError::invalid("metadata", "expected a map"));
    }
    let generate = meta
        .and_then(|m| m.get("generateName"))
        .and_then(Value::as_str)
        .filter(|_| allow_generate && meta.and_then(|m| m.get("name")).is_none());
    let name = match generate {
        // The server appends 5 characters; the prefix must leave a valid name.
        Some(prefix) => {
            check_name("metadata.generateName", &format!("{prefix}x"))?;
            format!("{prefix}<generated>")
        }
        None => {
            let name = s(meta.and_then(|m| m.get("name")), "metadata.name")?;
            check_name("metadata.name", &name)?;
            name
        }
    };
    let ns = match meta.and_then(|m| m.get("namespace")) {
        None | Some(Value::Null) => None,
        Some(v) => {
            let ns = s(Some(v), "metadata.namespace")?;
            check_label("metadata.namespace", &ns)?;
            Some(ns)
        }
    };
    Ok((api_version, kind, name, ns))
}

/// A listing row: `#{name, namespace, status, labels, created, uid}` where `status` is a short
/// word for the kinds that have one (a pod's phase, a namespace's phase, a deployment's
/// "ready/wanted").
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Summary {
    pub name: String,
    pub namespace: String,
    pub kind: String,
    pub status: String,
    pub labels: serde_json::Map<String, Value>,
    pub created: String,
    pub uid: String,
}

pub fn summary(kind: &str, obj: &Value) -> Summary {
    let meta = &obj["metadata"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let status = match kind {
        "Pod" | "Namespace" | "PersistentVolumeClaim" => text(&obj["status"]["phase"]),
        "Deployment" | "StatefulSet" | "ReplicaSet" => format!(
            "{}/{}",
            obj["status"]["readyReplicas"].as_i64().unwrap_or(0),
            obj["spec"]["replicas"].as_i64().unwrap_or(1)
        ),
        "Service" => text(&obj["spec"]["type"]),
        _ => String::new(),
    };
    Summary {
        name: text(&meta["name"]),
        namespace: text(&meta["namespace"]),
        kind: kind.to_string(),
        status,
        labels: meta["labels"].as_object().cloned().unwrap_or_default(),
        created: text(&meta["creationTimestamp"]),
        uid: text(&meta["uid"]),
    }
}

/// A copy of `obj` fit to print: Secret `data` and `stringData` values replaced by `***`.
pub fn redacted(obj: &Value) -> Value {
    let mut out = obj.clone();
    if out["kind"] == "Secret" {
        for field in ["data", "stringData"] {
            if let Some(m) = out.get_mut(field).and_then(Value::as_object_mut) {
                for v in m.values_mut() {
                    *v = Value::String("***".into());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builtin_kinds_by_any_name() {
        let table = [
            ("Deployment", "apps", "deployments", true),
            ("deploy", "apps", "deployments", true),
            ("pods", "", "pods", true),
            ("PO", "", "pods", true),
            ("ns", "", "namespaces", false),
            (
                "crd",
                "apiextensions.k8s.io",
                "customresourcedefinitions",
                false,
            ),
            ("svc", "", "services", true),
        ];
        for (name, group, plural, namespaced) in table {
            let k = builtin(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!((k.group.as_str(), k.plural.as_str()), (group, plural));
            assert_eq!(k.namespaced, namespaced, "{name}");
        }
        assert_eq!(builtin("IngressRoute"), None);
        assert_eq!(
            builtin_for("apps/v1", "Deployment").unwrap().plural,
            "deployments"
        );
        assert_eq!(builtin_for("v1", "Deployment"), None);
        assert_eq!(builtin("configmap").unwrap().api_version(), "v1");
    }

    #[test]
    fn names_and_labels() {
        assert!(check_label("n", "web-1").is_ok());
        for bad in ["", "Web", "-a", "a-", "a_b", "a.b", &"x".repeat(64)] {
            assert!(check_label("n", bad).is_err(), "{bad:?}");
        }
        assert!(check_name("n", "a.b-c").is_ok());
        for bad in ["", "A", "a..b", ".a", "a b"] {
            assert!(check_name("n", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn manifests_parse_as_yaml_or_json_with_several_documents() {
        let docs = parse_manifests(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\n{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"b\"}}\n",
        )
        .unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1]["kind"], "Secret");
        let err = parse_manifests("a: [").unwrap_err().to_string();
        assert!(err.contains("not YAML or JSON"), "{err}");
        let err = parse_manifests("- a\n- b").unwrap_err().to_string();
        assert!(err.contains("not a map but a list"), "{err}");
        assert!(parse_manifests("").is_err());
    }

    #[test]
    fn manifests_are_checked_before_any_request() {
        let ok = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "x"}});
        assert_eq!(
            identify(&ok).unwrap(),
            (
                "v1".into(),
                "ConfigMap".into(),
                "a".into(),
                Some("x".into())
            )
        );
        let table = [
            (
                json!({"kind": "ConfigMap", "metadata": {"name": "a"}}),
                "invalid apiVersion: is required",
            ),
            (
                json!({"apiVersion": "v1", "metadata": {"name": "a"}}),
                "invalid kind: is required",
            ),
            (
                json!({"apiVersion": "v1", "kind": "X"}),
                "invalid metadata.name: is required",
            ),
            (
                json!({"apiVersion": 1, "kind": "X"}),
                "invalid apiVersion: expected a string, got a number",
            ),
            (
                json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "Bad_Name"}}),
                "invalid metadata.name: \"Bad_Name\" is not a valid object name",
            ),
        ];
        for (obj, want) in table {
            let got = identify(&obj).unwrap_err().to_string();
            assert!(got.starts_with(want), "{got} <> {want}");
        }
        let gen =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "job-"}});
        assert!(identify(&gen).is_err());
        assert_eq!(identify_create(&gen).unwrap().2, "job-<generated>");
        let bad =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "Job_"}});
        assert!(identify_create(&bad).is_err());
    }

    #[test]
    fn summaries_and_redaction() {
        let pod = json!({"metadata": {"name": "p", "namespace": "d", "labels": {"a": "b"}, "uid": "u"}, "status": {"phase": "Pending"}});
        let s = summary("Pod", &pod);
        assert_eq!(
            (s.name.as_str(), s.status.as_str(), s.uid.as_str()),
            ("p", "Pending", "u")
        );
        assert_eq!(s.labels["a"], "b");
        let dep = json!({"metadata": {"name": "d"}, "spec": {"replicas": 3}, "status": {"readyReplicas": 2}});
        assert_eq!(summary("Deployment", &dep).status, "2/3");
        let secret = json!({"kind": "Secret", "data": {"k": "c2VjcmV0"}, "stringData": {"x": "y"}});
        let r = redacted(&secret);
        assert_eq!(r["data"]["k"], "***");
        assert_eq!(r["stringData"]["x"], "***");
        let cm = json!({"kind": "ConfigMap", "data": {"k": "v"}});
        assert_eq!(redacted(&cm), cm);
    }
}
