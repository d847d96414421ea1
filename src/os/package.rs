//! The original herodo's `package_*` functions over apt (Debian and Ubuntu). Elsewhere they
//! throw `unsupported`: herodo does not pretend to manage packages it cannot.

use std::time::Duration;

use crate::error::{kind, Classify, ErrorInfo, HostError};
use crate::exec::{Cmd, ExecError};
use crate::host::Host;

/// apt can take long (a slow mirror, a big upgrade): an hour before herodo gives up.
const APT_TIMEOUT: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("package management is not supported on {0} (herodo drives apt on Debian and Ubuntu)")]
    Unsupported(String),
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Host(#[from] HostError),
}

impl Classify for PackageError {
    fn info(&self) -> ErrorInfo {
        match self {
            PackageError::Unsupported(p) => {
                ErrorInfo::new(kind::UNSUPPORTED, self.to_string()).field("platform", p)
            }
            PackageError::Exec(e) => e.info(),
            PackageError::Host(e) => e.info(),
        }
    }
}

/// The platform as the original herodo names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Platform {
    Debian,
    Ubuntu,
    MacOs,
    /// Anything else, with its os-release ID when there is one.
    Other(String),
}

impl Platform {
    pub fn name(&self) -> String {
        match self {
            Platform::Debian => "Debian".into(),
            Platform::Ubuntu => "Ubuntu".into(),
            Platform::MacOs => "MacOS".into(),
            Platform::Other(_) => "Unknown".into(),
        }
    }

    fn has_apt(&self) -> bool {
        matches!(self, Platform::Debian | Platform::Ubuntu)
    }
}

/// The platform described by the text of /etc/os-release (`ID=`, `ID_LIKE=`).
pub fn platform_from_os_release(text: &str) -> Platform {
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_ascii_lowercase())
            .unwrap_or_default()
    };
    let (id, like) = (field("ID"), field("ID_LIKE"));
    match id.as_str() {
        "ubuntu" => Platform::Ubuntu,
        "debian" => Platform::Debian,
        _ if like.split_whitespace().any(|w| w == "ubuntu") => Platform::Ubuntu,
        _ if like.split_whitespace().any(|w| w == "debian") => Platform::Debian,
        _ => Platform::Other(id),
    }
}

pub fn platform() -> Platform {
    if cfg!(target_os = "macos") {
        return Platform::MacOs;
    }
    std::fs::read_to_string("/etc/os-release")
        .map(|t| platform_from_os_release(&t))
        .unwrap_or_else(|_| Platform::Other(String::new()))
}

/// Package names from "a b,c": split on whitespace and commas, each checked (a name can never
/// become an option of apt).
pub fn package_names(list: &str) -> Result<Vec<String>, HostError> {
    let names: Vec<String> = list
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if names.is_empty() {
        return Err(HostError::invalid("package", "names no package"));
    }
    for n in &names {
        let ok = n.starts_with(|c: char| c.is_ascii_alphanumeric())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.:=~_/*".contains(c));
        if !ok {
            return Err(HostError::invalid(
                "package",
                format!("`{n}` is not a package name"),
            ));
        }
    }
    Ok(names)
}

/// apt-get waits this long for another apt or dpkg to finish (it gives up at once otherwise).
const LOCK_WAIT: &str = "-oDPkg::Lock::Timeout=300";

/// What a `package_*` function asks apt to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Install(Vec<String>),
    Remove(Vec<String>),
    Update,
    Upgrade,
    List,
    Search(String),
    IsInstalled(String),
}

/// The argv of `op` (pure; the table in the tests shows every one).
pub fn argv(op: &Op) -> Vec<String> {
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match op {
        Op::Install(p) => [
            v(&["apt-get", LOCK_WAIT, "install", "-y", "--quiet", "--"]),
            p.clone(),
        ]
        .concat(),
        Op::Remove(p) => [
            v(&["apt-get", LOCK_WAIT, "remove", "-y", "--quiet", "--"]),
            p.clone(),
        ]
        .concat(),
        Op::Update => v(&["apt-get", LOCK_WAIT, "update", "--quiet"]),
        Op::Upgrade => v(&["apt-get", LOCK_WAIT, "upgrade", "-y", "--quiet"]),
        Op::List => v(&[
            "dpkg-query",
            "--show",
            "--showformat=${Package}\t${db:Status-Status}\n",
        ]),
        Op::Search(q) => v(&["apt-cache", "search", "--names-only", "--", q]),
        Op::IsInstalled(p) => v(&[
            "dpkg-query",
            "--show",
            "--showformat=${db:Status-Status}",
            "--",
            p,
        ]),
    }
}

/// Installed package names from `dpkg-query` output of [`Op::List`].
pub fn parse_list(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| {
            let (name, status) = l.split_once('\t')?;
            (status.trim() == "installed").then(|| name.to_string())
        })
        .collect()
}

/// Package names from `apt-cache search` output ("name - description").
pub fn parse_search(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.split(" - ").next())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Runs apt for scripts: `debug` shows the commands and their output.
pub struct Apt<'a> {
    pub host: &'a Host,
    pub debug: bool,
}

impl Apt<'_> {
    fn cmd(&self, op: &Op) -> Result<Cmd, PackageError> {
        let p = platform();
        if !p.has_apt() {
            return Err(PackageError::Unsupported(match p {
                Platform::Other(id) if !id.is_empty() => id,
                other => other.name(),
            }));
        }
        let argv = argv(op);
        Ok(Cmd::from_argv(&argv)
            .ok_or_else(|| HostError::invalid("argv", "empty"))?
            .env("DEBIAN_FRONTEND", "noninteractive")
            .timeout(APT_TIMEOUT)
            .echo(self.debug))
    }

    /// Run `op`; a non-zero exit throws `command_failed`. Under `--dry-run` the host prints
    /// the apt command instead.
    pub fn run(&self, op: &Op) -> Result<String, PackageError> {
        let cmd = self.cmd(op)?;
        if self.debug {
            eprintln!("{}", self.host.redact(&format!("+ {cmd}")));
        }
        let out = self.host.exec(cmd.clone())?;
        if !out.success() {
            return Err(ExecError::failed(&cmd, &out).into());
        }
        Ok(out.stdout)
    }

    pub fn is_installed(&self, name: &str) -> Result<bool, PackageError> {
        let names = package_names(name)?;
        let cmd = self.cmd(&Op::IsInstalled(names[0].clone()))?;
        let out = self.host.exec(cmd)?;
        Ok(out.success() && out.stdout.trim() == "installed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_table() {
        let p = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let table: &[(Op, &str)] = &[
            (
                Op::Install(p(&["cowsay", "sl"])),
                "apt-get -oDPkg::Lock::Timeout=300 install -y --quiet -- cowsay sl",
            ),
            (
                Op::Remove(p(&["cowsay"])),
                "apt-get -oDPkg::Lock::Timeout=300 remove -y --quiet -- cowsay",
            ),
            (
                Op::Update,
                "apt-get -oDPkg::Lock::Timeout=300 update --quiet",
            ),
            (
                Op::Upgrade,
                "apt-get -oDPkg::Lock::Timeout=300 upgrade -y --quiet",
            ),
            (
                Op::List,
                "dpkg-query --show --showformat=${Package}\t${db:Status-Status}\n",
            ),
            (
                Op::Search("git".into()),
                "apt-cache search --names-only -- git",
            ),
            (
                Op::IsInstalled("git".into()),
                "dpkg-query --show --showformat=${db:Status-Status} -- git",
            ),
        ];
        for (op, want) in table {
            assert_eq!(argv(op).join(" "), *want, "{op:?}");
        }
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(package_names("a b,c").unwrap(), ["a", "b", "c"]);
        assert_eq!(package_names("libc6:amd64").unwrap(), ["libc6:amd64"]);
        assert!(package_names("").is_err());
        assert!(package_names("-y").is_err());
        assert!(package_names("a;b").is_err());
    }

    #[test]
    fn platforms_from_os_release() {
        let debian = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n";
        assert_eq!(platform_from_os_release(debian), Platform::Debian);
        assert_eq!(
            platform_from_os_release("ID=ubuntu\nID_LIKE=debian\n"),
            Platform::Ubuntu
        );
        assert_eq!(
            platform_from_os_release("ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n"),
            Platform::Ubuntu
        );
        assert_eq!(
            platform_from_os_release("ID=fedora\n"),
            Platform::Other("fedora".into())
        );
        assert_eq!(Platform::Other("x".into()).name(), "Unknown");
    }

    #[test]
    fn parse_apt_output() {
        let list = "adduser\tinstalled\ngit\tinstalled\nold\tconfig-files\n";
        assert_eq!(parse_list(list), ["adduser", "git"]);
        let search =
            "git - fast, scalable, distributed revision control system\ngit-all - fast - all\n";
        assert_eq!(parse_search(search), ["git", "git-all"]);
    }
}
