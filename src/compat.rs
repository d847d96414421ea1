//! The original herodo's names (the herolib crates, 0.3.13) that mean exactly what one of
//! herodo's own functions does. The registrar registers each function again under these
//! names, with a doc that says which spelling is herodo's, so `herodo fns` lists both and
//! `herodo check` knows both. Where the original behaves differently, the domain has its own
//! function instead (`execute`, `net_http_status`, `ensure_dir`, ...): see the README,
//! "Compatibility with the original herodo".

/// (the original's name, herodo's own name).
pub const ALIASES: &[(&str, &str)] = &[
    ("net_tcp_check", "tcp_check"),
    ("dir_ensure", "mkdir"),
    ("path_ensure", "mkdir"),
    ("template_builder_open", "template_open"),
];

/// The original's names for herodo's function `name`.
pub fn originals_of(name: &str) -> impl Iterator<Item = &'static str> + '_ {
    ALIASES
        .iter()
        .filter(move |(orig, own)| *own == name && orig != own)
        .map(|(orig, _)| *orig)
}

/// The doc of an alias: which name is herodo's, then herodo's own doc.
pub fn alias_doc(original: &str, own: &str, doc: &str) -> String {
    format!(
        "The original herodo's name for `{own}` (herodo's own name; same behaviour). \
         `{original}` is kept so scripts written for the original run unchanged.\n\n{doc}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alias_is_a_new_name() {
        let mut seen = std::collections::HashSet::new();
        for (orig, _) in ALIASES.iter().filter(|(o, h)| o != h) {
            assert!(seen.insert(*orig), "{orig} listed twice");
            assert!(
                !ALIASES.iter().any(|(_, own)| own == orig),
                "{orig} is both an alias and herodo's own name"
            );
        }
        assert_eq!(
            originals_of("mkdir").collect::<Vec<_>>(),
            ["dir_ensure", "path_ensure"]
        );
    }
}
