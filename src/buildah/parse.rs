//! Parsing of buildah's JSON output.

use serde::Deserialize;

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

/// One row of `buildah images --json`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageRow {
    pub id: String,
    pub names: Vec<String>,
    pub size: String,
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
            size: r.size,
            created: r.createdatraw.or(r.createdat).unwrap_or_default(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured from buildah 1.28.2.
    const CONTAINERS: &str = r#"[
    {
        "id": "390d5caf897661db2a68fa145e66e1ec0f33a351918764b844f48eda3dc17c50",
        "builder": true,
        "imageid": "a96fa040e4928083c3634052aed3522fd411215e1017e0bdc50eb6e749e9e081",
        "imagename": "localhost/busybox:test",
        "containername": "herodo-capture-x"
    }
]
"#;

    const IMAGES: &str = r#"[
    {
        "id": "a96fa040e492",
        "names": [
            "localhost/busybox:test"
        ],
        "digest": "sha256:d4a14ffaa2a77a77d4d05e8d4869b03a50247971ab2cea4a6d2417335ff5b7f1",
        "createdat": "4 minutes ago",
        "size": "2.13 MB",
        "created": 1795623328,
        "createdatraw": "2026-11-25T16:15:28.405320941Z",
        "readonly": false,
        "history": null
    }
]
"#;

    #[test]
    fn containers_and_images() {
        assert_eq!(
            containers(CONTAINERS).unwrap(),
            vec![ContainerRow {
                id: "390d5caf897661db2a68fa145e66e1ec0f33a351918764b844f48eda3dc17c50".into(),
                name: "herodo-capture-x".into(),
                image: "localhost/busybox:test".into(),
            }]
        );
        assert_eq!(containers("null\n").unwrap(), vec![]);
        assert_eq!(containers("").unwrap(), vec![]);
        assert!(containers("[{").is_err());
        let i = images(IMAGES).unwrap();
        assert_eq!(i.len(), 1);
        assert_eq!(i[0].names, vec!["localhost/busybox:test"]);
        assert_eq!(i[0].created, "2026-11-25T16:15:28.405320941Z");
        assert_eq!(i[0].size, "2.13 MB");
        assert_eq!(images("null").unwrap(), vec![]);
    }
}
