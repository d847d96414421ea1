//! Rhai glue for qcow2 disks and virtual machines.

use std::sync::Arc;

use rhai::{Array, Map, INT};

use super::qcow2;
use crate::glue::{to_rhai, IntoRhai, RResult, Registrar};
use crate::host::Host;

pub fn register(r: &mut Registrar, host: &Arc<Host>) {
    register_qcow2(r, host);
}

fn register_qcow2(r: &mut Registrar, host: &Arc<Host>) {
    let h = host.clone();
    r.func(
        "qcow2_create",
        &["path", "size_gb"],
        r#"Create a sparse qcow2 disk of `size_gb` GiB (parent directories are created) and
return its path. Never overwrites: throws `already_exists` when `path` exists,
`invalid_argument` for a size outside 1..=65536, `command_failed` when qemu-img fails (no
file is left then).
```rhai
let disk = qcow2_create("/var/lib/vms/web.qcow2", 10);
```"#,
        move |path: &str, size_gb: INT| -> RResult<String> {
            qcow2::create(&h, path, size_gb).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "qcow2_info",
        &["path"],
        r#"An image's metadata: `format`, `virtual_size` and `actual_size` (bytes), `filename`,
`cluster_size` (or `()`), `backing_file` and `backing_format` (or `()`), `dirty`, `corrupt`,
`snapshots` (see `qcow2_snapshot_list`). Works on any format qemu-img reads, and also while a
running VM holds the image. Throws `not_found`.
```rhai
let i = qcow2_info(disk);
print(`${i.format}: ${i.virtual_size / 1024 / 1024 / 1024} GiB`);
```"#,
        move |path: &str| -> RResult<Map> { to_rhai(&qcow2::info(&h, path).rhai()?) },
    );
    let h = host.clone();
    r.func(
        "qcow2_snapshot_create",
        &["path", "name"],
        r#"Take an internal snapshot `name` of a qcow2 image (not while a VM runs on it).
Throws `already_exists` for a name in use, `locked` while a VM holds the image,
`not_qcow2`, `not_found`, `invalid_argument` for a bad name.
```rhai
qcow2_snapshot_create(disk, "before-upgrade");
```"#,
        move |path: &str, name: &str| -> RResult<()> {
            qcow2::snapshot_create(&h, path, name).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "qcow2_snapshot_delete",
        &["path", "name"],
        r#"Delete the internal snapshot `name`. Throws `not_found` when there is none,
`locked`, `not_qcow2`.
```rhai
qcow2_snapshot_delete(disk, "before-upgrade");
```"#,
        move |path: &str, name: &str| -> RResult<()> {
            qcow2::snapshot_delete(&h, path, name).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "qcow2_snapshot_list",
        &["path"],
        r#"The internal snapshots, oldest first: maps with `id`, `name`, `vm_state_size`,
`date_sec`, `date_nsec`, `vm_clock_sec`, `vm_clock_nsec` and `date` ("YYYY-MM-DD HH:MM:SS",
UTC). Throws `not_found`.
```rhai
for s in qcow2_snapshot_list(disk) { print(`${s.name} ${s.date}`); }
```"#,
        move |path: &str| -> RResult<Array> { to_rhai(&qcow2::snapshot_list(&h, path).rhai()?) },
    );
    let h = host.clone();
    r.func(
        "qcow2_resize",
        &["path", "size_gb"],
        r#"Grow a qcow2 image to `size_gb` GiB. Shrinking is refused (`invalid_argument`: it
would lose data). Throws `locked`, `not_qcow2`, `not_found`.
```rhai
qcow2_resize(disk, 20);
```"#,
        move |path: &str, size_gb: INT| -> RResult<()> { qcow2::resize(&h, path, size_gb).rhai() },
    );
    let h = host.clone();
    r.func(
        "qcow2_convert",
        &["src", "dst", "format"],
        r#"Convert `src` (any format) into a new file `dst` of `format` ("qcow2", "raw",
"vmdk", "vdi", "vhdx", "vpc"); returns `dst`. Never overwrites (`already_exists`); a failed
conversion leaves no `dst`. Throws `not_found`, `locked` (a running VM writes `src`).
```rhai
qcow2_convert(disk, "/tmp/web.raw", "raw");
```"#,
        move |src: &str, dst: &str, format: &str| -> RResult<String> {
            qcow2::convert(&h, src, dst, format).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "qcow2_overlay",
        &["base", "path"],
        r#"Create a qcow2 overlay `path` backed by `base` (copy on write: `base` stays as it
is, writes go to `path`); returns `path`. The overlay names `base` by its absolute path.
Throws `not_found` (no base), `already_exists`.
```rhai
let vm_disk = qcow2_overlay("/var/lib/vms/base.qcow2", "/var/lib/vms/web.qcow2");
```"#,
        move |base: &str, path: &str| -> RResult<String> { qcow2::overlay(&h, base, path).rhai() },
    );
    let h = host.clone();
    r.func(
        "qcow2_check",
        &["path"],
        r#"Check a qcow2 image's consistency: a map with `ok`, `check_errors`, `corruptions`,
`leaks`, `corruptions_fixed`, `leaks_fixed`, `allocated_clusters`, `total_clusters`,
`image_end_offset`, `filename`. Problems found are in the map, not thrown; throws `locked`,
`not_qcow2`, `not_found`.
```rhai
if !qcow2_check(disk).ok { print("disk needs repair"); }
```"#,
        move |path: &str| -> RResult<Map> { to_rhai(&qcow2::check(&h, path).rhai()?) },
    );
}
