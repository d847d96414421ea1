//! The `.rhai` modules shipped inside the binary, importable as `import "std/NAME"`.

/// (name, source) of every embedded module, in the order the reference lists them.
pub const MODULES: &[(&str, &str)] = &[
    ("retry", include_str!("../stdlib/retry.rhai")),
    ("containers", include_str!("../stdlib/containers.rhai")),
    ("images", include_str!("../stdlib/images.rhai")),
    ("heropods", include_str!("../stdlib/heropods.rhai")),
    ("vm", include_str!("../stdlib/vm.rhai")),
    ("kube", include_str!("../stdlib/kube.rhai")),
];

/// The source of `std/NAME`.
pub fn get(name: &str) -> Option<&'static str> {
    MODULES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}
