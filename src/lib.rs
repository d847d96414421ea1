//! herodo: a Rhai script runner with typed bindings for infrastructure work.
//!
//! The binary is a thin shell over [`main_entry`]: parse the command line into a
//! [`cli::Config`], then [`actions::execute`] it on a thread with a large stack (deep script
//! recursion must end in a clean "call stack too deep" error, never a crash).

pub mod actions;
pub mod assert;
pub mod buildah;
pub mod cli;
pub mod common;
pub mod compat;
pub mod containers;
pub mod diagnostics;
pub mod docs;
pub mod engine;
pub mod error;
pub mod exec;
pub mod glue;
pub mod heropods;
pub mod host;
#[cfg(feature = "kube")]
pub mod kube;
pub mod lint;
pub mod misc;
pub mod net;
pub mod os;
pub mod outcome;
pub mod process;
pub mod repl;
pub mod scripts;
pub mod stdlib;
pub mod testing;
pub mod text;
pub mod vm;

use std::io::IsTerminal;

/// Stack for the script thread.
const SCRIPT_STACK: usize = 256 * 1024 * 1024;

/// Parse `argv`, run it, and return the process exit code.
pub fn main_entry(argv: Vec<std::ffi::OsString>) -> i32 {
    // heropods' log pump (started by a container's monitor; not a user command).
    if argv
        .get(1)
        .is_some_and(|a| a == heropods::logs::PUMP_COMMAND)
    {
        return heropods::logs::pump_main(&argv[2..]);
    }
    tune_allocator();
    let cli = match cli::parse(argv) {
        Ok(c) => c,
        Err(e) => {
            cli::print_error(&e);
            return if e.use_stderr() {
                outcome::code::USAGE
            } else {
                outcome::code::OK
            };
        }
    };
    let config = match cli.into_config(std::io::stdin().is_terminal()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("herodo: {e}");
            return outcome::code::USAGE;
        }
    };
    let worker = std::thread::Builder::new()
        .name("script".into())
        .stack_size(SCRIPT_STACK)
        .spawn(move || actions::execute(config));
    match worker.map(|h| h.join()) {
        Ok(Ok(code)) => code,
        Ok(Err(_)) => {
            eprintln!("herodo: internal error (the script thread panicked); please report it");
            outcome::code::SCRIPT_ERROR
        }
        Err(e) => {
            eprintln!("herodo: cannot start the script thread: {e}");
            outcome::code::SCRIPT_ERROR
        }
    }
}

/// How much heap glibc maps at once (its default is 128 KiB).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_TOP_PAD: libc::c_int = 4 * 1024 * 1024;

/// Grow the heap in large steps. The script thread allocates from its own glibc arena, which
/// otherwise grows a page or two at a time with one `mprotect` each: building the engine made
/// ~150 such calls, about a tenth of start-up. With a larger pad the arena is made writable
/// in one call. Only address space is reserved; untouched pages cost no memory.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's tuning parameters; it is called before any other
    // thread exists.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, MALLOC_TOP_PAD);
    }
}
