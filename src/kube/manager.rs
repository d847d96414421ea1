//! The namespace-scoped manager of the original herodo (`kubernetes_manager_new(ns)`): listings,
//! gets, deletes and creates of the common kinds, pattern deletes and resource counts. Creates
//! are server-side applies, so running a script twice changes nothing the second time.
//! The manifests it applies are built by the pure functions at the top (tested as tables).

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::error::{KubeError, Result};
use super::resource::{self, check_label, check_name, Kind, Summary};
use super::Cluster;

/// Labels as a JSON map; empty labels become `app: <name>` (a selector needs one).
fn labels_or_app(name: &str, labels: &[(String, String)]) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in labels {
        m.insert(k.clone(), Value::String(v.clone()));
    }
    if m.is_empty() {
        m.insert("app".into(), Value::String(name.into()));
    }
    m
}

fn string_map(pairs: &[(String, String)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

/// Namespaces `kubernetes().reset()` leaves alone (the original's list).
pub const PROTECTED_NAMESPACES: [&str; 5] = [
    "default",
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "kube-apiserver",
];

pub fn namespace_manifest(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

pub fn pod_manifest(ns: &str, name: &str, image: &str, labels: &[(String, String)]) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels_or_app(name, labels)},
        "spec": {"containers": [{"name": name, "image": image}]}
    })
}

pub fn configmap_manifest(ns: &str, name: &str, data: &[(String, String)]) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": string_map(data)
    })
}

/// A Secret with `data` (base64, as the server stores it).
pub fn secret_manifest(ns: &str, name: &str, data: &[(String, String)]) -> Value {
    let data: Map<String, Value> = data
        .iter()
        .map(|(k, v)| {
            let b = k8s_openapi::ByteString(v.as_bytes().to_vec());
            (k.clone(), serde_json::to_value(b).unwrap_or(Value::Null))
        })
        .collect();
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": name, "namespace": ns},
        "data": data
    })
}

pub fn deployment_manifest(
    ns: &str,
    name: &str,
    image: &str,
    replicas: i64,
    labels: &[(String, String)],
) -> Value {
    let labels = labels_or_app(name, labels);
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": image}]}
            }
        }
    })
}

pub fn service_manifest(
    ns: &str,
    name: &str,
    selector: &[(String, String)],
    port: i64,
    target_port: i64,
) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "selector": string_map(selector),
            "ports": [{"name": "port-0", "port": port, "targetPort": target_port, "protocol": "TCP"}]
        }
    })
}

/// `deploy_application`'s Deployment (one container with `port` and `env`) and the
/// LoadBalancer Service in front of it (`port` to `port`; the original's type: reachable from
/// outside through its node port even where no load balancer answers).
pub fn application_manifests(
    ns: &str,
    name: &str,
    image: &str,
    replicas: i64,
    port: i64,
    labels: &[(String, String)],
    env: &[(String, String)],
) -> (Value, Value) {
    let mut d = deployment_manifest(ns, name, image, replicas, labels);
    let env: Vec<Value> = env
        .iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    let container = &mut d["spec"]["template"]["spec"]["containers"][0];
    container["ports"] = json!([{"containerPort": port, "protocol": "TCP"}]);
    if !env.is_empty() {
        container["env"] = Value::Array(env);
    }
    let selector: Vec<(String, String)> = d["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let mut s = service_manifest(ns, name, &selector, port, port);
    s["spec"]["type"] = json!("LoadBalancer");
    (d, s)
}

/// How to reach a Service: `service_connection_info`'s answer.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ConnectionInfo {
    pub service_type: String,
    /// `NAME.NAMESPACE.svc.cluster.local`
    pub hostname: String,
    pub ports: Vec<i64>,
    pub node_ports: Vec<i64>,
    pub cluster_ip: String,
}

pub fn connection_info(svc: &Value) -> ConnectionInfo {
    let ports = svc["spec"]["ports"].as_array().cloned().unwrap_or_default();
    ConnectionInfo {
        service_type: svc["spec"]["type"]
            .as_str()
            .unwrap_or("ClusterIP")
            .to_string(),
        hostname: format!(
            "{}.{}.svc.cluster.local",
            svc["metadata"]["name"].as_str().unwrap_or_default(),
            svc["metadata"]["namespace"].as_str().unwrap_or_default()
        ),
        ports: ports.iter().filter_map(|p| p["port"].as_i64()).collect(),
        node_ports: ports
            .iter()
            .filter_map(|p| p["nodePort"].as_i64())
            .collect(),
        cluster_ip: svc["spec"]["clusterIP"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    }
}

/// A port number: 1..=65535.
pub fn check_port(field: &str, p: i64) -> Result<()> {
    if (1..=65535).contains(&p) {
        Ok(())
    } else {
        Err(KubeError::invalid(
            field,
            format!("{p} is not a port (1-65535)"),
        ))
    }
}

/// The kinds `delete(pattern)` and `resource_counts()` cover, in deletion order.
pub const MANAGED: [&str; 5] = ["Deployment", "Service", "Pod", "ConfigMap", "Secret"];

fn kind(name: &str) -> Kind {
    // Every name used here is in the built-in table.
    resource::builtin(name).unwrap_or_else(|| Kind {
        group: String::new(),
        version: "v1".into(),
        kind: name.into(),
        plural: format!("{}s", name.to_ascii_lowercase()),
        namespaced: true,
    })
}

/// A manager bound to one namespace.
#[derive(Clone)]
pub struct Manager {
    pub cluster: Arc<Cluster>,
    pub namespace: String,
}

impl Manager {
    pub fn new(cluster: Arc<Cluster>, namespace: &str) -> Result<Manager> {
        check_label("namespace", namespace)?;
        Ok(Manager {
            cluster,
            namespace: namespace.to_string(),
        })
    }

    /// Summaries of the objects of `kind` in the namespace.
    pub fn list(&self, kind_name: &str) -> Result<Vec<Summary>> {
        let k = kind(kind_name);
        let items = self
            .cluster
            .list(&k, Some(&self.namespace), &Default::default())?;
        Ok(items
            .iter()
            .map(|o| resource::summary(&k.kind, o))
            .collect())
    }

    pub fn namespaces_list(&self) -> Result<Vec<Summary>> {
        let k = kind("Namespace");
        let items = self.cluster.list(&k, None, &Default::default())?;
        Ok(items
            .iter()
            .map(|o| resource::summary(&k.kind, o))
            .collect())
    }

    pub fn get(&self, kind_name: &str, name: &str) -> Result<Value> {
        check_name("name", name)?;
        self.cluster.get(&kind(kind_name), &self.namespace, name)
    }

    pub fn delete_one(&self, kind_name: &str, name: &str, dry_run: bool) -> Result<Value> {
        check_name("name", name)?;
        self.cluster
            .delete(&kind(kind_name), &self.namespace, name, dry_run)
    }

    pub fn namespace_exists(&self, name: &str) -> Result<bool> {
        check_label("namespace", name)?;
        match self.cluster.get(&kind("Namespace"), "", name) {
            Ok(_) => Ok(true),
            Err(KubeError::Api { code: 404, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Create a namespace unless it exists; true when it was created.
    pub fn namespace_create(&self, name: &str, dry_run: bool) -> Result<bool> {
        if self.namespace_exists(name)? {
            return Ok(false);
        }
        match self
            .cluster
            .create(&kind("Namespace"), "", &namespace_manifest(name), dry_run)
        {
            Ok(_) => Ok(true),
            Err(KubeError::Api { reason, .. }) if reason == "AlreadyExists" => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub fn namespace_delete(&self, name: &str, dry_run: bool) -> Result<()> {
        check_label("namespace", name)?;
        self.cluster
            .delete(&kind("Namespace"), "", name, dry_run)
            .map(|_| ())
    }

    /// Delete the namespace (when it exists), wait until it is gone, and create it again.
    pub fn reset_namespace(&self, dry_run: bool, timeout: std::time::Duration) -> Result<()> {
        let ns = kind("Namespace");
        if self.namespace_exists(&self.namespace)? {
            self.cluster.delete(&ns, "", &self.namespace, dry_run)?;
            if dry_run {
                return Ok(());
            }
            self.cluster.wait(
                &ns,
                "",
                &self.namespace,
                &super::wait::Condition::Deleted,
                timeout,
            )?;
        }
        self.namespace_create(&self.namespace, dry_run).map(|_| ())
    }

    /// Reset every namespace but the protected ones ([`PROTECTED_NAMESPACES`]) and those
    /// already being deleted: delete them all, wait until they are gone, create them again.
    /// Returns their names.
    pub fn reset_all_namespaces(
        &self,
        dry_run: bool,
        timeout: std::time::Duration,
    ) -> Result<Vec<String>> {
        let ns = kind("Namespace");
        let names: Vec<String> = self
            .namespaces_list()?
            .into_iter()
            .filter(|s| {
                !PROTECTED_NAMESPACES.contains(&s.name.as_str()) && s.status != "Terminating"
            })
            .map(|s| s.name)
            .collect();
        for name in &names {
            match self.cluster.delete(&ns, "", name, dry_run) {
                Ok(_) | Err(KubeError::Api { code: 404, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if dry_run {
            return Ok(names);
        }
        let deadline = std::time::Instant::now() + timeout;
        for name in &names {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            self.cluster
                .wait(&ns, "", name, &super::wait::Condition::Deleted, left)?;
            self.namespace_create(name, false)?;
        }
        Ok(names)
    }

    pub fn pod_logs(&self, name: &str, opts: &super::stream::LogOptions) -> Result<String> {
        check_name("name", name)?;
        self.cluster.logs(&self.namespace, name, opts)
    }

    /// Server-side apply of a manifest in this namespace.
    pub fn apply(&self, obj: &Value, dry_run: bool) -> Result<Value> {
        let (api_version, kind_name, _, _) = resource::identify(obj)?;
        let k = self.cluster.resolve_gvk(&api_version, &kind_name)?;
        let how = super::ApplyOptions {
            dry_run,
            ..Default::default()
        };
        self.cluster.apply(&k, &self.namespace, obj, &how)
    }

    /// `KIND/NAME` of every object of the managed kinds whose name matches `pattern`; deleted
    /// unless `dry_run`.
    pub fn delete_matching(&self, pattern: &str, dry_run: bool) -> Result<Vec<String>> {
        let re =
            regex::Regex::new(pattern).map_err(|e| KubeError::invalid("pattern", e.to_string()))?;
        let mut out = Vec::new();
        for kind_name in MANAGED {
            let k = kind(kind_name);
            let items = self
                .cluster
                .list(&k, Some(&self.namespace), &Default::default())?;
            for o in items {
                let name = o["metadata"]["name"].as_str().unwrap_or_default();
                if !re.is_match(name) {
                    continue;
                }
                if !dry_run {
                    match self.cluster.delete(&k, &self.namespace, name, false) {
                        // Gone meanwhile (a deployment's pods): nothing left to do.
                        Ok(_) | Err(KubeError::Api { code: 404, .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
                out.push(format!("{}/{name}", k.kind.to_ascii_lowercase()));
            }
        }
        Ok(out)
    }

    /// How many objects of each managed kind the namespace holds: `pods`, `services`, ...
    pub fn resource_counts(&self) -> Result<Vec<(String, usize)>> {
        MANAGED
            .iter()
            .map(|name| {
                let k = kind(name);
                let n = self
                    .cluster
                    .list(&k, Some(&self.namespace), &Default::default())?
                    .len();
                Ok((k.plural, n))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn manifests_of_the_manager() {
        let table = [
            (
                pod_manifest("ns", "web", "nginx:1", &[]),
                json!({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": "web", "namespace": "ns", "labels": {"app": "web"}},
                       "spec": {"containers": [{"name": "web", "image": "nginx:1"}]}}),
            ),
            (
                configmap_manifest("ns", "cfg", &pairs(&[("a", "1")])),
                json!({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "cfg", "namespace": "ns"}, "data": {"a": "1"}}),
            ),
            (
                secret_manifest("ns", "s", &pairs(&[("password", "admin")])),
                json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                       "metadata": {"name": "s", "namespace": "ns"},
                       "data": {"password": "YWRtaW4="}}),
            ),
            (
                service_manifest("ns", "svc", &pairs(&[("app", "web")]), 80, 8080),
                json!({"apiVersion": "v1", "kind": "Service",
                       "metadata": {"name": "svc", "namespace": "ns"},
                       "spec": {"selector": {"app": "web"},
                                "ports": [{"name": "port-0", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}}),
            ),
            (
                namespace_manifest("x"),
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}),
            ),
        ];
        for (got, want) in table {
            assert_eq!(got, want);
        }
        let d = deployment_manifest("ns", "api", "img:2", 3, &pairs(&[("tier", "be")]));
        assert_eq!(d["spec"]["replicas"], 3);
        assert_eq!(d["spec"]["selector"]["matchLabels"], json!({"tier": "be"}));
        assert_eq!(
            d["spec"]["template"]["metadata"]["labels"],
            json!({"tier": "be"})
        );
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["image"],
            "img:2"
        );
    }

    #[test]
    fn application_and_connection_info() {
        let (d, s) = application_manifests(
            "ns",
            "shop",
            "shop:1",
            2,
            8080,
            &pairs(&[("app", "shop")]),
            &pairs(&[("MODE", "prod")]),
        );
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            c["ports"],
            json!([{"containerPort": 8080, "protocol": "TCP"}])
        );
        assert_eq!(c["env"], json!([{"name": "MODE", "value": "prod"}]));
        assert_eq!(s["spec"]["selector"], json!({"app": "shop"}));
        assert_eq!(s["spec"]["ports"][0]["port"], 8080);
        assert_eq!(s["spec"]["type"], "LoadBalancer");
        let svc = json!({"metadata": {"name": "shop", "namespace": "ns"},
            "spec": {"type": "NodePort", "clusterIP": "10.0.0.7",
                     "ports": [{"port": 80, "nodePort": 30080}, {"port": 443}]}});
        assert_eq!(
            connection_info(&svc),
            ConnectionInfo {
                service_type: "NodePort".into(),
                hostname: "shop.ns.svc.cluster.local".into(),
                ports: vec![80, 443],
                node_ports: vec![30080],
                cluster_ip: "10.0.0.7".into(),
            }
        );
    }

    #[test]
    fn ports_are_checked() {
        assert!(check_port("port", 80).is_ok());
        assert!(check_port("port", 0).is_err());
        assert!(check_port("port", 65536).is_err());
    }
}
