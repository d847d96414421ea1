//! The common floor: plain Rust helpers that more than one domain needs. Imports only
//! `exec`, `error` and `host`; never a domain.

pub mod convert;
pub mod duration;
pub mod flock;
pub mod inroot;
pub mod owner;
pub mod poll;
pub mod portspec;
pub mod procstat;
pub mod size;
pub mod state;
pub mod tcp;
pub mod time;
pub mod tmp;
pub mod unix_http;
pub mod validate;
