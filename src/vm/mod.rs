//! Virtual machines and their disks.
//!
//! `qcow2` wraps qemu-img (create, inspect, snapshot, resize, convert, overlay, check) and
//! parses its JSON output into typed values. Plain Rust; `bindings.rs` is the Rhai layer.

pub mod bindings;
pub mod error;
pub mod qcow2;

pub use error::{Result, VmError};
