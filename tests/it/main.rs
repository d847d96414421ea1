//! herodo's integration tests: one binary, one module per area.

mod support;

mod architecture;
mod buildah;
mod cli;
mod cloudhv;
mod compat;
mod engines;
mod errors;
mod examples;
mod heropods;
mod heropods_faults;
mod host_fns;
mod hostile;
mod html_report;
mod interactive;
#[cfg(feature = "kube")]
mod kube;
mod progress;
mod readme;
mod reap;
mod reference;
mod repl;
mod runner;
mod signals;
mod stdlib;
mod vm;
