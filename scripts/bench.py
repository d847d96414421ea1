#!/usr/bin/env python3
"""herodo benchmarks: start-up, per-command overhead versus bash, test-runner overhead.

Usage: scripts/bench.py [path/to/herodo]   (default: target/release/herodo)
Prints a table; numbers are medians of several runs on this machine.
"""
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERODO = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/herodo")


def timed(argv, runs, **kw):
    """Median wall time in seconds of running argv `runs` times."""
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def peak_rss_kib(argv):
    """Peak resident memory of one run of argv, in KiB (run in a fresh child)."""
    code = (
        "import resource, subprocess, sys;"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code, *argv], check=True, capture_output=True, text=True)
    return int(out.stdout.strip())


def main():
    if not os.access(HERODO, os.X_OK):
        sys.exit(f"bench: {HERODO} not found; run `cargo build --release` first")
    rows = []
    startup = timed([HERODO, "-e", "1"], 50)
    rows.append(("start-up: herodo -e '1' (median of 50)", f"{startup * 1000:.2f} ms"))
    rows.append(("start-up: peak RSS", f"{peak_rss_kib([HERODO, '-e', '1']) / 1024:.1f} MiB"))

    n = 1000
    h = timed([HERODO, "-e", f'for i in 0..{n} {{ cmd(["/bin/true"]); }}'], 5)
    b = timed(["bash", "-c", f"for i in $(seq {n}); do /bin/true; done"], 5)
    rows.append((f"{n} x /bin/true via cmd([...])", f"{h * 1000:.0f} ms ({h / n * 1e6:.0f} us each)"))
    rows.append((f"{n} x /bin/true in a bash loop", f"{b * 1000:.0f} ms ({b / n * 1e6:.0f} us each)"))
    rows.append(("ratio herodo / bash", f"{h / b:.2f}"))
    hr = timed([HERODO, "-e", f'for i in 0..{n} {{ run("/bin/true", #{{silent: true}}); }}'], 3)
    rows.append((f"{n} x run(\"/bin/true\") (sh -c each)", f"{hr * 1000:.0f} ms ({hr / n * 1e6:.0f} us each)"))

    with tempfile.TemporaryDirectory() as d:
        one = os.path.join(d, "one_test.rhai")
        many = os.path.join(d, "many_test.rhai")
        with open(one, "w") as f:
            f.write("fn test_empty() { }\n")
        with open(many, "w") as f:
            f.write("".join(f"fn test_empty_{i}() {{ }}\n" for i in range(200)))
        t1 = timed([HERODO, "test", one], 20, cwd=d)
        t200 = timed([HERODO, "test", many], 10, cwd=d)
        rows.append(("herodo test: file with 1 empty test", f"{t1 * 1000:.1f} ms"))
        rows.append(("herodo test: file with 200 empty tests", f"{t200 * 1000:.1f} ms"))
        rows.append(("runner overhead per empty test", f"{(t200 - t1) / 199 * 1e6:.0f} us"))

    width = max(len(r[0]) for r in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
