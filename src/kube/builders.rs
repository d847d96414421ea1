//! The fluent builders' specs and the manifests they make (pure, tested as tables): ConfigMap and
//! Secret data, a pod spec shared by Pod and Deployment (image, env, env from ConfigMaps and
//! Secrets, labels, ports, entrypoint, resources, probes, restart policy), and Services.
//! `to_yaml`, `to_json` and `md` render a manifest, with Secret values hidden unless asked.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::error::{KubeError, Result};

/// ConfigMap or Secret data.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DataSpec {
    pub name: String,
    pub namespace: String,
    pub secret: bool,
    pub data: BTreeMap<String, String>,
}

impl DataSpec {
    pub fn manifest(&self) -> Value {
        if self.secret {
            super::manager::secret_manifest(
                &self.namespace,
                &self.name,
                &self
                    .data
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<Vec<_>>(),
            )
        } else {
            super::manager::configmap_manifest(
                &self.namespace,
                &self.name,
                &self
                    .data
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<Vec<_>>(),
            )
        }
    }
}

/// An HTTP or TCP probe.
#[derive(Clone, Debug, PartialEq)]
pub enum Probe {
    Http { path: String, port: i64 },
    Tcp { port: i64 },
}

/// What a Pod or a Deployment's pod template runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodSpec {
    pub name: String,
    pub namespace: String,
    pub image: String,
    pub env: Vec<(String, String)>,
    pub env_from_configmaps: Vec<String>,
    pub env_from_secrets: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<i64>,
    pub entrypoint: Option<Vec<String>>,
    /// (request, limit) in MiB.
    pub memory: Option<(i64, i64)>,
    /// (request, limit) in millicores.
    pub cpu: Option<(i64, i64)>,
    pub readiness: Option<Probe>,
    pub liveness: Option<Probe>,
    pub initial_delay: Option<i64>,
    pub period: Option<i64>,
    pub failure_threshold: Option<i64>,
    pub restart: Option<String>,
}

pub const RESTART_POLICIES: [&str; 3] = ["Always", "OnFailure", "Never"];

pub fn check_restart(v: &str) -> Result<String> {
    RESTART_POLICIES
        .iter()
        .find(|p| p.eq_ignore_ascii_case(v))
        .map(|p| p.to_string())
        .ok_or_else(|| {
            KubeError::invalid(
                "restart",
                format!("{v:?} is not one of {}", RESTART_POLICIES.join(", ")),
            )
        })
}

impl PodSpec {
    fn labels(&self) -> Map<String, Value> {
        let mut m: Map<String, Value> = self
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        if m.is_empty() {
            m.insert("app".into(), Value::String(self.name.clone()));
        }
        m
    }

    fn probe(&self, p: &Probe) -> Value {
        let mut v = match p {
            Probe::Http { path, port } => json!({"httpGet": {"path": path, "port": port}}),
            Probe::Tcp { port } => json!({"tcpSocket": {"port": port}}),
        };
        if let Some(d) = self.initial_delay {
            v["initialDelaySeconds"] = json!(d);
        }
        if let Some(p) = self.period {
            v["periodSeconds"] = json!(p);
        }
        if let Some(f) = self.failure_threshold {
            v["failureThreshold"] = json!(f);
        }
        v
    }

    /// The `spec` of a Pod (or of a Deployment's template).
    pub fn pod_spec(&self) -> Value {
        let mut c = json!({"name": self.name, "image": self.image});
        if !self.env.is_empty() {
            c["env"] = self
                .env
                .iter()
                .map(|(k, v)| json!({"name": k, "value": v}))
                .collect();
        }
        let env_from: Vec<Value> = self
            .env_from_configmaps
            .iter()
            .map(|n| json!({"configMapRef": {"name": n}}))
            .chain(
                self.env_from_secrets
                    .iter()
                    .map(|n| json!({"secretRef": {"name": n}})),
            )
            .collect();
        if !env_from.is_empty() {
            c["envFrom"] = Value::Array(env_from);
        }
        if !self.ports.is_empty() {
            c["ports"] = self
                .ports
                .iter()
                .map(|p| json!({"containerPort": p, "protocol": "TCP"}))
                .collect();
        }
        if let Some(argv) = &self.entrypoint {
            c["command"] = json!(argv);
        }
        let mut resources = json!({});
        if let Some((req, lim)) = self.memory {
            resources["requests"]["memory"] = json!(format!("{req}Mi"));
            resources["limits"]["memory"] = json!(format!("{lim}Mi"));
        }
        if let Some((req, lim)) = self.cpu {
            resources["requests"]["cpu"] = json!(format!("{req}m"));
            resources["limits"]["cpu"] = json!(format!("{lim}m"));
        }
        if resources != json!({}) {
            c["resources"] = resources;
        }
        if let Some(p) = &self.readiness {
            c["readinessProbe"] = self.probe(p);
        }
        if let Some(p) = &self.liveness {
            c["livenessProbe"] = self.probe(p);
        }
        let mut spec = json!({"containers": [c]});
        if let Some(r) = &self.restart {
            spec["restartPolicy"] = json!(r);
        }
        spec
    }

    pub fn check(&self) -> Result<()> {
        if self.image.is_empty() {
            return Err(KubeError::invalid(
                "image",
                format!("{} has no image: call .image(\"...\")", self.name),
            ));
        }
        Ok(())
    }

    pub fn pod_manifest(&self) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": self.labels()},
            "spec": self.pod_spec()
        })
    }

    pub fn deployment_manifest(&self, replicas: i64) -> Value {
        let labels = self.labels();
        let mut spec = self.pod_spec();
        // A Deployment's pods always restart.
        if let Some(m) = spec.as_object_mut() {
            m.remove("restartPolicy");
        }
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": spec}
            }
        })
    }
}

/// One port of a Service.
#[derive(Clone, Debug, PartialEq)]
pub struct ServicePort {
    pub port: i64,
    pub target: Option<i64>,
    pub node_port: Option<i64>,
    pub udp: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceSpec {
    pub name: String,
    pub namespace: String,
    pub selector: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<ServicePort>,
    /// ClusterIP (default), NodePort, LoadBalancer, ExternalName.
    pub service_type: Option<String>,
    pub headless: bool,
}

pub const SERVICE_TYPES: [&str; 4] = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];

pub fn check_service_type(v: &str) -> Result<String> {
    SERVICE_TYPES
        .iter()
        .find(|p| p.eq_ignore_ascii_case(v))
        .map(|p| p.to_string())
        .ok_or_else(|| {
            KubeError::invalid(
                "type",
                format!("{v:?} is not one of {}", SERVICE_TYPES.join(", ")),
            )
        })
}

impl ServiceSpec {
    /// The port being configured (the last one; one on port 80 when there is none yet).
    pub fn last_port(&mut self) -> &mut ServicePort {
        if self.ports.is_empty() {
            self.ports.push(ServicePort {
                port: 80,
                target: None,
                node_port: None,
                udp: false,
            });
        }
        let n = self.ports.len() - 1;
        &mut self.ports[n]
    }

    pub fn manifest(&self) -> Value {
        let selector: Map<String, Value> = if self.selector.is_empty() {
            let mut m = Map::new();
            m.insert("app".into(), Value::String(self.name.clone()));
            m
        } else {
            self.selector
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect()
        };
        let ports: Vec<Value> = self
            .ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut v = json!({
                    "name": format!("port-{i}"),
                    "port": p.port,
                    "targetPort": p.target.unwrap_or(p.port),
                    "protocol": if p.udp { "UDP" } else { "TCP" },
                });
                if let Some(n) = p.node_port {
                    v["nodePort"] = json!(n);
                }
                v
            })
            .collect();
        let node_port = self.ports.iter().any(|p| p.node_port.is_some());
        let ty = self.service_type.clone().unwrap_or_else(|| {
            if node_port {
                "NodePort".into()
            } else {
                "ClusterIP".into()
            }
        });
        let mut spec = json!({"type": ty, "selector": selector, "ports": ports});
        if self.headless {
            spec["clusterIP"] = json!("None");
        }
        let mut meta = json!({"name": self.name, "namespace": self.namespace});
        if !self.labels.is_empty() {
            meta["labels"] = json!(self.labels);
        }
        json!({"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec})
    }
}

/// `ns.registry(name)`: a docker registry (registry:2) in the cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct RegistrySpec {
    pub name: String,
    pub namespace: String,
    pub node_port: Option<i64>,
    pub storage_size: String,
    pub image: String,
}

/// The registry's port inside the cluster.
pub const REGISTRY_PORT: i64 = 5000;

impl RegistrySpec {
    pub fn new(name: &str, namespace: &str) -> Self {
        RegistrySpec {
            name: name.into(),
            namespace: namespace.into(),
            node_port: None,
            storage_size: "10Gi".into(),
            image: "registry:2".into(),
        }
    }

    /// The PersistentVolumeClaim, Deployment and Service it applies, in that order.
    pub fn manifests(&self) -> Vec<Value> {
        let (name, ns) = (&self.name, &self.namespace);
        let claim = format!("{name}-data");
        let labels = json!({"app": name, "app.kubernetes.io/component": "registry"});
        let pvc = json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim, "namespace": ns, "labels": labels},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": self.storage_size}}}
        });
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [{
                            "name": "registry", "image": self.image,
                            "ports": [{"containerPort": REGISTRY_PORT, "protocol": "TCP"}],
                            "env": [{"name": "REGISTRY_STORAGE_DELETE_ENABLED", "value": "true"}],
                            "readinessProbe": {"httpGet": {"path": "/v2/", "port": REGISTRY_PORT}},
                            "volumeMounts": [{"name": "data", "mountPath": "/var/lib/registry"}]
                        }],
                        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]
                    }
                }
            }
        });
        let mut port = json!({"name": "registry", "port": REGISTRY_PORT,
                              "targetPort": REGISTRY_PORT, "protocol": "TCP"});
        if let Some(n) = self.node_port {
            port["nodePort"] = json!(n);
        }
        let service = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {
                "type": if self.node_port.is_some() { "NodePort" } else { "ClusterIP" },
                "selector": {"app": name},
                "ports": [port]
            }
        });
        vec![pvc, deployment, service]
    }

    /// What `deploy()` answers: how to reach the registry from pods and from outside.
    pub fn info(&self, node_port: Option<i64>) -> RegistryInfo {
        let inside = format!(
            "{}.{}.svc.cluster.local:{REGISTRY_PORT}",
            self.name, self.namespace
        );
        let outside = node_port.map(|p| format!("localhost:{p}"));
        RegistryInfo {
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            port: REGISTRY_PORT,
            node_port,
            image_prefix: format!("{inside}/"),
            connection_string: inside,
            external_image_prefix: outside.as_ref().map(|o| format!("{o}/")),
            external_connection_string: outside,
        }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RegistryInfo {
    pub name: String,
    pub namespace: String,
    pub port: i64,
    pub node_port: Option<i64>,
    pub connection_string: String,
    pub external_connection_string: Option<String>,
    pub image_prefix: String,
    pub external_image_prefix: Option<String>,
}

/// A manifest as YAML; Secret values are `***` unless `reveal`.
pub fn to_yaml(obj: &Value, reveal: bool) -> Result<String> {
    let shown = if reveal {
        obj.clone()
    } else {
        super::resource::redacted(obj)
    };
    serde_saphyr::to_string(&shown).map_err(|e| KubeError::Other(format!("to_yaml: {e}")))
}

/// A manifest as pretty JSON; Secret values are `***` unless `reveal`.
pub fn to_json(obj: &Value, reveal: bool) -> String {
    let shown = if reveal {
        obj.clone()
    } else {
        super::resource::redacted(obj)
    };
    serde_json::to_string_pretty(&shown).unwrap_or_default()
}

/// A short markdown summary of a manifest (Secret values never shown).
pub fn md(obj: &Value) -> String {
    let kind = obj["kind"].as_str().unwrap_or_default();
    let meta = &obj["metadata"];
    let mut out = format!(
        "### {kind} `{}` (namespace `{}`)\n",
        meta["name"].as_str().unwrap_or_default(),
        meta["namespace"].as_str().unwrap_or_default()
    );
    let mut line = |k: &str, v: String| out.push_str(&format!("- {k}: {v}\n"));
    if let Some(l) = meta["labels"].as_object() {
        let labels: Vec<String> = l
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect();
        line("labels", labels.join(", "));
    }
    match kind {
        "ConfigMap" | "Secret" => {
            let data = obj["data"].as_object().cloned().unwrap_or_default();
            for (k, v) in data {
                let shown = if kind == "Secret" {
                    "***".to_string()
                } else {
                    v.as_str().unwrap_or_default().to_string()
                };
                line(&format!("`{k}`"), shown);
            }
        }
        "Pod" | "Deployment" => {
            let spec = if kind == "Pod" {
                &obj["spec"]
            } else {
                line("replicas", obj["spec"]["replicas"].to_string());
                &obj["spec"]["template"]["spec"]
            };
            for c in spec["containers"].as_array().cloned().unwrap_or_default() {
                line("image", c["image"].as_str().unwrap_or_default().to_string());
                if let Some(ports) = c["ports"].as_array() {
                    let p: Vec<String> = ports
                        .iter()
                        .map(|p| p["containerPort"].to_string())
                        .collect();
                    line("ports", p.join(", "));
                }
                if let Some(env) = c["env"].as_array() {
                    let names: Vec<&str> = env.iter().filter_map(|e| e["name"].as_str()).collect();
                    line("env", names.join(", "));
                }
            }
        }
        "Service" => {
            line(
                "type",
                obj["spec"]["type"].as_str().unwrap_or("ClusterIP").into(),
            );
            let ports: Vec<String> = obj["spec"]["ports"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|p| format!("{} -> {}", p["port"], p["targetPort"]))
                .collect();
            line("ports", ports.join(", "));
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> PodSpec {
        PodSpec {
            name: "web".into(),
            namespace: "ns".into(),
            image: "nginx:1".into(),
            ..PodSpec::default()
        }
    }

    #[test]
    fn pod_specs() {
        let mut p = pod();
        assert_eq!(
            p.pod_manifest(),
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "web", "namespace": "ns", "labels": {"app": "web"}},
                   "spec": {"containers": [{"name": "web", "image": "nginx:1"}]}})
        );
        p.env.push(("MODE".into(), "prod".into()));
        p.env_from_configmaps.push("cfg".into());
        p.env_from_secrets.push("sec".into());
        p.ports.push(8080);
        p.entrypoint = Some(vec!["httpd".into(), "-f".into()]);
        p.memory = Some((64, 128));
        p.cpu = Some((100, 500));
        p.readiness = Some(Probe::Http {
            path: "/health".into(),
            port: 8080,
        });
        p.liveness = Some(Probe::Tcp { port: 8080 });
        p.initial_delay = Some(5);
        p.period = Some(10);
        p.failure_threshold = Some(3);
        p.restart = Some("Never".into());
        let spec = p.pod_spec();
        let c = &spec["containers"][0];
        assert_eq!(c["env"], json!([{"name": "MODE", "value": "prod"}]));
        assert_eq!(
            c["envFrom"],
            json!([{"configMapRef": {"name": "cfg"}}, {"secretRef": {"name": "sec"}}])
        );
        assert_eq!(
            c["ports"],
            json!([{"containerPort": 8080, "protocol": "TCP"}])
        );
        assert_eq!(c["command"], json!(["httpd", "-f"]));
        assert_eq!(
            c["resources"],
            json!({"requests": {"memory": "64Mi", "cpu": "100m"}, "limits": {"memory": "128Mi", "cpu": "500m"}})
        );
        assert_eq!(
            c["readinessProbe"],
            json!({"httpGet": {"path": "/health", "port": 8080}, "initialDelaySeconds": 5, "periodSeconds": 10, "failureThreshold": 3})
        );
        assert_eq!(c["livenessProbe"]["tcpSocket"], json!({"port": 8080}));
        assert_eq!(spec["restartPolicy"], "Never");
        let d = p.deployment_manifest(3);
        assert_eq!(d["spec"]["replicas"], 3);
        assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], Value::Null);
        assert_eq!(d["spec"]["selector"]["matchLabels"], json!({"app": "web"}));
        assert!(check_restart("onfailure").is_ok_and(|r| r == "OnFailure"));
        assert!(check_restart("sometimes").is_err());
        assert!(PodSpec::default().check().is_err());
    }

    #[test]
    fn service_specs() {
        let mut s = ServiceSpec {
            name: "api".into(),
            namespace: "ns".into(),
            ..ServiceSpec::default()
        };
        s.last_port().target = Some(8080);
        assert_eq!(
            s.manifest()["spec"],
            json!({"type": "ClusterIP", "selector": {"app": "api"},
                   "ports": [{"name": "port-0", "port": 80, "targetPort": 8080, "protocol": "TCP"}]})
        );
        s.ports.push(ServicePort {
            port: 53,
            target: None,
            node_port: Some(30053),
            udp: true,
        });
        s.selector.insert("tier".into(), "dns".into());
        let m = s.manifest();
        assert_eq!(m["spec"]["type"], "NodePort");
        assert_eq!(
            m["spec"]["ports"][1],
            json!({"name": "port-1", "port": 53, "targetPort": 53, "protocol": "UDP", "nodePort": 30053})
        );
        assert_eq!(m["spec"]["selector"], json!({"tier": "dns"}));
        s.headless = true;
        s.service_type = Some("ClusterIP".into());
        assert_eq!(s.manifest()["spec"]["clusterIP"], "None");
        assert!(check_service_type("nodeport").is_ok_and(|t| t == "NodePort"));
        assert!(check_service_type("x").is_err());
    }

    #[test]
    fn registry_manifests_and_info() {
        let mut r = RegistrySpec::new("reg", "ns");
        let m = r.manifests();
        let kinds: Vec<&str> = m.iter().map(|o| o["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["PersistentVolumeClaim", "Deployment", "Service"]);
        assert_eq!(m[0]["spec"]["resources"]["requests"]["storage"], "10Gi");
        assert_eq!(
            m[1]["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
            "reg-data"
        );
        assert_eq!(m[2]["spec"]["type"], "ClusterIP");
        r.node_port = Some(30500);
        assert_eq!(r.manifests()[2]["spec"]["ports"][0]["nodePort"], 30500);
        let info = r.info(Some(30500));
        assert_eq!(info.connection_string, "reg.ns.svc.cluster.local:5000");
        assert_eq!(info.image_prefix, "reg.ns.svc.cluster.local:5000/");
        assert_eq!(
            info.external_connection_string.as_deref(),
            Some("localhost:30500")
        );
        assert_eq!(r.info(None).external_image_prefix, None);
    }

    #[test]
    fn rendering_hides_secrets() {
        let mut d = DataSpec {
            name: "db".into(),
            namespace: "ns".into(),
            secret: true,
            ..DataSpec::default()
        };
        d.data.insert("password".into(), "hunter2".into());
        let m = d.manifest();
        let yaml = to_yaml(&m, false).unwrap();
        assert!(
            yaml.contains("password: '***'") || yaml.contains("password: \"***\""),
            "{yaml}"
        );
        assert!(!yaml.contains("aHVudGVyMg=="), "{yaml}");
        assert!(to_yaml(&m, true).unwrap().contains("aHVudGVyMg=="));
        assert!(!to_json(&m, false).contains("aHVudGVyMg=="));
        let md = md(&m);
        assert!(md.starts_with("### Secret `db` (namespace `ns`)\n"), "{md}");
        assert!(md.contains("- `password`: ***"), "{md}");
        // YAML parses back to the same manifest.
        let back = super::super::resource::parse_manifests(&to_yaml(&m, true).unwrap()).unwrap();
        assert_eq!(back, vec![m]);
    }
}
