//! The fluent form `bah(name, image).run(..).write(..).commit(..)`: a [`Builder`] plus the
//! result of the last step, so that a chain can read `.stdout`, `.success` or `.image_id` at
//! its end. Every step returns the whole value again (Rhai passes it on by value).

use super::{env_entry, label_entry, BuildahError, Builder, ConfigEntry, ConfigValue, RunWhat};
use crate::exec::{Cmd, CommandResult, Output};
use crate::host::Host;

type Result<T> = std::result::Result<T, BuildahError>;

/// The fluent builder of `bah(name, image)`.
#[derive(Clone, Debug)]
pub struct Bah {
    pub builder: Builder,
    last: Option<CommandResult>,
    /// The id of the image the last commit made (empty before).
    pub image_id: String,
}

impl Bah {
    /// Attach to (or create) the working container `name` from `image`, here.
    pub fn open(host: &Host, name: &str, image: &str) -> Result<Bah> {
        Ok(Bah {
            builder: Builder::open(host, name, image, None)?,
            last: None,
            image_id: String::new(),
        })
    }

    /// The last step's result: an empty success before the first step.
    pub fn last(&self) -> CommandResult {
        self.last.clone().unwrap_or_else(|| {
            CommandResult::from_output(&Cmd::new("buildah"), &Output::empty_success())
        })
    }

    /// Keep a step's result; a failed step leaves the last result as it was.
    fn step(&mut self, res: Result<CommandResult>) -> Result<Bah> {
        self.last = Some(res?);
        Ok(self.clone())
    }

    pub fn run(&mut self, host: &Host, what: &RunWhat) -> Result<Bah> {
        let res = self.builder.run(host, what, None);
        self.step(res)
    }

    /// Run with an isolation (`oci`, `chroot`, `rootless`).
    pub fn run_isolated(&mut self, host: &Host, what: &RunWhat, isolation: &str) -> Result<Bah> {
        let res = self.builder.run(host, what, Some(isolation));
        self.step(res)
    }

    /// Remove the working container and start a fresh one from the same image.
    pub fn reset(&mut self, host: &Host) -> Result<Bah> {
        self.builder = self.builder.reset(host)?;
        self.last = None;
        self.image_id.clear();
        Ok(self.clone())
    }

    pub fn write(
        &mut self,
        host: &Host,
        content: &str,
        path: &str,
        mode: Option<u32>,
    ) -> Result<Bah> {
        let res = self.builder.write_content(host, content, path, mode);
        self.step(res)
    }

    pub fn copy(&mut self, host: &Host, src: &str, dst: &str) -> Result<Bah> {
        let res = self.builder.copy(host, src, dst);
        self.step(res)
    }

    pub fn add(&mut self, host: &Host, src: &str, dst: &str) -> Result<Bah> {
        let res = self.builder.add(host, src, dst);
        self.step(res)
    }

    pub fn config(&mut self, host: &Host, entries: &[ConfigEntry]) -> Result<Bah> {
        let res = self.builder.config(host, entries);
        self.step(res)
    }

    /// One config option (`cmd`, `entrypoint`).
    pub fn set(&mut self, host: &Host, key: &str, value: ConfigValue) -> Result<Bah> {
        let res = self.builder.set(host, key, value);
        self.step(res)
    }

    /// `KEY=VALUE` into the image's environment. The value is a secret from the moment the
    /// script hands it over, even when the key then turns out to be bad.
    pub fn env(&mut self, host: &Host, key: &str, value: &str) -> Result<Bah> {
        host.register_secret(value);
        let entry = env_entry(key, value)?;
        self.config(host, &[entry])
    }

    pub fn label(&mut self, host: &Host, key: &str, value: &str) -> Result<Bah> {
        self.config(host, &[label_entry(key, value)])
    }

    /// Commit to `image`: `image_id` then holds its id, and the last result is `buildah commit
    /// IMAGE` printing that id (the progress lines buildah prints are left out).
    pub fn commit(&mut self, host: &Host, image: &str) -> Result<Bah> {
        self.image_id = self.builder.commit(host, image, None)?;
        let mut out = Output::empty_success();
        out.stdout = format!("{}\n", self.image_id);
        let shown = Cmd::new("buildah").args(["commit", image]);
        self.last = Some(CommandResult::from_output(&shown, &out));
        Ok(self.clone())
    }

    pub fn remove(&mut self, host: &Host) -> Result<Bah> {
        let res = self.builder.remove(host);
        self.step(res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Status;
    use crate::host::recording_host;

    const CANARY: &str = "S3CR3T-CANARY-9f8e7d";

    fn bah() -> Bah {
        Bah {
            builder: Builder {
                name: "f".into(),
                container_id: "cid".into(),
                image: "scratch".into(),
                ..Builder::default()
            },
            last: None,
            image_id: String::new(),
        }
    }

    #[test]
    fn steps_keep_the_last_result() {
        let (h, rec) = recording_host();
        let mut b = bah();
        assert!(b.last().success);
        assert_eq!(b.last().cmd, "buildah");
        let mut hi = Output::empty_success();
        hi.stdout = "hi\n".into();
        rec.reply(hi);
        let b2 = b.run(&h, &RunWhat::Shell("echo hi".into())).unwrap();
        assert_eq!(b2.last().stdout, "hi\n");
        let b3 = b.env(&h, "TOKEN", CANARY).unwrap();
        assert_eq!(b3.last().cmd, "buildah config --env *** cid");
        b.label(&h, "app", "web").unwrap();
        b.set(
            &h,
            "cmd",
            ConfigValue::Many(vec!["cat".into(), "/x".into()]),
        )
        .unwrap();
        assert_eq!(
            rec.argvs()[2..],
            [
                vec!["buildah", "config", "--label", "app=web", "cid"],
                vec!["buildah", "config", "--cmd", "[\"cat\",\"/x\"]", "cid"],
            ]
        );

        // A failed step is an error and leaves the last result alone.
        let mut failed = Output::empty_success();
        failed.status = Status::Exited(4);
        rec.reply(failed);
        assert!(b.run(&h, &RunWhat::Shell("exit 4".into())).is_err());
        assert!(b.last().cmd.contains("--cmd"), "{}", b.last().cmd);
    }

    #[test]
    fn a_bad_env_key_still_hides_the_value() {
        let (h, rec) = recording_host();
        let mut b = bah();
        let e = b.env(&h, "A=B", CANARY).unwrap_err();
        assert_eq!(e.to_string(), "invalid env: `A=B` is not a variable name");
        assert_eq!(h.redact(CANARY), "***");
        assert!(rec.calls().is_empty());
    }

    #[test]
    fn commit_shows_the_image_id() {
        let (h, rec) = recording_host();
        let mut b = bah();
        rec.reply(Output::empty_success()); // the tag exists already
        let mut committed = Output::empty_success();
        committed.stdout = "Getting image source signatures\nsha256abc\n".into();
        rec.reply(committed);
        let done = b.commit(&h, "localhost/x:1").unwrap();
        assert_eq!(done.image_id, "sha256abc");
        assert_eq!(done.last().stdout, "sha256abc\n");
        assert_eq!(done.last().cmd, "buildah commit localhost/x:1");
    }
}
