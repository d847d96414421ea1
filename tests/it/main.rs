//! herodo's integration tests: one binary, one module per area.

mod support;

mod cli;
mod engines;
mod errors;
mod heropods;
mod host_fns;
mod repl;
mod runner;
