//! `pod_copy_to` / `pod_copy_from`: a tar stream through exec, as `kubectl cp` does (`tar x`
//! or `tar c` runs in the container). The archive is written and read here (ustar with GNU
//! long names, which GNU tar and busybox tar read and write), so no local tar is needed.
//! Unpacking never writes outside the destination: entries with `..` or absolute names are
//! refused, and symbolic links are made only after every file, so nothing is written through
//! one.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use super::error::{KubeError, Result};
use super::stream::ExecRequest;
use super::ws::ExecEnd;
use super::Cluster;

const BLOCK: usize = 512;

/// One member of an archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    File {
        name: String,
        mode: u32,
        data: Vec<u8>,
    },
    Dir {
        name: String,
        mode: u32,
    },
    Symlink {
        name: String,
        target: String,
    },
}

fn octal(field: &mut [u8], v: u64) {
    let width = field.len() - 1;
    let s = format!("{v:0width$o}");
    let s = &s.as_bytes()[s.len().saturating_sub(width)..];
    field[..s.len()].copy_from_slice(s);
    field[width] = 0;
}

fn header(name: &str, mode: u32, size: u64, kind: u8, link: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut name_field = name.as_bytes().to_vec();
    if name_field.len() > 100 {
        // GNU long name: a `././@LongLink` member holding the name, then the real header.
        let mut long = name.as_bytes().to_vec();
        long.push(0);
        out.extend(header("././@LongLink", 0o644, long.len() as u64, b'L', ""));
        out.extend(padded(&long));
        name_field.truncate(100);
    }
    let mut h = [0u8; BLOCK];
    h[..name_field.len()].copy_from_slice(&name_field);
    octal(&mut h[100..108], u64::from(mode & 0o7777));
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    octal(&mut h[136..148], mtime);
    h[156] = kind;
    let link = link.as_bytes();
    h[157..157 + link.len().min(100)].copy_from_slice(&link[..link.len().min(100)]);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    octal(&mut h[148..155], u64::from(sum));
    h[155] = b' ';
    out.extend_from_slice(&h);
    out
}

fn padded(data: &[u8]) -> Vec<u8> {
    let mut v = data.to_vec();
    let rem = v.len() % BLOCK;
    if rem != 0 {
        v.resize(v.len() + BLOCK - rem, 0);
    }
    v
}

/// An archive of `entries`.
pub fn write(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        match e {
            Entry::File { name, mode, data } => {
                out.extend(header(name, *mode, data.len() as u64, b'0', ""));
                out.extend(padded(data));
            }
            Entry::Dir { name, mode } => {
                let n = format!("{}/", name.trim_end_matches('/'));
                out.extend(header(&n, *mode, 0, b'5', ""));
            }
            Entry::Symlink { name, target } => out.extend(header(name, 0o777, 0, b'2', target)),
        }
    }
    out.extend([0u8; BLOCK * 2]);
    out
}

fn field_str(f: &[u8]) -> String {
    let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
    String::from_utf8_lossy(&f[..end]).into_owned()
}

fn parse_num(f: &[u8]) -> Result<u64> {
    if f.first().is_some_and(|b| b & 0x80 != 0) {
        // base-256 (GNU, for large sizes)
        let mut v: u64 = u64::from(f[0] & 0x7f);
        for &b in &f[1..] {
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(u64::from(b)))
                .ok_or_else(|| bad("a size too large"))?;
        }
        return Ok(v);
    }
    let s = field_str(f);
    let s = s.trim_matches(|c: char| c == ' ' || c == '\0');
    if s.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(s, 8).map_err(|_| bad(&format!("a bad number {s:?}")))
}

fn bad(what: &str) -> KubeError {
    KubeError::Other(format!("copy: the archive from the pod has {what}"))
}

/// The members of an archive (files, directories, symlinks; other kinds are skipped).
pub fn read(data: &[u8]) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut long_name: Option<String> = None;
    let mut pax_path: Option<String> = None;
    while at + BLOCK <= data.len() {
        let h = &data[at..at + BLOCK];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let stored: u32 = parse_num(&h[148..156])? as u32;
        let sum: u32 = h[..148]
            .iter()
            .chain([b' '; 8].iter())
            .chain(h[156..].iter())
            .map(|&b| u32::from(b))
            .sum();
        if stored != sum {
            return Err(bad("a header with a bad checksum"));
        }
        let size = parse_num(&h[124..136])? as usize;
        let body_start = at + BLOCK;
        let body_end = body_start
            .checked_add(size)
            .filter(|&e| e <= data.len())
            .ok_or_else(|| bad("a member cut short"))?;
        let body = &data[body_start..body_end];
        at = body_start + size.div_ceil(BLOCK) * BLOCK;
        let kind = h[156];
        let mut name = field_str(&h[..100]);
        // POSIX ustar keeps a name prefix there (GNU's format keeps times instead).
        if &h[257..263] == b"ustar\0" {
            let prefix = field_str(&h[345..500]);
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        match kind {
            b'L' => {
                long_name = Some(field_str(body));
                continue;
            }
            b'x' => {
                pax_path = pax_records(body)
                    .into_iter()
                    .find(|(k, _)| k == "path")
                    .map(|(_, v)| v);
                continue;
            }
            b'g' => continue,
            _ => {}
        }
        if let Some(n) = pax_path.take().or(long_name.take()) {
            name = n;
        }
        let mode = parse_num(&h[100..108])? as u32;
        match kind {
            b'0' | 0 | b'7' => out.push(Entry::File {
                name,
                mode,
                data: body.to_vec(),
            }),
            b'5' => out.push(Entry::Dir {
                name: name.trim_end_matches('/').to_string(),
                mode,
            }),
            b'2' => out.push(Entry::Symlink {
                name,
                target: field_str(&h[157..257]),
            }),
            _ => {}
        }
    }
    Ok(out)
}

fn pax_records(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    let mut out = Vec::new();
    let mut rest: &str = &text;
    while let Some((len, _)) = rest.split_once(' ') {
        let Ok(n) = len.parse::<usize>() else { break };
        if n == 0 || n > rest.len() {
            break;
        }
        let rec = &rest[len.len() + 1..n];
        if let Some((k, v)) = rec.trim_end_matches('\n').split_once('=') {
            out.push((k.to_string(), v.to_string()));
        }
        rest = &rest[n..];
    }
    out
}

/// The archive members for a local path, named under `as_name`.
pub fn collect(local: &Path, as_name: &str) -> Result<Vec<Entry>> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(local).map_err(|e| io(local, e))?;
    let mut out = Vec::new();
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(local).map_err(|e| io(local, e))?;
        out.push(Entry::Symlink {
            name: as_name.to_string(),
            target: target.to_string_lossy().into_owned(),
        });
    } else if meta.is_dir() {
        out.push(Entry::Dir {
            name: as_name.to_string(),
            mode: meta.permissions().mode(),
        });
        let mut children: Vec<_> = std::fs::read_dir(local)
            .map_err(|e| io(local, e))?
            .filter_map(|e| e.ok())
            .collect();
        children.sort_by_key(|e| e.file_name());
        for c in children {
            let n = format!("{as_name}/{}", c.file_name().to_string_lossy());
            out.extend(collect(&c.path(), &n)?);
        }
    } else {
        out.push(Entry::File {
            name: as_name.to_string(),
            mode: meta.permissions().mode(),
            data: std::fs::read(local).map_err(|e| io(local, e))?,
        });
    }
    Ok(out)
}

fn io(p: &Path, e: std::io::Error) -> KubeError {
    if e.kind() == std::io::ErrorKind::NotFound {
        KubeError::invalid("local", format!("{} does not exist", p.display()))
    } else {
        KubeError::Other(format!("copy: {}: {e}", p.display()))
    }
}

/// Where an archive member named `name` (which must start with `base`) lands under `dest`;
/// None for a name that would leave it.
pub fn destination(dest: &Path, base: &str, name: &str) -> Option<PathBuf> {
    let rest = name.strip_prefix(base)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let mut out = dest.to_path_buf();
    for c in Path::new(rest.trim_start_matches('/')).components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

/// Unpack `entries` (named under `base`) to `dest`; returns the bytes of file content.
pub fn unpack(entries: &[Entry], base: &str, dest: &Path) -> Result<u64> {
    use std::os::unix::fs::PermissionsExt;
    let mut bytes = 0u64;
    let mut links = Vec::new();
    for e in entries {
        let name = match e {
            Entry::File { name, .. } | Entry::Dir { name, .. } | Entry::Symlink { name, .. } => {
                name
            }
        };
        let Some(path) = destination(dest, base, name) else {
            return Err(bad(&format!("a member {name:?} outside {base}")));
        };
        match e {
            Entry::Dir { mode, .. } => {
                std::fs::create_dir_all(&path).map_err(|e| io(&path, e))?;
                let _ = std::fs::set_permissions(
                    &path,
                    std::fs::Permissions::from_mode((mode & 0o7777) | 0o700),
                );
            }
            Entry::File { mode, data, .. } => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
                }
                // Never write through a link that is already there.
                if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                    std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
                }
                std::fs::write(&path, data).map_err(|e| io(&path, e))?;
                let _ =
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o7777));
                bytes += data.len() as u64;
            }
            Entry::Symlink { target, .. } => links.push((path, target.clone())),
        }
    }
    for (path, target) in links {
        let _ = std::fs::remove_file(&path);
        std::os::unix::fs::symlink(&target, &path).map_err(|e| io(&path, e))?;
    }
    Ok(bytes)
}

/// `dir` and `name` of a path in the container (`/a/b` -> `/a`, `b`; `b` -> `.`, `b`).
pub fn split_remote(remote: &str) -> Result<(String, String)> {
    let trimmed = remote.trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(KubeError::invalid("remote", "names no file (only /)"));
    }
    let (dir, name) = match trimmed.rsplit_once('/') {
        Some(("", n)) => ("/".to_string(), n.to_string()),
        Some((d, n)) => (d.to_string(), n.to_string()),
        None => (".".to_string(), trimmed.to_string()),
    };
    if name == ".." || name == "." {
        return Err(KubeError::invalid(
            "remote",
            format!("{remote:?} names no file"),
        ));
    }
    Ok((dir, name))
}

fn run_tar(
    cluster: &Cluster,
    ns: &str,
    pod: &str,
    container: Option<String>,
    argv: Vec<String>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
) -> Result<Vec<u8>> {
    let cmd = shell_words::join(&argv);
    let req = ExecRequest {
        argv,
        container,
        stdin,
        tty: false,
    };
    let out = cluster.exec(ns, pod, &req, timeout)?;
    match out.end {
        ExecEnd::Exited(0) => Ok(out.stdout),
        ExecEnd::Exited(code) => Err(KubeError::ExecFailed {
            pod: format!("{ns}/{pod}"),
            cmd,
            code,
            stdout: String::new(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }),
        ExecEnd::Error { message, .. } => Err(KubeError::Workload {
            kind: match super::ws::classify_exec_failure(&message) {
                super::ws::ExecFailure::NotRunning => crate::error::kind::NOT_RUNNING,
                super::ws::ExecFailure::CommandNotFound => crate::error::kind::COMMAND_NOT_FOUND,
                super::ws::ExecFailure::Other => crate::error::kind::COMMAND_FAILED,
            },
            message: format!("copy in pod {ns}/{pod}: {message}"),
            logs: String::new(),
        }),
    }
}

/// Copy `local` into the pod as `remote`; returns the bytes of file content sent.
pub fn copy_to(
    cluster: &Cluster,
    ns: &str,
    pod: &str,
    container: Option<String>,
    local: &str,
    remote: &str,
    timeout: Duration,
) -> Result<u64> {
    let (dir, name) = split_remote(remote)?;
    let entries = collect(Path::new(local), &name)?;
    let bytes = entries
        .iter()
        .map(|e| match e {
            Entry::File { data, .. } => data.len() as u64,
            _ => 0,
        })
        .sum();
    let archive = write(&entries);
    let argv = ["tar", "xmf", "-", "-C", &dir]
        .iter()
        .map(|s| s.to_string())
        .collect();
    run_tar(cluster, ns, pod, container, argv, Some(archive), timeout)?;
    Ok(bytes)
}

/// Copy `remote` out of the pod to `local`; returns the bytes of file content received.
pub fn copy_from(
    cluster: &Cluster,
    ns: &str,
    pod: &str,
    container: Option<String>,
    remote: &str,
    local: &str,
    timeout: Duration,
) -> Result<u64> {
    let (dir, name) = split_remote(remote)?;
    let argv = ["tar", "cf", "-", "-C", &dir, &name]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let archive = run_tar(cluster, ns, pod, container, argv, None, timeout)?;
    let entries = read(&archive)?;
    unpack(&entries, &name, Path::new(local))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_round_trip_with_long_names() {
        let long = format!("d/{}", "x".repeat(150));
        let entries = vec![
            Entry::Dir {
                name: "d".into(),
                mode: 0o755,
            },
            Entry::File {
                name: "d/a.txt".into(),
                mode: 0o640,
                data: b"hello\n".to_vec(),
            },
            Entry::File {
                name: long.clone(),
                mode: 0o600,
                data: vec![7u8; 1000],
            },
            Entry::Symlink {
                name: "d/link".into(),
                target: "a.txt".into(),
            },
        ];
        let tar = write(&entries);
        assert_eq!(tar.len() % BLOCK, 0);
        assert_eq!(read(&tar).unwrap(), entries);
    }

    #[test]
    fn gnu_tar_reads_what_is_written_and_back() {
        use crate::exec::{CancelToken, Cmd, Executor, ProcessExecutor};
        // Through the one executor, as every process herodo starts.
        let run = |args: &[&str], cwd: &std::path::Path| {
            ProcessExecutor::new(CancelToken::new())
                .execute(&Cmd::new("tar").args(args.iter().copied()).cwd(cwd))
        };
        if crate::exec::which("tar").is_none() {
            eprintln!("skipping: no tar");
            return;
        }
        let dir = std::env::temp_dir().join(format!("herodo-tar-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("out")).unwrap();
        let entries = vec![
            Entry::Dir {
                name: "t".into(),
                mode: 0o755,
            },
            Entry::File {
                name: format!("t/{}", "y".repeat(120)),
                mode: 0o644,
                data: b"long\n".to_vec(),
            },
        ];
        std::fs::write(dir.join("a.tar"), write(&entries)).unwrap();
        assert!(run(&["xf", "a.tar", "-C", "out"], &dir).unwrap().success());
        let name = format!("out/t/{}", "y".repeat(120));
        assert_eq!(std::fs::read(dir.join(&name)).unwrap(), b"long\n");
        assert!(run(&["cf", "b.tar", "-C", "out", "t"], &dir)
            .unwrap()
            .success());
        let back = read(&std::fs::read(dir.join("b.tar")).unwrap()).unwrap();
        assert!(back.iter().any(|e| matches!(e,
            Entry::File { name, data, .. } if name.ends_with(&"y".repeat(120)) && data == b"long\n")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unpacking_stays_inside_the_destination() {
        let d = Path::new("/dest");
        let table = [
            ("f", "f", Some("/dest")),
            ("f", "f/a/b", Some("/dest/a/b")),
            ("f", "f/../x", None),
            ("f", "fx", None),
            ("f", "/etc/passwd", None),
            ("f", "g/a", None),
        ];
        for (base, name, want) in table {
            assert_eq!(
                destination(d, base, name),
                want.map(PathBuf::from),
                "{base} {name}"
            );
        }
        assert_eq!(
            split_remote("/tmp/x/").unwrap(),
            ("/tmp".into(), "x".into())
        );
        assert_eq!(split_remote("/x").unwrap(), ("/".into(), "x".into()));
        assert_eq!(split_remote("x").unwrap(), (".".into(), "x".into()));
        assert!(split_remote("/").is_err());
        assert!(split_remote("a/..").is_err());
    }
}
