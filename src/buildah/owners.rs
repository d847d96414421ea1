//! Who created each buildah working container, so a later run can reap the leftovers of a
//! herodo that died (`kill -9`, a crashed CI job) without touching anything else.
//!
//! `buildah from` (1.28) takes no label or annotation that `buildah containers --json` shows
//! (`buildah config --label` would end up in the committed image), so the owner lives in a
//! small ledger in herodo's state directory: one JSON record per builder under
//! `owners/builders/`, written atomically when herodo creates the builder and removed when it
//! is removed. A record names the builder's container id too: a builder that was removed
//! behind herodo's back and re-created under the same name by someone else is never reaped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::remote::Remote;
use super::{argv, check_name, BuildahError};
use crate::common::owner::{abandoned, owner_tag};
use crate::common::state;
use crate::host::{Cleaned, Host};

/// What the ledger knows about one builder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OwnerRecord {
    /// The owner tag of the herodo process that created (or last adopted) the builder.
    pub owner: String,
    pub name: String,
    pub container_id: String,
    /// Where buildah runs for this builder (`None`: here).
    pub remote: Option<Remote>,
}

/// The ledger directory below the state root.
pub fn dir(state_root: &Path) -> PathBuf {
    state_root.join("owners").join("builders")
}

/// The record's file: the builder name, plus the remote target for remote builders (a name
/// cannot contain `@` or `#`, so local and remote records never collide).
pub fn record_path(state_root: &Path, name: &str, remote: Option<&Remote>) -> PathBuf {
    let file = match remote {
        None => format!("{name}.json"),
        Some(r) => format!("{name}@{}#{}.json", r.target, r.port.unwrap_or(22)),
    };
    dir(state_root).join(file)
}

/// Record that this process created (or now uses) the builder. Nothing is written under
/// `--dry-run`.
pub fn record(
    host: &Host,
    name: &str,
    container_id: &str,
    remote: Option<&Remote>,
) -> Result<(), BuildahError> {
    if host.settings.dry_run {
        return Ok(());
    }
    let rec = OwnerRecord {
        owner: owner_tag().to_string(),
        name: name.to_string(),
        container_id: container_id.to_string(),
        remote: remote.cloned(),
    };
    Ok(state::write_json(
        &record_path(&host.state_dir, name, remote),
        &rec,
    )?)
}

/// The record of a builder, if there is a readable one.
pub fn read(host: &Host, name: &str, remote: Option<&Remote>) -> Option<OwnerRecord> {
    state::read_json(&record_path(&host.state_dir, name, remote))
        .ok()
        .flatten()
}

/// Forget the builder `container_id` (it was removed). A record about another container of
/// the same name is left alone.
pub fn forget(host: &Host, name: &str, container_id: &str, remote: Option<&Remote>) {
    if host.settings.dry_run {
        return;
    }
    if read(host, name, remote).is_some_and(|r| r.container_id == container_id) {
        let _ = state::remove(&record_path(&host.state_dir, name, remote));
    }
}

/// Every readable record in the ledger with the file it came from.
fn all(state_root: &Path) -> Vec<(PathBuf, OwnerRecord)> {
    let Ok(entries) = std::fs::read_dir(dir(state_root)) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, OwnerRecord)> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| {
            let rec = state::read_json::<OwnerRecord>(&p).ok().flatten()?;
            Some((p, rec))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Container ids of the working containers buildah has, by name (`None`: could not list).
fn containers(host: &Host, remote: Option<&Remote>) -> Option<HashMap<String, String>> {
    let cmd = argv::command(remote, argv::containers()).timeout(std::time::Duration::from_secs(60));
    let out = host.exec_checked(cmd).ok()?;
    let rows = super::parse::containers(&out.stdout).ok()?;
    Some(
        rows.into_iter()
            .map(|r| (r.name, r.id))
            .collect::<HashMap<_, _>>(),
    )
}

/// Remove the working containers whose owner (the herodo that created them) is dead, and drop
/// ledger records whose builder is gone. Live owners' builders, builders that were re-created
/// by someone else under the same name, and records that cannot be understood are left alone.
/// Under `--dry-run` the removals are only shown and the ledger is untouched.
pub fn reap_orphans(host: &Host) -> Vec<Cleaned> {
    let mut listed: HashMap<Option<String>, Option<HashMap<String, String>>> = HashMap::new();
    let mut cleaned = Vec::new();
    for (path, rec) in all(&host.state_dir) {
        if !abandoned(&rec.owner) || check_name(&rec.name).is_err() {
            continue;
        }
        // A record is data on disk: its remote is checked again before ssh sees it.
        let remote = match rec.remote.clone().map(Remote::checked).transpose() {
            Ok(r) => r,
            Err(_) => continue,
        };
        let shown = match &remote {
            None => rec.name.clone(),
            Some(r) => format!("{}@{}", rec.name, r.label()),
        };
        if host.settings.dry_run {
            let _ = host.exec(argv::command(remote.as_ref(), argv::rm(&rec.container_id)));
            cleaned.push(Cleaned {
                kind: "buildah-container",
                name: shown,
                error: None,
            });
            continue;
        }
        let key = remote.as_ref().map(Remote::label);
        let present = listed
            .entry(key)
            .or_insert_with(|| containers(host, remote.as_ref()));
        let Some(present) = present else {
            // buildah (or the build host) cannot be asked now: try again another time.
            continue;
        };
        if present.get(&rec.name) != Some(&rec.container_id) {
            // Gone, or re-created by someone else: the record is stale, the builder not ours.
            let _ = state::remove(&path);
            continue;
        }
        let cmd = argv::command(remote.as_ref(), argv::rm(&rec.container_id))
            .timeout(std::time::Duration::from_secs(120));
        let error = match host.exec_checked(cmd) {
            Ok(_) => {
                let _ = state::remove(&path);
                None
            }
            Err(e) => Some(host.redact(&e.to_string())),
        };
        cleaned.push(Cleaned {
            kind: "buildah-container",
            name: shown,
            error,
        });
    }
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{Output, RecordingExecutor};
    use crate::host::Settings;
    use std::sync::Arc;

    fn host_in(dir: &Path, dry_run: bool) -> (Host, Arc<RecordingExecutor>) {
        let rec = Arc::new(RecordingExecutor::new());
        let mut h = Host::with_executor(
            Settings {
                dry_run,
                ..Settings::default()
            },
            rec.clone(),
            crate::exec::CancelToken::new(),
        );
        h.state_dir = dir.to_path_buf();
        (h, rec)
    }

    fn write(dir: &Path, owner: &str, name: &str, id: &str) {
        let rec = OwnerRecord {
            owner: owner.into(),
            name: name.into(),
            container_id: id.into(),
            remote: None,
        };
        state::write_json(&record_path(dir, name, None), &rec).unwrap();
    }

    #[test]
    fn dead_owners_are_reaped_live_ones_kept() {
        let dir = std::env::temp_dir().join(format!("herodo-owners-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let dead = "otherboot-1-1-test";
        write(&dir, dead, "dead-b", "id-dead");
        write(&dir, owner_tag(), "live-b", "id-live");
        write(&dir, dead, "stale-b", "id-stale");
        write(&dir, dead, "retaken-b", "id-old");
        let (h, rec) = host_in(&dir, false);
        let mut list = Output::empty_success();
        list.stdout = r#"[{"id":"id-dead","containername":"dead-b"},{"id":"id-live","containername":"live-b"},{"id":"id-new","containername":"retaken-b"}]"#.into();
        rec.reply(list);
        let cleaned = reap_orphans(&h);
        let names: Vec<_> = cleaned.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["dead-b"]);
        assert!(cleaned[0].error.is_none());
        assert_eq!(
            rec.argvs(),
            vec![
                vec!["buildah", "containers", "--json"],
                vec!["buildah", "rm", "id-dead"],
            ]
        );
        let left: Vec<String> = all(&dir).into_iter().map(|(_, r)| r.name).collect();
        assert_eq!(left, vec!["live-b"]);

        // Dry run: shown, not done, ledger untouched.
        write(&dir, dead, "dead-b", "id-dead");
        let (h, rec) = host_in(&dir, true);
        assert_eq!(reap_orphans(&h).len(), 1);
        assert_eq!(rec.argvs(), vec![vec!["buildah", "rm", "id-dead"]]);
        assert_eq!(all(&dir).len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn record_paths_separate_remotes() {
        let r = Remote::parse("root@10.0.0.5:2222").unwrap();
        let root = Path::new("/s");
        assert_eq!(
            record_path(root, "b", None),
            Path::new("/s/owners/builders/b.json")
        );
        assert_eq!(
            record_path(root, "b", Some(&r)),
            Path::new("/s/owners/builders/b@root@10.0.0.5#2222.json")
        );
    }
}
