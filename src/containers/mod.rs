//! Containers on nerdctl, podman or docker: one implementation, three CLI flavors.
//!
//! The seeds' nerdctl API (`nerdctl_container_from_image(..).with_port(..).build()`) works on
//! every flavor. A [`Flavor`] decides the few places where the CLIs differ: argv details and the
//! shapes of `inspect`, `stats`, `ps` and `images` output. The specs (`spec.rs`) validate every
//! value as it is set; argv builders (`argv.rs`) are pure functions, tested as tables per
//! flavor; operations (`ops.rs`) run them through the host's executor and parse the output
//! (`parse.rs`); `bindings/` is the thin Rhai layer.

pub mod argv;
pub mod bindings;
pub mod error;
pub mod ops;
pub mod parse;
pub mod spec;
pub mod validate;

pub use error::ContainerError;
pub use ops::reap_orphans;
pub use spec::{Container, CreateOptions, ExecCommand, ExecOptions, HealthCheck};

/// Labels under this prefix are herodo's own (the owner tag, the health interval): a script
/// cannot set them.
pub const HERODO_LABEL_PREFIX: &str = "io.herodo.";
/// On podman herodo runs health checks itself (there is no systemd to schedule them), so the
/// interval the script asked for is kept in this label and honoured by `wait_healthy`.
pub const HEALTH_INTERVAL_LABEL: &str = "io.herodo.health-interval";
/// Where a multi-line health check script is mounted inside the container.
pub const HEALTHCHECK_PATH: &str = "/.herodo-healthcheck.sh";

/// The container CLI in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Nerdctl,
    Podman,
    Docker,
}

impl Flavor {
    pub const ALL: [Flavor; 3] = [Flavor::Nerdctl, Flavor::Podman, Flavor::Docker];

    pub fn name(self) -> &'static str {
        match self {
            Flavor::Nerdctl => "nerdctl",
            Flavor::Podman => "podman",
            Flavor::Docker => "docker",
        }
    }

    pub fn from_name(name: &str) -> Option<Flavor> {
        Flavor::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl std::fmt::Display for Flavor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What herodo creates on an engine and may have to remove again (after a test, or when its
/// owner died).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object {
    Container,
    Image,
    Volume,
    Network,
}

impl Object {
    /// The word used in argv (`volume ls`), cleanup reports and `already_exists` messages.
    pub fn name(self) -> &'static str {
        match self {
            Object::Container => "container",
            Object::Image => "image",
            Object::Volume => "volume",
            Object::Network => "network",
        }
    }
}
