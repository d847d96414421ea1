//! The original herodo's `download`, `download_file` and `download_install`, done with curl:
//! into a temporary name next to the destination, checked (minimum size, optional sha256),
//! then renamed, so a destination is never half-written. A progress bar shows on a terminal.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{kind, Classify, ErrorInfo, HostError};
use crate::exec::{Cmd, ExecError};
use crate::host::Host;

/// A download may be big and slow: an hour before herodo gives up.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("download of {url} is {got_kb} KB, less than the {min_kb} KB expected")]
    TooSmall {
        url: String,
        got_kb: u64,
        min_kb: u64,
    },
    #[error("download of {url} has sha256 {got}, expected {want}")]
    Checksum {
        url: String,
        got: String,
        want: String,
    },
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Host(#[from] HostError),
}

impl Classify for DownloadError {
    fn info(&self) -> ErrorInfo {
        match self {
            DownloadError::TooSmall { url, .. } => {
                ErrorInfo::new(kind::NETWORK, self.to_string()).field("url", url)
            }
            DownloadError::Checksum { url, .. } => {
                ErrorInfo::new(kind::CHECKSUM_MISMATCH, self.to_string()).field("url", url)
            }
            DownloadError::Exec(e) => e.info(),
            DownloadError::Host(e) => e.info(),
        }
    }
}

type Result<T> = std::result::Result<T, DownloadError>;

/// How a download is checked.
#[derive(Clone, Debug, Default)]
pub struct Check {
    /// Fail when the file is smaller than this many KiB (0: no minimum).
    pub min_kb: u64,
    /// The expected sha256, hex.
    pub sha256: Option<String>,
}

/// The file name a URL names (its last path segment, without query or fragment).
pub fn file_name_of(url: &str) -> std::result::Result<String, HostError> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let after_host = path.split_once("://").map_or(path, |(_, rest)| rest);
    let name = after_host
        .split_once('/')
        .map(|(_, p)| p.rsplit('/').next().unwrap_or(""))
        .unwrap_or("");
    if name.is_empty() || name == "." || name == ".." {
        return Err(HostError::invalid(
            "url",
            format!("`{url}` names no file (it must end in a file name)"),
        ));
    }
    Ok(name.to_string())
}

/// The archive kind of a file name, for extraction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Archive {
    Tar,
    Zip,
}

pub fn archive_of(name: &str) -> Option<Archive> {
    let n = name.to_ascii_lowercase();
    if [
        ".tar.gz", ".tgz", ".tar", ".tar.xz", ".txz", ".tar.bz2", ".tar.zst",
    ]
    .iter()
    .any(|e| n.ends_with(e))
    {
        Some(Archive::Tar)
    } else if n.ends_with(".zip") {
        Some(Archive::Zip)
    } else {
        None
    }
}

/// curl's argv for `url` into `out` (progress bar on a terminal, else quiet).
pub fn curl_argv(url: &str, out: &Path, progress: bool) -> Vec<String> {
    let mut v: Vec<String> = ["curl", "--location", "--fail", "--show-error"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.push(
        if progress {
            "--progress-bar"
        } else {
            "--silent"
        }
        .into(),
    );
    v.extend([
        "--output".into(),
        out.display().to_string(),
        "--".into(),
        url.into(),
    ]);
    v
}

fn check_url(url: &str) -> std::result::Result<(), HostError> {
    let l = url.to_ascii_lowercase();
    if l.starts_with("http://") || l.starts_with("https://") || l.starts_with("file://") {
        Ok(())
    } else {
        Err(HostError::invalid(
            "url",
            format!("`{url}` is not an http://, https:// or file:// URL"),
        ))
    }
}

fn io<'a>(action: &'static str, p: &'a Path) -> impl FnOnce(std::io::Error) -> DownloadError + 'a {
    move |e| HostError::io(action, p, e).into()
}

/// Download `url` to the file `dest` (its directory is created); returns `dest`.
pub fn download_file(host: &Host, url: &str, dest: &str, check: &Check) -> Result<String> {
    check_url(url)?;
    if dest.trim().is_empty() {
        return Err(HostError::invalid("dest", "path is empty").into());
    }
    let dest = super::expand_home(dest).into_owned();
    let d = PathBuf::from(&dest);
    if host.dry_run(|| format!("download {url} -> {dest}")) {
        return Ok(dest);
    }
    let dir = d
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    let name = d
        .file_name()
        .map_or("download".into(), |n| n.to_string_lossy());
    let tmp = dir.join(format!(".{name}.part-{}", std::process::id()));
    let res = fetch_checked(host, url, &tmp, check)
        .and_then(|_| std::fs::rename(&tmp, &d).map_err(io("rename to", &d)));
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.map(|_| dest)
}

fn fetch_checked(host: &Host, url: &str, tmp: &Path, check: &Check) -> Result<()> {
    let progress = std::io::stderr().is_terminal();
    let argv = curl_argv(url, tmp, progress);
    let cmd = Cmd::from_argv(&argv)
        .ok_or_else(|| HostError::invalid("argv", "empty"))?
        .timeout(DOWNLOAD_TIMEOUT)
        .echo(progress);
    let out = host.exec(cmd.clone())?;
    if !out.success() {
        return Err(ExecError::failed(&cmd, &out).into());
    }
    let size = std::fs::metadata(tmp).map_err(io("stat", tmp))?.len();
    if check.min_kb > 0 && size / 1024 < check.min_kb {
        return Err(DownloadError::TooSmall {
            url: url.to_string(),
            got_kb: size / 1024,
            min_kb: check.min_kb,
        });
    }
    if let Some(want) = &check.sha256 {
        let cmd = Cmd::new("sha256sum")
            .arg(tmp.display().to_string())
            .echo(false);
        let out = host.exec(cmd.clone())?;
        if !out.success() {
            return Err(ExecError::failed(&cmd, &out).into());
        }
        let got = out
            .stdout
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string();
        if !got.eq_ignore_ascii_case(want.trim()) {
            return Err(DownloadError::Checksum {
                url: url.to_string(),
                got,
                want: want.trim().to_string(),
            });
        }
    }
    Ok(())
}

/// The original herodo's `download(url, dir, min_kb)`: the file goes into `dir`; an archive
/// (tar, tar.gz, zip, ...) is extracted there and removed. Returns the file, or `dir` for an
/// archive.
pub fn download(host: &Host, url: &str, dir: &str, check: &Check) -> Result<String> {
    check_url(url)?;
    let name = file_name_of(url)?;
    let dir = super::expand_home(dir).into_owned();
    let file = format!("{}/{name}", dir.trim_end_matches('/'));
    let Some(kind) = archive_of(&name) else {
        return download_file(host, url, &file, check);
    };
    if host.dry_run(|| format!("download {url} -> {file}, extract into {dir}")) {
        return Ok(dir);
    }
    download_file(host, url, &file, check)?;
    let argv: Vec<String> = match kind {
        Archive::Tar => vec![
            "tar".into(),
            "-xf".into(),
            file.clone(),
            "-C".into(),
            dir.clone(),
        ],
        Archive::Zip => vec![
            "unzip".into(),
            "-o".into(),
            "-q".into(),
            file.clone(),
            "-d".into(),
            dir.clone(),
        ],
    };
    let cmd = Cmd::from_argv(&argv)
        .ok_or_else(|| HostError::invalid("argv", "empty"))?
        .echo(false);
    let out = host.exec(cmd.clone());
    let _ = std::fs::remove_file(&file);
    let out = out?;
    if !out.success() {
        return Err(ExecError::failed(&cmd, &out).into());
    }
    Ok(dir)
}

/// The original herodo's `download_install(url, min_kb)`: download into the temporary
/// directory; a `.deb` is then installed with `dpkg --install` (and `apt-get install -f` for
/// its dependencies). Returns the downloaded file (or the extraction directory).
pub fn download_install(host: &Host, url: &str, tmp_dir: &Path, check: &Check) -> Result<String> {
    let name = file_name_of(url)?;
    let got = download(host, url, &tmp_dir.display().to_string(), check)?;
    if !name.to_ascii_lowercase().ends_with(".deb") {
        return Ok(got);
    }
    let run = |argv: &[&str]| -> Result<bool> {
        let cmd = Cmd::from_argv(argv)
            .ok_or_else(|| HostError::invalid("argv", "empty"))?
            .env("DEBIAN_FRONTEND", "noninteractive")
            .timeout(DOWNLOAD_TIMEOUT)
            .echo(false);
        Ok(host.exec(cmd)?.success())
    };
    if !run(&["dpkg", "--install", &got])? {
        let cmd = Cmd::new("apt-get")
            .args(["install", "-f", "-y", "--quiet"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .timeout(DOWNLOAD_TIMEOUT)
            .echo(false);
        let out = host.exec(cmd.clone())?;
        if !out.success() {
            return Err(ExecError::failed(&cmd, &out).into());
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_of_urls() {
        assert_eq!(
            file_name_of("https://x.org/a/b/tool-v1.tar.gz?sig=1").unwrap(),
            "tool-v1.tar.gz"
        );
        assert_eq!(
            file_name_of("http://127.0.0.1:8000/f.bin").unwrap(),
            "f.bin"
        );
        assert!(file_name_of("https://x.org/").is_err());
        assert!(file_name_of("https://x.org").is_err());
    }

    #[test]
    fn archives_and_curl_argv() {
        assert_eq!(archive_of("a.TGZ"), Some(Archive::Tar));
        assert_eq!(archive_of("a.zip"), Some(Archive::Zip));
        assert_eq!(archive_of("a.deb"), None);
        assert_eq!(
            curl_argv("https://x/y", Path::new("/tmp/.y.part"), false).join(" "),
            "curl --location --fail --show-error --silent --output /tmp/.y.part -- https://x/y"
        );
        assert!(
            curl_argv("https://x/y", Path::new("/t"), true).contains(&"--progress-bar".to_string())
        );
        assert!(check_url("ftp://x/y").is_err());
    }
}
