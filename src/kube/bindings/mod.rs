//! Rhai glue for Kubernetes: `kubernetes_config`, `kubernetes_manager_new` and its
//! `KubernetesManager`, and the generic `kube_apply` / `kube_create` / `kube_get` / `kube_list` /
//! `kube_delete` / `kube_patch_status`.

mod fluent;
mod machines;
mod pods;
mod traefik;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rhai::{Array, Dynamic, Map, INT};
use serde_json::Value;

use super::manager::{self, Manager};
use super::resource::{self, Summary};
use super::{ApplyOptions, Cluster, ConnectOptions, Runtime};
use crate::glue::{invalid, map_of, IntoRhai, Opts, RResult, Registrar};
use crate::host::Host;

/// The manager scripts hold.
#[derive(Clone)]
pub struct KubernetesManager(Manager);

/// What every Kubernetes binding shares: the runtime, the options of `kubernetes_config`, and
/// the connection made from them on first use.
struct Kube {
    host: Arc<Host>,
    rt: Arc<Runtime>,
    opts: Mutex<ConnectOptions>,
    cluster: Mutex<Option<Arc<Cluster>>>,
}

impl Kube {
    fn cluster(&self) -> RResult<Arc<Cluster>> {
        let mut slot = self.cluster.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let opts = self.opts.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let c =
            Arc::new(Cluster::connect(self.rt.clone(), &opts, self.host.cancel.clone()).rhai()?);
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Under `--dry-run`, print `what` and answer true: the write becomes a server-side dry run.
    fn dry(&self, what: impl FnOnce() -> String) -> bool {
        self.host
            .dry_run(|| format!("kube: {} (server-side dry run)", what()))
    }

    /// Scrub the values of a Secret from every later error, report and log.
    fn remember_secrets(&self, obj: &Value) {
        if obj["kind"] != "Secret" {
            return;
        }
        if let Some(m) = obj["data"].as_object() {
            for v in m.values() {
                if let Ok(b) = serde_json::from_value::<k8s_openapi::ByteString>(v.clone()) {
                    self.host.register_secret(&String::from_utf8_lossy(&b.0));
                }
                if let Some(s) = v.as_str() {
                    self.host.register_secret(s);
                }
            }
        }
        if let Some(m) = obj["stringData"].as_object() {
            for v in m.values().filter_map(Value::as_str) {
                self.host.register_secret(v);
            }
        }
    }
}

fn to_dynamic(v: &Value) -> RResult<Dynamic> {
    rhai::serde::to_dynamic(v)
}

fn summaries(rows: Vec<Summary>) -> RResult<Array> {
    crate::glue::to_rhai(&rows)
}

fn pairs(m: &Map) -> Vec<(String, String)> {
    m.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn from_dynamic(d: &Dynamic, field: &str) -> RResult<Value> {
    rhai::serde::from_dynamic::<Value>(d).map_err(|e| invalid(field, e.to_string()))
}

/// The documents of `kube_apply`'s argument: a map, or a YAML/JSON string.
fn manifests(d: &Dynamic) -> RResult<Vec<Value>> {
    if d.is_string() {
        return resource::parse_manifests(&d.to_string()).rhai();
    }
    if d.is_map() {
        return Ok(vec![from_dynamic(d, "manifest")?]);
    }
    Err(invalid(
        "manifest",
        format!(
            "expected a map or a YAML/JSON string, got {}",
            d.type_name()
        ),
    ))
}

fn connect_options(m: &Map) -> RResult<ConnectOptions> {
    let o = Opts::new(
        "kubernetes_config",
        m,
        &["kubeconfig", "context", "namespace", "timeout", "page_size"],
    )?;
    let page_size = match o.count("page_size")? {
        None => None,
        Some(n) if (1..=u64::from(u32::MAX)).contains(&n) => Some(n as u32),
        Some(n) => {
            return Err(invalid(
                "kubernetes_config.page_size",
                format!("{n} is not between 1 and {}", u32::MAX),
            ))
        }
    };
    Ok(ConnectOptions {
        kubeconfig: o.string("kubeconfig")?.map(PathBuf::from),
        context: o.string("context")?,
        namespace: o.string("namespace")?,
        timeout: o.seconds("timeout")?,
        page_size,
    })
}

/// `#{namespace, label_selector, field_selector, all_namespaces}` of kube_list and friends.
struct Where {
    namespace: Option<String>,
    all: bool,
    lp: ::kube::api::ListParams,
}

fn where_options(what: &'static str, m: &Map, keys: &[&str]) -> RResult<Where> {
    let o = Opts::new(what, m, keys)?;
    let namespace = o.string("namespace")?;
    if let Some(ns) = &namespace {
        resource::check_label("namespace", ns).rhai()?;
    }
    let lp = ::kube::api::ListParams {
        label_selector: o.string("label_selector")?,
        field_selector: o.string("field_selector")?,
        ..Default::default()
    };
    Ok(Where {
        namespace,
        all: o.bool("all_namespaces")?.unwrap_or(false),
        lp,
    })
}

pub fn register(r: &mut Registrar, host: &Arc<Host>) {
    r.engine()
        .register_type_with_name::<KubernetesManager>("KubernetesManager");
    let k = Arc::new(Kube {
        host: host.clone(),
        rt: Arc::new(Runtime::default()),
        opts: Mutex::new(ConnectOptions::default()),
        cluster: Mutex::new(None),
    });
    register_config(r, &k);
    register_manager(r, &k);
    register_generic(r, &k);
    fluent::register(r, &k);
    pods::register(r, &k);
    machines::register(r, &k);
    traefik::register(r);
}

fn register_config(r: &mut Registrar, k: &Arc<Kube>) {
    let kk = k.clone();
    r.func(
        "kubernetes_config",
        &["options"],
        r#"Choose the cluster for every later Kubernetes call: `kubeconfig` (a file; default
$KUBECONFIG, else ~/.kube/config, else the in-cluster service account), `context` (default: the
kubeconfig's current-context), `namespace` (default: the context's, else "default"), `timeout`
(seconds per request, default 30), `page_size` (objects per list request, default 500). Returns `#{server, context, namespace}`. Makes no request.
Throws `invalid_argument` for a kubeconfig that does not exist, does not parse or lacks the
context.
```rhai
let c = kubernetes_config(#{kubeconfig: "/etc/kube/dev.yaml", context: "dev", timeout: 10});
print(c.server);
```"#,
        move |m: Map| -> RResult<Map> {
            let opts = connect_options(&m)?;
            let cluster =
                Arc::new(Cluster::connect(kk.rt.clone(), &opts, kk.host.cancel.clone()).rhai()?);
            let out = map_of([
                ("server", cluster.server.clone().into()),
                ("context", cluster.context.clone().into()),
                ("namespace", cluster.namespace.clone().into()),
            ]);
            *kk.opts.lock().unwrap_or_else(|e| e.into_inner()) = opts;
            *kk.cluster.lock().unwrap_or_else(|e| e.into_inner()) = Some(cluster);
            Ok(out)
        },
    );
}

fn register_manager(r: &mut Registrar, k: &Arc<Kube>) {
    let kk = k.clone();
    r.func(
        "kubernetes_manager_new",
        &["namespace"],
        r#"A manager for one namespace of the cluster `kubernetes_config` chose (else the
kubeconfig's). Makes no request: the namespace need not exist yet (`namespace_create`).
Throws `invalid_argument` for a name that is not a DNS label or an unusable kubeconfig.
```rhai
let km = kubernetes_manager_new("demo");
km.namespace_create("demo");
```"#,
        move |ns: &str| -> RResult<KubernetesManager> {
            // The name first: a bad one is reported before any kubeconfig trouble.
            resource::check_label("namespace", ns).rhai()?;
            Ok(KubernetesManager(Manager::new(kk.cluster()?, ns).rhai()?))
        },
    );
    register_manager_methods::<KubernetesManager>(r, k);
    fluent::register_managed(r, k);
}

/// What the manager's methods work on: the manager, and `kubernetes(ns)` (the original's
/// scripts call the manager's methods on it).
trait Managed: Clone + Send + Sync + 'static {
    fn manager(&self) -> RResult<Manager>;
}

impl Managed for KubernetesManager {
    fn manager(&self) -> RResult<Manager> {
        Ok(self.0.clone())
    }
}

/// The manager's methods on `T`.
fn register_manager_methods<T: Managed>(r: &mut Registrar, k: &Arc<Kube>) {
    r.pure(
        "namespace",
        &["manager"],
        r#"The manager's namespace.
```rhai
print(kubernetes_manager_new("demo").namespace());
```"#,
        |m: &mut T| -> RResult<String> { Ok(m.manager()?.namespace) },
    );

    // Listings.
    for (fname, kind) in [
        ("pods_list", "Pod"),
        ("services_list", "Service"),
        ("deployments_list", "Deployment"),
        ("configmaps_list", "ConfigMap"),
        ("secrets_list", "Secret"),
    ] {
        let doc = format!(
            r#"The {kind} objects of the namespace: an array of `#{{name, namespace, kind, status,
labels, created, uid}}` (`status`: a pod's phase, a deployment's "ready/wanted", a service's type).
```rhai
for x in km.{fname}() {{ print(`${{x.name}} ${{x.status}}`); }}
```"#
        );
        r.func(fname, &["manager"], &doc, move |m: &mut T| {
            summaries(m.manager()?.list(kind).rhai()?)
        });
    }
    r.func(
        "namespaces_list",
        &["manager"],
        r#"Every namespace of the cluster: an array of `#{name, status, labels, created, uid}`.
```rhai
let names = km.namespaces_list().map(|n| n.name);
```"#,
        |m: &mut T| summaries(m.manager()?.namespaces_list().rhai()?),
    );

    // Namespaces.
    for fname in ["namespace_create", "create_namespace"] {
        let kk = k.clone();
        r.func(
            fname,
            &["manager", "name"],
            r#"Create a namespace unless it exists (idempotent); true when it was created.
Under `--dry-run` a server-side dry run.
```rhai
km.namespace_create("demo");
```"#,
            move |m: &mut T, name: &str| -> RResult<bool> {
                let dry = kk.dry(|| format!("create namespace {name}"));
                m.manager()?.namespace_create(name, dry).rhai()
            },
        );
    }
    r.func(
        "namespace_exists",
        &["manager", "name"],
        r#"True when the namespace exists (also while it is being deleted).
```rhai
if !km.namespace_exists("demo") { km.namespace_create("demo"); }
```"#,
        |m: &mut T, name: &str| -> RResult<bool> { m.manager()?.namespace_exists(name).rhai() },
    );
    for fname in ["namespace_delete", "delete_namespace"] {
        let kk = k.clone();
        r.func(
            fname,
            &["manager", "name"],
            r#"Delete a namespace and everything in it (the server finishes in the background).
Throws `not_found` when it does not exist, `forbidden` for `default` and `kube-system`.
```rhai
km.namespace_delete("demo");
```"#,
            move |m: &mut T, name: &str| -> RResult<()> {
                let dry = kk.dry(|| format!("delete namespace {name}"));
                m.manager()?.namespace_delete(name, dry).rhai()
            },
        );
    }

    // Gets and deletes by kind.
    for (short, kind) in [
        ("pod", "Pod"),
        ("service", "Service"),
        ("deployment", "Deployment"),
        ("configmap", "ConfigMap"),
        ("secret", "Secret"),
    ] {
        for fname in [format!("{short}_get"), format!("get_{short}")] {
            let kk = k.clone();
            let doc = format!(
                r#"The {kind} `name` of the namespace as a map (the object as the API returns it).
Throws `not_found` when it does not exist.
```rhai
let obj = km.{short}_get("web");
print(obj.metadata.uid);
```"#
            );
            r.func(
                &fname,
                &["manager", "name"],
                &doc,
                move |m: &mut T, name: &str| -> RResult<Dynamic> {
                    let obj = m.manager()?.get(kind, name).rhai()?;
                    kk.remember_secrets(&obj);
                    to_dynamic(&obj)
                },
            );
        }
        for fname in [format!("{short}_delete"), format!("delete_{short}")] {
            let kk = k.clone();
            let doc = format!(
                r#"Delete the {kind} `name` of the namespace. Throws `not_found` when it does not
exist. Under `--dry-run` a server-side dry run.
```rhai
km.{short}_delete("web");
```"#
            );
            r.func(
                &fname,
                &["manager", "name"],
                &doc,
                move |m: &mut T, name: &str| -> RResult<()> {
                    let m = m.manager()?;
                    let ns = m.namespace.clone();
                    let dry = kk.dry(|| format!("delete {kind} {ns}/{name}"));
                    m.delete_one(kind, name, dry).rhai().map(|_| ())
                },
            );
        }
    }

    let kk = k.clone();
    r.func(
        "delete",
        &["manager", "pattern"],
        r#"Delete every deployment, service, pod, configmap and secret of the namespace whose
name matches the regular expression; returns what it deleted as `"kind/name"` strings. Under
`--dry-run` nothing is deleted and the list says what would be.
```rhai
let gone = km.delete("^test-");
```"#,
        move |m: &mut T, pattern: &str| -> RResult<Array> {
            let m = m.manager()?;
            let dry = kk.host.settings.dry_run;
            let names = m.delete_matching(pattern, dry).rhai()?;
            for n in &names {
                kk.host
                    .dry_run(|| format!("kube: would delete {}/{n}", m.namespace));
            }
            Ok(names.into_iter().map(Dynamic::from).collect())
        },
    );
    r.func(
        "resource_counts",
        &["manager"],
        r#"How many deployments, services, pods, configmaps and secrets the namespace holds:
`#{deployments, services, pods, configmaps, secrets}`.
```rhai
print(km.resource_counts().pods);
```"#,
        |m: &mut T| -> RResult<Map> {
            Ok(m.manager()?
                .resource_counts()
                .rhai()?
                .into_iter()
                .map(|(k, n)| (k.into(), Dynamic::from(n as INT)))
                .collect())
        },
    );

    register_creates::<T>(r, k);
    register_apps::<T>(r, k);
}

fn register_apps<T: Managed>(r: &mut Registrar, k: &Arc<Kube>) {
    let kk = k.clone();
    r.func(
        "reset_namespace",
        &["manager"],
        r#"Delete the manager's namespace with everything in it, wait until it is gone (at most
the configured timeout, 30 s by default, doubled), and create it again, empty.
```rhai
km.reset_namespace();
```"#,
        move |m: &mut T| -> RResult<()> {
            let m = m.manager()?;
            let ns = m.namespace.clone();
            let dry = kk.dry(|| format!("reset namespace {ns}"));
            let timeout = m.cluster.timeout * 2;
            m.reset_namespace(dry, timeout).rhai()
        },
    );
    let kk = k.clone();
    r.func(
        "reset_namespace",
        &["manager", "name"],
        r#"`reset_namespace()` for the namespace `name` (the original's two-argument form).
```rhai
km.reset_namespace("scratch");
```"#,
        move |m: &mut T, name: &str| -> RResult<()> {
            resource::check_label("namespace", name).rhai()?;
            let m = Manager::new(m.manager()?.cluster, name).rhai()?;
            let dry = kk.dry(|| format!("reset namespace {name}"));
            let timeout = m.cluster.timeout * 2;
            m.reset_namespace(dry, timeout).rhai()
        },
    );
    let kk = k.clone();
    r.func(
        "deploy_application",
        &[
            "manager", "name", "image", "replicas", "port", "labels", "env",
        ],
        r#"A Deployment of `replicas` pods (one container listening on `port`, with the `env`
map) and a LoadBalancer Service `name` in front of it (as the original; it gets a node port
too), both applied. Returns
`#{deployment, service}` (the applied objects).
```rhai
km.deploy_application("shop", "ghcr.io/acme/shop:2", 2, 8080, #{app: "shop"}, #{MODE: "prod"});
```"#,
        move |m: &mut T,
              name: &str,
              image: &str,
              replicas: INT,
              port: INT,
              labels: Map,
              env: Map|
              -> RResult<Map> {
            let m = m.manager()?;
            resource::check_label("name", name).rhai()?;
            manager::check_port("port", port).rhai()?;
            if replicas < 0 {
                return Err(invalid("replicas", format!("{replicas} is negative")));
            }
            let (d, s) = manager::application_manifests(
                &m.namespace,
                name,
                image,
                replicas,
                port,
                &pairs(&labels),
                &pairs(&env),
            );
            Ok(map_of([
                ("deployment", apply_built(&kk, &m, d)?),
                ("service", apply_built(&kk, &m, s)?),
            ]))
        },
    );
    r.func(
        "service_connection_info",
        &["manager", "name"],
        r#"How to reach a Service: `#{service_type, hostname, ports, node_ports, cluster_ip}`
(`hostname` is `NAME.NAMESPACE.svc.cluster.local`). Throws `not_found`.
```rhai
let c = km.service_connection_info("shop");
print(`${c.hostname}:${c.ports[0]}`);
```"#,
        |m: &mut T, name: &str| -> RResult<Map> {
            let svc = m.manager()?.get("Service", name).rhai()?;
            crate::glue::to_rhai(&manager::connection_info(&svc))
        },
    );
    r.func(
        "pod_logs",
        &["manager", "name"],
        r#"The log of a pod of the namespace ("" for a pod that has not run). Throws `not_found`.
```rhai
print(km.pod_logs("web"));
```"#,
        |m: &mut T, name: &str| -> RResult<String> {
            m.manager()?.pod_logs(name, &Default::default()).rhai()
        },
    );
}

/// Apply a manifest built by the manager, printing it under --dry-run.
fn apply_built(kk: &Kube, m: &Manager, obj: Value) -> RResult<Dynamic> {
    let dry = kk.dry(|| {
        format!(
            "apply {} {}/{}",
            obj["kind"].as_str().unwrap_or_default(),
            m.namespace,
            obj["metadata"]["name"].as_str().unwrap_or_default()
        )
    });
    let out = m.apply(&obj, dry).rhai()?;
    if !dry {
        if let Some(k) = out["kind"]
            .as_str()
            .filter(|k| *k == "Pod" || *k == "Secret")
            .and_then(resource::builtin)
        {
            let name = out["metadata"]["name"].as_str().unwrap_or_default();
            kk.register_cleanup(&k, &m.namespace, name);
        }
    }
    to_dynamic(&out)
}

fn register_creates<T: Managed>(r: &mut Registrar, k: &Arc<Kube>) {
    for fname in ["create_pod", "pod_create"] {
        let kk = k.clone();
        r.func(
            fname,
            &["manager", "name", "image", "labels"],
            r#"Create (or update) a pod with one container named like the pod; `labels` a map
(empty: `app: <name>`). A server-side apply: running it again changes nothing. Returns the object.
```rhai
km.create_pod("web", "nginx:1.27", #{app: "web"});
```"#,
            move |m: &mut T, name: &str, image: &str, labels: Map| -> RResult<Dynamic> {
                let m = m.manager()?;
                resource::check_name("name", name).rhai()?;
                let obj = manager::pod_manifest(&m.namespace, name, image, &pairs(&labels));
                apply_built(&kk, &m, obj)
            },
        );
    }
    for fname in ["configmap_create", "create_configmap"] {
        let kk = k.clone();
        r.func(
            fname,
            &["manager", "name", "data"],
            r#"Create (or update) a ConfigMap from a map of strings. Returns the object.
```rhai
km.configmap_create("settings", #{mode: "fast", level: "3"});
```"#,
            move |m: &mut T, name: &str, data: Map| -> RResult<Dynamic> {
                let m = m.manager()?;
                resource::check_name("name", name).rhai()?;
                let obj = manager::configmap_manifest(&m.namespace, name, &pairs(&data));
                apply_built(&kk, &m, obj)
            },
        );
    }
    for fname in ["secret_create", "create_secret"] {
        let kk = k.clone();
        r.func(
            fname,
            &["manager", "name", "data"],
            r#"Create (or update) an Opaque Secret from a map of strings (stored base64-encoded).
The values are secrets: never shown in errors, logs or `--dry-run` output. Returns the object.
```rhai
km.secret_create("db", #{password: "s3cret-value"});
```"#,
            move |m: &mut T, name: &str, data: Map| -> RResult<Dynamic> {
                let m = m.manager()?;
                resource::check_name("name", name).rhai()?;
                let data = pairs(&data);
                for (_, v) in &data {
                    kk.host.register_secret(v);
                }
                let obj = manager::secret_manifest(&m.namespace, name, &data);
                apply_built(&kk, &m, obj)
            },
        );
    }
    for fname in ["deployment_create", "create_deployment"] {
        let kk = k.clone();
        r.func(
            fname,
            &["manager", "name", "image", "replicas", "labels"],
            r#"Create (or update) a Deployment of `replicas` pods of one container; `labels` also
select its pods (empty: `app: <name>`). Returns the object.
```rhai
km.deployment_create("api", "ghcr.io/acme/api:1.2", 2, #{app: "api"});
```"#,
            move |m: &mut T,
                  name: &str,
                  image: &str,
                  replicas: INT,
                  labels: Map|
                  -> RResult<Dynamic> {
                let m = m.manager()?;
                resource::check_name("name", name).rhai()?;
                if replicas < 0 {
                    return Err(invalid("replicas", format!("{replicas} is negative")));
                }
                let obj = manager::deployment_manifest(
                    &m.namespace,
                    name,
                    image,
                    replicas,
                    &pairs(&labels),
                );
                apply_built(&kk, &m, obj)
            },
        );
    }
    for fname in ["service_create", "create_service"] {
        let kk = k.clone();
        r.func(
            fname,
            &["manager", "name", "selector", "port", "target_port"],
            r#"Create (or update) a ClusterIP Service sending `port` to `target_port` of the pods
that `selector` (a map of labels) picks. Returns the object.
```rhai
km.service_create("api", #{app: "api"}, 80, 8080);
```"#,
            move |m: &mut T,
                  name: &str,
                  selector: Map,
                  port: INT,
                  target: INT|
                  -> RResult<Dynamic> {
                let m = m.manager()?;
                resource::check_label("name", name).rhai()?;
                manager::check_port("port", port).rhai()?;
                manager::check_port("target_port", target).rhai()?;
                let obj =
                    manager::service_manifest(&m.namespace, name, &pairs(&selector), port, target);
                apply_built(&kk, &m, obj)
            },
        );
    }
}

impl Kube {
    /// Resolve, check and send one manifest; `create` POSTs instead of applying.
    fn write(
        &self,
        obj: &Value,
        ns: Option<&str>,
        create: bool,
        how: &ApplyOptions,
    ) -> RResult<Value> {
        let (api_version, kind, name, obj_ns) = if create {
            resource::identify_create(obj).rhai()?
        } else {
            resource::identify(obj).rhai()?
        };
        let cluster = self.cluster()?;
        let k = cluster.resolve_gvk(&api_version, &kind).rhai()?;
        let ns = obj_ns
            .or(ns.map(str::to_string))
            .unwrap_or_else(|| cluster.namespace.clone());
        self.remember_secrets(obj);
        let shown = if k.namespaced {
            format!("{ns}/{name}")
        } else {
            name.clone()
        };
        let verb = if create { "create" } else { "apply" };
        let dry = self.dry(|| format!("{verb} {kind} {shown}"));
        let out = if create {
            cluster.create(&k, &ns, obj, dry)
        } else {
            let how = ApplyOptions {
                dry_run: dry,
                ..how.clone()
            };
            cluster.apply(&k, &ns, obj, &how)
        };
        let out = out.rhai()?;
        if !dry && k.group.is_empty() && (k.kind == "Pod" || k.kind == "Secret") {
            let name = out["metadata"]["name"]
                .as_str()
                .unwrap_or(&name)
                .to_string();
            self.register_cleanup(&k, &ns, &name);
        }
        Ok(out)
    }

    /// Let the test runner delete what a test created (a pod, a secret) after the test.
    fn register_cleanup(&self, k: &super::resource::Kind, ns: &str, name: &str) {
        let label = if k.kind == "Pod" { "pod" } else { "secret" };
        let shown = format!("{ns}/{name}");
        let (c, k2, ns2, n2) = (
            self.cluster
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            k.clone(),
            ns.to_string(),
            name.to_string(),
        );
        let Some(c) = c else { return };
        self.host.resources.forget(label, &shown);
        self.host
            .resources
            .register(crate::host::Resource::new(label, shown, move |_| {
                match c.delete(&k2, &ns2, &n2, false) {
                    Ok(_) | Err(super::error::KubeError::Api { code: 404, .. }) => Ok(()),
                    Err(e) => Err(e.to_string()),
                }
            }));
    }

    /// `kube_apply`: every document is checked before any is sent.
    fn apply(&self, d: &Dynamic, ns: Option<&str>, how: &ApplyOptions) -> RResult<Dynamic> {
        let docs = manifests(d)?;
        for doc in &docs {
            resource::identify(doc).rhai()?;
        }
        let mut out = Array::new();
        for doc in &docs {
            out.push(to_dynamic(&self.write(doc, ns, false, how)?)?);
        }
        if d.is_map() {
            return Ok(out.pop().unwrap_or(Dynamic::UNIT));
        }
        Ok(Dynamic::from_array(out))
    }

    fn kind_and_ns(
        &self,
        kind: &str,
        ns: Option<&str>,
    ) -> RResult<(Arc<Cluster>, super::resource::Kind, String)> {
        if kind.is_empty() {
            return Err(invalid("kind", "is empty"));
        }
        let cluster = self.cluster()?;
        let k = cluster.resolve(kind).rhai()?;
        let ns = ns.map_or_else(|| cluster.namespace.clone(), str::to_string);
        Ok((cluster, k, ns))
    }

    fn get(&self, kind: &str, name: &str, ns: Option<&str>) -> RResult<Dynamic> {
        resource::check_name("name", name).rhai()?;
        let (cluster, k, ns) = self.kind_and_ns(kind, ns)?;
        let obj = cluster.get(&k, &ns, name).rhai()?;
        self.remember_secrets(&obj);
        to_dynamic(&obj)
    }

    fn list(&self, kind: &str, w: &Where) -> RResult<Array> {
        let (cluster, k, ns) = self.kind_and_ns(kind, w.namespace.as_deref())?;
        let scope = if w.all { None } else { Some(ns.as_str()) };
        let items = cluster.list(&k, scope, &w.lp).rhai()?;
        items
            .iter()
            .map(|o| {
                self.remember_secrets(o);
                to_dynamic(o)
            })
            .collect()
    }

    fn delete(&self, kind: &str, name: &str, ns: Option<&str>) -> RResult<Dynamic> {
        resource::check_name("name", name).rhai()?;
        let (cluster, k, ns) = self.kind_and_ns(kind, ns)?;
        let dry = self.dry(|| format!("delete {} {ns}/{name}", k.kind));
        let out = cluster.delete(&k, &ns, name, dry).rhai()?;
        to_dynamic(&resource::redacted(&out))
    }
}

fn register_generic(r: &mut Registrar, k: &Arc<Kube>) {
    let kk = k.clone();
    r.func(
        "kube_apply",
        &["manifest"],
        r#"Server-side apply (field manager "herodo", conflicts forced) of a manifest: a map
(returns the applied object), or a YAML/JSON string of one or more documents (returns an array of
the applied objects). Any kind the server knows, custom resources included. Objects without a
namespace go to the configured one. Applying the same manifest again changes nothing.
Throws `invalid_argument` naming the field for a manifest without apiVersion, kind or a valid
name, or an unknown kind, before sending anything; `invalid` when the server rejects it.
Under `--dry-run` a server-side dry run (`dryRun=All`).
```rhai
kube_apply(#{apiVersion: "v1", kind: "ConfigMap", metadata: #{name: "cfg"}, data: #{a: "1"}});
kube_apply(file_read("deploy.yaml"));
```"#,
        move |d: Dynamic| -> RResult<Dynamic> { kk.apply(&d, None, &ApplyOptions::default()) },
    );
    let kk = k.clone();
    r.func(
        "kube_apply",
        &["manifest", "options"],
        r#"`kube_apply` with options `namespace` (for objects that name none), `field_manager`
(default "herodo") and `force` (default true; false fails with `conflict` on fields another
manager owns, naming them in `e.field`).
```rhai
kube_apply(manifest, #{field_manager: "deployer", force: false, namespace: "prod"});
```"#,
        move |d: Dynamic, m: Map| -> RResult<Dynamic> {
            let o = Opts::new("kube_apply", &m, &["namespace", "field_manager", "force"])?;
            let ns = o.string("namespace")?;
            if let Some(ns) = &ns {
                resource::check_label("namespace", ns).rhai()?;
            }
            let mut how = ApplyOptions::default();
            if let Some(fm) = o.string("field_manager")? {
                if fm.is_empty() {
                    return Err(invalid("field_manager", "is empty"));
                }
                how.field_manager = fm;
            }
            how.force = o.bool("force")?.unwrap_or(true);
            kk.apply(&d, ns.as_deref(), &how)
        },
    );
    let kk = k.clone();
    r.func(
        "kube_create",
        &["manifest"],
        r#"Create an object from a manifest map (a POST, not an apply): throws `already_exists`
when it exists. Returns the created object (with `metadata.generateName` the server picks the
name). Under `--dry-run` a server-side dry run.
```rhai
let cm = kube_create(#{apiVersion: "v1", kind: "ConfigMap", metadata: #{name: "once"}});
```"#,
        move |m: Map| -> RResult<Dynamic> {
            let obj = from_dynamic(&Dynamic::from_map(m), "manifest")?;
            to_dynamic(&kk.write(&obj, None, true, &ApplyOptions::default())?)
        },
    );

    for (params, with_opts) in [
        (&["kind", "name"][..], false),
        (&["kind", "name", "options"][..], true),
    ] {
        let kk = k.clone();
        let doc = if with_opts {
            r#"`kube_get` with `#{namespace}`.
```rhai
let d = kube_get("deployment", "api", #{namespace: "prod"});
```"#
        } else {
            r#"One object as a map. `kind` is a kind, plural or short name (`Deployment`,
`deployments`, `deploy`, or a custom resource's). Throws `not_found`, `invalid_argument` for an
unknown kind, `forbidden` when the credentials may not read it.
```rhai
let cm = kube_get("configmap", "settings");
print(cm.data.mode);
```"#
        };
        if with_opts {
            r.func(
                "kube_get",
                params,
                doc,
                move |kind: &str, name: &str, m: Map| -> RResult<Dynamic> {
                    let w = where_options("kube_get", &m, &["namespace"])?;
                    kk.get(kind, name, w.namespace.as_deref())
                },
            );
        } else {
            r.func(
                "kube_get",
                params,
                doc,
                move |kind: &str, name: &str| -> RResult<Dynamic> { kk.get(kind, name, None) },
            );
        }
    }
    let kk = k.clone();
    r.func(
        "kube_list",
        &["kind"],
        r#"The objects of a kind in the configured namespace (every one for cluster-wide kinds),
as an array of maps.
```rhai
let pods = kube_list("pods");
```"#,
        move |kind: &str| -> RResult<Array> {
            kk.list(
                kind,
                &Where {
                    namespace: None,
                    all: false,
                    lp: Default::default(),
                },
            )
        },
    );
    let kk = k.clone();
    r.func(
        "kube_list",
        &["kind", "options"],
        r#"`kube_list` with options `namespace`, `all_namespaces: true`, `label_selector`
(`app=web,tier!=db`, `env in (a,b)`) and `field_selector` (`metadata.name=x`).
```rhai
let web = kube_list("pods", #{label_selector: "app=web", namespace: "prod"});
```"#,
        move |kind: &str, m: Map| -> RResult<Array> {
            let w = where_options(
                "kube_list",
                &m,
                &[
                    "namespace",
                    "all_namespaces",
                    "label_selector",
                    "field_selector",
                ],
            )?;
            kk.list(kind, &w)
        },
    );
    let kk = k.clone();
    r.func(
        "kube_delete",
        &["kind", "name"],
        r#"Delete one object; returns what the server answered (the object, or a Status map).
Throws `not_found` when it does not exist. Under `--dry-run` a server-side dry run.
```rhai
kube_delete("configmap", "settings");
```"#,
        move |kind: &str, name: &str| -> RResult<Dynamic> { kk.delete(kind, name, None) },
    );
    let kk = k.clone();
    r.func(
        "kube_delete",
        &["kind", "name", "options"],
        r#"`kube_delete` with `#{namespace}`.
```rhai
kube_delete("deployment", "api", #{namespace: "prod"});
```"#,
        move |kind: &str, name: &str, m: Map| -> RResult<Dynamic> {
            let w = where_options("kube_delete", &m, &["namespace"])?;
            kk.delete(kind, name, w.namespace.as_deref())
        },
    );
    for with_opts in [false, true] {
        let kk = k.clone();
        let wait = move |kind: &str,
                         name: &str,
                         cond: &str,
                         timeout: Dynamic,
                         m: Map|
              -> RResult<Dynamic> {
            let w = where_options("kube_wait", &m, &["namespace"])?;
            resource::check_name("name", name).rhai()?;
            let cond = super::wait::Condition::parse(cond).rhai()?;
            let timeout = crate::glue::seconds(&timeout, "timeout")?;
            let (cluster, k, ns) = kk.kind_and_ns(kind, w.namespace.as_deref())?;
            // Under --dry-run nothing was applied for real: waiting could only time out.
            if kk
                .host
                .dry_run(|| format!("kube: wait for {} {ns}/{name} to be {cond}", k.kind))
            {
                return Ok(Dynamic::UNIT);
            }
            let obj = cluster.wait(&k, &ns, name, &cond, timeout).rhai()?;
            to_dynamic(&obj)
        };
        if with_opts {
            r.func(
                "kube_wait",
                &["kind", "name", "condition", "timeout", "options"],
                r#"`kube_wait` with `#{namespace}`.
```rhai
kube_wait("pod", "web", "Ready", 60, #{namespace: "prod"});
```"#,
                wait,
            );
        } else {
            r.func(
                "kube_wait",
                &["kind", "name", "condition", "timeout"],
                r#"Wait until an object meets `condition`, at most `timeout` seconds: "Available",
"Established" or any condition type (its status "True"), "Ready" (a Ready condition, or every
wanted replica ready), a pod phase ("Running", "Succeeded", ...), or "deleted" (gone; it may
not exist to begin with). Watches the object (no polling) and resumes the watch when the
connection drops. Returns the object (`()` for "deleted"). Throws `timeout`, `cancelled` on
Ctrl-C. Under `--dry-run`: `()` at once, printing what it would wait for.
```rhai
kube_apply(file_read("api.yaml"));
kube_wait("deployment", "api", "Available", 120);
```"#,
                move |kind: &str, name: &str, cond: &str, timeout: Dynamic| {
                    wait(kind, name, cond, timeout, Map::new())
                },
            );
        }
    }
    let kk = k.clone();
    r.func(
        "kube_patch_status",
        &["kind", "name", "status", "options"],
        r#"Merge a map into an object's `status` (the status subresource), as a controller or
node agent does; options `#{namespace}`. Returns the object.
```rhai
kube_patch_status("deployment", "api", #{availableReplicas: 1}, #{});
```"#,
        move |kind: &str, name: &str, status: Map, m: Map| -> RResult<Dynamic> {
            let w = where_options("kube_patch_status", &m, &["namespace"])?;
            resource::check_name("name", name).rhai()?;
            let (cluster, k, ns) = kk.kind_and_ns(kind, w.namespace.as_deref())?;
            let status = from_dynamic(&Dynamic::from_map(status), "status")?;
            let dry = kk.dry(|| format!("patch status of {} {ns}/{name}", k.kind));
            to_dynamic(&cluster.patch_status(&k, &ns, name, &status, dry).rhai()?)
        },
    );
}
