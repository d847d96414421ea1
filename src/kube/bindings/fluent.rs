//! Rhai glue for the fluent form: `kubernetes()` → `.namespace(n)` → `.configmap(n)`,
//! `.secret(n)`, `.pod(n)`, `.deployment(n)`, `.service(n)`, each a builder whose setters return
//! it again and whose `apply()` is a server-side apply; `to_yaml()`, `to_json()` and `md()` show
//! the manifest it would apply (Secret values as `***` unless `to_yaml(true)`).

use std::sync::Arc;

use rhai::{Array, Dynamic, FnPtr, Map, NativeCallContext, INT};
use serde_json::Value;

use super::{summaries, to_dynamic, Kube, KubernetesManager};
use crate::glue::{invalid, IntoRhai, RResult, Registrar};
use crate::kube::builders::{
    self, DataSpec, PodSpec, Probe, RegistrySpec, ServicePort, ServiceSpec,
};
use crate::kube::manager::{check_port, Manager};
use crate::kube::resource::{check_label, check_name};
use crate::kube::ApplyOptions;

/// `kubernetes()`: the cluster, with a default namespace.
#[derive(Clone)]
pub struct Kubernetes {
    k: Arc<Kube>,
    namespace: String,
    /// Made by `kubernetes(ns)`: `reset()` resets that namespace only.
    scoped: bool,
}

/// `.namespace(name)`: one namespace (created when missing).
#[derive(Clone)]
pub struct KubeNamespace {
    k: Arc<Kube>,
    name: String,
}

/// `.configmap(n)` / `.secret(n)`.
#[derive(Clone)]
pub struct KubeData {
    k: Arc<Kube>,
    spec: DataSpec,
}

/// `.pod(n)`.
#[derive(Clone)]
pub struct KubePod {
    k: Arc<Kube>,
    spec: PodSpec,
}

/// `.deployment(n)`.
#[derive(Clone)]
pub struct KubeDeployment {
    k: Arc<Kube>,
    spec: PodSpec,
    replicas: i64,
}

/// `.registry(n)`.
#[derive(Clone)]
pub struct KubeRegistry {
    k: Arc<Kube>,
    spec: RegistrySpec,
    /// How long `deploy()` waits for the registry to answer (0: it does not wait).
    timeout: std::time::Duration,
}

/// `.development_machine(n)`: an sshd Deployment built on the pod builder.
#[derive(Clone)]
pub struct KubeDevMachine {
    k: Arc<Kube>,
    spec: PodSpec,
    reset: bool,
    timeout: std::time::Duration,
    /// (private, public) once deployed (or read from its Secret).
    key: Option<(String, String)>,
}

/// `.service(n)`.
#[derive(Clone)]
pub struct KubeService {
    k: Arc<Kube>,
    spec: ServiceSpec,
}

impl super::Managed for Kubernetes {
    fn manager(&self) -> RResult<Manager> {
        Manager::new(self.k.cluster()?, &self.namespace).rhai()
    }
}

/// The manager's methods on `kubernetes(ns)`, as the original's scripts call them
/// (`kubernetes("default").namespace_exists("x")`, `pods_list(km)`).
pub(super) fn register_managed(r: &mut Registrar, k: &Arc<Kube>) {
    super::register_manager_methods::<Kubernetes>(r, k);
}

impl KubeNamespace {
    fn manager(&self) -> RResult<Manager> {
        Manager::new(self.k.cluster()?, &self.name).rhai()
    }
}

/// Apply a builder's manifest: a server-side apply (a dry run under --dry-run).
fn apply(k: &Kube, obj: &Value) -> RResult<Dynamic> {
    to_dynamic(&k.write(obj, None, false, &ApplyOptions::default())?)
}

/// The builders that have a manifest: `to_yaml`, `to_json`, `md`, `apply`.
trait Manifest: Clone + Send + Sync + 'static {
    fn kube(&self) -> &Arc<Kube>;
    fn manifest(&self) -> RResult<Value>;
}

impl Manifest for KubeData {
    fn kube(&self) -> &Arc<Kube> {
        &self.k
    }
    fn manifest(&self) -> RResult<Value> {
        Ok(self.spec.manifest())
    }
}

impl Manifest for KubePod {
    fn kube(&self) -> &Arc<Kube> {
        &self.k
    }
    fn manifest(&self) -> RResult<Value> {
        self.spec.check().rhai()?;
        Ok(self.spec.pod_manifest())
    }
}

impl Manifest for KubeDeployment {
    fn kube(&self) -> &Arc<Kube> {
        &self.k
    }
    fn manifest(&self) -> RResult<Value> {
        self.spec.check().rhai()?;
        Ok(self.spec.deployment_manifest(self.replicas))
    }
}

impl Manifest for KubeDevMachine {
    fn kube(&self) -> &Arc<Kube> {
        &self.k
    }
    fn manifest(&self) -> RResult<Value> {
        self.spec.check().rhai()?;
        Ok(crate::kube::machines::dev_manifests(&self.spec).0)
    }
}

impl Manifest for KubeService {
    fn kube(&self) -> &Arc<Kube> {
        &self.k
    }
    fn manifest(&self) -> RResult<Value> {
        Ok(self.spec.manifest())
    }
}

fn register_manifest<T: Manifest>(r: &mut Registrar, what: &str) {
    r.pure(
        "to_yaml",
        &["builder"],
        &format!(
            "The {what} manifest `apply()` would send, as YAML (Secret values as `***`).\n```rhai\nprint(b.to_yaml());\n```"
        ),
        |b: &mut T| -> RResult<String> { builders::to_yaml(&b.manifest()?, false).rhai() },
    );
    r.pure(
        "to_yaml",
        &["builder", "reveal"],
        &format!(
            "The {what} manifest as YAML; `reveal: true` shows Secret values (for `kube_apply`).\n```rhai\nkube_apply(b.to_yaml(true));\n```"
        ),
        |b: &mut T, reveal: bool| -> RResult<String> {
            builders::to_yaml(&b.manifest()?, reveal).rhai()
        },
    );
    r.pure(
        "to_json",
        &["builder"],
        &format!(
            "The {what} manifest as pretty JSON (Secret values as `***`).\n```rhai\nprint(b.to_json());\n```"
        ),
        |b: &mut T| -> RResult<String> { Ok(builders::to_json(&b.manifest()?, false)) },
    );
    r.pure(
        "md",
        &["builder"],
        &format!(
            "A markdown summary of the {what} (Secret values never shown).\n```rhai\nprint(b.md());\n```"
        ),
        |b: &mut T| -> RResult<String> { Ok(builders::md(&b.manifest()?)) },
    );
    r.func(
        "apply",
        &["builder"],
        &format!(
            "Server-side apply of the {what} (a dry run under `--dry-run`); returns the object.\n```rhai\nlet obj = b.apply();\n```"
        ),
        |b: &mut T| -> RResult<Dynamic> {
            let m = b.manifest()?;
            apply(b.kube(), &m)
        },
    );
}

pub(super) fn register(r: &mut Registrar, k: &Arc<Kube>) {
    r.engine()
        .register_type_with_name::<Kubernetes>("Kubernetes")
        .register_type_with_name::<KubeNamespace>("KubeNamespace")
        .register_type_with_name::<KubeData>("KubeData")
        .register_type_with_name::<KubePod>("KubePod")
        .register_type_with_name::<KubeDeployment>("KubeDeployment")
        .register_type_with_name::<KubeService>("KubeService")
        .register_type_with_name::<KubeRegistry>("KubeRegistry")
        .register_type_with_name::<KubeDevMachine>("KubeDevMachine");
    register_root(r, k);
    register_namespace(r);
    register_data(r);
    register_workloads(r);
    register_service(r);
    register_registry(r);
    register_dev_machine(r);
}

/// How long `deploy()` of a development machine waits unless `timeout` says otherwise.
const DEV_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

impl KubeDevMachine {
    /// The key pair from its Secret, if the Secret exists.
    fn stored_key(&self) -> RResult<Option<(String, String)>> {
        let c = self.k.cluster()?;
        let kind =
            crate::kube::resource::builtin("Secret").ok_or_else(|| invalid("kind", "Secret"))?;
        let name = crate::kube::machines::dev_secret_name(&self.spec.name);
        let obj = match c.get(&kind, &self.spec.namespace, &name) {
            Ok(o) => o,
            Err(crate::kube::error::KubeError::Api { code: 404, .. }) => return Ok(None),
            Err(e) => return Err(e).rhai(),
        };
        self.k.remember_secrets(&obj);
        let field = |k: &str| -> Option<String> {
            serde_json::from_value::<k8s_openapi::ByteString>(obj["data"][k].clone())
                .ok()
                .map(|b| String::from_utf8_lossy(&b.0).into_owned())
        };
        Ok(match (field("id_ed25519"), field("id_ed25519.pub")) {
            (Some(p), Some(q)) => Some((p, q)),
            _ => None,
        })
    }

    fn key(&mut self) -> RResult<(String, String)> {
        if let Some(k) = &self.key {
            return Ok(k.clone());
        }
        match self.stored_key()? {
            Some(k) => {
                self.key = Some(k.clone());
                Ok(k)
            }
            None => Err(invalid(
                "development_machine",
                format!("{} has no key yet: deploy() it first", self.spec.name),
            )),
        }
    }
}

/// A new ed25519 key pair from ssh-keygen (OpenSSH formats), comment `comment`.
fn ssh_keygen(k: &Kube, comment: &str) -> RResult<(String, String)> {
    let dir = std::env::temp_dir().join(format!(
        "herodo-key-{}-{}",
        std::process::id(),
        crate::kube::ws::random_bytes::<4>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| invalid("tmpdir", e.to_string()))?;
    let path = dir.join("id_ed25519");
    let cmd = crate::exec::Cmd::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path.display().to_string())
        .timeout(std::time::Duration::from_secs(30));
    let res = k.host.exec_checked(cmd);
    let keys = res.rhai().and_then(|_| {
        let private = std::fs::read_to_string(&path).map_err(|e| invalid("key", e.to_string()))?;
        let public = std::fs::read_to_string(dir.join("id_ed25519.pub"))
            .map_err(|e| invalid("key", e.to_string()))?;
        Ok((private, public.trim().to_string()))
    });
    let _ = std::fs::remove_dir_all(&dir);
    let keys = keys?;
    k.host.register_secret(keys.0.trim());
    Ok(keys)
}

fn register_dev_machine(r: &mut Registrar) {
    r.func(
        "development_machine",
        &["namespace", "name"],
        r#"A development machine to deploy in the namespace: an sshd Deployment (the pod
builder's setters: `image`, `cpu`, `memory`, `env`, `label`, `port`, `env_from_configmap`,
`env_from_secret`, `readiness_*`/`liveness_*`, `restart`), a Service, and an ed25519 key pair
in the Secret `NAME-ssh` whose public half is mounted as root's authorized_keys.
```rhai
let dev = ns.development_machine("box").image("localhost/sshd:1").port(8080).deploy();
let port = dev.ssh_forward();
```"#,
        |n: &mut KubeNamespace, name: &str| -> RResult<KubeDevMachine> {
            check_label("name", name).rhai()?;
            Ok(KubeDevMachine {
                k: n.k.clone(),
                spec: PodSpec {
                    name: name.into(),
                    namespace: n.name.clone(),
                    image: crate::kube::machines::DEV_IMAGE.into(),
                    ..PodSpec::default()
                },
                reset: false,
                timeout: DEV_WAIT,
                key: None,
            })
        },
    );
    register_pod_setters::<KubeDevMachine>(r, "development machine");
    r.pure(
        "namespace",
        &["machine", "name"],
        r#"Deploy the machine in another namespace (default: the one it was made from; it must
exist).
```rhai
ns.development_machine("box").namespace("development");
```"#,
        |d: &mut KubeDevMachine, name: &str| -> RResult<KubeDevMachine> {
            check_label("namespace", name).rhai()?;
            d.spec.namespace = name.into();
            Ok(d.clone())
        },
    );
    r.pure(
        "reset",
        &["machine", "yes"],
        r#"With true, `deploy()` first deletes the machine's Deployment, Service and Secret (a
new key pair, a fresh pod).
```rhai
ns.development_machine("box").reset(true).deploy();
```"#,
        |d: &mut KubeDevMachine, yes: bool| -> KubeDevMachine {
            d.reset = yes;
            d.clone()
        },
    );
    r.pure(
        "timeout",
        &["machine", "seconds"],
        r#"How long `deploy()` waits for the machine to be Available (default 300 s; 0: no wait).
```rhai
ns.development_machine("box").timeout(600);
```"#,
        |d: &mut KubeDevMachine, t: Dynamic| -> RResult<KubeDevMachine> {
            d.timeout = crate::glue::seconds(&t, "timeout")?;
            Ok(d.clone())
        },
    );
    r.func(
        "deploy",
        &["machine"],
        r#"Create the key pair (unless its Secret has one), apply the Secret, Deployment and
Service, and wait until the Deployment is Available. Returns the machine (with its key).
Everything it creates is removed by the test runner's cleanup after a test.
```rhai
let dev = ns.development_machine("box").deploy();
```"#,
        |d: &mut KubeDevMachine| -> RResult<KubeDevMachine> {
            use crate::kube::machines::{dev_manifests, dev_secret_manifest, dev_secret_name};
            d.spec.check().rhai()?;
            let (ns, name) = (d.spec.namespace.clone(), d.spec.name.clone());
            let c = d.k.cluster()?;
            let dry = d.k.host.settings.dry_run;
            let kinds = ["Deployment", "Service", "Secret"];
            if d.reset && !dry {
                for kind in kinds {
                    let k = crate::kube::resource::builtin(kind)
                        .ok_or_else(|| invalid("kind", kind))?;
                    let n = if kind == "Secret" {
                        dev_secret_name(&name)
                    } else {
                        name.clone()
                    };
                    match c.delete(&k, &ns, &n, false) {
                        Ok(_) | Err(crate::kube::error::KubeError::Api { code: 404, .. }) => {}
                        Err(e) => return Err(e).rhai(),
                    }
                }
                d.key = None;
            }
            let stored = if d.reset { None } else { d.stored_key()? };
            let key = match d.key.clone().or(stored) {
                Some(k) => k,
                None => ssh_keygen(&d.k, &format!("herodo-{ns}-{name}"))?,
            };
            d.key = Some(key.clone());
            let (dep, svc) = dev_manifests(&d.spec);
            let secret = dev_secret_manifest(&ns, &name, &key.0, &key.1);
            for obj in [&secret, &dep, &svc] {
                d.k.write(obj, None, false, &ApplyOptions::default())?;
            }
            if dry {
                return Ok(d.clone());
            }
            for kind in kinds {
                let n = if kind == "Secret" {
                    dev_secret_name(&name)
                } else {
                    name.clone()
                };
                let (k2, ns2, n2) = (d.k.clone(), ns.clone(), n.clone());
                d.k.host
                    .resources
                    .forget(kind_label(kind), &format!("{ns}/{n}"));
                d.k.host.resources.register(crate::host::Resource::new(
                    kind_label(kind),
                    format!("{ns}/{n}"),
                    move |_| {
                        let c = k2.cluster().map_err(|e| e.to_string())?;
                        let k = crate::kube::resource::builtin(kind).ok_or("no such kind")?;
                        match c.delete(&k, &ns2, &n2, false) {
                            Ok(_) | Err(crate::kube::error::KubeError::Api { code: 404, .. }) => {
                                Ok(())
                            }
                            Err(e) => Err(e.to_string()),
                        }
                    },
                ));
            }
            if !d.timeout.is_zero() {
                let k = crate::kube::resource::builtin("Deployment")
                    .ok_or_else(|| invalid("kind", "Deployment"))?;
                let cond = crate::kube::wait::Condition::Type("Available".into());
                c.wait(&k, &ns, &name, &cond, d.timeout).rhai()?;
            }
            Ok(d.clone())
        },
    );
    r.func(
        "get_ssh_key",
        &["machine"],
        r#"The private key (OpenSSH format) that logs in as root; after `deploy()`, or read from
the machine's Secret. Registered as a secret: never shown in errors or logs.
```rhai
file_write("dev_key", dev.get_ssh_key());
```"#,
        |d: &mut KubeDevMachine| -> RResult<String> { Ok(d.key()?.0) },
    );
    r.func(
        "get_ssh_public_key",
        &["machine"],
        r#"The public key (`ssh-ed25519 AAAA... herodo-NS-NAME`), root's authorized key.
```rhai
print(dev.get_ssh_public_key());
```"#,
        |d: &mut KubeDevMachine| -> RResult<String> { Ok(d.key()?.1) },
    );
    for (fname, what) in [("get_name", 0), ("get_namespace", 1), ("get_image", 2)] {
        r.pure(
            fname,
            &["machine"],
            &format!(
                "The machine's {}.
```rhai
print(dev.{fname}());
```",
                &fname[4..]
            ),
            move |d: &mut KubeDevMachine| -> String {
                match what {
                    0 => d.spec.name.clone(),
                    1 => d.spec.namespace.clone(),
                    _ => d.spec.image.clone(),
                }
            },
        );
    }
    r.func(
        "ssh_forward",
        &["machine"],
        r#"Forward a free port on 127.0.0.1 to the machine's sshd (through its Service); returns
the port for `ssh -p`. Closed at the end of the script (or the test).
```rhai
let port = dev.ssh_forward();
run(`ssh -i dev_key -p ${port} -o StrictHostKeyChecking=no root@127.0.0.1 uptime`);
```"#,
        |d: &mut KubeDevMachine| -> RResult<INT> {
            let c = d.k.cluster()?;
            let f = super::pods::open_forward(
                &d.k,
                &c,
                &d.spec.namespace,
                &format!("svc/{}", d.spec.name),
                crate::kube::machines::SSH_PORT,
                0,
            )?;
            Ok(INT::from(f.local_port()))
        },
    );
}

/// The resource kind the test runner's report shows.
fn kind_label(kind: &str) -> &'static str {
    match kind {
        "Deployment" => "deployment",
        "Service" => "service",
        _ => "secret",
    }
}

/// How long `deploy()` waits for a registry to answer unless `timeout` says otherwise.
const REGISTRY_WAIT: std::time::Duration = std::time::Duration::from_secs(180);

/// Check and set a registry's claim size (a quantity like `10Gi`).
fn set_storage_size(g: &mut KubeRegistry, size: &str) -> RResult<KubeRegistry> {
    let ok = !size.is_empty()
        && size.chars().next().is_some_and(|c| c.is_ascii_digit())
        && size.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
    if !ok {
        return Err(invalid(
            "storage_size",
            format!("{size:?} is not a quantity like 10Gi"),
        ));
    }
    g.spec.storage_size = size.into();
    Ok(g.clone())
}

fn register_registry(r: &mut Registrar) {
    r.func(
        "registry",
        &["namespace", "name"],
        r#"A docker registry (registry:2 with a PersistentVolumeClaim) to deploy in the namespace.
```rhai
let reg = ns.registry("images").node_port(30500).deploy();
print(reg.image_prefix);
```"#,
        |n: &mut KubeNamespace, name: &str| -> RResult<KubeRegistry> {
            check_label("name", name).rhai()?;
            Ok(KubeRegistry {
                k: n.k.clone(),
                spec: RegistrySpec::new(name, &n.name),
                timeout: REGISTRY_WAIT,
            })
        },
    );
    r.pure(
        "node_port",
        &["registry", "port"],
        r#"Expose the registry on this node port (30000-32767): a NodePort service.
```rhai
ns.registry("images").node_port(30500);
```"#,
        |g: &mut KubeRegistry, p: INT| -> RResult<KubeRegistry> {
            if !(30000..=32767).contains(&p) {
                return Err(invalid("node_port", format!("{p} is not in 30000-32767")));
            }
            g.spec.node_port = Some(p);
            Ok(g.clone())
        },
    );
    r.pure(
        "image",
        &["registry", "image"],
        r#"The registry's image (default registry:2; it must serve the registry API on 5000).
```rhai
ns.registry("images").image("localhost/herodo/registry:test");
```"#,
        |g: &mut KubeRegistry, image: &str| -> RResult<KubeRegistry> {
            if image.is_empty() {
                return Err(invalid("image", "is empty"));
            }
            g.spec.image = image.into();
            Ok(g.clone())
        },
    );
    r.pure(
        "storage_size",
        &["registry", "size"],
        r#"The size of its volume claim (default "10Gi").
```rhai
ns.registry("images").storage_size("50Gi");
```"#,
        |g: &mut KubeRegistry, size: &str| -> RResult<KubeRegistry> { set_storage_size(g, size) },
    );
    r.pure(
        "storage_size",
        &["registry", "gigabytes"],
        r#"The size of its volume claim in GB, as the original's scripts give it (10: "10Gi").
```rhai
ns.registry("images").storage_size(50);
```"#,
        |g: &mut KubeRegistry, gb: INT| -> RResult<KubeRegistry> {
            if gb < 1 {
                return Err(invalid(
                    "storage_size",
                    format!("{gb} GB is not a positive size"),
                ));
            }
            set_storage_size(g, &format!("{gb}Gi"))
        },
    );
    r.pure(
        "to_json",
        &["registry"],
        r#"The manifests `deploy()` applies (claim, Deployment, Service), as a pretty JSON array.
```rhai
print(ns.registry("images").to_json());
```"#,
        |g: &mut KubeRegistry| -> String {
            let docs: Vec<Value> = g
                .spec
                .manifests()
                .iter()
                .map(crate::kube::resource::redacted)
                .collect();
            serde_json::to_string_pretty(&docs).unwrap_or_default()
        },
    );
    r.pure(
        "md",
        &["registry"],
        r#"A markdown summary of the registry's manifests (secret values never shown).
```rhai
print(ns.registry("images").md());
```"#,
        |g: &mut KubeRegistry| -> String {
            let docs: Vec<String> = g.spec.manifests().iter().map(builders::md).collect();
            docs.join("\n")
        },
    );
    r.func(
        "apply",
        &["registry"],
        r#"Server-side apply of the registry's claim, Deployment and Service (a dry run under
`--dry-run`) without waiting for it (`deploy()` waits); returns the three objects.
```rhai
let objs = ns.registry("images").apply();
```"#,
        |g: &mut KubeRegistry| -> RResult<Array> {
            g.spec.manifests().iter().map(|m| apply(&g.k, m)).collect()
        },
    );
    r.pure(
        "timeout",
        &["registry", "seconds"],
        r#"How long `deploy()` waits for the registry to answer (default 180 s; 0: no wait).
```rhai
ns.registry("images").timeout(120).deploy();
```"#,
        |g: &mut KubeRegistry, t: Dynamic| -> RResult<KubeRegistry> {
            g.timeout = crate::glue::seconds(&t, "timeout")?;
            Ok(g.clone())
        },
    );
    r.pure(
        "to_yaml",
        &["registry"],
        r#"The manifests `deploy()` applies, as one YAML text.
```rhai
print(ns.registry("images").to_yaml());
```"#,
        |g: &mut KubeRegistry| -> RResult<String> {
            let docs: Vec<String> = g
                .spec
                .manifests()
                .iter()
                .map(|m| builders::to_yaml(m, false))
                .collect::<Result<_, _>>()
                .rhai()?;
            Ok(docs.join("---\n"))
        },
    );
    r.func(
        "deploy",
        &["registry"],
        r#"Apply the registry's claim, Deployment and Service, then wait (at most `timeout`,
180 s by default) until the Deployment is Available and the registry answers `GET /v2/`
through a port-forward. Returns `#{name, namespace, port, node_port, connection_string,
external_connection_string, image_prefix, external_image_prefix}`. Throws `timeout`, or
`image_not_found` / `crash_loop` / `unschedulable` when its pod cannot run.
```rhai
let reg = ns.registry("images").node_port(30500).deploy();
bah_image_push("localhost/app:1", reg.external_image_prefix + "app:1");
```"#,
        |g: &mut KubeRegistry| -> RResult<Map> {
            let mut node_port = g.spec.node_port;
            for m in g.spec.manifests() {
                let out = g.k.write(&m, None, false, &ApplyOptions::default())?;
                if out["kind"] == "Service" {
                    node_port = out["spec"]["ports"][0]["nodePort"].as_i64().or(node_port);
                }
            }
            if !g.timeout.is_zero() && !g.k.host.settings.dry_run {
                let c = g.k.cluster()?;
                let kind = crate::kube::resource::builtin("Deployment")
                    .ok_or_else(|| invalid("kind", "Deployment"))?;
                let cond = crate::kube::wait::Condition::Type("Available".into());
                let start = std::time::Instant::now();
                c.wait(&kind, &g.spec.namespace, &g.spec.name, &cond, g.timeout)
                    .rhai()?;
                let left = g.timeout.saturating_sub(start.elapsed());
                crate::kube::registry::wait_answers(&c, &g.spec.namespace, &g.spec.name, left)
                    .rhai()?;
            }
            crate::glue::to_rhai(&g.spec.info(node_port))
        },
    );
}

fn register_root(r: &mut Registrar, k: &Arc<Kube>) {
    let kk = k.clone();
    r.func(
        "kubernetes",
        &[],
        r#"The fluent Kubernetes handle on the configured cluster and namespace.
```rhai
let ns = kubernetes().namespace("demo");
```"#,
        move || -> RResult<Kubernetes> {
            let c = kk.cluster()?;
            Ok(Kubernetes {
                k: kk.clone(),
                namespace: c.namespace.clone(),
                scoped: false,
            })
        },
    );
    let kk = k.clone();
    r.func(
        "kubernetes",
        &["namespace"],
        r#"The fluent handle with `namespace` as its default.
```rhai
kubernetes("demo").reset();
```"#,
        move |ns: &str| -> RResult<Kubernetes> {
            check_label("namespace", ns).rhai()?;
            kk.cluster()?;
            Ok(Kubernetes {
                k: kk.clone(),
                namespace: ns.to_string(),
                scoped: true,
            })
        },
    );
    r.func(
        "namespace",
        &["kubernetes", "name"],
        r#"A namespace, created when it does not exist.
```rhai
let ns = kubernetes().namespace("demo");
```"#,
        |c: &mut Kubernetes, name: &str| -> RResult<KubeNamespace> {
            let ns = KubeNamespace {
                k: c.k.clone(),
                name: name.to_string(),
            };
            let dry = c.k.dry(|| format!("create namespace {name}"));
            ns.manager()?.namespace_create(name, dry).rhai()?;
            Ok(ns)
        },
    );
    r.func(
        "ns_list",
        &["kubernetes"],
        r#"The names of every namespace.
```rhai
print(kubernetes().ns_list());
```"#,
        |c: &mut Kubernetes| -> RResult<Array> {
            let m = Manager::new(c.k.cluster()?, &c.namespace).rhai()?;
            Ok(m.namespaces_list()
                .rhai()?
                .into_iter()
                .map(|s| Dynamic::from(s.name))
                .collect())
        },
    );
    r.func(
        "ns_delete",
        &["kubernetes", "name"],
        r#"Delete a namespace and everything in it; true when it existed, false when there was
nothing to delete (the original's behaviour). `forbidden` for `default` and `kube-system`.
```rhai
kubernetes().ns_delete("demo");
```"#,
        |c: &mut Kubernetes, name: &str| -> RResult<bool> {
            let m = Manager::new(c.k.cluster()?, &c.namespace).rhai()?;
            let dry = c.k.dry(|| format!("delete namespace {name}"));
            match m.namespace_delete(name, dry) {
                Ok(()) => Ok(true),
                Err(crate::kube::error::KubeError::Api { code: 404, .. }) => Ok(false),
                Err(e) => Err(e).rhai(),
            }
        },
    );
    r.func(
        "reset",
        &["kubernetes"],
        r#"`kubernetes(ns).reset()` empties that namespace: deletes it, waits until it is gone,
creates it again. `kubernetes().reset()` (no namespace) does that to every namespace except
the protected ones (default, kube-system, kube-public, kube-node-lease, kube-apiserver) and
those already terminating, as the original does. Returns the names of the namespaces reset.
```rhai
kubernetes("scratch").reset();
```"#,
        |c: &mut Kubernetes| -> RResult<Array> {
            let m = Manager::new(c.k.cluster()?, &c.namespace).rhai()?;
            let timeout = m.cluster.timeout * 2;
            if c.scoped {
                let dry = c.k.dry(|| format!("reset namespace {}", c.namespace));
                m.reset_namespace(dry, timeout).rhai()?;
                return Ok(vec![Dynamic::from(c.namespace.clone())]);
            }
            let dry =
                c.k.dry(|| "reset every namespace but the protected ones".to_string());
            Ok(m.reset_all_namespaces(dry, timeout)
                .rhai()?
                .into_iter()
                .map(Dynamic::from)
                .collect())
        },
    );
    r.func(
        "md",
        &["kubernetes"],
        r#"A markdown list of the namespaces and their status.
```rhai
print(kubernetes().md());
```"#,
        |c: &mut Kubernetes| -> RResult<String> {
            let cl = c.k.cluster()?;
            let m = Manager::new(cl.clone(), &c.namespace).rhai()?;
            let mut out = format!("## Cluster {} (context `{}`)\n", cl.server, cl.context);
            for s in m.namespaces_list().rhai()? {
                out.push_str(&format!("- `{}` {}\n", s.name, s.status));
            }
            Ok(out)
        },
    );
}

fn register_namespace(r: &mut Registrar) {
    for (fname, kind) in [
        ("pods_list", "Pod"),
        ("deployments_list", "Deployment"),
        ("services_list", "Service"),
        ("secrets_list", "Secret"),
        ("configmaps_list", "ConfigMap"),
    ] {
        r.func(
            fname,
            &["namespace"],
            &format!(
                "The {kind} objects of the namespace, as `#{{name, namespace, kind, status, labels, created, uid}}`.\n```rhai\nprint(ns.{fname}().map(|x| x.name));\n```"
            ),
            move |n: &mut KubeNamespace| summaries(n.manager()?.list(kind).rhai()?),
        );
    }
    r.func(
        "manager",
        &["namespace"],
        r#"The namespace's `KubernetesManager` (the function-style API).
```rhai
let km = kubernetes().namespace("demo").manager();
```"#,
        |n: &mut KubeNamespace| -> RResult<KubernetesManager> {
            Ok(KubernetesManager(n.manager()?))
        },
    );
    for (fname, secret) in [("configmap", false), ("secret", true)] {
        r.func(
            fname,
            &["namespace", "name"],
            &format!(
                "A {fname} builder; starts with the data the {fname} holds when it exists.\n```rhai\nns.{fname}(\"settings\").set(\"mode\", \"fast\").apply();\n```"
            ),
            move |n: &mut KubeNamespace, name: &str| -> RResult<KubeData> {
                check_name("name", name).rhai()?;
                let mut spec = DataSpec {
                    name: name.to_string(),
                    namespace: n.name.clone(),
                    secret,
                    ..DataSpec::default()
                };
                let kind = if secret { "Secret" } else { "ConfigMap" };
                match n.manager()?.get(kind, name) {
                    Ok(obj) => {
                        n.k.remember_secrets(&obj);
                        for (key, v) in obj["data"].as_object().cloned().unwrap_or_default() {
                            let value = if secret {
                                serde_json::from_value::<k8s_openapi::ByteString>(v)
                                    .map(|b| String::from_utf8_lossy(&b.0).into_owned())
                                    .unwrap_or_default()
                            } else {
                                v.as_str().unwrap_or_default().to_string()
                            };
                            spec.data.insert(key, value);
                        }
                    }
                    Err(crate::kube::error::KubeError::Api { code: 404, .. }) => {}
                    Err(e) => return Err(e).rhai(),
                }
                Ok(KubeData { k: n.k.clone(), spec })
            },
        );
    }
    r.func(
        "pod",
        &["namespace", "name"],
        r#"A pod builder (one container named like the pod).
```rhai
ns.pod("web").image("nginx:1.27").port(80).apply();
```"#,
        |n: &mut KubeNamespace, name: &str| -> RResult<KubePod> {
            check_name("name", name).rhai()?;
            Ok(KubePod {
                k: n.k.clone(),
                spec: PodSpec {
                    name: name.into(),
                    namespace: n.name.clone(),
                    ..PodSpec::default()
                },
            })
        },
    );
    r.func(
        "deployment",
        &["namespace", "name"],
        r#"A deployment builder (1 replica unless `.replicas(n)`).
```rhai
ns.deployment("api").image("ghcr.io/acme/api:1").replicas(2).port(8080).apply();
```"#,
        |n: &mut KubeNamespace, name: &str| -> RResult<KubeDeployment> {
            check_name("name", name).rhai()?;
            Ok(KubeDeployment {
                k: n.k.clone(),
                spec: PodSpec {
                    name: name.into(),
                    namespace: n.name.clone(),
                    ..PodSpec::default()
                },
                replicas: 1,
            })
        },
    );
    r.func(
        "service",
        &["namespace", "name"],
        r#"A service builder (selects `app: <name>` unless told otherwise).
```rhai
ns.service("api").port(80).to(8080).apply();
```"#,
        |n: &mut KubeNamespace, name: &str| -> RResult<KubeService> {
            check_label("name", name).rhai()?;
            Ok(KubeService {
                k: n.k.clone(),
                spec: ServiceSpec {
                    name: name.into(),
                    namespace: n.name.clone(),
                    ..ServiceSpec::default()
                },
            })
        },
    );
    r.func(
        "delete",
        &["namespace", "pattern"],
        r#"Delete the deployments, services, pods, configmaps and secrets whose name matches
the regular expression; returns `"kind/name"`s (under `--dry-run` deletes nothing).
```rhai
ns.delete("^tmp-");
```"#,
        |n: &mut KubeNamespace, pattern: &str| -> RResult<Array> {
            let dry = n.k.host.settings.dry_run;
            let names = n.manager()?.delete_matching(pattern, dry).rhai()?;
            Ok(names.into_iter().map(Dynamic::from).collect())
        },
    );
    r.func(
        "reset",
        &["namespace"],
        r#"Empty the namespace: delete it, wait until it is gone, create it again.
```rhai
ns.reset();
```"#,
        |n: &mut KubeNamespace| -> RResult<()> {
            let m = n.manager()?;
            let dry = n.k.dry(|| format!("reset namespace {}", n.name));
            m.reset_namespace(dry, m.cluster.timeout * 2).rhai()
        },
    );
    r.func(
        "md",
        &["namespace"],
        r#"A markdown summary of what the namespace holds.
```rhai
print(ns.md());
```"#,
        |n: &mut KubeNamespace| -> RResult<String> {
            let m = n.manager()?;
            let mut out = format!("## Namespace `{}`\n", n.name);
            for kind in crate::kube::manager::MANAGED {
                let rows = m.list(kind).rhai()?;
                let names: Vec<String> = rows.iter().map(|s| format!("`{}`", s.name)).collect();
                out.push_str(&format!(
                    "- {kind}s ({}): {}\n",
                    rows.len(),
                    names.join(", ")
                ));
            }
            Ok(out)
        },
    );
}

fn register_data(r: &mut Registrar) {
    // Not pure: a Secret's value is registered for scrubbing, which must not happen at compile
    // time.
    r.func(
        "set",
        &["data", "key", "value"],
        r#"Set a key of the ConfigMap or Secret (not sent until `apply()`); returns the builder.
```rhai
ns.secret("db").set("password", pw).apply();
```"#,
        |d: &mut KubeData, key: &str, value: Dynamic| -> KubeData {
            let value = value.to_string();
            if d.spec.secret {
                d.k.host.register_secret(&value);
            }
            d.spec.data.insert(key.to_string(), value);
            d.clone()
        },
    );
    r.pure(
        "get",
        &["data", "key"],
        r#"The value of a key (`()` when absent).
```rhai
let mode = ns.configmap("settings").get("mode");
```"#,
        |d: &mut KubeData, key: &str| -> Dynamic {
            d.spec
                .data
                .get(key)
                .map_or(Dynamic::UNIT, |v| Dynamic::from(v.clone()))
        },
    );
    register_manifest::<KubeData>(r, "ConfigMap or Secret");
}

/// Pod and Deployment share their pod setters.
trait HasPod: Manifest {
    fn pod(&mut self) -> &mut PodSpec;
}

impl HasPod for KubePod {
    fn pod(&mut self) -> &mut PodSpec {
        &mut self.spec
    }
}

impl HasPod for KubeDevMachine {
    fn pod(&mut self) -> &mut PodSpec {
        &mut self.spec
    }
}

impl HasPod for KubeDeployment {
    fn pod(&mut self) -> &mut PodSpec {
        &mut self.spec
    }
}

fn positive(field: &str, v: INT) -> RResult<i64> {
    if v < 0 {
        return Err(invalid(field, format!("{v} is negative")));
    }
    Ok(v)
}

fn register_pod_setters<T: HasPod>(r: &mut Registrar, what: &str) {
    let doc = |f: &str, ex: &str| format!("{f} Returns the {what}.\n```rhai\nb.{ex};\n```");
    r.pure(
        "image",
        &["builder", "image"],
        &doc("The container image.", "image(\"nginx:1.27\")"),
        |b: &mut T, v: &str| -> T {
            b.pod().image = v.into();
            b.clone()
        },
    );
    r.pure(
        "env",
        &["builder", "name", "value"],
        &doc("An environment variable.", "env(\"MODE\", \"prod\")"),
        |b: &mut T, k: &str, v: Dynamic| -> T {
            b.pod().env.push((k.into(), v.to_string()));
            b.clone()
        },
    );
    r.pure(
        "env",
        &["builder", "vars"],
        &doc(
            "Environment variables from a map.",
            "env(#{MODE: \"prod\"})",
        ),
        |b: &mut T, m: Map| -> T {
            for (k, v) in m {
                b.pod().env.push((k.to_string(), v.to_string()));
            }
            b.clone()
        },
    );
    r.pure(
        "env_from_configmap",
        &["builder", "name"],
        &doc(
            "Every key of a ConfigMap as environment.",
            "env_from_configmap(\"settings\")",
        ),
        |b: &mut T, n: &str| -> T {
            b.pod().env_from_configmaps.push(n.into());
            b.clone()
        },
    );
    r.pure(
        "env_from_secret",
        &["builder", "name"],
        &doc(
            "Every key of a Secret as environment.",
            "env_from_secret(\"db\")",
        ),
        |b: &mut T, n: &str| -> T {
            b.pod().env_from_secrets.push(n.into());
            b.clone()
        },
    );
    r.pure(
        "label",
        &["builder", "key", "value"],
        &doc(
            "A label (also the selector of a deployment).",
            "label(\"app\", \"web\")",
        ),
        |b: &mut T, k: &str, v: &str| -> T {
            b.pod().labels.insert(k.into(), v.into());
            b.clone()
        },
    );
    r.pure(
        "port",
        &["builder", "port"],
        &doc("A container port.", "port(8080)"),
        |b: &mut T, p: INT| -> RResult<T> {
            check_port("port", p).rhai()?;
            b.pod().ports.push(p);
            Ok(b.clone())
        },
    );
    r.pure(
        "entrypoint",
        &["builder", "argv"],
        &doc(
            "The command (an array, or a string split like a shell would).",
            "entrypoint([\"httpd\", \"-f\"])",
        ),
        |b: &mut T, v: Dynamic| -> RResult<T> {
            b.pod().entrypoint = Some(crate::glue::words(&v, "entrypoint")?);
            Ok(b.clone())
        },
    );
    r.pure(
        "memory",
        &["builder", "request_mb", "limit_mb"],
        &doc("Memory request and limit in MiB.", "memory(64, 128)"),
        |b: &mut T, req: INT, lim: INT| -> RResult<T> {
            if req > lim {
                return Err(invalid(
                    "memory",
                    format!("request {req} is over the limit {lim}"),
                ));
            }
            b.pod().memory = Some((positive("memory", req)?, positive("memory", lim)?));
            Ok(b.clone())
        },
    );
    r.pure(
        "cpu",
        &["builder", "request_m", "limit_m"],
        &doc("CPU request and limit in millicores.", "cpu(100, 500)"),
        |b: &mut T, req: INT, lim: INT| -> RResult<T> {
            if req > lim {
                return Err(invalid(
                    "cpu",
                    format!("request {req} is over the limit {lim}"),
                ));
            }
            b.pod().cpu = Some((positive("cpu", req)?, positive("cpu", lim)?));
            Ok(b.clone())
        },
    );
    for (fname, ready) in [("readiness_http", true), ("liveness_http", false)] {
        r.pure(
            fname,
            &["builder", "path", "port"],
            &doc("An HTTP GET probe.", &format!("{fname}(\"/health\", 8080)")),
            move |b: &mut T, path: &str, p: INT| -> RResult<T> {
                check_port("port", p).rhai()?;
                let probe = Some(Probe::Http {
                    path: path.into(),
                    port: p,
                });
                if ready {
                    b.pod().readiness = probe;
                } else {
                    b.pod().liveness = probe;
                }
                Ok(b.clone())
            },
        );
    }
    for (fname, ready) in [("readiness_tcp", true), ("liveness_tcp", false)] {
        r.pure(
            fname,
            &["builder", "port"],
            &doc("A TCP connect probe.", &format!("{fname}(5432)")),
            move |b: &mut T, p: INT| -> RResult<T> {
                check_port("port", p).rhai()?;
                let probe = Some(Probe::Tcp { port: p });
                if ready {
                    b.pod().readiness = probe;
                } else {
                    b.pod().liveness = probe;
                }
                Ok(b.clone())
            },
        );
    }
    r.pure(
        "initial_delay",
        &["builder", "seconds"],
        &doc("Seconds before the probes start.", "initial_delay(5)"),
        |b: &mut T, v: INT| -> RResult<T> {
            b.pod().initial_delay = Some(positive("initial_delay", v)?);
            Ok(b.clone())
        },
    );
    r.pure(
        "period",
        &["builder", "seconds"],
        &doc("Seconds between probes.", "period(10)"),
        |b: &mut T, v: INT| -> RResult<T> {
            b.pod().period = Some(positive("period", v)?);
            Ok(b.clone())
        },
    );
    r.pure(
        "failure_threshold",
        &["builder", "count"],
        &doc(
            "Failed probes before the container counts as failed.",
            "failure_threshold(3)",
        ),
        |b: &mut T, v: INT| -> RResult<T> {
            b.pod().failure_threshold = Some(positive("failure_threshold", v)?);
            Ok(b.clone())
        },
    );
    r.pure(
        "restart",
        &["builder", "policy"],
        &doc(
            "The restart policy: Always, OnFailure or Never (pods only).",
            "restart(\"Never\")",
        ),
        |b: &mut T, v: &str| -> RResult<T> {
            b.pod().restart = Some(builders::check_restart(v).rhai()?);
            Ok(b.clone())
        },
    );
    register_manifest::<T>(r, what);
}

fn register_workloads(r: &mut Registrar) {
    register_pod_setters::<KubePod>(r, "pod");
    register_pod_setters::<KubeDeployment>(r, "deployment");
    r.pure(
        "replicas",
        &["deployment", "count"],
        r#"How many pods; returns the deployment.
```rhai
ns.deployment("api").image("api:1").replicas(3).apply();
```"#,
        |d: &mut KubeDeployment, n: INT| -> RResult<KubeDeployment> {
            d.replicas = positive("replicas", n)?;
            Ok(d.clone())
        },
    );
    r.func(
        "template",
        &["deployment", "f"],
        r#"Shape the pod template with a function that gets a pod builder and returns it.
```rhai
ns.deployment("api").replicas(2).template(|p| p.image("api:1").port(8080).env("MODE", "prod")).apply();
```"#,
        |ctx: NativeCallContext, d: &mut KubeDeployment, f: FnPtr| -> RResult<KubeDeployment> {
            let pod = KubePod {
                k: d.k.clone(),
                spec: d.spec.clone(),
            };
            let out: KubePod = f.call_within_context(&ctx, (pod,))?;
            d.spec = out.spec;
            Ok(d.clone())
        },
    );
}

fn register_service(r: &mut Registrar) {
    r.pure(
        "selector",
        &["service", "key", "value"],
        r#"Select pods with this label (default `app: <name>`); returns the service.
```rhai
ns.service("api").selector("tier", "backend").port(80).apply();
```"#,
        |s: &mut KubeService, k: &str, v: &str| -> KubeService {
            s.spec.selector.insert(k.into(), v.into());
            s.clone()
        },
    );
    r.func(
        "target_deployment",
        &["service", "name"],
        r#"Select the pods of a deployment (its selector, read from the server; `app: <name>`
when it does not exist yet).
```rhai
ns.service("api").target_deployment("api").port(80).to(8080).apply();
```"#,
        |s: &mut KubeService, name: &str| -> RResult<KubeService> {
            let m = Manager::new(s.k.cluster()?, &s.spec.namespace).rhai()?;
            let labels = match m.get("Deployment", name) {
                Ok(d) => d["spec"]["selector"]["matchLabels"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                Err(crate::kube::error::KubeError::Api { code: 404, .. }) => {
                    let mut l = serde_json::Map::new();
                    l.insert("app".into(), Value::String(name.into()));
                    l
                }
                Err(e) => return Err(e).rhai(),
            };
            s.spec.selector = labels
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                .collect();
            Ok(s.clone())
        },
    );
    r.pure(
        "label",
        &["service", "key", "value"],
        r#"A label on the service itself.
```rhai
ns.service("api").label("team", "core");
```"#,
        |s: &mut KubeService, k: &str, v: &str| -> KubeService {
            s.spec.labels.insert(k.into(), v.into());
            s.clone()
        },
    );
    for fname in ["port", "expose"] {
        r.pure(
            fname,
            &["service", "port"],
            &format!(
                "Add a port the service listens on (the next `to`, `via_node`, `udp` apply to it).\n```rhai\nns.service(\"api\").{fname}(80).to(8080);\n```"
            ),
            |s: &mut KubeService, p: INT| -> RResult<KubeService> {
                check_port("port", p).rhai()?;
                s.spec.ports.push(ServicePort {
                    port: p,
                    target: None,
                    node_port: None,
                    udp: false,
                });
                Ok(s.clone())
            },
        );
    }
    for fname in ["to_container", "to"] {
        r.pure(
            fname,
            &["service", "port"],
            &format!(
                "The container port the last port sends to (default: the same number).\n```rhai\nns.service(\"api\").port(80).{fname}(8080);\n```"
            ),
            |s: &mut KubeService, p: INT| -> RResult<KubeService> {
                check_port("target_port", p).rhai()?;
                s.spec.last_port().target = Some(p);
                Ok(s.clone())
            },
        );
    }
    r.pure(
        "nodeport",
        &["service"],
        r#"Make it a NodePort service (the server picks node ports unless `via_node`).
```rhai
ns.service("api").port(80).nodeport();
```"#,
        |s: &mut KubeService| -> KubeService {
            s.spec.service_type = Some("NodePort".into());
            s.clone()
        },
    );
    r.pure(
        "via_node",
        &["service", "port"],
        r#"The node port of the last port (30000-32767; an int or a string); makes it NodePort.
```rhai
ns.service("registry").port(5000).via_node(30500);
```"#,
        |s: &mut KubeService, p: Dynamic| -> RResult<KubeService> {
            let n = if let Ok(i) = p.as_int() {
                i
            } else {
                p.to_string()
                    .trim()
                    .parse::<INT>()
                    .map_err(|_| invalid("node_port", format!("{p} is not a number")))?
            };
            if !(30000..=32767).contains(&n) {
                return Err(invalid("node_port", format!("{n} is not in 30000-32767")));
            }
            s.spec.last_port().node_port = Some(n);
            Ok(s.clone())
        },
    );
    r.pure(
        "headless",
        &["service"],
        r#"A headless service (`clusterIP: None`).
```rhai
ns.service("db").port(5432).headless();
```"#,
        |s: &mut KubeService| -> KubeService {
            s.spec.headless = true;
            s.clone()
        },
    );
    r.pure(
        "udp",
        &["service"],
        r#"The last port is UDP.
```rhai
ns.service("dns").port(53).udp();
```"#,
        |s: &mut KubeService| -> KubeService {
            s.spec.last_port().udp = true;
            s.clone()
        },
    );
    r.pure(
        "type",
        &["service", "type"],
        r#"The service type: ClusterIP, NodePort, LoadBalancer or ExternalName.
```rhai
ns.service("web").port(80).type("LoadBalancer");
```"#,
        |s: &mut KubeService, t: &str| -> RResult<KubeService> {
            s.spec.service_type = Some(builders::check_service_type(t).rhai()?);
            Ok(s.clone())
        },
    );
    register_manifest::<KubeService>(r, "service");
}
