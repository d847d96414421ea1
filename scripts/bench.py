#!/usr/bin/env python3
"""herodo benchmarks: start-up, per-command overhead versus bash, test-runner overhead.

Usage:
  scripts/bench.py [path/to/herodo]
      One binary (default: target/release/herodo): a table of medians on this machine.
  scripts/bench.py compare OLD NEW [--rounds N] [--cmds N]
      A paired benchmark of two builds. Each round runs OLD and NEW (in alternating order)
      on the same workloads back to back, so both see the same machine load; the table shows
      the median of each side, its spread (25th..75th percentile) and the median of the
      per-round ratio NEW/OLD. Timings are wall clock and CPU (user + system of the child,
      from wait4), the latter being less sensitive to other work on a shared machine.

Workloads: start-up is `herodo -e 'print(42)'`; per-command overhead is a script running
`cmd(["/bin/true"])` N times against a bash loop of N `/bin/true`, in the same round.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

DEVNULL = os.open(os.devnull, os.O_RDWR)
BASH = "/bin/bash"
# `herodo -e 'print(42)'` of the original herodo 0.3.12, measured earlier on this kind of
# machine (it cannot be installed here): the yardstick of issue 12.
ORIGINAL_STARTUP = 0.008


def spawn_timed(argv, env=None, cwd=None):
    """(wall seconds, cpu seconds) of one run of argv, output discarded.

    posix_spawn + wait4: no shell, no Python-side pipes, and the child's own rusage (so the
    CPU figure is exactly the child's, not the sum of everything the harness ran)."""
    actions = [
        (os.POSIX_SPAWN_DUP2, DEVNULL, 0),
        (os.POSIX_SPAWN_DUP2, DEVNULL, 1),
        (os.POSIX_SPAWN_DUP2, DEVNULL, 2),
    ]
    old = None
    if cwd:
        old = os.getcwd()
        os.chdir(cwd)
    try:
        t0 = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, env if env is not None else os.environ, file_actions=actions)
        _, status, ru = os.wait4(pid, 0)
        wall = time.perf_counter() - t0
    finally:
        if old:
            os.chdir(old)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {argv} failed with status {status}")
    return wall, ru.ru_utime + ru.ru_stime


def timed(argv, runs, **kw):
    """Median wall time in seconds of running argv `runs` times."""
    return statistics.median(spawn_timed(argv, **kw)[0] for _ in range(runs))


def peak_rss_kib(argv):
    """Peak resident memory of one run of argv, in KiB, or None without /usr/bin/time.

    Not from this process's rusage: a child's ru_maxrss starts at the RSS of the process that
    spawned it (exec keeps the high-water mark), which would report Python's size, not herodo's.
    /usr/bin/time is a small C program, so its child's figure is herodo's own."""
    if not os.access("/usr/bin/time", os.X_OK):
        return None
    out = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], check=True, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    return int(out.stderr.strip().splitlines()[-1])


def check_binary(path):
    if not os.access(path, os.X_OK):
        sys.exit(f"bench: {path} not found; run `cargo build --release` first")
    return os.path.abspath(path)


def table(herodo):
    rows = []
    startup = timed([herodo, "-e", "print(42)"], 50)
    rows.append(("start-up: herodo -e 'print(42)' (median of 50)", f"{startup * 1000:.2f} ms"))
    rss = peak_rss_kib([herodo, "-e", "print(42)"])
    if rss is not None:
        rows.append(("start-up: peak RSS", f"{rss / 1024:.1f} MiB"))

    n = 1000
    h = timed([herodo, "-e", f'for i in 0..{n} {{ cmd(["/bin/true"]); }}'], 5)
    b = timed([BASH, "-c", f"for ((i = 0; i < {n}; i++)); do /bin/true; done"], 5)
    rows.append((f"{n} x /bin/true via cmd([...])", f"{h * 1000:.0f} ms ({h / n * 1e6:.0f} us each)"))
    rows.append((f"{n} x /bin/true in a bash loop", f"{b * 1000:.0f} ms ({b / n * 1e6:.0f} us each)"))
    rows.append(("ratio herodo / bash", f"{h / b:.2f}"))
    hr = timed([herodo, "-e", f'for i in 0..{n} {{ run("/bin/true", #{{silent: true}}); }}'], 3)
    rows.append((f"{n} x run(\"/bin/true\") (sh -c each)", f"{hr * 1000:.0f} ms ({hr / n * 1e6:.0f} us each)"))

    with tempfile.TemporaryDirectory() as d:
        one = os.path.join(d, "one_test.rhai")
        many = os.path.join(d, "many_test.rhai")
        with open(one, "w") as f:
            f.write("fn test_empty() { }\n")
        with open(many, "w") as f:
            f.write("".join(f"fn test_empty_{i}() {{ }}\n" for i in range(200)))
        t1 = timed([herodo, "test", one], 20, cwd=d)
        t200 = timed([herodo, "test", many], 10, cwd=d)
        rows.append(("herodo test: file with 1 empty test", f"{t1 * 1000:.1f} ms"))
        rows.append(("herodo test: file with 200 empty tests", f"{t200 * 1000:.1f} ms"))
        rows.append(("runner overhead per empty test", f"{(t200 - t1) / 199 * 1e6:.0f} us"))

    width = max(len(r[0]) for r in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


def spread(xs):
    """(median, 25th percentile, 75th percentile)."""
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return statistics.median(xs), q[0], q[2]


def compare(old, new, rounds, cmds):
    startup = lambda b: [b, "-e", "print(42)"]  # noqa: E731
    loop = lambda b: [b, "-e", f'for i in 0..{cmds} {{ cmd(["/bin/true"]); }}']  # noqa: E731
    bash_loop = [BASH, "-c", f"for ((i = 0; i < {cmds}; i++)); do /bin/true; done"]
    # The per-command workload is ~100x longer than start-up: run it in fewer rounds.
    cmd_every = max(1, rounds // 30)
    s = {"old": ([], []), "new": ([], [])}
    c = {"old": ([], []), "new": ([], []), "bash": ([], [])}
    ratio_s_wall, ratio_s_cpu, ratio_c_old, ratio_c_new = [], [], [], []
    sides = [("old", old), ("new", new)]
    for r in range(rounds):
        order = sides if r % 2 == 0 else sides[::-1]
        got = {}
        for name, b in order:
            got[name] = spawn_timed(startup(b))
            s[name][0].append(got[name][0])
            s[name][1].append(got[name][1])
        ratio_s_wall.append(got["new"][0] / got["old"][0])
        ratio_s_cpu.append(got["new"][1] / max(got["old"][1], 1e-9))
        if r % cmd_every == 0:
            runs = [("old", loop(old)), ("new", loop(new)), ("bash", bash_loop)]
            if r % 2:
                runs.reverse()
            got = {}
            for name, argv in runs:
                got[name] = spawn_timed(argv)
                c[name][0].append(got[name][0])
                c[name][1].append(got[name][1])
            ratio_c_old.append(got["old"][0] / got["bash"][0])
            ratio_c_new.append(got["new"][0] / got["bash"][0])
        if (r + 1) % max(1, rounds // 10) == 0:
            print(f"  round {r + 1}/{rounds}", file=sys.stderr)

    def ms(xs):
        m, lo, hi = spread(xs)
        return f"{m * 1e3:7.2f} ms  [{lo * 1e3:.2f} .. {hi * 1e3:.2f}]"

    def us_each(xs):
        m, lo, hi = spread(xs)
        k = 1e6 / cmds
        return f"{m * k:7.0f} us  [{lo * k:.0f} .. {hi * k:.0f}]"

    def ratio(xs):
        m, lo, hi = spread(xs)
        return f"{m:5.2f}x  [{lo:.2f} .. {hi:.2f}]"

    n_c = len(c["bash"][0])
    rows = [
        (f"start-up, herodo -e 'print(42)', {rounds} rounds", "median  [p25 .. p75]"),
        ("  wall, old", ms(s["old"][0])),
        ("  wall, new", ms(s["new"][0])),
        ("  wall, new/old per round", ratio(ratio_s_wall)),
        ("  cpu, old", ms(s["old"][1])),
        ("  cpu, new", ms(s["new"][1])),
        ("  cpu, new/old per round", ratio(ratio_s_cpu)),
        ("  wall new / 8 ms (herodo 0.3.12)", f"{statistics.median(s['new'][0]) / ORIGINAL_STARTUP:5.2f}x"),
        (f"{cmds} x cmd([\"/bin/true\"]) vs bash, {n_c} rounds", "per command, total / N"),
        ("  wall, bash loop", us_each(c["bash"][0])),
        ("  wall, old", us_each(c["old"][0])),
        ("  wall, new", us_each(c["new"][0])),
        ("  cpu, bash loop", us_each(c["bash"][1])),
        ("  cpu, old", us_each(c["old"][1])),
        ("  cpu, new", us_each(c["new"][1])),
        ("  wall old/bash per round", ratio(ratio_c_old)),
        ("  wall new/bash per round", ratio(ratio_c_new)),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"old = {old}\nnew = {new}")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")



def main():
    args = sys.argv[1:]
    if args and args[0] == "compare":
        rounds, cmds, paths = 200, 500, []
        it = iter(args[1:])
        for a in it:
            if a == "--rounds":
                rounds = int(next(it))
            elif a == "--cmds":
                cmds = int(next(it))
            else:
                paths.append(a)
        if len(paths) != 2:
            sys.exit(__doc__)
        compare(check_binary(paths[0]), check_binary(paths[1]), rounds, cmds)
    else:
        table(check_binary(args[0] if args else "target/release/herodo"))


if __name__ == "__main__":
    main()
