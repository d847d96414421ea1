//! Base images from the network: `qcow2_build_base` downloads an image (resuming a partial
//! download where the server allows it, restarting cleanly where it does not), verifies its
//! SHA-256, converts it to qcow2, grows it and snapshots it. Only a verified, converted image
//! ever takes the destination's name; a wrong checksum leaves nothing, an interrupted download
//! only its `.part` file (the next run resumes it).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::error::{Result, VmError};
use super::qcow2;
use crate::exec::Cmd;
use crate::host::Host;

/// Ubuntu 24.04's cloud image and the list of its checksums.
pub const UBUNTU_24_04_URL: &str =
    "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img";
pub const UBUNTU_24_04_SUMS: &str = "https://cloud-images.ubuntu.com/noble/current/SHA256SUMS";
/// The internal snapshot a built base image gets.
pub const BASE_SNAPSHOT: &str = "base";

#[derive(Clone, Debug, PartialEq)]
pub struct BaseRequest {
    pub url: String,
    pub sha256: String,
    pub dest: String,
    pub size_gb: Option<i64>,
}

/// What `qcow2_build_base` returns (the original herodo's keys).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BaseImage {
    pub base_image_path: String,
    pub snapshot: String,
    pub url: String,
    pub resized_to_gb: Option<i64>,
}

impl BaseRequest {
    pub fn validate(&self) -> Result<()> {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(VmError::invalid(
                "url",
                "must be an http:// or https:// URL",
            ));
        }
        let hex = self.sha256.len() == 64 && self.sha256.chars().all(|c| c.is_ascii_hexdigit());
        if !hex {
            return Err(VmError::invalid("sha256", "must be 64 hexadecimal digits"));
        }
        qcow2::check_path("dest", &self.dest)?;
        if let Some(g) = self.size_gb {
            qcow2::size_bytes(g)?;
        }
        Ok(())
    }
}

/// The SHA-256 of `name` in a `SHA256SUMS` file (`HEX *name` or `HEX  name` lines).
pub fn sum_for(sums: &str, name: &str) -> Option<String> {
    sums.lines().find_map(|l| {
        let (hex, file) = l.split_once(char::is_whitespace)?;
        let file = file.trim_start().trim_start_matches('*');
        (file == name).then(|| hex.to_lowercase())
    })
}

/// `sha256sum` output to the hex digest.
pub fn parse_sha256sum(out: &str) -> Option<String> {
    let hex = out.split_whitespace().next()?;
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())).then(|| hex.to_lowercase())
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .user_agent(concat!("herodo/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

fn net_err(url: &str, e: impl std::fmt::Display) -> VmError {
    VmError::Host(crate::error::HostError::Io {
        action: "download",
        path: url.to_string(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// A small text file (a checksum list).
pub fn fetch_text(url: &str) -> Result<String> {
    let mut resp = agent().get(url).call().map_err(|e| net_err(url, e))?;
    if !resp.status().is_success() {
        return Err(net_err(url, format!("HTTP {}", resp.status())));
    }
    resp.body_mut()
        .read_to_string()
        .map_err(|e| net_err(url, e))
}

/// Download `url` into `part`, resuming what is there when the server honours a range
/// request (206) and starting over when it does not (200). Ctrl-C stops it (the part stays).
fn download(host: &Host, url: &str, part: &Path) -> Result<()> {
    let have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let mut req = agent().get(url);
    if have > 0 {
        req = req.header("Range", &format!("bytes={have}-"));
    }
    let mut resp = req.call().map_err(|e| net_err(url, e))?;
    let status = resp.status().as_u16();
    let (mut file, mut done) = match status {
        206 => (
            std::fs::OpenOptions::new()
                .append(true)
                .open(part)
                .map_err(|e| VmError::io("open", part, e))?,
            have,
        ),
        // The whole file already (a range past its end).
        416 if have > 0 => return Ok(()),
        200 => (
            std::fs::File::create(part).map_err(|e| VmError::io("create", part, e))?,
            0,
        ),
        _ => return Err(net_err(url, format!("HTTP {status}"))),
    };
    let total = resp
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|n| n + done);
    let show = host.progress();
    let mut reader = resp.body_mut().as_reader();
    let mut buf = vec![0u8; 256 * 1024];
    let mut last = Instant::now();
    loop {
        if host.cancel.is_cancelled() {
            return Err(VmError::Host(crate::error::HostError::Cancelled));
        }
        let n = reader.read(&mut buf).map_err(|e| net_err(url, e))?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n])
            .map_err(|e| VmError::io("write", part, e))?;
        done += n as u64;
        if show && last.elapsed() >= Duration::from_millis(200) {
            last = Instant::now();
            progress(url, done, total);
        }
    }
    file.sync_all().map_err(|e| VmError::io("write", part, e))?;
    if show {
        progress(url, done, total);
        eprintln!();
    }
    if let Some(t) = total {
        if done != t {
            return Err(net_err(url, format!("got {done} of {t} bytes")));
        }
    }
    Ok(())
}

fn progress(url: &str, done: u64, total: Option<u64>) {
    let line = progress_line(url, done, total);
    let _ = std::io::stderr()
        .lock()
        .write_all(format!("\r{line}\x1b[K").as_bytes());
}

/// One progress line: `downloading URL [#######.............]  35% (1.2/3.4 MiB)`, or the
/// bytes so far when the size is unknown.
fn progress_line(url: &str, done: u64, total: Option<u64>) -> String {
    const WIDTH: u64 = 20;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    match total {
        Some(t) if t > 0 => {
            let filled = (done.min(t) * WIDTH / t) as usize;
            format!(
                "downloading {url} [{}{}] {:3}% ({:.1}/{:.1} MiB)",
                "#".repeat(filled),
                ".".repeat(WIDTH as usize - filled),
                done.min(t) * 100 / t,
                mib(done),
                mib(t)
            )
        }
        _ => format!("downloading {url}: {:.1} MiB", mib(done)),
    }
}

fn sha256_of(host: &Host, path: &Path) -> Result<String> {
    let cmd = Cmd::new("sha256sum")
        .arg(path.display().to_string())
        .timeout(Duration::from_secs(3600));
    let out = host.exec_checked(cmd)?;
    parse_sha256sum(&out.stdout).ok_or_else(|| VmError::parse("sha256sum output", &out.stdout))
}

/// Download, verify, convert to qcow2, grow to `size_gb` and snapshot as `base`.
pub fn build(host: &Host, req: &BaseRequest) -> Result<BaseImage> {
    req.validate()?;
    let dest = Path::new(&req.dest);
    if dest.symlink_metadata().is_ok() {
        return Err(VmError::AlreadyExists {
            path: req.dest.clone(),
        });
    }
    let part = PathBuf::from(format!("{}.part", req.dest));
    if host.dry_run(|| format!("vm: download {} to {}", req.url, req.dest)) {
        return Ok(BaseImage {
            base_image_path: req.dest.clone(),
            snapshot: BASE_SNAPSHOT.into(),
            url: req.url.clone(),
            resized_to_gb: req.size_gb,
        });
    }
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| VmError::io("create", dir, e))?;
    }
    download(host, &req.url, &part)?;
    let got = sha256_of(host, &part)?;
    if got != req.sha256.to_lowercase() {
        let _ = std::fs::remove_file(&part);
        return Err(VmError::ChecksumMismatch {
            url: req.url.clone(),
            expected: req.sha256.to_lowercase(),
            got,
        });
    }
    // Convert, resize and snapshot a staged copy; only the finished image takes `dest`.
    let staged = format!("{}.building", req.dest);
    let _ = std::fs::remove_file(&staged);
    let finish = || -> Result<Option<i64>> {
        qcow2::convert(host, &part.display().to_string(), &staged, "qcow2")?;
        let mut resized = None;
        if let Some(g) = req.size_gb {
            let current = qcow2::info(host, &staged)?.virtual_size;
            if (g as u64).saturating_mul(1 << 30) > current as u64 {
                qcow2::resize(host, &staged, g)?;
                resized = Some(g);
            }
        }
        qcow2::snapshot_create(host, &staged, BASE_SNAPSHOT)?;
        std::fs::hard_link(&staged, dest).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                VmError::AlreadyExists {
                    path: req.dest.clone(),
                }
            } else {
                VmError::io("link", dest, e)
            }
        })?;
        Ok(resized)
    };
    let res = finish();
    let _ = std::fs::remove_file(&staged);
    let resized = res?;
    let _ = std::fs::remove_file(&part);
    Ok(BaseImage {
        base_image_path: req.dest.clone(),
        snapshot: BASE_SNAPSHOT.into(),
        url: req.url.clone(),
        resized_to_gb: resized,
    })
}

/// Ubuntu 24.04's cloud image as a base in `dest_dir`, its checksum from Ubuntu's SHA256SUMS.
/// `HERODO_UBUNTU_24_04_URL` and `HERODO_UBUNTU_24_04_SUMS_URL` point it at a mirror (the
/// checksum list must name the image's file name).
pub fn build_ubuntu_24_04(host: &Host, dest_dir: &str, size_gb: i64) -> Result<BaseImage> {
    qcow2::check_path("dest_dir", dest_dir)?;
    qcow2::size_bytes(size_gb)?;
    let from_env = |k: &str, default: &str| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_string())
    };
    let url = from_env("HERODO_UBUNTU_24_04_URL", UBUNTU_24_04_URL);
    let sums_url = from_env("HERODO_UBUNTU_24_04_SUMS_URL", UBUNTU_24_04_SUMS);
    for (field, u) in [
        ("HERODO_UBUNTU_24_04_URL", &url),
        ("HERODO_UBUNTU_24_04_SUMS_URL", &sums_url),
    ] {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(VmError::invalid(
                field,
                "must be an http:// or https:// URL",
            ));
        }
    }
    let sums = fetch_text(&sums_url)?;
    let name = url.rsplit('/').next().unwrap_or_default();
    let sha256 = sum_for(&sums, name)
        .ok_or_else(|| VmError::parse("SHA256SUMS", format!("no line for {name}")))?;
    build(
        host,
        &BaseRequest {
            url: url.clone(),
            sha256,
            dest: format!("{}/ubuntu-24.04-base.qcow2", dest_dir.trim_end_matches('/')),
            size_gb: Some(size_gb),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_draw_a_bar() {
        let u = "http://h/x";
        assert_eq!(
            progress_line(u, 0, Some(4 << 20)),
            "downloading http://h/x [....................]   0% (0.0/4.0 MiB)"
        );
        assert_eq!(
            progress_line(u, 1 << 20, Some(4 << 20)),
            "downloading http://h/x [#####...............]  25% (1.0/4.0 MiB)"
        );
        assert_eq!(
            progress_line(u, 4 << 20, Some(4 << 20)),
            "downloading http://h/x [####################] 100% (4.0/4.0 MiB)"
        );
        // More than announced never draws past the end.
        assert!(progress_line(u, 5 << 20, Some(4 << 20)).contains("[####################] 100%"));
        assert_eq!(
            progress_line(u, 3 << 19, None),
            "downloading http://h/x: 1.5 MiB"
        );
        assert_eq!(
            progress_line(u, 0, Some(0)),
            "downloading http://h/x: 0.0 MiB"
        );
    }

    #[test]
    fn requests_are_checked() {
        let ok = BaseRequest {
            url: "http://127.0.0.1:8000/img".into(),
            sha256: "a".repeat(64),
            dest: "/tmp/x.qcow2".into(),
            size_gb: Some(2),
        };
        ok.validate().unwrap();
        let field = |r: BaseRequest| match r.validate() {
            Err(VmError::InvalidArgument { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(BaseRequest {
                url: "file:///etc/passwd".into(),
                ..ok.clone()
            }),
            "url"
        );
        assert_eq!(
            field(BaseRequest {
                sha256: "xyz".into(),
                ..ok.clone()
            }),
            "sha256"
        );
        assert_eq!(
            field(BaseRequest {
                size_gb: Some(0),
                ..ok.clone()
            }),
            "size_gb"
        );
    }

    #[test]
    fn checksum_lists_and_sha256sum_output() {
        let sums = "1111111111111111111111111111111111111111111111111111111111111111 *noble-server-cloudimg-amd64.img\n\
                    2222222222222222222222222222222222222222222222222222222222222222 *noble-server-cloudimg-arm64.img\n";
        assert_eq!(
            sum_for(sums, "noble-server-cloudimg-arm64.img").as_deref(),
            Some("2222222222222222222222222222222222222222222222222222222222222222")
        );
        assert_eq!(sum_for(sums, "other.img"), None);
        let out = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855  /tmp/empty\n";
        assert_eq!(
            parse_sha256sum(out).as_deref(),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert_eq!(parse_sha256sum("sha256sum: x: No such file"), None);
    }
}
