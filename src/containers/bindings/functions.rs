//! The seeds' plain `nerdctl_*` functions (by container, image, network or volume name) and
//! `container_engine()`. Each is one operation in `ops` on the engine in use.

use std::sync::Arc;

use rhai::{Array, Map};

use super::{on_engine, to_rhai};
use crate::containers::{ops, CreateOptions, ExecCommand, ExecOptions, Object};
use crate::glue::{Opts, RResult, Registrar};
use crate::host::Host;

/// The options map of `nerdctl_network_create` / `nerdctl_volume_create`.
fn create_options(what: Object, o: &Map) -> RResult<CreateOptions> {
    let allowed: &[&str] = match what {
        Object::Network => &["driver", "subnet"],
        _ => &["driver"],
    };
    let opts = Opts::new(what.name(), o, allowed)?;
    Ok(CreateOptions {
        driver: opts.string("driver")?,
        subnet: match what {
            Object::Network => opts.string("subnet")?,
            _ => None,
        },
    })
}

pub(super) fn register(r: &mut Registrar, host: &Arc<Host>) {
    let h = host.clone();
    r.func(
        "container_engine",
        &[],
        r#"The container engine in use: `nerdctl`, `podman` or `docker` (set with --engine or
HERODO_CONTAINER_ENGINE; otherwise the first one installed). Throws `engine_not_installed`.
```rhai
print(container_engine());
```"#,
        move || on_engine(&h, |e| Ok(e.flavor.name().to_string())),
    );
    register_containers(r, host);
    register_images(r, host);
    register_networks_and_volumes(r, host);
}

fn register_containers(r: &mut Registrar, host: &Arc<Host>) {
    let h = host.clone();
    r.func(
        "nerdctl_run",
        &["image"],
        r#"Run `image` detached under a generated name; returns a CommandResult.
```rhai
nerdctl_run("localhost/busybox:test");
```"#,
        move |image: &str| on_engine(&h, |e| ops::run_image(&h, e, image, None, &[])),
    );
    let h = host.clone();
    r.func(
        "nerdctl_run_with_name",
        &["image", "name"],
        r#"Run `image` detached as `name`.
```rhai
nerdctl_run_with_name("localhost/busybox:test", "box1");
```"#,
        move |image: &str, name: &str| {
            on_engine(&h, |e| ops::run_image(&h, e, image, Some(name), &[]))
        },
    );
    let h = host.clone();
    r.func(
        "nerdctl_run_with_port",
        &["image", "name", "port"],
        r#"Run `image` detached as `name`, publishing `port`.
```rhai
nerdctl_run_with_port("localhost/busybox:test", "web", "127.0.0.1:8080:80");
```"#,
        move |image: &str, name: &str, port: &str| {
            on_engine(&h, |e| {
                ops::run_image(&h, e, image, Some(name), &[port.to_string()])
            })
        },
    );
    let h = host.clone();
    r.func(
        "nerdctl_exec",
        &["container", "command"],
        r#"Run a shell line inside a running container.
```rhai
print(nerdctl_exec("web", "cat /etc/hostname").stdout);
```"#,
        move |c: &str, cmd: &str| {
            on_engine(&h, |e| {
                let what = ExecCommand::Shell(cmd.into());
                ops::exec(&h, e, c, what, &ExecOptions::default())
            })
        },
    );
    let h = host.clone();
    r.func(
        "nerdctl_copy",
        &["source", "destination"],
        r#"Copy between host and container (`name:/path` for the container side).
```rhai
nerdctl_copy("web:/etc/hostname", "/tmp/hostname");
```"#,
        move |s: &str, d: &str| on_engine(&h, |e| ops::copy(&h, e, s, d)),
    );
    let h = host.clone();
    r.func(
        "nerdctl_stop",
        &["container"],
        r#"Stop a container. Throws `no_such_container` when there is none of that name (the
Container method `stop()` does not).
```rhai
nerdctl_stop("web");
```"#,
        move |c: &str| on_engine(&h, |e| ops::stop(&h, e, c, None, false)),
    );
    let h = host.clone();
    r.func(
        "nerdctl_remove",
        &["container"],
        r#"Remove a container (forcefully); a missing one is fine.
```rhai
nerdctl_remove("web");
```"#,
        move |c: &str| on_engine(&h, |e| ops::remove(&h, e, c)),
    );
    let h = host.clone();
    r.func(
        "nerdctl_list",
        &["all"],
        r#"`ps` output as a CommandResult (all containers when `all`).
```rhai
print(nerdctl_list(true).stdout);
```"#,
        move |all: bool| on_engine(&h, |e| ops::list_raw(&h, e, all)),
    );
    let h = host.clone();
    r.func(
        "nerdctl_logs",
        &["container"],
        r#"A container's logs as a CommandResult.
```rhai
print(nerdctl_logs("web").stdout);
```"#,
        move |c: &str| on_engine(&h, |e| ops::logs(&h, e, c, false)),
    );
    let h = host.clone();
    r.func(
        "nerdctl_container_list",
        &["all"],
        r#"Containers as maps: `id`, `name`, `image`, `state`, `status`, `ports`.
```rhai
for c in nerdctl_container_list(true) { print(`${c.name}: ${c.state}`); }
```"#,
        move |all: bool| -> RResult<Array> {
            to_rhai(&on_engine(&h, |e| ops::container_list(&h, e, all))?)
        },
    );
    let h = host.clone();
    r.func(
        "nerdctl_cleanup",
        &["label_or_prefix"],
        r#"Remove every container with the label `key=value`, or whose name starts with the prefix;
returns the names removed. (Everything herodo creates carries `io.herodo.owner=<owner tag>`;
`herodo clean` removes what dead herodo runs left behind.)
```rhai
nerdctl_cleanup("app=demo");
nerdctl_cleanup("test-");
```"#,
        move |w: &str| -> RResult<Array> { to_rhai(&on_engine(&h, |e| ops::cleanup(&h, e, w))?) },
    );
}

fn register_images(r: &mut Registrar, host: &Arc<Host>) {
    let h = host.clone();
    r.func(
        "nerdctl_images",
        &[],
        r#"`images` output as a CommandResult.
```rhai
print(nerdctl_images().stdout);
```"#,
        move || on_engine(&h, |e| ops::images_raw(&h, e)),
    );
    let h = host.clone();
    r.func(
        "nerdctl_image_list",
        &[],
        r#"Images as maps: `id`, `repository`, `tag`, `size`, `created`.
```rhai
for i in nerdctl_image_list() { print(`${i.repository}:${i.tag}`); }
```"#,
        move || -> RResult<Array> { to_rhai(&on_engine(&h, |e| ops::image_list(&h, e))?) },
    );
    let h = host.clone();
    r.func(
        "nerdctl_image_remove",
        &["image"],
        r#"Remove an image.
```rhai
nerdctl_image_remove("localhost/web:old");
```"#,
        move |i: &str| on_engine(&h, |e| ops::image_remove(&h, e, i)),
    );
    let h = host.clone();
    r.func(
        "nerdctl_image_push",
        &["image", "destination"],
        r#"Push `image` to `destination` (tagged first when the names differ). Registries on
127.0.0.1/localhost are used over plain HTTP.
```rhai
nerdctl_image_push("localhost/web:1", "127.0.0.1:5000/web:1");
```"#,
        move |i: &str, d: &str| on_engine(&h, |e| ops::image_push(&h, e, i, d)),
    );
    let h = host.clone();
    r.func(
        "nerdctl_image_tag",
        &["image", "new_name"],
        r#"Tag an image with another name. Under `herodo test` the new name is removed after the
test, unless it existed before (then it is not herodo's to remove).
```rhai
nerdctl_image_tag("localhost/web:1", "localhost/web:latest");
```"#,
        move |i: &str, n: &str| on_engine(&h, |e| ops::image_tag(&h, e, i, n)),
    );
    let h = host.clone();
    r.func(
        "nerdctl_image_pull",
        &["image"],
        r#"Pull an image (use fully qualified names; 127.0.0.1 registries over plain HTTP).
```rhai
nerdctl_image_pull("127.0.0.1:5000/web:1");
```"#,
        move |i: &str| on_engine(&h, |e| ops::image_pull(&h, e, i)),
    );
    let h = host.clone();
    r.func(
        "nerdctl_image_commit",
        &["container", "image"],
        r#"Save a container as an image.
```rhai
nerdctl_image_commit("web", "localhost/web:snapshot");
```"#,
        move |c: &str, i: &str| on_engine(&h, |e| ops::commit(&h, e, c, i)),
    );
    let h = host.clone();
    r.func(
        "nerdctl_image_build",
        &["tag", "context"],
        r#"Build an image from the Dockerfile/Containerfile in `context`.
```rhai
nerdctl_image_build("localhost/app:dev", "./app");
```"#,
        move |t: &str, c: &str| on_engine(&h, |e| ops::image_build(&h, e, t, c)),
    );
}

/// `(name, doc)` of the create/remove/list functions, for networks and for volumes.
struct NamedDocs {
    what: Object,
    create: (&'static str, &'static str),
    create_with: (&'static str, &'static str),
    remove: (&'static str, &'static str),
    list: (&'static str, &'static str),
}

const NAMED: [NamedDocs; 2] = [
    NamedDocs {
        what: Object::Network,
        create: (
            "nerdctl_network_create",
            r#"Create a network with the default driver (labelled with herodo's owner tag). Throws
`already_exists` when the name is taken.
```rhai
nerdctl_network_create("appnet");
```"#,
        ),
        create_with: (
            "nerdctl_network_create",
            r#"Create a network; options `driver` and `subnet` (CIDR).
```rhai
nerdctl_network_create("appnet", #{driver: "bridge", subnet: "10.89.7.0/24"});
```"#,
        ),
        remove: (
            "nerdctl_network_remove",
            r#"Remove a network; a missing one is fine.
```rhai
nerdctl_network_remove("appnet");
```"#,
        ),
        list: (
            "nerdctl_network_list",
            r#"Networks as maps with `name` and `driver`.
```rhai
for n in nerdctl_network_list() { print(n.name); }
```"#,
        ),
    },
    NamedDocs {
        what: Object::Volume,
        create: (
            "nerdctl_volume_create",
            r#"Create a named volume (labelled with herodo's owner tag). Throws `already_exists` when
the name is taken, on every engine.
```rhai
nerdctl_volume_create("data");
```"#,
        ),
        create_with: (
            "nerdctl_volume_create",
            r#"Create a named volume; option `driver`.
```rhai
nerdctl_volume_create("data", #{driver: "local"});
```"#,
        ),
        remove: (
            "nerdctl_volume_remove",
            r#"Remove a volume; a missing one is fine.
```rhai
nerdctl_volume_remove("data");
```"#,
        ),
        list: (
            "nerdctl_volume_list",
            r#"Volumes as maps with `name` and `driver`.
```rhai
for v in nerdctl_volume_list() { print(v.name); }
```"#,
        ),
    },
];

fn register_networks_and_volumes(r: &mut Registrar, host: &Arc<Host>) {
    for d in NAMED {
        let what = d.what;
        let h = host.clone();
        r.func(d.create.0, &["name"], d.create.1, move |n: &str| {
            on_engine(&h, |e| {
                ops::create(&h, e, what, n, &CreateOptions::default())
            })
        });
        let h = host.clone();
        r.func(
            d.create_with.0,
            &["name", "options"],
            d.create_with.1,
            move |n: &str, o: Map| {
                let opts = create_options(what, &o)?;
                on_engine(&h, |e| ops::create(&h, e, what, n, &opts))
            },
        );
        let h = host.clone();
        r.func(d.remove.0, &["name"], d.remove.1, move |n: &str| {
            on_engine(&h, |e| ops::remove_named(&h, e, what, n))
        });
        let h = host.clone();
        r.func(d.list.0, &[], d.list.1, move || -> RResult<Array> {
            to_rhai(&on_engine(&h, |e| ops::list_named(&h, e, what))?)
        });
    }
}
