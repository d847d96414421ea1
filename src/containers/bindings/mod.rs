//! Rhai glue for containers: the `Container` builder of seeds 000/001 and the `nerdctl_*`
//! functions, herodo-compatible, on whichever engine is in use. Each binding is one call into
//! the domain (a setter on the spec, an operation in `ops`); results reach scripts through one
//! serde-based conversion ([`to_rhai`]).

mod actions;
mod builder;
mod functions;

use crate::glue::{to_rhai, words};
use std::sync::Arc;

use rhai::Dynamic;

use super::ops::{self, EngineCli};
use super::{Container, ContainerError, ExecCommand};
use crate::glue::{IntoRhai, RResult, Registrar};
use crate::host::Host;

pub fn register(r: &mut Registrar, host: &Arc<Host>) {
    r.engine().register_type_with_name::<Container>("Container");
    builder::register(r, host);
    actions::register(r, host);
    functions::register(r, host);
}

/// Resolve the engine and run one operation on it; its error becomes the script's error.
fn on_engine<T>(
    host: &Host,
    op: impl FnOnce(&EngineCli) -> Result<T, ContainerError>,
) -> RResult<T> {
    ops::resolve(host).and_then(|e| op(&e)).rhai()
}

/// What `exec` runs: a string is a shell line, an array an argv.
fn exec_what(v: &Dynamic) -> RResult<ExecCommand> {
    if v.is_string() {
        Ok(ExecCommand::Shell(v.to_string()))
    } else {
        Ok(ExecCommand::Argv(words(v, "command")?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::parse::{ContainerRow, ResourceUsage, Status};
    use rhai::{Array, Map};

    #[test]
    fn results_convert_to_script_values() {
        let st = Status {
            state: "running".into(),
            status: "running (healthy)".into(),
            running: true,
            exit_code: 0,
            health_status: Some("healthy".into()),
            failing_streak: 2,
            ..Status::default()
        };
        let m: Map = to_rhai(&st.view()).unwrap();
        assert_eq!(m["phase"].to_string(), "healthy");
        assert_eq!(m["exit_code"].as_int().unwrap(), 0);
        assert!(m["running"].as_bool().unwrap());
        assert!(m["health_output"].is_unit(), "None is ()");
        assert!(!m.contains_key("failing_streak") && !m.contains_key("health_interval"));
        let mut keys: Vec<&str> = m.keys().map(|k| k.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "created",
                "exit_code",
                "finished",
                "health_output",
                "health_status",
                "phase",
                "running",
                "started",
                "state",
                "status"
            ]
        );
        let u = ResourceUsage {
            cpu_usage: 12.5,
            memory_usage: 1 << 20,
            pids: 3,
            ..ResourceUsage::default()
        };
        let m: Map = to_rhai(&u).unwrap();
        assert_eq!(m["cpu_usage"].as_float().unwrap(), 12.5);
        assert_eq!(m["memory_usage"].as_int().unwrap(), 1 << 20);
        assert_eq!(m["pids"].as_int().unwrap(), 3);
        assert_eq!(m.len(), 9);
        let rows = vec![ContainerRow {
            name: "web".into(),
            labels: [("io.herodo.owner".to_string(), "x".to_string())].into(),
            ..ContainerRow::default()
        }];
        let a: Array = to_rhai(&rows).unwrap();
        let row = a[0].read_lock::<Map>().unwrap();
        assert_eq!(row["name"].to_string(), "web");
        assert!(
            !row.contains_key("labels"),
            "labels are herodo's, not shown"
        );
        let none: Dynamic = to_rhai(&None::<String>).unwrap();
        assert!(none.is_unit());
        assert!(
            to_rhai::<_, Map>(&vec!["a"]).is_err(),
            "a wrong type is an error"
        );
    }

    #[test]
    fn commands_are_strings_or_arrays() {
        assert_eq!(
            words(&Dynamic::from("sh -c 'echo a b'"), "cmd").unwrap(),
            ["sh", "-c", "echo a b"]
        );
        let arr: Array = vec!["ls".into(), "/".into()];
        assert_eq!(words(&Dynamic::from(arr), "cmd").unwrap(), ["ls", "/"]);
        assert!(words(&Dynamic::from(1_i64), "cmd").is_err());
        assert!(words(&Dynamic::from("unclosed 'quote"), "cmd").is_err());
        assert_eq!(
            exec_what(&Dynamic::from("echo hi")).unwrap(),
            ExecCommand::Shell("echo hi".into())
        );
    }

    fn eval(script: &str) -> (RResult<Dynamic>, Arc<Host>) {
        let (host, _rec) = crate::host::recording_host();
        let host = Arc::new(host);
        let mut engine = rhai::Engine::new();
        register(&mut Registrar::new(&mut engine), &host);
        (engine.eval::<Dynamic>(script), host)
    }

    /// The builder as a script uses it: chained and statement-style setters, every getter with
    /// its script type, and a bad value as a catchable `invalid_argument` naming the field.
    #[test]
    fn the_builder_from_a_script() {
        let (v, _) = eval(
            r#"
            let c = nerdctl_container_from_image("web", "localhost/busybox:test")
                .with_ports(["127.0.0.1:8080:80"])
                .with_health_check_options("true", "1s", "", 3, "");
            c.with_env("MODE", "test");
            c.with_label("app", "demo");
            c.with_cmd("sleep 'a b'");
            let e = "";
            try { c.with_port("99999"); } catch (err) { e = `${err.kind} ${err.field}`; }
            [c.name, c.container_id, c.ports, c.env_vars, c.labels, c.network, c.detach,
             c.health_check, c.cmd, e, `${c}`]
            "#,
        );
        let a = v.unwrap().into_array().unwrap();
        let shown: Vec<String> = a.iter().map(|x| format!("{x:?}")).collect();
        assert_eq!(
            shown,
            [
                r#""web""#,
                r#""""#,
                r#"["127.0.0.1:8080:80"]"#,
                r#"#{"MODE": "test"}"#,
                r#"#{"app": "demo"}"#,
                "()",
                "true",
                r#"#{"cmd": "true", "interval": "1s", "retries": 3, "start_period": (), "timeout": ()}"#,
                r#"["sleep", "a b"]"#,
                r#""invalid_argument port""#,
                r#""Container(name: web, image: localhost/busybox:test, id: -)""#,
            ]
        );
    }

    /// An env value is a secret before anything can fail: the error about its bad key is
    /// already scrubbed when rendered.
    #[test]
    fn env_values_are_secrets_at_once() {
        let (v, host) = eval(
            r#"
            let c = nerdctl_container_new("web");
            c.with_envs(#{OK: "S3CR3T-CANARY-9f8e7d", "BAD-KEY": "x"});
            "#,
        );
        let err = v.unwrap_err();
        assert!(err.to_string().contains("BAD-KEY"), "{err}");
        assert_eq!(host.redact("S3CR3T-CANARY-9f8e7d"), "***");
    }
}
