//! herodo's integration tests: one binary, one module per area.

mod support;

mod buildah;
mod cli;
mod engines;
mod errors;
mod host_fns;
mod repl;
mod runner;
