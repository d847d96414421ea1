//! Images, fetched without a daemon and unpacked once per image into a read-only cache.
//!
//! A reference is resolved to a source skopeo understands (a registry, podman's and buildah's
//! containers-storage, an OCI layout directory); skopeo copies it into an OCI layout, umoci
//! unpacks the layers (whiteouts included) into `images/<id>/rootfs`, where `id` is the
//! digest of the image's config (the same image from two sources is unpacked once). The
//! reference -> id index lets a later `container_new` of a known reference run no tool at all.
//!
//! Containers never write into the cache: each gets its own writable layer (see rootfs.rs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::{PodError, Result};
use super::spec::PullPolicy;
use super::store::Paths;
use crate::common::flock::FileLock;
use crate::common::state;
use crate::common::time::timestamp;
use crate::exec::{Cmd, ExecError};
use crate::host::Host;

/// How long fetching or unpacking one image may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(1800);
/// How long we wait for another herodo to finish updating the image index.
const LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// The seed's built-in image types and the public references they stand for.
pub const BUILTIN: [(&str, &str); 3] = [
    ("alpine_3_20", "docker.io/library/alpine:3.20"),
    ("ubuntu_24_04", "docker.io/library/ubuntu:24.04"),
    ("ubuntu_25_04", "docker.io/library/ubuntu:25.04"),
];

/// Where an image comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A registry (`docker://`); plain HTTP for registries on this host.
    Registry { reference: String, insecure: bool },
    /// The local containers-storage of podman and buildah.
    Storage { reference: String },
    /// An OCI image layout directory, optionally a tag in it.
    Layout { dir: String, tag: Option<String> },
}

impl Source {
    /// Parse what a script wrote as `image` (or `docker_url`, which is always a registry).
    ///
    /// * `alpine_3_20`, `ubuntu_24_04`, `ubuntu_25_04`: the seed's built-in types;
    /// * `docker://REF`, `containers-storage:REF`, `oci:DIR[:TAG]`: explicit transports;
    /// * `/a/dir`: an OCI layout directory;
    /// * `localhost/NAME[:TAG]`: an image podman or buildah built (containers-storage);
    /// * any other reference: a registry (`127.0.0.1:5000/busybox:test`).
    pub fn parse(image: &str) -> Result<Source> {
        if let Some((_, r)) = BUILTIN.iter().find(|(n, _)| *n == image) {
            return Ok(Source::Registry {
                reference: (*r).to_string(),
                insecure: false,
            });
        }
        if let Some(r) = image.strip_prefix("docker://") {
            return Self::registry(r);
        }
        if let Some(r) = image.strip_prefix("containers-storage:") {
            return Ok(Source::Storage {
                reference: normalize(r)?,
            });
        }
        if let Some(rest) = image.strip_prefix("oci:") {
            let (dir, tag) = match rest.split_once(':') {
                Some((d, t)) => (d, Some(t)),
                None => (rest, None),
            };
            return Self::layout(dir, tag);
        }
        if image.starts_with('/') {
            return Self::layout(image, None);
        }
        let reference = normalize(image)?;
        if reference.starts_with("localhost/") {
            return Ok(Source::Storage { reference });
        }
        Self::registry(image)
    }

    /// A registry reference (what `docker_url` holds).
    pub fn registry(r: &str) -> Result<Source> {
        let reference = normalize(r)?;
        let host = reference.split('/').next().unwrap_or_default();
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        let insecure = matches!(host, "127.0.0.1" | "localhost" | "[::1]");
        Ok(Source::Registry {
            reference,
            insecure,
        })
    }

    fn layout(dir: &str, tag: Option<&str>) -> Result<Source> {
        super::spec::abs_path("image", dir)?;
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(PodError::invalid(
                    "image",
                    format!("{t:?} is not a valid tag"),
                ));
            }
        }
        Ok(Source::Layout {
            dir: dir.trim_end_matches('/').to_string(),
            tag: tag.map(str::to_string),
        })
    }

    /// The image as skopeo names it; also the key of the reference index.
    pub fn transport(&self) -> String {
        match self {
            Source::Registry { reference, .. } => format!("docker://{reference}"),
            Source::Storage { reference } => format!("containers-storage:{reference}"),
            Source::Layout { dir, tag: Some(t) } => format!("oci:{dir}:{t}"),
            Source::Layout { dir, tag: None } => format!("oci:{dir}"),
        }
    }
}

fn valid_tag(t: &str) -> bool {
    let mut cs = t.chars();
    cs.next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && t.len() <= 128
        && cs.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn valid_component(c: &str) -> bool {
    // [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
    if c.is_empty() || c.len() > 255 {
        return false;
    }
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.chars().all(|x| x == '-');
        if !ok {
            return false;
        }
    }
    true
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || p.len() > 5 || !p.chars().all(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|part| {
            !part.is_empty()
                && !part.starts_with('-')
                && !part.ends_with('-')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Check an image reference by the distribution grammar and complete it: a registry domain
/// (`docker.io` when none is given) and a tag (`latest` when neither tag nor digest is given).
pub fn normalize(r: &str) -> Result<String> {
    let bad = |why: &str| {
        PodError::invalid(
            "image",
            format!("{r:?} is not a valid image reference: {why}"),
        )
    };
    if r.is_empty() {
        return Err(bad("empty"));
    }
    if r.len() > 512
        || r.chars()
            .any(|c| c.is_whitespace() || c.is_control() || !c.is_ascii())
    {
        return Err(bad("only printable ASCII without spaces is allowed"));
    }
    let (rest, digest) = match r.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (r, None),
    };
    if let Some(d) = digest {
        let ok = d.strip_prefix("sha256:").is_some_and(|h| {
            h.len() == 64
                && h.chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        });
        if !ok {
            return Err(bad("the digest must be sha256:<64 hex digits>"));
        }
    }
    // A tag follows the last `:` after the last `/` (a `:` before it is a registry port).
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(t) = tag {
        if !valid_tag(t) {
            return Err(bad("bad tag"));
        }
    }
    let parts: Vec<&str> = name.split('/').collect();
    let first = parts[0];
    let has_domain = parts.len() > 1
        && (first.contains('.')
            || first.contains(':')
            || first == "localhost"
            || first.chars().any(|c| c.is_ascii_uppercase()));
    let (domain, path) = if has_domain {
        if !valid_domain(first) {
            return Err(bad("bad registry host"));
        }
        (first.to_string(), parts[1..].to_vec())
    } else {
        ("docker.io".to_string(), parts.clone())
    };
    if path.is_empty() || !path.iter().all(|c| valid_component(c)) {
        return Err(bad(
            "repository names are lowercase letters, digits and . _ - separators",
        ));
    }
    let mut path = path.join("/");
    if domain == "docker.io" && !path.contains('/') {
        path = format!("library/{path}");
    }
    let mut out = format!("{domain}/{path}");
    match (tag, digest) {
        (Some(t), _) => out.push_str(&format!(":{t}")),
        (None, None) => out.push_str(":latest"),
        (None, Some(_)) => {}
    }
    if let Some(d) = digest {
        out.push_str(&format!("@{d}"));
    }
    Ok(out)
}

/// The parts of an OCI image config a container is made from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(rename = "Entrypoint", default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default)]
    pub cmd: Option<Vec<String>>,
    #[serde(rename = "Env", default)]
    pub env: Option<Vec<String>>,
    #[serde(rename = "WorkingDir", default)]
    pub working_dir: Option<String>,
    #[serde(rename = "User", default)]
    pub user: Option<String>,
}

/// An unpacked image in the cache (`images/<id>/image.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CachedImage {
    /// The digest of the image config (`sha256:...`).
    pub id: String,
    pub config: ImageConfig,
    /// Bytes of the unpacked root file system.
    pub size: u64,
    /// When it was unpacked (Unix seconds).
    pub unpacked: i64,
}

impl CachedImage {
    /// The id without `sha256:`, as used for directory names.
    pub fn hex(&self) -> &str {
        self.id.strip_prefix("sha256:").unwrap_or(&self.id)
    }
}

/// reference (transport form) -> image id.
type RefIndex = BTreeMap<String, String>;

fn read_index(paths: &Paths) -> Result<RefIndex> {
    Ok(state::read_json(&paths.image_index())?.unwrap_or_default())
}

/// Read an image of the cache by id.
pub fn load(paths: &Paths, id: &str) -> Result<Option<CachedImage>> {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    Ok(state::read_json(&paths.image_dir(hex).join("image.json"))?)
}

/// The image for `source`: from the cache, or fetched and unpacked now.
pub fn ensure(
    host: &Host,
    paths: &Paths,
    source: &Source,
    pull: PullPolicy,
) -> Result<CachedImage> {
    let key = source.transport();
    if pull == PullPolicy::Missing {
        if let Some(id) = read_index(paths)?.get(&key) {
            if let Some(img) = load(paths, id)? {
                if paths.image_dir(img.hex()).join("rootfs").is_dir() {
                    return Ok(img);
                }
            }
        }
    }
    if host.settings.dry_run {
        // Show what would run; nothing is fetched, so the image's metadata is unknown.
        host.exec(skopeo_copy(source, Path::new("<tmp>/layout"), false))?;
        return Ok(CachedImage {
            id: "sha256:dry-run".into(),
            config: ImageConfig::default(),
            size: 0,
            unpacked: 0,
        });
    }
    fetch(host, paths, source, &key)
}

/// `skopeo copy SOURCE oci:DIR:img`, plain HTTP for a registry on this host. With `progress`
/// (a terminal, see `Host::progress`) skopeo's per-blob lines go to the terminal as they come.
pub fn skopeo_copy(source: &Source, layout: &Path, progress: bool) -> Cmd {
    let mut c = Cmd::new("skopeo").arg("copy");
    if !progress {
        c = c.arg("--quiet");
    }
    if let Source::Registry { insecure: true, .. } = source {
        c = c.arg("--src-tls-verify=false");
    }
    c.arg(source.transport())
        .arg(format!("oci:{}:img", layout.display()))
        .timeout(FETCH_TIMEOUT)
        // A download is useless without the herodo that waits for it. The fetch runs on the
        // script thread, which waits for it (see `Cmd::die_with_parent` on threads).
        .die_with_parent(true)
        .echo(progress)
}

/// `umoci raw unpack --image LAYOUT:img ROOTFS`: layers applied in order, whiteouts honoured.
pub fn umoci_unpack(layout: &Path, rootfs: &Path) -> Cmd {
    Cmd::new("umoci")
        .args(["raw", "unpack", "--image"])
        .arg(format!("{}:img", layout.display()))
        .arg(rootfs.display().to_string())
        .timeout(FETCH_TIMEOUT)
        .die_with_parent(true)
}

/// skopeo's ways of saying that the image does not exist (as opposed to a failure to reach it).
fn is_missing_image(err: &ExecError) -> bool {
    let ExecError::Failed { stderr, .. } = err else {
        return false;
    };
    let s = stderr.to_ascii_lowercase();
    [
        "manifest unknown",
        "name unknown",
        "does not resolve to an image",
        "no such image",
        "not found",
        "no such file or directory",
        "unable to find",
        "identifier is not an image",
    ]
    .iter()
    .any(|m| s.contains(m))
}

fn fetch(host: &Host, paths: &Paths, source: &Source, key: &str) -> Result<CachedImage> {
    for tool in ["skopeo", "umoci"] {
        if crate::exec::which(tool).is_none() {
            return Err(PodError::MissingTool {
                tool: tool.into(),
                hint: "install it with scripts/setup.sh".into(),
            });
        }
    }
    // What fetches of herodo processes killed meanwhile left behind goes first.
    for stale in stale_incoming(paths) {
        let _ = std::fs::remove_dir_all(stale);
    }
    let tmp = paths.incoming_dir();
    let _cleanup = RemoveOnDrop(tmp.clone());
    std::fs::create_dir_all(&tmp).map_err(|e| PodError::io("create", &tmp, e))?;
    let layout = tmp.join("layout");
    host.exec_checked(skopeo_copy(source, &layout, host.progress()))
        .map_err(|e| {
            if is_missing_image(&e) {
                PodError::ImageNotFound {
                    image: key.to_string(),
                    detail: String::new(),
                    source: Some(Box::new(e)),
                }
            } else {
                PodError::Exec(e)
            }
        })?;
    let (id, config) = read_layout(&layout)?;
    let hex = id.strip_prefix("sha256:").unwrap_or(&id).to_string();
    let dest = paths.image_dir(&hex);
    let img = match load(paths, &id)? {
        Some(img) if dest.join("rootfs").is_dir() => img,
        _ => {
            let rootfs = tmp.join("rootfs");
            host.exec_checked(umoci_unpack(&layout, &rootfs))?;
            let img = CachedImage {
                id: id.clone(),
                config,
                size: tree_size(&rootfs),
                unpacked: timestamp(),
            };
            let staged = tmp.join("image");
            std::fs::create_dir_all(&staged).map_err(|e| PodError::io("create", &staged, e))?;
            std::fs::rename(&rootfs, staged.join("rootfs"))
                .map_err(|e| PodError::io("rename", &rootfs, e))?;
            state::write_json(&staged.join("image.json"), &img)?;
            std::fs::create_dir_all(paths.images_dir())
                .map_err(|e| PodError::io("create", paths.images_dir(), e))?;
            // Two herodo processes may unpack the same image at once: the first rename wins,
            // the loser's copy is dropped with the temp dir.
            if let Err(e) = std::fs::rename(&staged, &dest) {
                if !dest.join("rootfs").is_dir() {
                    return Err(PodError::io("rename", &dest, e));
                }
            }
            img
        }
    };
    let _lock = FileLock::exclusive(&paths.image_lock(), &host.cancel, LOCK_TIMEOUT)?;
    let mut index = read_index(paths)?;
    index.insert(key.to_string(), img.id.clone());
    state::write_json(&paths.image_index(), &index)?;
    Ok(img)
}

/// Staging directories of fetches whose herodo is gone (killed with `kill -9` mid-fetch):
/// named `<owner tag>.<n>` (see `Paths::incoming_dir`) with that owner gone, or in the older
/// form `<pid>-<n>` with no such process left.
pub fn stale_incoming(paths: &Paths) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(paths.incoming_root()) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(incoming_is_stale))
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// Whether a staging directory called `name` belongs to a herodo that is gone. Names that
/// cannot be understood are kept.
fn incoming_is_stale(name: &str) -> bool {
    if let Some((tag, n)) = name.rsplit_once('.') {
        return n.parse::<u64>().is_ok() && !crate::common::owner::owner_alive(tag);
    }
    match name.split_once('-') {
        Some((pid, n)) if n.parse::<u64>().is_ok() => pid
            .parse::<i64>()
            .is_ok_and(|pid| crate::common::procstat::read(pid).is_none()),
        _ => false,
    }
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Bytes of regular files below `dir` (symlinks not followed).
pub fn tree_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(md) = e.path().symlink_metadata() else {
                continue;
            };
            if md.is_dir() {
                stack.push(e.path());
            } else if md.is_file() {
                total += md.len();
            }
        }
    }
    total
}

#[derive(Deserialize)]
struct Index {
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Descriptor {
    digest: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Manifest {
    config: Descriptor,
}

#[derive(Deserialize)]
struct ConfigBlob {
    #[serde(default)]
    config: Option<ImageConfig>,
}

fn blob_path(layout: &Path, digest: &str) -> Result<PathBuf> {
    let (alg, hex) = digest
        .split_once(':')
        .ok_or_else(|| PodError::parse("OCI layout", format!("bad digest {digest:?}")))?;
    if !alg.chars().all(|c| c.is_ascii_alphanumeric())
        || !hex.chars().all(|c| c.is_ascii_hexdigit())
    {
        return Err(PodError::parse(
            "OCI layout",
            format!("bad digest {digest:?}"),
        ));
    }
    Ok(layout.join("blobs").join(alg).join(hex))
}

fn read_json_file<T: serde::de::DeserializeOwned>(p: &Path) -> Result<T> {
    let bytes = std::fs::read(p).map_err(|e| PodError::io("read", p, e))?;
    serde_json::from_slice(&bytes).map_err(|e| PodError::parse(p.display().to_string(), e))
}

/// The image id (config digest) and config of the image tagged `img` in an OCI layout.
pub fn read_layout(layout: &Path) -> Result<(String, ImageConfig)> {
    let index: Index = read_json_file(&layout.join("index.json"))?;
    let desc = index
        .manifests
        .iter()
        .find(|m| {
            m.annotations
                .get("org.opencontainers.image.ref.name")
                .map(String::as_str)
                == Some("img")
        })
        .or(index.manifests.first())
        .ok_or_else(|| PodError::parse("OCI layout", "index.json lists no manifest"))?;
    let manifest: Manifest = read_json_file(&blob_path(layout, &desc.digest)?)?;
    let blob: ConfigBlob = read_json_file(&blob_path(layout, &manifest.config.digest)?)?;
    Ok((manifest.config.digest, blob.config.unwrap_or_default()))
}

/// One image of the cache with the references that name it.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageEntry {
    pub image: CachedImage,
    pub refs: Vec<String>,
}

/// Every unpacked image, with its references.
pub fn list(paths: &Paths) -> Result<Vec<ImageEntry>> {
    let index = read_index(paths)?;
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(paths.images_dir()) else {
        return Ok(out);
    };
    let mut dirs: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    dirs.sort();
    for d in dirs {
        let Some(Ok(Some(img))) = d
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.starts_with('.'))
            .map(|n| load(paths, n))
        else {
            continue;
        };
        let refs = index
            .iter()
            .filter(|(_, id)| **id == img.id)
            .map(|(k, _)| k.clone())
            .collect();
        out.push(ImageEntry { image: img, refs });
    }
    Ok(out)
}

/// What `image_remove(x)` names: the ids of the cache and the references to drop.
pub fn resolve_for_removal(paths: &Paths, what: &str) -> Result<(String, Vec<String>)> {
    let index = read_index(paths)?;
    let bare = what.strip_prefix("sha256:").unwrap_or(what);
    if bare.len() >= 12 && bare.chars().all(|c| c.is_ascii_hexdigit()) {
        let ids: Vec<ImageEntry> = list(paths)?
            .into_iter()
            .filter(|e| e.image.hex().starts_with(bare))
            .collect();
        if let [one] = ids.as_slice() {
            return Ok((one.image.id.clone(), one.refs.clone()));
        }
    }
    let key = Source::parse(what)?.transport();
    match index.get(&key) {
        Some(id) => Ok((id.clone(), vec![key])),
        None => Err(PodError::ImageNotFound {
            image: what.to_string(),
            detail: " (not in the heropods image cache)".into(),
            source: None,
        }),
    }
}

/// Drop `refs` from the index; when no reference names `id` any more, delete its files.
/// Returns whether the unpacked image was deleted.
pub fn remove(host: &Host, paths: &Paths, id: &str, refs: &[String]) -> Result<bool> {
    let _lock = FileLock::exclusive(&paths.image_lock(), &host.cancel, LOCK_TIMEOUT)?;
    let mut index = read_index(paths)?;
    for r in refs {
        index.remove(r);
    }
    state::write_json(&paths.image_index(), &index)?;
    if index.values().any(|v| v == id) {
        return Ok(false);
    }
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    let dir = paths.image_dir(hex);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(PodError::io("remove", &dir, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_normalized() {
        let n = |r: &str| normalize(r).unwrap();
        assert_eq!(n("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(n("alpine:3.20"), "docker.io/library/alpine:3.20");
        assert_eq!(n("localhost/busybox:test"), "localhost/busybox:test");
        assert_eq!(
            n("127.0.0.1:5000/busybox:test"),
            "127.0.0.1:5000/busybox:test"
        );
        assert_eq!(n("127.0.0.1:5000/a/b"), "127.0.0.1:5000/a/b:latest");
        assert_eq!(n("quay.io/x/y-z__w:1.0_rc"), "quay.io/x/y-z__w:1.0_rc");
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(n(&format!("reg.io/x@{d}")), format!("reg.io/x@{d}"));
        for bad in [
            "",
            "a b",
            "UPPER",
            "x;rm -rf /",
            "x:",
            "x:-tag",
            "../x",
            "x/../y",
            "reg.io/x@sha256:abc",
            "reg:port/x",
            "a$(id)",
            "wеb", // Cyrillic e
            "x\n",
            "-x",
        ] {
            assert!(
                matches!(normalize(bad), Err(PodError::InvalidArgument { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn sources() {
        assert_eq!(
            Source::parse("alpine_3_20").unwrap().transport(),
            "docker://docker.io/library/alpine:3.20"
        );
        assert_eq!(
            Source::parse("ubuntu_24_04").unwrap().transport(),
            "docker://docker.io/library/ubuntu:24.04"
        );
        assert_eq!(
            Source::parse("localhost/busybox:test").unwrap(),
            Source::Storage {
                reference: "localhost/busybox:test".into()
            }
        );
        assert_eq!(
            Source::parse("127.0.0.1:5000/busybox:test").unwrap(),
            Source::Registry {
                reference: "127.0.0.1:5000/busybox:test".into(),
                insecure: true
            }
        );
        assert_eq!(
            Source::parse("docker://quay.io/a/b:1").unwrap(),
            Source::Registry {
                reference: "quay.io/a/b:1".into(),
                insecure: false
            }
        );
        assert_eq!(
            Source::parse("containers-storage:localhost/x")
                .unwrap()
                .transport(),
            "containers-storage:localhost/x:latest"
        );
        assert_eq!(
            Source::parse("oci:/srv/layout:v1").unwrap().transport(),
            "oci:/srv/layout:v1"
        );
        assert_eq!(
            Source::parse("/srv/layout/").unwrap().transport(),
            "oci:/srv/layout"
        );
        assert!(Source::parse("oci:relative").is_err());
        assert!(Source::parse("oci:/a/../b").is_err());
        assert!(Source::parse("oci:/a:bad tag").is_err());
    }

    #[test]
    fn stale_incoming_dirs_are_those_of_dead_herodo_processes() {
        let dir = std::env::temp_dir().join(format!("herodo-incoming-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let paths = Paths::new(&dir);
        let me = crate::common::owner::owner_tag();
        let boot = me.split('-').next().unwrap();
        // 4194305 is above Linux's largest pid_max: no process has it.
        let dead = format!("{boot}-4194305-1");
        for name in [
            format!("{me}.0"),
            format!("{dead}.3"),
            format!("{dead}-test.4"),
            "4194305-2".to_string(),
            format!("{}-1", std::process::id()),
            "garbage".to_string(),
            format!("{dead}.x"),
        ] {
            std::fs::create_dir_all(paths.incoming_root().join(name)).unwrap();
        }
        let names: Vec<String> = stale_incoming(&paths)
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        let mut want = vec![
            format!("{dead}.3"),
            format!("{dead}-test.4"),
            "4194305-2".to_string(),
        ];
        want.sort();
        assert_eq!(names, want);
        assert!(stale_incoming(&Paths::new(dir.join("nothing"))).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn skopeo_and_umoci_argv() {
        let s = Source::parse("127.0.0.1:5000/b:t").unwrap();
        let c = skopeo_copy(&s, Path::new("/c/layout"), false);
        assert_eq!(
            c.argv(),
            vec![
                "skopeo",
                "copy",
                "--quiet",
                "--src-tls-verify=false",
                "docker://127.0.0.1:5000/b:t",
                "oci:/c/layout:img"
            ]
        );
        let s = Source::parse("localhost/b:t").unwrap();
        assert_eq!(
            skopeo_copy(&s, Path::new("/l"), false).argv()[3],
            "containers-storage:localhost/b:t"
        );
        assert_eq!(
            umoci_unpack(Path::new("/l"), Path::new("/r")).argv(),
            vec!["umoci", "raw", "unpack", "--image", "/l:img", "/r"]
        );
        // On a terminal: skopeo's own per-blob lines, shown as they come.
        let shown = skopeo_copy(&s, Path::new("/l"), true);
        assert_eq!(
            shown.argv(),
            vec![
                "skopeo",
                "copy",
                "containers-storage:localhost/b:t",
                "oci:/l:img"
            ]
        );
    }

    #[test]
    fn config_blob_parse() {
        let blob = r#"{"architecture":"amd64","config":{"Entrypoint":["/ep"],"Cmd":null,
            "Env":["PATH=/bin"],"WorkingDir":"/app","User":"app","Labels":{"a":"b"}},
            "rootfs":{"type":"layers","diff_ids":[]}}"#;
        let c: ConfigBlob = serde_json::from_str(blob).unwrap();
        let c = c.config.unwrap();
        assert_eq!(c.entrypoint, Some(vec!["/ep".to_string()]));
        assert_eq!(c.cmd, None);
        assert_eq!(c.working_dir.as_deref(), Some("/app"));
        let empty: ConfigBlob = serde_json::from_str(r#"{"architecture":"amd64"}"#).unwrap();
        assert!(empty.config.is_none());
    }

    #[test]
    fn missing_image_detection() {
        let f = |stderr: &str| ExecError::Failed {
            cmd: "skopeo".into(),
            status: crate::exec::Status::Exited(1),
            stdout: String::new(),
            stderr: stderr.into(),
        };
        assert!(is_missing_image(&f(
            "reading manifest t in 127.0.0.1:5000/x: manifest unknown"
        )));
        assert!(is_missing_image(&f(
            "reference \"[overlay@/var/lib/containers/storage]localhost/nope:latest\" does not resolve to an image ID"
        )));
        assert!(!is_missing_image(&f(
            "dial tcp 127.0.0.1:5000: connect: connection refused"
        )));
    }
}
