//! qcow2 disks through qemu-img: pure argv builders, parsing of `qemu-img info/check
//! --output=json`, and the operations that run them.
//!
//! Every operation that makes a file (create, overlay, convert) writes it under a temporary
//! name next to the target and links it into place only once qemu-img succeeded, so a failure
//! (or a kill) never leaves a half-written disk under the name a script asked for, and an
//! existing file is never overwritten. qemu-img's stderr decides the error kind: a held write
//! lock is `locked`, a file of another format `not_qcow2`, a missing file `not_found`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::{Result, VmError};
use crate::exec::{Cmd, ExecError};
use crate::host::Host;

pub const QEMU_IMG: &str = "qemu-img";
/// qemu-img metadata operations take milliseconds; a stuck NFS mount must not hang a script.
const META_TIMEOUT: Duration = Duration::from_secs(300);
/// Converting copies every allocated byte.
const CONVERT_TIMEOUT: Duration = Duration::from_secs(3600);
/// The largest disk qcow2_create and qcow2_resize accept, in GiB (qcow2's own limit is 64 TiB).
pub const MAX_SIZE_GB: i64 = 64 * 1024;
const GIB: u64 = 1024 * 1024 * 1024;
/// Formats `qcow2_convert` writes.
pub const FORMATS: [&str; 6] = ["qcow2", "raw", "vmdk", "vdi", "vhdx", "vpc"];

/// A snapshot inside a qcow2 image (the original herodo's keys, plus a readable `date`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Snapshot {
    pub id: String,
    pub name: String,
    pub vm_state_size: i64,
    pub date_sec: i64,
    pub date_nsec: i64,
    pub vm_clock_sec: i64,
    pub vm_clock_nsec: i64,
    /// `date_sec` as `YYYY-MM-DD HH:MM:SS` (UTC).
    pub date: String,
}

/// What `qcow2_info` returns (snake_case keys; sizes in bytes).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Info {
    pub filename: String,
    pub format: String,
    pub virtual_size: i64,
    pub actual_size: i64,
    pub cluster_size: Option<i64>,
    pub backing_file: Option<String>,
    pub backing_format: Option<String>,
    pub dirty: bool,
    pub corrupt: bool,
    pub snapshots: Vec<Snapshot>,
}

/// What `qcow2_check` returns: `ok` is true when no corruption, leak or check error was found.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Check {
    pub ok: bool,
    pub filename: String,
    pub check_errors: i64,
    pub corruptions: i64,
    pub leaks: i64,
    pub corruptions_fixed: i64,
    pub leaks_fixed: i64,
    pub allocated_clusters: i64,
    pub total_clusters: i64,
    pub image_end_offset: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawSnapshot {
    id: String,
    name: String,
    #[serde(default)]
    vm_state_size: i64,
    #[serde(default)]
    date_sec: i64,
    #[serde(default)]
    date_nsec: i64,
    #[serde(default)]
    vm_clock_sec: i64,
    #[serde(default)]
    vm_clock_nsec: i64,
}

#[derive(Deserialize)]
struct RawSpecificData {
    #[serde(default)]
    corrupt: bool,
}

#[derive(Deserialize)]
struct RawSpecific {
    data: Option<RawSpecificData>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawInfo {
    filename: String,
    format: String,
    virtual_size: i64,
    #[serde(default)]
    actual_size: i64,
    cluster_size: Option<i64>,
    backing_filename: Option<String>,
    backing_filename_format: Option<String>,
    #[serde(default)]
    dirty_flag: bool,
    format_specific: Option<RawSpecific>,
    #[serde(default)]
    snapshots: Vec<RawSnapshot>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawCheck {
    filename: String,
    #[serde(default)]
    check_errors: i64,
    #[serde(default)]
    corruptions: i64,
    #[serde(default)]
    leaks: i64,
    #[serde(default)]
    corruptions_fixed: i64,
    #[serde(default)]
    leaks_fixed: i64,
    #[serde(default)]
    allocated_clusters: i64,
    #[serde(default)]
    total_clusters: i64,
    #[serde(default)]
    image_end_offset: i64,
}

/// `qemu-img info --output=json` into [`Info`].
pub fn parse_info(json: &str) -> Result<Info> {
    let raw: RawInfo =
        serde_json::from_str(json).map_err(|e| VmError::parse("qemu-img info output", e))?;
    Ok(Info {
        filename: raw.filename,
        format: raw.format,
        virtual_size: raw.virtual_size,
        actual_size: raw.actual_size,
        cluster_size: raw.cluster_size,
        backing_file: raw.backing_filename,
        backing_format: raw.backing_filename_format,
        dirty: raw.dirty_flag,
        corrupt: raw
            .format_specific
            .and_then(|s| s.data)
            .is_some_and(|d| d.corrupt),
        snapshots: raw
            .snapshots
            .into_iter()
            .map(|s| Snapshot {
                date: utc_date(s.date_sec),
                id: s.id,
                name: s.name,
                vm_state_size: s.vm_state_size,
                date_sec: s.date_sec,
                date_nsec: s.date_nsec,
                vm_clock_sec: s.vm_clock_sec,
                vm_clock_nsec: s.vm_clock_nsec,
            })
            .collect(),
    })
}

/// `qemu-img check --output=json` into [`Check`].
pub fn parse_check(json: &str) -> Result<Check> {
    let raw: RawCheck =
        serde_json::from_str(json).map_err(|e| VmError::parse("qemu-img check output", e))?;
    Ok(Check {
        ok: raw.check_errors == 0 && raw.corruptions == 0 && raw.leaks == 0,
        filename: raw.filename,
        check_errors: raw.check_errors,
        corruptions: raw.corruptions,
        leaks: raw.leaks,
        corruptions_fixed: raw.corruptions_fixed,
        leaks_fixed: raw.leaks_fixed,
        allocated_clusters: raw.allocated_clusters,
        total_clusters: raw.total_clusters,
        image_end_offset: raw.image_end_offset,
    })
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS` in UTC (Howard Hinnant's civil-from-days).
pub fn utc_date(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The snapshot names in a qcow2 file's own snapshot table, read straight from the file (the
/// duplicate check of `snapshot_create` then costs microseconds, not a second qemu-img run).
/// `None` when the file is no qcow2 (version 2 or 3) this can read; the caller asks qemu-img.
pub fn header_snapshot_names(path: &Path) -> Option<Vec<String>> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(path).ok()?;
    let mut h = [0u8; 72];
    f.read_exact_at(&mut h, 0).ok()?;
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let be16 = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    if &h[0..4] != b"QFI\xfb" || !(2..=3).contains(&be32(&h[4..8])) {
        return None;
    }
    let count = be32(&h[60..64]);
    let mut off = u64::from_be_bytes(h[64..72].try_into().ok()?);
    // qcow2 allows at most 65536 snapshots.
    if count > 65536 {
        return None;
    }
    let mut names = Vec::with_capacity(count as usize);
    for _ in 0..count {
        // l1 offset (8), l1 size (4), id length (2), name length (2), date (8), vm clock (8),
        // vm state size (4), extra data length (4); then extra data, id, name, padding to 8.
        let mut e = [0u8; 40];
        f.read_exact_at(&mut e, off).ok()?;
        let id_len = u64::from(be16(&e[12..14]));
        let name_len = be16(&e[14..16]);
        let extra = u64::from(be32(&e[36..40]));
        let mut name = vec![0u8; usize::from(name_len)];
        f.read_exact_at(&mut name, off + 40 + extra + id_len).ok()?;
        names.push(String::from_utf8(name).ok()?);
        let len = 40 + extra + id_len + u64::from(name_len);
        off += len.div_ceil(8) * 8;
    }
    Some(names)
}

/// A path as qemu-img gets it: a relative path starts with `./`, so neither a leading `-` (an
/// option) nor a `proto:` prefix (`nbd:`, `json:{...}`, a protocol instead of a file) can
/// change what qemu-img opens.
pub fn arg_path(path: &str) -> String {
    if path.starts_with('/') || path.starts_with("./") {
        path.to_string()
    } else {
        format!("./{path}")
    }
}

/// A path a script gave: not empty, no NUL, no newline.
pub fn check_path(field: &str, path: &str) -> Result<()> {
    if path.is_empty() {
        return Err(VmError::invalid(field, "is empty"));
    }
    if path.contains(['\0', '\n']) {
        return Err(VmError::invalid(
            field,
            "must not contain NUL or newline characters",
        ));
    }
    Ok(())
}

/// A size in GiB as bytes: 1..=MAX_SIZE_GB.
pub fn size_bytes(size_gb: i64) -> Result<u64> {
    let gb = crate::common::convert::int_in("size_gb", size_gb, 1, MAX_SIZE_GB)?;
    Ok(gb as u64 * GIB)
}

/// A snapshot name: the shared name rule (letters, digits, `_`, `.`, `-`; a letter or digit
/// first) and not all digits (qemu-img would take it for a snapshot id).
pub fn snapshot_name(name: &str) -> Result<()> {
    crate::common::validate::name("name", name)?;
    if name.chars().all(|c| c.is_ascii_digit()) {
        return Err(VmError::invalid(
            "name",
            format!("`{name}` is all digits: qemu-img would read it as a snapshot id"),
        ));
    }
    Ok(())
}

fn qemu_img(args: &[&str]) -> Cmd {
    Cmd::new(QEMU_IMG)
        .args(args.iter().copied())
        .timeout(META_TIMEOUT)
}

pub fn create_argv(path: &str, bytes: u64) -> Cmd {
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        &arg_path(path),
        &bytes.to_string(),
    ])
}

/// `-U` (force share): reading the metadata works also while a running VM holds the lock.
pub fn info_argv(path: &str) -> Cmd {
    qemu_img(&["info", "-U", "--output=json", &arg_path(path)])
}

pub fn snapshot_create_argv(path: &str, name: &str) -> Cmd {
    qemu_img(&["snapshot", "-f", "qcow2", "-c", name, &arg_path(path)])
}

pub fn snapshot_delete_argv(path: &str, name: &str) -> Cmd {
    qemu_img(&["snapshot", "-f", "qcow2", "-d", name, &arg_path(path)])
}

pub fn snapshot_apply_argv(path: &str, name: &str) -> Cmd {
    qemu_img(&["snapshot", "-f", "qcow2", "-a", name, &arg_path(path)])
}

pub fn resize_argv(path: &str, bytes: u64) -> Cmd {
    qemu_img(&[
        "resize",
        "-q",
        "-f",
        "qcow2",
        &arg_path(path),
        &bytes.to_string(),
    ])
}

pub fn convert_argv(src: &str, dst: &str, format: &str) -> Cmd {
    qemu_img(&["convert", "-O", format, &arg_path(src), &arg_path(dst)])
}

pub fn overlay_argv(base: &str, base_format: &str, path: &str) -> Cmd {
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-b",
        base,
        "-F",
        base_format,
        &arg_path(path),
    ])
}

pub fn check_argv(path: &str) -> Cmd {
    qemu_img(&["check", "-f", "qcow2", "--output=json", &arg_path(path)])
}

/// The error a failed qemu-img run on `path` means, from its stderr.
pub fn classify(path: &str, err: ExecError) -> VmError {
    let stderr = match &err {
        ExecError::Failed { stderr, .. } => stderr.clone(),
        ExecError::NotFound { program } => {
            return VmError::MissingTool {
                tool: program.clone(),
                hint: "install qemu-utils".into(),
            }
        }
        _ => return err.into(),
    };
    if stderr.contains("\" lock") && stderr.contains("Failed to get") {
        VmError::Locked {
            path: path.to_string(),
            source: Box::new(err),
        }
    } else if stderr.contains("not in qcow2 format") {
        VmError::NotQcow2 {
            path: path.to_string(),
            source: Box::new(err),
        }
    } else if stderr.contains("snapshot not found") {
        VmError::NotFound {
            what: "snapshot",
            path: path.to_string(),
            source: Some(Box::new(err)),
        }
    } else if stderr.contains("No such file or directory") {
        VmError::NotFound {
            what: "file",
            path: path.to_string(),
            source: Some(Box::new(err)),
        }
    } else if stderr.contains("--shrink") {
        VmError::invalid(
            "size_gb",
            "is smaller than the image: shrinking would lose data and is refused",
        )
    } else {
        err.into()
    }
}

/// Run a qemu-img command about `path`; a failure becomes its classified error.
fn run(host: &Host, cmd: Cmd, path: &str) -> Result<String> {
    let out = host.exec(cmd.clone()).map_err(|e| classify(path, e))?;
    if out.success() {
        Ok(out.stdout)
    } else {
        Err(classify(path, ExecError::failed(&cmd, &out)))
    }
}

/// Where a new file is written before it takes its name: `.NAME.herodo-PID.tmp` beside it.
fn staging(path: &Path) -> Result<PathBuf> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| VmError::invalid("path", format!("{} names no file", path.display())))?;
    let tmp = format!(".{name}.herodo-{}.tmp", std::process::id());
    Ok(path.with_file_name(tmp))
}

/// Run `make` to write `staged`, then give it the name `path` (never replacing a file that
/// appeared meanwhile). Whatever failed, nothing is left under either name.
fn create_file(
    host: &Host,
    path: &str,
    make: impl FnOnce(&str) -> Cmd,
    classify_as: &str,
) -> Result<()> {
    check_path("path", path)?;
    let target = Path::new(path);
    if target.symlink_metadata().is_ok() {
        return Err(VmError::AlreadyExists {
            path: path.to_string(),
        });
    }
    if host.settings.dry_run {
        host.exec(make(path))?;
        return Ok(());
    }
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| VmError::io("create", dir, e))?;
    }
    let staged = staging(target)?;
    let staged_s = staged.display().to_string();
    let _ = std::fs::remove_file(&staged);
    let res = run(host, make(&staged_s), classify_as).and_then(|_| {
        // A hard link fails when the target exists: no race overwrites a file.
        std::fs::hard_link(&staged, target).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                VmError::AlreadyExists {
                    path: path.to_string(),
                }
            } else {
                VmError::io("link", target, e)
            }
        })
    });
    let _ = std::fs::remove_file(&staged);
    res
}

/// Create a qcow2 disk of `size_gb` GiB (sparse). Refuses to overwrite.
pub fn create(host: &Host, path: &str, size_gb: i64) -> Result<String> {
    let bytes = size_bytes(size_gb)?;
    create_file(host, path, |p| create_argv(p, bytes), path)?;
    Ok(path.to_string())
}

/// The metadata of an image (any format qemu-img reads), also while a VM holds it.
pub fn info(host: &Host, path: &str) -> Result<Info> {
    check_path("path", path)?;
    if host.settings.dry_run {
        host.exec(info_argv(path))?;
        return Ok(Info {
            filename: path.to_string(),
            ..Info::default()
        });
    }
    parse_info(&run(host, info_argv(path), path)?)
}

pub fn snapshot_list(host: &Host, path: &str) -> Result<Vec<Snapshot>> {
    Ok(info(host, path)?.snapshots)
}

/// Take an internal snapshot. A name that exists already is refused (qemu-img would add a
/// second snapshot of the same name, and deleting by name would then be ambiguous).
pub fn snapshot_create(host: &Host, path: &str, name: &str) -> Result<()> {
    check_path("path", path)?;
    snapshot_name(name)?;
    let names = match header_snapshot_names(Path::new(path)) {
        Some(n) => n,
        None => snapshot_list(host, path)?
            .into_iter()
            .map(|s| s.name)
            .collect(),
    };
    if names.iter().any(|n| n == name) {
        return Err(VmError::AlreadyExists {
            path: format!("{path}: snapshot {name}"),
        });
    }
    run(host, snapshot_create_argv(path, name), path).map(|_| ())
}

pub fn snapshot_delete(host: &Host, path: &str, name: &str) -> Result<()> {
    check_path("path", path)?;
    snapshot_name(name)?;
    run(host, snapshot_delete_argv(path, name), path).map(|_| ())
}

/// Revert an image to its internal snapshot `name` (what `vm_restore` does to a VM's disks).
pub fn snapshot_apply(host: &Host, path: &str, name: &str) -> Result<()> {
    check_path("path", path)?;
    run(host, snapshot_apply_argv(path, name), path).map(|_| ())
}

/// Grow an image to `size_gb` GiB (shrinking is refused).
pub fn resize(host: &Host, path: &str, size_gb: i64) -> Result<()> {
    check_path("path", path)?;
    let bytes = size_bytes(size_gb)?;
    run(host, resize_argv(path, bytes), path).map(|_| ())
}

/// Convert `src` (any format) into a new file `dst` of `format`.
pub fn convert(host: &Host, src: &str, dst: &str, format: &str) -> Result<String> {
    check_path("src", src)?;
    if !FORMATS.contains(&format) {
        return Err(VmError::invalid(
            "format",
            format!("`{format}` is not one of {}", FORMATS.join(", ")),
        ));
    }
    if !host.settings.dry_run && Path::new(src).symlink_metadata().is_err() {
        return Err(VmError::missing("file", src));
    }
    let cmd = |d: &str| convert_argv(src, d, format).timeout(CONVERT_TIMEOUT);
    create_file(host, dst, cmd, src)?;
    Ok(dst.to_string())
}

/// A new qcow2 `path` whose reads fall through to `base` (copy on write). The overlay records
/// `base` by its absolute path, so it works from any directory.
pub fn overlay(host: &Host, base: &str, path: &str) -> Result<String> {
    check_path("base", base)?;
    let base_abs = std::fs::canonicalize(base).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            VmError::missing("base image", base)
        } else {
            VmError::io("resolve", base, e)
        }
    })?;
    let base_abs = base_abs.display().to_string();
    let format = if host.settings.dry_run {
        "qcow2".to_string()
    } else {
        info(host, &base_abs)?.format
    };
    create_file(host, path, |p| overlay_argv(&base_abs, &format, p), base)?;
    Ok(path.to_string())
}

/// Check a qcow2 image's consistency. Leaks and corruptions are reported in the result (exit
/// codes 2 and 3 of qemu-img check), not thrown.
pub fn check(host: &Host, path: &str) -> Result<Check> {
    check_path("path", path)?;
    let cmd = check_argv(path);
    let out = host.exec(cmd.clone()).map_err(|e| classify(path, e))?;
    if host.settings.dry_run {
        return Ok(Check {
            ok: true,
            filename: path.to_string(),
            ..Check::default()
        });
    }
    match out.status.code() {
        0 | 2 | 3 => parse_check(&out.stdout),
        _ => Err(classify(path, ExecError::failed(&cmd, &out))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/vm")
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn argv(c: Cmd) -> Vec<String> {
        c.argv().iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn argv_table() {
        let g = GIB.to_string();
        let table: Vec<(Cmd, Vec<&str>)> = vec![
            (
                create_argv("d/a.qcow2", GIB),
                vec!["qemu-img", "create", "-q", "-f", "qcow2", "./d/a.qcow2", &g],
            ),
            (
                info_argv("/x/a.qcow2"),
                vec!["qemu-img", "info", "-U", "--output=json", "/x/a.qcow2"],
            ),
            (
                snapshot_create_argv("a", "s1"),
                vec!["qemu-img", "snapshot", "-f", "qcow2", "-c", "s1", "./a"],
            ),
            (
                snapshot_delete_argv("a", "s1"),
                vec!["qemu-img", "snapshot", "-f", "qcow2", "-d", "s1", "./a"],
            ),
            (
                snapshot_apply_argv("/a", "herodo-1"),
                vec![
                    "qemu-img", "snapshot", "-f", "qcow2", "-a", "herodo-1", "/a",
                ],
            ),
            (
                resize_argv("-a", 2 * GIB),
                vec![
                    "qemu-img",
                    "resize",
                    "-q",
                    "-f",
                    "qcow2",
                    "./-a",
                    "2147483648",
                ],
            ),
            (
                convert_argv("json:{}", "/o.raw", "raw"),
                vec!["qemu-img", "convert", "-O", "raw", "./json:{}", "/o.raw"],
            ),
            (
                overlay_argv("/b/base.qcow2", "qcow2", "o.qcow2"),
                vec![
                    "qemu-img",
                    "create",
                    "-q",
                    "-f",
                    "qcow2",
                    "-b",
                    "/b/base.qcow2",
                    "-F",
                    "qcow2",
                    "./o.qcow2",
                ],
            ),
            (
                check_argv("./a"),
                vec!["qemu-img", "check", "-f", "qcow2", "--output=json", "./a"],
            ),
        ];
        for (cmd, want) in table {
            assert_eq!(argv(cmd), want);
        }
    }

    #[test]
    fn info_of_an_image_with_snapshots() {
        let i = parse_info(&fixture("info_snapshots.json")).unwrap();
        assert_eq!(i.format, "qcow2");
        assert_eq!(i.virtual_size, 1 << 30);
        assert!(i.actual_size > 0);
        assert_eq!(i.cluster_size, Some(65536));
        assert_eq!(i.backing_file, None);
        assert!(!i.dirty && !i.corrupt);
        let names: Vec<&str> = i.snapshots.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["snap1", "before-upgrade"]);
        let s = &i.snapshots[0];
        assert_eq!(s.id, "1");
        assert!(s.date_sec > 1_700_000_000, "{s:?}");
        assert_eq!(s.date, utc_date(s.date_sec));
    }

    #[test]
    fn info_of_an_overlay_and_of_a_raw_file() {
        let o = parse_info(&fixture("info_overlay.json")).unwrap();
        assert_eq!(o.backing_file.as_deref(), Some("/tmp/qi/a.qcow2"));
        assert_eq!(o.backing_format.as_deref(), Some("qcow2"));
        assert!(o.snapshots.is_empty());
        let r = parse_info(&fixture("info_raw.json")).unwrap();
        assert_eq!(r.format, "raw");
        assert_eq!(r.cluster_size, None);
        assert!(!r.corrupt);
        let used = parse_info(&fixture("info_used.json")).unwrap();
        assert_eq!(used.format, "qcow2");
        assert!(parse_info("{\"format\": 1}").is_err());
    }

    #[test]
    fn check_output() {
        let c = parse_check(&fixture("check_clean.json")).unwrap();
        assert!(c.ok);
        assert_eq!(c.total_clusters, 16384);
        assert_eq!(c.leaks, 0);
        let leaky = r#"{"image-end-offset": 1, "total-clusters": 2, "check-errors": 0,
            "leaks": 3, "filename": "x", "format": "qcow2"}"#;
        let c = parse_check(leaky).unwrap();
        assert!(!c.ok);
        assert_eq!(c.leaks, 3);
    }

    #[test]
    fn snapshot_names_from_the_file_itself() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vm");
        // Made by qemu-img 10.0.2: create -o cluster_size=4096, snapshot -c twice.
        assert_eq!(
            header_snapshot_names(&dir.join("two_snapshots.qcow2")),
            Some(vec!["first".to_string(), "before-upgrade".to_string()])
        );
        assert_eq!(header_snapshot_names(&dir.join("info_raw.json")), None);
        assert_eq!(header_snapshot_names(&dir.join("missing.qcow2")), None);
    }

    #[test]
    fn dates_in_utc() {
        assert_eq!(utc_date(0), "1970-01-01 00:00:00");
        assert_eq!(utc_date(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc_date(1_796_586_567), "2026-12-06 19:49:27");
    }

    #[test]
    fn stderr_decides_the_kind() {
        let failed = |stderr: &str| ExecError::Failed {
            cmd: "qemu-img x".into(),
            status: crate::exec::Status::Exited(1),
            stdout: String::new(),
            stderr: stderr.into(),
        };
        let kind = |stderr: &str| {
            use crate::error::Classify;
            classify("a", failed(stderr)).info().kind
        };
        assert_eq!(
            kind("qemu-img: Could not open 'a': Failed to get \"write\" lock\nIs another process using the image [a]?"),
            "locked"
        );
        assert_eq!(
            kind("qemu-img: Could not open 'a': Failed to get shared \"write\" lock"),
            "locked"
        );
        assert_eq!(
            kind("qemu-img: Could not open 'raw.txt': Image is not in qcow2 format"),
            "not_qcow2"
        );
        assert_eq!(
            kind("qemu-img: Could not open 'n': Could not open 'n': No such file or directory"),
            "not_found"
        );
        assert_eq!(
            kind("qemu-img: Could not delete snapshot 'x': snapshot not found"),
            "not_found"
        );
        assert_eq!(
            kind("qemu-img: Use the --shrink option to perform a shrink operation."),
            "invalid_argument"
        );
        assert_eq!(kind("qemu-img: No space left on device"), "command_failed");
        let e = classify(
            "a",
            ExecError::NotFound {
                program: "qemu-img".into(),
            },
        );
        assert!(matches!(e, VmError::MissingTool { .. }));
    }

    #[test]
    fn bad_input_is_refused_before_anything_runs() {
        let (host, rec) = crate::host::recording_host();
        let kind_field = |e: VmError| match e {
            VmError::InvalidArgument { field, .. } => field,
            other => panic!("{other}"),
        };
        assert_eq!(kind_field(create(&host, "a", 0).unwrap_err()), "size_gb");
        assert_eq!(
            kind_field(create(&host, "a", MAX_SIZE_GB + 1).unwrap_err()),
            "size_gb"
        );
        assert_eq!(kind_field(create(&host, "", 1).unwrap_err()), "path");
        assert_eq!(
            kind_field(snapshot_create(&host, "a", "-x").unwrap_err()),
            "name"
        );
        assert_eq!(
            kind_field(snapshot_delete(&host, "a", "12").unwrap_err()),
            "name"
        );
        assert_eq!(
            kind_field(convert(&host, "a", "b", "iso").unwrap_err()),
            "format"
        );
        assert!(rec.calls().is_empty());
        assert!(snapshot_name("before-upgrade.1").is_ok());
    }
}
