//! The seed's machines, as manifests (pure, tested as tables): the build machine (a pod with
//! buildah, `kube_build_machine`) and the development machine (an sshd Deployment whose
//! authorized_keys come from a Secret, `ns.development_machine`, built on the pod builder). The bindings apply them,
//! wait, and exec into them through the client.

use serde_json::{json, Value};

use super::builders::PodSpec;

/// The image of a build machine unless `image(...)` says otherwise.
pub const BUILD_IMAGE: &str = "quay.io/buildah/stable:latest";
/// The container of a build machine.
pub const BUILD_CONTAINER: &str = "buildah";
/// The image of a development machine unless `image(...)` says otherwise.
pub const DEV_IMAGE: &str = "lscr.io/linuxserver/openssh-server:latest";
/// sshd's port in a development machine.
pub const SSH_PORT: i64 = 22;

/// `kube_build_machine(ns, name)`.
#[derive(Clone, Debug, PartialEq)]
pub struct BuildMachineSpec {
    pub namespace: String,
    pub name: String,
    pub image: String,
    /// (request, limit) in millicores.
    pub cpu: Option<(i64, i64)>,
    /// (request, limit) in MiB.
    pub memory: Option<(i64, i64)>,
    pub privileged: bool,
    pub debug: bool,
}

impl BuildMachineSpec {
    pub fn new(namespace: &str, name: &str) -> Self {
        BuildMachineSpec {
            namespace: namespace.into(),
            name: name.into(),
            image: BUILD_IMAGE.into(),
            cpu: None,
            memory: None,
            privileged: true,
            debug: false,
        }
    }

    /// The pod: one container that idles until exec'd into, buildah's storage on an emptyDir
    /// (vfs, chroot isolation: works privileged or not).
    pub fn manifest(&self) -> Value {
        let mut c = json!({
            "name": BUILD_CONTAINER,
            "image": self.image,
            "command": ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"],
            "env": [
                {"name": "STORAGE_DRIVER", "value": "vfs"},
                {"name": "BUILDAH_ISOLATION", "value": "chroot"}
            ],
            "securityContext": {"privileged": self.privileged},
            "volumeMounts": [{"name": "containers", "mountPath": "/var/lib/containers"}]
        });
        if let Some(r) = resources(self.cpu, self.memory) {
            c["resources"] = r;
        }
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": self.name, "namespace": self.namespace,
                         "labels": {"app": self.name, "herodo.io/role": "build-machine"}},
            "spec": {
                "containers": [c],
                "volumes": [{"name": "containers", "emptyDir": {}}],
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 5
            }
        })
    }
}

fn resources(cpu: Option<(i64, i64)>, memory: Option<(i64, i64)>) -> Option<Value> {
    if cpu.is_none() && memory.is_none() {
        return None;
    }
    let mut req = serde_json::Map::new();
    let mut lim = serde_json::Map::new();
    if let Some((r, l)) = cpu {
        req.insert("cpu".into(), json!(format!("{r}m")));
        lim.insert("cpu".into(), json!(format!("{l}m")));
    }
    if let Some((r, l)) = memory {
        req.insert("memory".into(), json!(format!("{r}Mi")));
        lim.insert("memory".into(), json!(format!("{l}Mi")));
    }
    Some(json!({"requests": req, "limits": lim}))
}

/// buildah's argv for the working containers of `kube_bah`.
pub mod bah {
    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    pub fn from(name: &str, image: &str, tls_verify: bool) -> Vec<String> {
        let mut a = v(&["buildah", "from", "--name", name]);
        if !tls_verify {
            a.push("--tls-verify=false".into());
        }
        a.push(image.into());
        a
    }

    pub fn run(name: &str, script: &str) -> Vec<String> {
        v(&["buildah", "run", name, "--", "sh", "-c", script])
    }

    /// `config --entrypoint` / `--cmd` take JSON arrays (exec form).
    pub fn config(name: &str, what: &str, argv: &[String]) -> Vec<String> {
        let json = serde_json::to_string(argv).unwrap_or_else(|_| "[]".into());
        v(&["buildah", "config", &format!("--{what}"), &json, name])
    }

    pub fn copy(name: &str, src_in_pod: &str, dest: &str) -> Vec<String> {
        v(&["buildah", "copy", name, src_in_pod, dest])
    }

    pub fn commit(name: &str, image: &str) -> Vec<String> {
        v(&["buildah", "commit", name, image])
    }

    pub fn remove(name: &str) -> Vec<String> {
        v(&["buildah", "rm", name])
    }
}

/// The Secret of a development machine's key pair: `NAME-ssh`.
pub fn dev_secret_name(name: &str) -> String {
    format!("{name}-ssh")
}

/// The Secret holding the key pair; `authorized_keys` is the public half.
pub fn dev_secret_manifest(ns: &str, name: &str, private: &str, public: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": dev_secret_name(name), "namespace": ns,
                     "labels": {"app": name, "herodo.io/role": "development-machine"}},
        "stringData": {"id_ed25519": private, "id_ed25519.pub": public,
                       "authorized_keys": public}
    })
}

/// A development machine from the pod builder's Deployment (one replica): sshd's port 22 is
/// added, the Secret's `authorized_keys` mounted at /root/.ssh/authorized_keys; and the Service
/// in front of port 22 and the builder's ports.
pub fn dev_manifests(pod: &PodSpec) -> (Value, Value) {
    let mut d = pod.deployment_manifest(1);
    let secret = dev_secret_name(&pod.name);
    let tpl = &mut d["spec"]["template"];
    tpl["metadata"]["labels"]["herodo.io/role"] = json!("development-machine");
    let c = &mut tpl["spec"]["containers"][0];
    let mut ports = vec![json!({"name": "ssh", "containerPort": SSH_PORT, "protocol": "TCP"})];
    if let Some(existing) = c["ports"].as_array() {
        ports.extend(
            existing
                .iter()
                .filter(|p| p["containerPort"] != SSH_PORT)
                .cloned(),
        );
    }
    c["ports"] = Value::Array(ports);
    c["volumeMounts"] = json!([{"name": "ssh-keys", "mountPath": "/root/.ssh/authorized_keys",
                                "subPath": "authorized_keys", "readOnly": true}]);
    tpl["spec"]["volumes"] = json!([{"name": "ssh-keys",
        "secret": {"secretName": secret, "defaultMode": 0o600}}]);
    let mut sports = vec![
        json!({"name": "ssh", "port": SSH_PORT, "targetPort": SSH_PORT,
                                 "protocol": "TCP"}),
    ];
    for p in pod.ports.iter().filter(|p| **p != SSH_PORT) {
        sports.push(
            json!({"name": format!("port-{p}"), "port": p, "targetPort": p,
                           "protocol": "TCP"}),
        );
    }
    let selector = d["spec"]["selector"]["matchLabels"].clone();
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": pod.name, "namespace": pod.namespace,
                     "labels": d["metadata"]["labels"].clone()},
        "spec": {"selector": selector, "ports": sports}
    });
    (d, service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_machine_pod() {
        let mut b = BuildMachineSpec::new("ci", "builder");
        let p = b.manifest();
        let c = &p["spec"]["containers"][0];
        assert_eq!(c["image"], BUILD_IMAGE);
        assert_eq!(c["securityContext"]["privileged"], true);
        assert!(c.get("resources").is_none());
        assert_eq!(p["metadata"]["labels"]["herodo.io/role"], "build-machine");
        b.cpu = Some((500, 2000));
        b.memory = Some((512, 4096));
        b.privileged = false;
        let c = b.manifest()["spec"]["containers"][0].clone();
        assert_eq!(
            c["resources"],
            json!({"requests": {"cpu": "500m", "memory": "512Mi"},
                   "limits": {"cpu": "2000m", "memory": "4096Mi"}})
        );
        assert_eq!(c["securityContext"]["privileged"], false);
    }

    #[test]
    fn buildah_argv_table() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let table = [
            (
                bah::from("w", "alpine:3", true),
                s(&["buildah", "from", "--name", "w", "alpine:3"]),
            ),
            (
                bah::from("w", "127.0.0.1:5000/x:1", false),
                s(&[
                    "buildah",
                    "from",
                    "--name",
                    "w",
                    "--tls-verify=false",
                    "127.0.0.1:5000/x:1",
                ]),
            ),
            (
                bah::run("w", "apk add curl"),
                s(&["buildah", "run", "w", "--", "sh", "-c", "apk add curl"]),
            ),
            (
                bah::config("w", "entrypoint", &s(&["/app", "--serve"])),
                s(&[
                    "buildah",
                    "config",
                    "--entrypoint",
                    r#"["/app","--serve"]"#,
                    "w",
                ]),
            ),
            (
                bah::config("w", "cmd", &s(&["sh"])),
                s(&["buildah", "config", "--cmd", r#"["sh"]"#, "w"]),
            ),
            (
                bah::copy("w", "/tmp/in", "/app"),
                s(&["buildah", "copy", "w", "/tmp/in", "/app"]),
            ),
            (
                bah::commit("w", "localhost/app:1"),
                s(&["buildah", "commit", "w", "localhost/app:1"]),
            ),
            (bah::remove("w"), s(&["buildah", "rm", "w"])),
        ];
        for (got, want) in table {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn development_machine_manifests() {
        let pod = PodSpec {
            name: "box".into(),
            namespace: "dev".into(),
            image: DEV_IMAGE.into(),
            env: vec![("EDITOR".into(), "vi".into())],
            ports: vec![8080],
            ..PodSpec::default()
        };
        let (dep, svc) = dev_manifests(&pod);
        let c = &dep["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], DEV_IMAGE);
        assert_eq!(c["env"], json!([{"name": "EDITOR", "value": "vi"}]));
        assert_eq!(c["ports"][0]["containerPort"], 22);
        assert_eq!(c["ports"][1]["containerPort"], 8080);
        assert_eq!(c["volumeMounts"][0]["subPath"], "authorized_keys");
        assert_eq!(
            dep["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"],
            "box-ssh"
        );
        assert_eq!(dep["spec"]["replicas"], 1);
        assert_eq!(svc["spec"]["ports"][0]["port"], 22);
        assert_eq!(svc["spec"]["ports"][1]["port"], 8080);
        assert_eq!(svc["spec"]["selector"], json!({"app": "box"}));
        let s = dev_secret_manifest("dev", "box", "PRIV", "ssh-ed25519 AAAA box");
        assert_eq!(s["metadata"]["name"], "box-ssh");
        assert_eq!(s["stringData"]["authorized_keys"], "ssh-ed25519 AAAA box");
    }
}
