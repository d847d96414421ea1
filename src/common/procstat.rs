//! One reader of `/proc/PID/stat`, for the process table, owner tags and heropods' liveness
//! checks.

/// The fields herodo uses from `/proc/PID/stat`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcStat {
    /// The command name (field 2, without its parentheses).
    pub name: String,
    /// The state letter (field 3: R, S, D, Z, ...).
    pub state: char,
    /// The parent's pid (field 4).
    pub ppid: i64,
    /// The start time in clock ticks since boot (field 22): with the pid, it names a process
    /// even after the pid is reused.
    pub start_time: u64,
    /// Resident set size in pages (field 24).
    pub rss_pages: i64,
    /// CPU time used so far, user + system, in clock ticks (fields 14 and 15).
    pub cpu_ticks: u64,
}

/// `/proc/PID/stat` of `pid`, or `None` when there is no such process (or it cannot be read).
pub fn read(pid: i64) -> Option<ProcStat> {
    parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Parse a `/proc/PID/stat` line. The command name is in parentheses and may itself hold
/// spaces and parentheses: the fields after it are read after the last `)`.
pub fn parse(stat: &str) -> Option<ProcStat> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    Some(ProcStat {
        name,
        state: rest.first()?.chars().next()?,
        ppid: rest.get(1)?.parse().ok()?,
        start_time: rest.get(19)?.parse().ok()?,
        rss_pages: rest.get(21).and_then(|s| s.parse().ok()).unwrap_or(0),
        cpu_ticks: [11, 12]
            .iter()
            .filter_map(|i| rest.get(*i)?.parse::<u64>().ok())
            .sum(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_spaces_and_parentheses() {
        let line = "4242 (a (b) c) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 \
                    1234567 321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(
            parse(line),
            Some(ProcStat {
                name: "a (b) c".into(),
                state: 'S',
                ppid: 17,
                start_time: 987654,
                rss_pages: 321,
                cpu_ticks: 3,
            })
        );
        assert_eq!(parse("garbage"), None);
        let me = read(i64::from(std::process::id())).unwrap();
        // SAFETY: getppid has no preconditions.
        assert_eq!(me.ppid, i64::from(unsafe { libc::getppid() }));
        assert!(me.start_time > 0 && !me.name.is_empty());
    }
}
