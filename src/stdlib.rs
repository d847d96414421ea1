//! The `.rhai` modules shipped inside the binary, importable as `import "std/NAME"`.

/// (name, source) of every embedded module.
pub const MODULES: &[(&str, &str)] = &[("retry", include_str!("../stdlib/retry.rhai"))];

/// The source of `std/NAME`.
pub fn get(name: &str) -> Option<&'static str> {
    MODULES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}
