//! herodo's integration tests: one binary, one module per area.

mod support;

mod architecture;
mod buildah;
mod cli;
mod compat;
mod engines;
mod errors;
mod heropods;
mod heropods_faults;
mod host_fns;
mod hostile;
mod interactive;
#[cfg(feature = "kube")]
mod kube;
mod readme;
mod reap;
mod repl;
mod runner;
mod signals;
mod vm;
