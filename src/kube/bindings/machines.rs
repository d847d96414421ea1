//! Rhai glue for the build machine: `kube_build_machine(ns, name)` and its setters,
//! `provision(machine)` → a handle (`.namespace`, `.pod_name`), `exec(handle, argv)`,
//! `buildah(handle, argv)`, `kube_bah(handle, name, image)` (a working container with `.run`,
//! `.set_entrypoint`, `.set_cmd`, `.copy`, `.commit`, `.remove`) and `destroy(handle)`.

use std::sync::Arc;
use std::time::Duration;

use rhai::{Dynamic, Map, INT};

use super::pods::exec_in;
use super::Kube;
use crate::exec::CommandResult;
use crate::glue::{invalid, IntoRhai, Opts, RResult, Registrar};
use crate::host::Resource;
use crate::kube::machines::{bah, BuildMachineSpec, BUILD_CONTAINER};
use crate::kube::resource::{builtin, check_label};
use crate::kube::stream::ExecRequest;
use crate::kube::wait::Condition;

/// How long `provision` waits for the pod unless `timeout` says otherwise.
const PROVISION_WAIT: Duration = Duration::from_secs(300);

#[derive(Clone)]
pub struct KubeBuildMachine {
    k: Arc<Kube>,
    spec: BuildMachineSpec,
    timeout: Duration,
}

#[derive(Clone)]
pub struct BuildMachineHandle {
    k: Arc<Kube>,
    namespace: String,
    pod_name: String,
    debug: bool,
}

/// A buildah working container in a build machine.
#[derive(Clone)]
pub struct KubeBah {
    h: BuildMachineHandle,
    name: String,
}

impl BuildMachineHandle {
    fn run(&self, argv: Vec<String>, stdin: Option<Vec<u8>>) -> RResult<CommandResult> {
        if self.debug {
            eprintln!(
                "build machine {}/{}: {}",
                self.namespace,
                self.pod_name,
                shell_words::join(&argv)
            );
        }
        let req = ExecRequest {
            argv,
            container: Some(BUILD_CONTAINER.into()),
            stdin,
            tty: false,
        };
        // Builds take long: at least ten minutes per command.
        let timeout = self
            .k
            .host
            .settings
            .default_timeout
            .max(Duration::from_secs(600));
        exec_in(
            &self.k,
            &self.namespace,
            &self.pod_name,
            &req,
            timeout,
            false,
        )
    }
}

fn millis_pair(field: &str, req: INT, lim: INT) -> RResult<(i64, i64)> {
    if req <= 0 || lim <= 0 {
        return Err(invalid(
            field,
            format!("{req}/{lim}: both must be positive"),
        ));
    }
    if req > lim {
        return Err(invalid(
            field,
            format!("request {req} is over the limit {lim}"),
        ));
    }
    Ok((req, lim))
}

pub fn register(r: &mut Registrar, k: &Arc<Kube>) {
    r.engine()
        .register_type_with_name::<KubeBuildMachine>("KubeBuildMachine")
        .register_type_with_name::<BuildMachineHandle>("BuildMachineHandle")
        .register_type_with_name::<KubeBah>("KubeBah");
    let kk = k.clone();
    r.pure(
        "kube_build_machine",
        &["namespace", "name"],
        r#"A build machine to provision: a pod with buildah (default image
quay.io/buildah/stable, privileged, buildah's storage on an emptyDir). Set `image`, `cpu`,
`memory`, `privileged`, `debug_mode`, `timeout`, then `provision(machine)`.
```rhai
let m = kube_build_machine("ci", "builder").cpu(500, 2000).memory(512, 4096);
let h = provision(m);
```"#,
        move |ns: &str, name: &str| -> RResult<KubeBuildMachine> {
            check_label("namespace", ns).rhai()?;
            check_label("name", name).rhai()?;
            Ok(KubeBuildMachine {
                k: kk.clone(),
                spec: BuildMachineSpec::new(ns, name),
                timeout: PROVISION_WAIT,
            })
        },
    );
    r.pure(
        "image",
        &["machine", "image"],
        r#"The build machine's image (it needs buildah and tar).
```rhai
kube_build_machine("ci", "b").image("localhost/buildah:test");
```"#,
        |m: &mut KubeBuildMachine, image: &str| -> RResult<KubeBuildMachine> {
            if image.is_empty() {
                return Err(invalid("image", "is empty"));
            }
            m.spec.image = image.into();
            Ok(m.clone())
        },
    );
    r.pure(
        "cpu",
        &["machine", "request_millicores", "limit_millicores"],
        r#"CPU request and limit in millicores.
```rhai
kube_build_machine("ci", "b").cpu(500, 2000);
```"#,
        |m: &mut KubeBuildMachine, req: INT, lim: INT| -> RResult<KubeBuildMachine> {
            m.spec.cpu = Some(millis_pair("cpu", req, lim)?);
            Ok(m.clone())
        },
    );
    r.pure(
        "memory",
        &["machine", "request_mb", "limit_mb"],
        r#"Memory request and limit in MiB.
```rhai
kube_build_machine("ci", "b").memory(512, 4096);
```"#,
        |m: &mut KubeBuildMachine, req: INT, lim: INT| -> RResult<KubeBuildMachine> {
            m.spec.memory = Some(millis_pair("memory", req, lim)?);
            Ok(m.clone())
        },
    );
    r.pure(
        "privileged",
        &["machine", "yes"],
        r#"Run the pod privileged (default true; buildah's chroot isolation works without).
```rhai
kube_build_machine("ci", "b").privileged(false);
```"#,
        |m: &mut KubeBuildMachine, yes: bool| -> KubeBuildMachine {
            m.spec.privileged = yes;
            m.clone()
        },
    );
    r.pure(
        "debug_mode",
        &["machine", "yes"],
        r#"Print every command the machine runs (on stderr).
```rhai
kube_build_machine("ci", "b").debug_mode(true);
```"#,
        |m: &mut KubeBuildMachine, yes: bool| -> KubeBuildMachine {
            m.spec.debug = yes;
            m.clone()
        },
    );
    r.pure(
        "timeout",
        &["machine", "seconds"],
        r#"How long `provision` waits for the pod to be Ready (default 300 s).
```rhai
kube_build_machine("ci", "b").timeout(600);
```"#,
        |m: &mut KubeBuildMachine, t: Dynamic| -> RResult<KubeBuildMachine> {
            m.timeout = crate::glue::seconds(&t, "timeout")?;
            Ok(m.clone())
        },
    );
    r.pure(
        "to_yaml",
        &["machine"],
        r#"The pod `provision` applies.
```rhai
print(kube_build_machine("ci", "b").to_yaml());
```"#,
        |m: &mut KubeBuildMachine| -> RResult<String> {
            crate::kube::builders::to_yaml(&m.spec.manifest(), false).rhai()
        },
    );
    r.func(
        "provision",
        &["machine"],
        r#"Create the build machine's pod (an existing one of that name is reused) and wait
until it is Ready. Returns a handle with `.namespace` and `.pod_name`. The pod is deleted by
`destroy(handle)`, or by the test runner's cleanup. Throws what `kube_wait` throws
(`image_not_found`, `crash_loop`, `unschedulable`, `timeout`).
```rhai
let h = provision(kube_build_machine("ci", "builder"));
print(h.pod_name);
```"#,
        |m: &mut KubeBuildMachine| -> RResult<BuildMachineHandle> {
            let obj = m.spec.manifest();
            let cluster = m.k.cluster()?;
            let pod_kind = builtin("Pod").ok_or_else(|| invalid("kind", "Pod"))?;
            let (ns, name) = (m.spec.namespace.clone(), m.spec.name.clone());
            let dry = m.k.dry(|| format!("provision build machine {ns}/{name}"));
            match cluster.get(&pod_kind, &ns, &name) {
                Ok(_) => {}
                Err(crate::kube::error::KubeError::Api { code: 404, .. }) => {
                    cluster.create(&pod_kind, &ns, &obj, dry).rhai()?;
                }
                Err(e) => return Err(e).rhai(),
            }
            if !dry {
                let ns2 = ns.clone();
                let name2 = name.clone();
                let kk = m.k.clone();
                m.k.host.resources.register(Resource::new(
                    "pod",
                    format!("{ns}/{name}"),
                    move |_| {
                        let c = kk.cluster().map_err(|e| e.to_string())?;
                        let k = builtin("Pod").ok_or("no Pod kind")?;
                        match c.delete(&k, &ns2, &name2, false) {
                            Ok(_) | Err(crate::kube::error::KubeError::Api { code: 404, .. }) => {
                                Ok(())
                            }
                            Err(e) => Err(e.to_string()),
                        }
                    },
                ));
                cluster
                    .wait(&pod_kind, &ns, &name, &Condition::Ready, m.timeout)
                    .rhai()?;
            }
            Ok(BuildMachineHandle {
                k: m.k.clone(),
                namespace: ns,
                pod_name: name,
                debug: m.spec.debug,
            })
        },
    );
    r.getter(
        "namespace",
        r#"The build machine's namespace.
```rhai
print(h.namespace);
```"#,
        |h: &mut BuildMachineHandle| -> String { h.namespace.clone() },
    );
    r.getter(
        "pod_name",
        r#"The build machine's pod.
```rhai
print(h.pod_name);
```"#,
        |h: &mut BuildMachineHandle| -> String { h.pod_name.clone() },
    );
    r.func(
        "exec",
        &["handle", "argv"],
        r#"Run a command in the build machine (an array, or a string split like a shell would).
Returns a CommandResult; a non-zero exit throws `command_failed`.
```rhai
print(exec(h, ["buildah", "version"]).stdout);
```"#,
        |h: &mut BuildMachineHandle, argv: Dynamic| -> RResult<CommandResult> {
            let argv = crate::glue::words(&argv, "argv")?;
            if argv.is_empty() {
                return Err(invalid("argv", "is empty"));
            }
            h.run(argv, None)
        },
    );
    r.func(
        "buildah",
        &["handle", "args"],
        r#"Run buildah with `args` in the build machine.
```rhai
buildah(h, ["images"]);
buildah(h, "push --tls-verify=false app:1 docker://registry.ci:5000/app:1");
```"#,
        |h: &mut BuildMachineHandle, args: Dynamic| -> RResult<CommandResult> {
            let mut argv = vec!["buildah".to_string()];
            argv.extend(crate::glue::words(&args, "args")?);
            h.run(argv, None)
        },
    );
    r.func(
        "destroy",
        &["handle"],
        r#"Delete the build machine's pod (and everything built in it that was not pushed).
```rhai
destroy(h);
```"#,
        |h: &mut BuildMachineHandle| -> RResult<()> {
            let cluster = h.k.cluster()?;
            let k = builtin("Pod").ok_or_else(|| invalid("kind", "Pod"))?;
            let (ns, name) = (h.namespace.clone(), h.pod_name.clone());
            let dry = h.k.dry(|| format!("destroy build machine {ns}/{name}"));
            match cluster.delete(&k, &ns, &name, dry) {
                Ok(_) | Err(crate::kube::error::KubeError::Api { code: 404, .. }) => {}
                Err(e) => return Err(e).rhai(),
            }
            h.k.host.resources.forget("pod", &format!("{ns}/{name}"));
            Ok(())
        },
    );
    register_bah(r);
}

fn register_bah(r: &mut Registrar) {
    let make = |h: &mut BuildMachineHandle, name: &str, image: &str, m: Map| -> RResult<KubeBah> {
        let o = Opts::new("kube_bah", &m, &["tls_verify"])?;
        check_label("name", name).rhai()?;
        if image.is_empty() {
            return Err(invalid("image", "is empty"));
        }
        let tls = o.bool("tls_verify")?.unwrap_or(true);
        h.run(bah::from(name, image, tls), None)?;
        Ok(KubeBah {
            h: h.clone(),
            name: name.into(),
        })
    };
    r.func(
        "kube_bah",
        &["handle", "name", "image"],
        r#"A buildah working container `name` from `image` (`scratch` for an empty one) in the
build machine: `.run(script)`, `.set_entrypoint(argv)`, `.set_cmd(argv)`, `.copy(local, dest)`,
`.commit(image)`, `.remove()`.
```rhai
let b = kube_bah(h, "web", "scratch");
b.copy("site/index.html", "/www/index.html");
b.set_cmd(["/bin/httpd", "-f"]);
b.commit("localhost/web:1");
b.remove();
```"#,
        move |h: &mut BuildMachineHandle, name: &str, image: &str| make(h, name, image, Map::new()),
    );
    r.func(
        "kube_bah",
        &["handle", "name", "image", "options"],
        r#"`kube_bah` with `#{tls_verify: false}` (a registry that speaks plain HTTP).
```rhai
let b = kube_bah(h, "app", "images.ci.svc.cluster.local:5000/base:1", #{tls_verify: false});
```"#,
        make,
    );
    r.func(
        "run",
        &["bah", "script"],
        r#"Run a shell script in the working container (`buildah run NAME -- sh -c SCRIPT`).
```rhai
b.run("apk add --no-cache curl");
```"#,
        |b: &mut KubeBah, script: &str| -> RResult<CommandResult> {
            b.h.run(bah::run(&b.name, script), None)
        },
    );
    for (fname, what) in [("set_entrypoint", "entrypoint"), ("set_cmd", "cmd")] {
        r.func(
            fname,
            &["bah", "argv"],
            &format!(
                "The image's {what} (exec form; a string is split like a shell would).\n```rhai\nb.{fname}([\"/app\", \"--serve\"]);\n```"
            ),
            move |b: &mut KubeBah, argv: Dynamic| -> RResult<CommandResult> {
                let argv = crate::glue::words(&argv, "argv")?;
                b.h.run(bah::config(&b.name, what, &argv), None)
            },
        );
    }
    r.func(
        "copy",
        &["bah", "local", "dest"],
        r#"Copy a local file or directory into the working container at `dest` (through the
build machine: a tar stream, then `buildah copy`).
```rhai
b.copy("dist", "/app");
```"#,
        |b: &mut KubeBah, local: &str, dest: &str| -> RResult<CommandResult> {
            if dest.is_empty() {
                return Err(invalid("dest", "is empty"));
            }
            let cluster = b.h.k.cluster()?;
            let staging = format!("/tmp/herodo-copy-{}", b.name);
            let timeout =
                b.h.k
                    .host
                    .settings
                    .default_timeout
                    .max(Duration::from_secs(600));
            if !b.h.k.host.settings.dry_run {
                b.h.run(vec!["rm".into(), "-rf".into(), staging.clone()], None)?;
                crate::kube::copy::copy_to(
                    &cluster,
                    &b.h.namespace,
                    &b.h.pod_name,
                    Some(BUILD_CONTAINER.into()),
                    local,
                    &staging,
                    timeout,
                )
                .rhai()?;
            }
            let out = b.h.run(bah::copy(&b.name, &staging, dest), None)?;
            if !b.h.k.host.settings.dry_run {
                b.h.run(vec!["rm".into(), "-rf".into(), staging], None)?;
            }
            Ok(out)
        },
    );
    r.func(
        "commit",
        &["bah", "image"],
        r#"Commit the working container as `image` (in the build machine's storage; push it with
`buildah(h, ["push", ...])`).
```rhai
b.commit("localhost/app:1");
```"#,
        |b: &mut KubeBah, image: &str| -> RResult<CommandResult> {
            if image.is_empty() {
                return Err(invalid("image", "is empty"));
            }
            b.h.run(bah::commit(&b.name, image), None)
        },
    );
    r.func(
        "remove",
        &["bah"],
        r#"Remove the working container.
```rhai
b.remove();
```"#,
        |b: &mut KubeBah| -> RResult<CommandResult> { b.h.run(bah::remove(&b.name), None) },
    );
    r.getter(
        "name",
        r#"The working container's name.
```rhai
print(b.name);
```"#,
        |b: &mut KubeBah| -> String { b.name.clone() },
    );
}
