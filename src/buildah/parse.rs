//! Reading buildah's output: JSON listings, the one-line answers of `inspect`, `mount` and
//! `commit`, and the words of its error messages. Tested on output captured from buildah 1.28.2
//! in tests/fixtures/buildah.

use serde::{Deserialize, Serialize};

/// One row of `buildah containers --json`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct ContainerRow {
    #[serde(default)]
    pub id: String,
    #[serde(default, rename = "containername")]
    pub name: String,
    #[serde(default, rename = "imagename")]
    pub image: String,
}

/// One row of `buildah images --json`, as scripts see it (`#{id, names, size, created}`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ImageRow {
    pub id: String,
    pub names: Vec<String>,
    /// Bytes, from buildah's rounded `2.13 MB`.
    pub size: i64,
    pub created: String,
}

#[derive(Deserialize)]
struct RawImage {
    #[serde(default)]
    id: String,
    #[serde(default)]
    names: Option<Vec<String>>,
    #[serde(default)]
    size: String,
    #[serde(default)]
    createdatraw: Option<String>,
    #[serde(default)]
    createdat: Option<String>,
}

/// buildah prints `null` (or nothing), not `[]`, when there are no rows.
fn rows<T: serde::de::DeserializeOwned>(text: &str) -> Result<Vec<T>, serde_json::Error> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str::<Option<Vec<T>>>(t).map(Option::unwrap_or_default)
}

pub fn containers(text: &str) -> Result<Vec<ContainerRow>, serde_json::Error> {
    rows(text)
}

pub fn images(text: &str) -> Result<Vec<ImageRow>, serde_json::Error> {
    Ok(rows::<RawImage>(text)?
        .into_iter()
        .map(|r| ImageRow {
            id: r.id,
            names: r.names.unwrap_or_default(),
            size: crate::common::size::bytes(&r.size).unwrap_or(0),
            created: r.createdatraw.or(r.createdat).unwrap_or_default(),
        })
        .collect())
}

/// The last non-blank line, trimmed: the answer of `mount` (the mount point) and `commit`
/// (the image id, after its progress lines).
pub fn last_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

/// `(id, base image)` from `inspect --format '{{.ContainerID}} {{.FromImage}}'` ([`crate::
/// buildah::argv::inspect_container`]). A builder made from scratch has no base image name:
/// it is `scratch`. The id is empty when the line holds none.
pub fn container_line(stdout: &str) -> (String, String) {
    let line = last_line(stdout);
    let (id, image) = line.split_once(' ').unwrap_or((line.as_str(), ""));
    let image = match image.trim() {
        "" => "scratch",
        i => i,
    };
    (id.to_string(), image.to_string())
}

/// buildah's words for "there is no such image/container" (a `rm`, `rmi` or `inspect` of
/// something that is gone).
pub fn is_missing(stderr: &str) -> bool {
    let s = stderr.to_ascii_lowercase();
    ["image not known", "no such image", "container not known"]
        .iter()
        .any(|m| s.contains(m))
}

/// Whether a failed command's stderr says that what it was given does not exist (an image
/// that cannot be found or pulled, a container that is gone): the error is then `not_found`.
pub fn says_not_found(stderr: &str) -> bool {
    let s = stderr.to_ascii_lowercase();
    [
        "image not known",
        "no such image",
        "not found",
        "does not exist",
        "no such container",
        "initializing source",
        "unable to find",
        "repository name must",
        "manifest unknown",
    ]
    .iter()
    .any(|m| s.contains(m))
}

/// `buildah from` refused because the name belongs to an existing container.
pub fn name_in_use(stderr: &str) -> bool {
    stderr.contains("already in use")
}

/// The step a failed `buildah bud` stopped at, as ` at STEP ...`: the line where buildah names
/// it in stderr, else the last `STEP` line it printed on stdout; empty when neither is there.
pub fn failing_step(stdout: &str, stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .find(|l| l.contains("error building at STEP"))
        .or_else(|| stdout.lines().rev().find(|l| l.starts_with("STEP ")))
        .map(|l| format!(" at {}", l.trim()))
        .unwrap_or_default()
}

/// `; last output:` and the last `n` non-blank lines of a failed build's stdout (where RUN
/// steps print), or nothing when it printed nothing.
pub fn last_output(stdout: &str, n: usize) -> String {
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    let from = lines.len().saturating_sub(n);
    format!("; last output:\n{}", lines[from..].join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_output_lines() {
        assert_eq!(last_output("", 3), "");
        assert_eq!(
            last_output(
                "STEP 1/2: FROM x\n\nSTEP 2/2: RUN echo before; exit 3\nbefore\n",
                2
            ),
            "; last output:\nSTEP 2/2: RUN echo before; exit 3\nbefore"
        );
    }

    fn fixture(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/buildah")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn containers_and_images() {
        assert_eq!(
            containers(&fixture("containers.json")).unwrap(),
            vec![ContainerRow {
                id: "390d5caf897661db2a68fa145e66e1ec0f33a351918764b844f48eda3dc17c50".into(),
                name: "herodo-capture-x".into(),
                image: "localhost/busybox:test".into(),
            }]
        );
        assert_eq!(containers("null\n").unwrap(), vec![]);
        assert_eq!(containers("").unwrap(), vec![]);
        assert!(containers("[{").is_err());
        let i = images(&fixture("images.json")).unwrap();
        assert_eq!(i.len(), 1);
        assert_eq!(i[0].names, vec!["localhost/busybox:test"]);
        assert_eq!(i[0].created, "2026-11-25T16:15:28.405320941Z");
        assert_eq!(i[0].size, 2_130_000);
        assert_eq!(images("null").unwrap(), vec![]);
    }

    #[test]
    fn one_line_answers() {
        assert_eq!(
            container_line(&fixture("inspect_container.stdout")),
            (
                "f93687c73d64904f2732fcb5994a10606be50f3aace8f20fd3061519c87c0f44".into(),
                "localhost/busybox:test".into()
            )
        );
        assert_eq!(
            container_line(&fixture("inspect_container_scratch.stdout")),
            (
                "cb46b6029201a4cdd9cedde55bef517d85915d7357b3d722ba76c93789c69e19".into(),
                "scratch".into()
            )
        );
        assert_eq!(container_line(""), (String::new(), "scratch".into()));
        assert_eq!(
            last_line("Getting image source signatures\nWriting manifest\nsha256abc\n\n"),
            "sha256abc"
        );
        assert_eq!(last_line(""), "");
    }

    #[test]
    fn error_words() {
        // (fixture, is_missing, says_not_found, name_in_use)
        let cases = [
            ("inspect_missing_container.stderr", true, false, false),
            ("inspect_missing_image.stderr", true, true, false),
            ("rm_missing.stderr", true, false, false),
            ("rmi_missing.stderr", true, true, false),
            ("from_missing_image.stderr", false, true, false),
            ("from_name_in_use.stderr", false, false, true),
            ("bud_failed.stderr", false, false, false),
        ];
        for (name, missing, not_found, in_use) in cases {
            let text = fixture(name);
            assert_eq!(
                (is_missing(&text), says_not_found(&text), name_in_use(&text)),
                (missing, not_found, in_use),
                "{name}"
            );
        }
    }

    #[test]
    fn the_failing_build_step() {
        assert_eq!(
            failing_step(&fixture("bud_failed.stdout"), &fixture("bud_failed.stderr")),
            " at STEP 3/3: RUN exit 3"
        );
        assert_eq!(
            failing_step(
                "STEP 1/2: FROM x\n",
                "Error: error building at STEP \"RUN x\"\n"
            ),
            " at Error: error building at STEP \"RUN x\""
        );
        assert_eq!(failing_step("", "Error: no context\n"), "");
    }
}
