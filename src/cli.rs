//! Command-line parsing: raw clap flags are resolved into one [`Config`], then dispatched.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::engine::Limits;
use crate::host::{Settings, DEFAULT_TIMEOUT};
use crate::testing::runner::{TestOptions, DEFAULT_TEST_TIMEOUT};

const ABOUT: &str =
    "Rhai scripting for infrastructure: run commands, manage files, containers, images and VMs.";

const AFTER_HELP: &str = "\
Examples:
  herodo deploy.rhai web 8080     run a script; it sees ARGS == [\"web\", \"8080\"]
  herodo scripts/                 run every .rhai below scripts/ in path order, stop at the first failure
  herodo -e 'print(which(\"podman\"))'
  echo 'print(1 + 1)' | herodo -  read the script from stdin
  herodo check scripts/           syntax-check without running anything
  herodo fns file_                list functions whose name contains file_
  herodo                          the interactive shell (history, Tab completion, /help)
  herodo --dry-run deploy.rhai    print what deploy.rhai would do (commands, file changes,
                                  network calls) and do none of it
  herodo clean                    remove containers, volumes, networks and builders left
                                  behind by herodo processes that are gone (kill -9)

Everything after the script path belongs to the script (`./tool --help` reaches the tool).

Exit codes: 0 success, 1 script error (or the code given to exit(n)), 2 usage error,
5 `test` ran no test (a --filter matching nothing),
130 Ctrl-C, 143 SIGTERM, 129 SIGHUP.";

/// herodo command line.
#[derive(Parser, Debug)]
#[command(
    name = "herodo",
    version,
    about = ABOUT,
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,

    /// Evaluate CODE instead of a script file (the positional arguments become ARGS)
    #[arg(short = 'e', long = "eval", value_name = "CODE")]
    pub eval: Option<String>,

    /// Script file, directory of scripts (run in sorted order), or - for stdin
    #[arg(value_name = "SCRIPT")]
    pub script: Option<String>,

    /// Arguments for the script, visible to it as the array ARGS
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<String>,
}

/// Flags accepted anywhere: before a script, before or after a subcommand.
#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Echo each external command and how it ended to stderr; -vv also shows the tail of its
    /// output
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Print less: `test` shows only failures and the summary, `check` only problems
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// When to colour herodo's output [env: NO_COLOR turns it off, CLICOLOR_FORCE on]
    #[arg(
        long,
        value_name = "WHEN",
        value_enum,
        global = true,
        default_value = "auto"
    )]
    pub color: crate::diagnostics::ColorChoice,

    /// Change to DIR before doing anything
    #[arg(short = 'C', value_name = "DIR", global = true)]
    pub dir: Option<PathBuf>,

    #[command(flatten)]
    pub run: RunArgs,
}

/// Flags of what runs scripts (a script, `test`, `repl`; `clean` takes --dry-run and
/// --engine): given before a script or subcommand, or after `test`/`repl`/`clean`. Other
/// subcommands do not list them.
#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// Change nothing in the world: print each command, file write/copy/delete and network
    /// call instead of doing it (reads such as file_read or exist stay real)
    #[arg(long)]
    pub dry_run: bool,

    /// Default timeout in seconds for each external command [default: 3600] (the limit of a
    /// whole test is `test --test-timeout`)
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,

    /// Container engine: nerdctl, podman or docker [default: HERODO_CONTAINER_ENGINE, else the
    /// first one installed]
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,

    #[command(flatten)]
    pub limits: LimitArgs,
}

/// The sandbox limits.
#[derive(Args, Debug, Clone, Default)]
pub struct LimitArgs {
    /// Sandbox: stop the script after N operations
    #[arg(long, value_name = "N", help_heading = "Sandbox limits")]
    pub max_operations: Option<u64>,

    /// Sandbox: maximum depth of nested function calls
    #[arg(long, value_name = "N", help_heading = "Sandbox limits")]
    pub max_call_depth: Option<usize>,

    /// Sandbox: maximum length of a string, in bytes
    #[arg(long, value_name = "N", help_heading = "Sandbox limits")]
    pub max_string_size: Option<usize>,

    /// Sandbox: maximum number of elements in an array
    #[arg(long, value_name = "N", help_heading = "Sandbox limits")]
    pub max_array_size: Option<usize>,

    /// Sandbox: maximum number of properties in a map
    #[arg(long, value_name = "N", help_heading = "Sandbox limits")]
    pub max_map_size: Option<usize>,

    /// Sandbox: stop the script after SECS seconds of wall-clock time
    #[arg(long, value_name = "SECS", help_heading = "Sandbox limits")]
    pub max_time: Option<f64>,
}

impl LimitArgs {
    /// These limits, with `other`'s where these have none.
    fn or(self, other: LimitArgs) -> LimitArgs {
        LimitArgs {
            max_operations: self.max_operations.or(other.max_operations),
            max_call_depth: self.max_call_depth.or(other.max_call_depth),
            max_string_size: self.max_string_size.or(other.max_string_size),
            max_array_size: self.max_array_size.or(other.max_array_size),
            max_map_size: self.max_map_size.or(other.max_map_size),
            max_time: self.max_time.or(other.max_time),
        }
    }
}

impl RunArgs {
    /// Flags given after a subcommand win over the same flags given before it.
    fn or(self, other: RunArgs) -> RunArgs {
        RunArgs {
            dry_run: self.dry_run || other.dry_run,
            timeout: self.timeout.or(other.timeout),
            engine: self.engine.or(other.engine),
            limits: self.limits.or(other.limits),
        }
    }
}

/// What `clean` takes of [`RunArgs`].
#[derive(Args, Debug, Clone, Default)]
pub struct CleanArgs {
    /// Only say what would be removed
    #[arg(long)]
    pub dry_run: bool,

    /// Container engine: nerdctl, podman or docker [default: HERODO_CONTAINER_ENGINE, else the
    /// first one installed]
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Compile scripts without running them; report every syntax error with file:line:col and
    /// every call to a function or method that exists nowhere (with a "did you mean")
    Check {
        /// Script files or directories (searched for .rhai files) [default: .]
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// List every function scripts can call, with its signature and summary
    Fns {
        /// Show only functions whose name contains FILTER
        #[arg(value_name = "FILTER")]
        filter: Option<String>,
        /// Print JSON (name, params, return_type, signature, summary, doc) instead of text
        #[arg(long)]
        json: bool,
        /// Print the function reference in Markdown (every function with its whole doc and
        /// example, by group, and the stdlib modules): what docs/reference.md holds
        #[arg(long, conflicts_with = "json")]
        markdown: bool,
    },
    /// Open the interactive shell (also what `herodo` alone does on a terminal)
    Repl(RunArgs),
    /// Remove what dead herodo processes left behind: containers, volumes, networks and
    /// builders carrying the owner label of a process that no longer runs (`kill -9`, a crashed
    /// CI job). Resources of live herodo processes and unlabelled ones are never touched.
    Clean(CleanArgs),
    /// Run test suites: every test_* function of tests/**/*_test.rhai and tests/**/test_*.rhai
    #[command(after_help = TEST_HELP)]
    Test(TestArgs),
}

const TEST_HELP: &str = "\
Inside a test file, each `fn test_*()` is a test; `setup()`/`teardown()` run around each test
(teardown always runs), `setup_file()`/`teardown_file()` once per file. A file without test_*
functions is one test. Tests use assert, assert_eq, assert_ne, assert_contains, assert_match,
assert_throws, skip(reason) and require_tool(name) (which fails instead of skipping when
HERODO_REQUIRE_TOOLS=1). Temporary directories and other resources a test creates are removed
after it unless --keep is given.

The run ends with a line like `12 passed, 1 failed, 3 skipped` and exits 1 if anything failed.";

/// Options of `herodo test`.
#[derive(Args, Debug, Clone)]
pub struct TestArgs {
    /// Test files, or directories to search (default: tests/)
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Run only tests whose FILE::NAME matches this regular expression
    #[arg(long, value_name = "REGEX")]
    pub filter: Option<String>,

    /// Stop after the first failing test
    #[arg(long)]
    pub fail_fast: bool,

    /// Run N test files at once, each in its own process
    #[arg(short = 'j', long = "jobs", value_name = "N", default_value_t = 1)]
    pub jobs: usize,

    /// List the tests that would run, run nothing
    #[arg(long)]
    pub list: bool,

    /// Seconds one test (with its setup) may take before it is stopped (the global --timeout
    /// is each command's default)
    #[arg(long, value_name = "SECS", default_value_t = 300.0)]
    pub test_timeout: f64,

    /// Output format
    #[arg(long, value_enum, default_value = "pretty")]
    pub format: crate::testing::report::Format,

    /// Also write a JUnit XML report to FILE
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Keep the containers, temporary directories and other resources tests create
    #[arg(long)]
    pub keep: bool,

    /// Internal: run as a worker of a parallel run, writing JSON lines to FILE
    #[arg(long, value_name = "FILE", hide = true)]
    pub worker_out: Option<PathBuf>,

    #[command(flatten)]
    pub run: RunArgs,
}

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    File {
        path: PathBuf,
        args: Vec<String>,
    },
    Dir {
        path: PathBuf,
    },
    Eval {
        code: String,
        args: Vec<String>,
    },
    Stdin {
        args: Vec<String>,
    },
    Check {
        paths: Vec<PathBuf>,
        quiet: bool,
    },
    Fns {
        filter: Option<String>,
        json: bool,
        markdown: bool,
    },
    Test(TestOptions),
    /// The interactive shell.
    Repl,
    /// `herodo clean`: remove what dead herodo processes left behind.
    Clean,
}

/// Everything the run needs, resolved from the command line.
#[derive(Debug, Clone)]
pub struct Config {
    pub action: Action,
    pub settings: Settings,
    pub limits: Limits,
    pub dir: Option<PathBuf>,
}

/// A command-line value that parses but makes no sense.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn secs(flag: &str, v: Option<f64>) -> Result<Option<Duration>, UsageError> {
    match v {
        None => Ok(None),
        Some(s) if s > 0.0 => crate::common::convert::seconds_f64(flag, s)
            .map(Some)
            .map_err(|e| UsageError(e.to_string())),
        Some(s) => Err(UsageError(format!(
            "{flag} must be a positive number of seconds, got {s}"
        ))),
    }
}

/// True for an option (`--timeout`, `-C`) that takes its value from the next token, as the clap
/// definition says.
fn takes_value(token: &str) -> bool {
    use clap::CommandFactory;
    Cli::command().get_arguments().any(|a| {
        a.get_action().takes_values()
            && (a
                .get_long()
                .is_some_and(|l| token.strip_prefix("--") == Some(l))
                || a.get_short().is_some_and(|c| token == format!("-{c}")))
    })
}

/// Parse argv. A script's own arguments may look like subcommands (`herodo x.rhai test`), and
/// options may precede a subcommand (`herodo --engine podman test`): the first token that is not
/// an option decides which of the two it is.
pub fn parse<I, T>(argv: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::{CommandFactory, FromArgMatches};
    let mut argv: Vec<std::ffi::OsString> = argv.into_iter().map(Into::into).collect();
    let mut first_free = None;
    // Where the script (its path, `-`, or the code of `-e`) ends: everything after it belongs
    // to the script, even `--help` or `-e` (a `#!/usr/bin/env herodo` tool has its own flags).
    let mut script_end = None;
    let mut i = 1;
    while i < argv.len() {
        let t = argv[i].to_string_lossy();
        if t == "--" {
            break;
        }
        if t == "-e" || t == "--eval" {
            script_end = Some(i + 1);
            break;
        }
        if t.starts_with("--eval=") || t == "-" {
            script_end = Some(i);
            break;
        }
        if takes_value(&t) {
            i += 2;
            continue;
        }
        if t.starts_with('-') {
            i += 1;
            continue;
        }
        first_free = Some((i, t.into_owned()));
        break;
    }
    // `herodo help [SUBCOMMAND]` is `herodo [SUBCOMMAND] --help`: one text, not two.
    if let Some((i, t)) = first_free.clone() {
        let next = argv.get(i + 1).map(|a| a.to_string_lossy().into_owned());
        let known = next.as_deref().is_none_or(|n| {
            use clap::CommandFactory;
            Cli::command().get_subcommands().any(|s| s.get_name() == n)
        });
        if t == "help" && argv.len() <= i + 2 && known {
            argv.remove(i);
            argv.push("--help".into());
            first_free = argv
                .get(i)
                .map(|a| a.to_string_lossy().into_owned())
                .filter(|a| a != "--help")
                .map(|a| (i, a));
        }
    }
    let is_subcommand = first_free.as_ref().is_some_and(|(_, t)| {
        Cli::command().get_subcommands().any(|s| s.get_name() == t) || t == "help"
    });
    if !is_subcommand {
        if let Some((i, _)) = first_free {
            script_end = Some(i);
        }
    }
    let mut script_args = Vec::new();
    if let Some(end) = script_end {
        if end + 1 < argv.len() {
            script_args = argv.split_off(end + 1);
        }
    }
    let mut cmd = command();
    if !is_subcommand {
        cmd = cmd.args_conflicts_with_subcommands(true);
    }
    let matches = cmd.try_get_matches_from(argv)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    cli.args
        .extend(script_args.iter().map(|a| a.to_string_lossy().into_owned()));
    Ok(cli)
}

/// The clap command.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    Cli::command()
}

/// Print a parse error. clap's tip to pass an unknown `--flag` "as a value, use `-- --flag`"
/// misleads here (herodo's options come before the script), so it is left out.
pub fn print_error(e: &clap::Error) {
    if e.kind() != clap::error::ErrorKind::UnknownArgument {
        let _ = e.print();
        return;
    }
    let text = e.render().to_string();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("tip: to pass"))
        .collect();
    let mut out = kept.join("\n").replace("\n\n\n", "\n\n");
    out.push('\n');
    eprint!("{out}");
}

/// The global flags again, for the worker processes of `herodo test -j N`.
fn forward_flags(g: &GlobalArgs, r: &RunArgs) -> Vec<String> {
    let mut out = Vec::new();
    if r.dry_run {
        out.push("--dry-run".to_string());
    }
    for _ in 0..g.verbose {
        out.push("--verbose".to_string());
    }
    let l = &r.limits;
    let mut num = |flag: &str, v: Option<String>| {
        if let Some(v) = v {
            out.push(flag.to_string());
            out.push(v);
        }
    };
    num("--timeout", r.timeout.map(|v| v.to_string()));
    num("--engine", r.engine.clone());
    num("--max-operations", l.max_operations.map(|v| v.to_string()));
    num("--max-call-depth", l.max_call_depth.map(|v| v.to_string()));
    num(
        "--max-string-size",
        l.max_string_size.map(|v| v.to_string()),
    );
    num("--max-array-size", l.max_array_size.map(|v| v.to_string()));
    num("--max-map-size", l.max_map_size.map(|v| v.to_string()));
    num("--max-time", l.max_time.map(|v| v.to_string()));
    out
}

impl Cli {
    /// Resolve raw flags into a [`Config`].
    pub fn into_config(self, stdin_is_terminal: bool) -> Result<Config, UsageError> {
        let g = &self.global;
        crate::diagnostics::set_color_choice(g.color);
        // Run flags given after the subcommand join those given before it.
        let r = match &self.command {
            Some(Command::Test(t)) => t.run.clone().or(g.run.clone()),
            Some(Command::Repl(r)) => r.clone().or(g.run.clone()),
            Some(Command::Clean(c)) => RunArgs {
                dry_run: c.dry_run,
                engine: c.engine.clone(),
                ..RunArgs::default()
            }
            .or(g.run.clone()),
            _ => g.run.clone(),
        };
        let settings = Settings {
            dry_run: r.dry_run,
            verbose: g.verbose > 0,
            show_output: g.verbose > 1,
            default_timeout: secs("--timeout", r.timeout)?.unwrap_or(DEFAULT_TIMEOUT),
            container_engine: r.engine.clone(),
            quiet: g.quiet,
        };
        let l = &r.limits;
        let limits = Limits {
            max_operations: l.max_operations,
            max_call_depth: l.max_call_depth,
            max_string_size: l.max_string_size,
            max_array_size: l.max_array_size,
            max_map_size: l.max_map_size,
            max_time: secs("--max-time", l.max_time)?,
        };
        let action = match (self.command, self.eval, self.script) {
            (Some(Command::Check { paths }), _, _) => Action::Check {
                paths: if paths.is_empty() {
                    vec![PathBuf::from(".")]
                } else {
                    paths
                },
                quiet: g.quiet,
            },
            (
                Some(Command::Fns {
                    filter,
                    json,
                    markdown,
                }),
                _,
                _,
            ) => Action::Fns {
                filter,
                json,
                markdown,
            },
            (Some(Command::Repl(_)), _, _) => Action::Repl,
            (Some(Command::Clean(_)), _, _) => Action::Clean,
            (Some(Command::Test(t)), _, _) => {
                if t.jobs == 0 {
                    return Err(UsageError("--jobs must be at least 1".into()));
                }
                Action::Test(TestOptions {
                    paths: t.paths,
                    filter: t.filter,
                    fail_fast: t.fail_fast,
                    jobs: t.jobs,
                    list: t.list,
                    timeout: secs("--test-timeout", Some(t.test_timeout))?
                        .unwrap_or(DEFAULT_TEST_TIMEOUT),
                    quiet: g.quiet,
                    format: t.format,
                    junit: t.junit,
                    keep: t.keep,
                    worker_out: t.worker_out,
                    forward: forward_flags(g, &r),
                })
            }
            (None, Some(code), script) => {
                let mut args: Vec<String> = script.into_iter().collect();
                args.extend(self.args);
                Action::Eval { code, args }
            }
            (None, None, Some(s)) if s == "-" => Action::Stdin { args: self.args },
            (None, None, Some(s)) => {
                let path = PathBuf::from(&s);
                let probe = match &g.dir {
                    Some(d) if path.is_relative() => d.join(&path),
                    _ => path.clone(),
                };
                if probe.is_dir() {
                    if !self.args.is_empty() {
                        return Err(UsageError(format!(
                            "{s} is a directory: script arguments are only for a single script"
                        )));
                    }
                    Action::Dir { path }
                } else {
                    Action::File {
                        path,
                        args: self.args,
                    }
                }
            }
            (None, None, None) if !stdin_is_terminal => Action::Stdin { args: self.args },
            (None, None, None) => Action::Repl,
        };
        Ok(Config {
            action,
            settings,
            limits,
            dir: g.dir.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Config {
        let mut argv = vec!["herodo"];
        argv.extend_from_slice(args);
        super::parse(argv).unwrap().into_config(true).unwrap()
    }

    #[test]
    fn script_args_follow_the_script() {
        let c = parse(&["--dry-run", "x.rhai", "a", "--b", "-c"]);
        assert!(c.settings.dry_run);
        assert_eq!(
            c.action,
            Action::File {
                path: "x.rhai".into(),
                args: vec!["a".into(), "--b".into(), "-c".into()]
            }
        );
    }

    #[test]
    fn eval_and_stdin() {
        assert_eq!(
            parse(&["-e", "1", "x", "y"]).action,
            Action::Eval {
                code: "1".into(),
                args: vec!["x".into(), "y".into()]
            }
        );
        assert_eq!(parse(&["-"]).action, Action::Stdin { args: vec![] });
        assert_eq!(parse(&[]).action, Action::Repl);
        assert_eq!(parse(&["repl"]).action, Action::Repl);
    }

    #[test]
    fn subcommands_and_globals() {
        let c = parse(&["fns", "file_", "--json", "-v"]);
        assert!(c.settings.verbose);
        assert_eq!(
            c.action,
            Action::Fns {
                filter: Some("file_".into()),
                json: true,
                markdown: false,
            }
        );
        assert_eq!(
            parse(&["fns", "--markdown"]).action,
            Action::Fns {
                filter: None,
                json: false,
                markdown: true,
            }
        );
        let c = parse(&[
            "--timeout",
            "2.5",
            "--max-operations",
            "100",
            "check",
            "a.rhai",
        ]);
        assert_eq!(c.settings.default_timeout, Duration::from_millis(2500));
        assert_eq!(c.limits.max_operations, Some(100));
        assert_eq!(
            c.action,
            Action::Check {
                paths: vec!["a.rhai".into()],
                quiet: false,
            }
        );
        let c = parse(&["--engine", "podman", "test", "--list", "tests/x"]);
        assert_eq!(c.settings.container_engine.as_deref(), Some("podman"));
        assert!(
            matches!(c.action, Action::Test(ref t) if t.list && t.paths == vec![PathBuf::from("tests/x")])
        );
        // Script arguments that look like subcommands stay arguments.
        let a = parse(&["x.rhai", "test", "check"]).action;
        assert!(
            matches!(a, Action::File { ref args, .. } if args == &["test", "check"]),
            "{a:?}"
        );
        assert!(
            matches!(parse(&["-e", "1", "a", "test"]).action, Action::Eval { ref args, .. } if args == &["a", "test"])
        );
        assert!(matches!(
            parse(&["-v", "check.rhai", "x"]).action,
            Action::File { .. }
        ));
        assert!(super::parse(["herodo", "--timeout", "0", "x"])
            .unwrap()
            .into_config(true)
            .is_err());
    }
}
