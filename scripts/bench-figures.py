#!/usr/bin/env python3
"""The figures of scripts/bench (issue 9): each pullseal command timed side by side with its
reference (the real `sops decrypt` of the same catalog, or one cluster's render), interleaved
run by run (A B A B ...) so that the load of a shared machine falls on both alike.

Every run is one child process; os.wait4 gives its wall time, its CPU time (user + system,
the child's threads included) and its peak RSS (ru_maxrss, what /usr/bin/time -f %M prints).
The figure is the median of each. The ratio the target speaks of is the wall-time median of
pullseal over the reference's (what a repo-server waits for; pullseal seals on every core);
the CPU-time ratio and its verdict are printed beside it: on a machine shared with other
work, wall time also measures the scheduler, CPU time does not.

Before timing, each command runs once with its output kept, and that output is checked (the
number of SealedSecrets, SOPS Secrets, ECR objects, cluster directories): a command that fails
or gives the wrong output is a broken run, and the script exits 1. A missed target is printed,
never an error.

With STATIC, the path of the static musl binary (scripts/build-static), the small app and
the large monorepo are timed with it too: it is the binary a release ships.

usage: bench-figures.py WORKDIR PULLSEAL SOPS AGE_KEY RUNS_SCALE [STATIC]"""
import json
import os
import statistics
import subprocess
import sys
import time

work, pullseal, sops, age_key, scale = sys.argv[1:6]
static = sys.argv[6] if len(sys.argv) > 6 else None
scale = float(scale)
env = dict(os.environ, SOPS_AGE_KEY_FILE=age_key, SOPS_DISABLE_VERSION_CHECK="1")
for name in ("PULLSEAL_CLUSTER", "PULLSEAL_CATALOG", "PULLSEAL_LOG", "SOPS_AGE_KEY"):
    env.pop(name, None)


def w(name):
    return os.path.join(work, name)


def render(catalog, stream, *extra, binary=None):
    return [binary or pullseal, "render", "--catalog", w(catalog), "--age-key-file", age_key, *extra, w(stream)]


def decrypt(catalog):
    return [sops, "decrypt", w(catalog)]


def run_once(argv, stdout):
    """Wall seconds, CPU seconds and peak RSS in KiB of one run; None if it failed."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        return None
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def check(name, argv, expect):
    """Runs `argv` once and checks its output with `expect`; returns an error or None."""
    out = w(f"{name}.out")
    with open(out, "wb") as f:
        proc = subprocess.run(argv, stdout=f, stderr=subprocess.PIPE, env=env)
    if proc.returncode != 0:
        return f"exit {proc.returncode}: {proc.stderr.decode(errors='replace').strip()[:400]}"
    text = open(out, encoding="utf-8", errors="replace").read()
    return expect(text)


def count(kind, n):
    def expect(text):
        found = text.count(f"\nkind: {kind}\n")
        return None if found == n else f"expected {n} `kind: {kind}` documents, found {found}"

    return expect


def every(*checks):
    def expect(text):
        for c in checks:
            problem = c(text)
            if problem:
                return problem
        return None

    return expect


def decrypted(text):
    return None if "registries:" in text and "sops:" not in text else "sops printed no plain catalog"


def fleet_dirs(_text):
    dirs = [d for d in os.listdir(w("fleet-out")) if os.path.isfile(w(f"fleet-out/{d}/manifests.yaml"))]
    if len(dirs) != 50:
        return f"expected 50 cluster directories, found {len(dirs)}"
    for d in dirs:
        text = open(w(f"fleet-out/{d}/manifests.yaml")).read()
        if text.count("\nkind: SealedSecret\n") != 2:
            return f"{d}/manifests.yaml does not hold 2 SealedSecrets"
    return None


def large_sealed(text):
    return count("SealedSecret", 2000)(text)


def sops_secrets(n):
    def expect(text):
        found = text.count("\n    mac: ENC[AES256_GCM,")
        return None if found == n else f"expected {n} SOPS-encrypted Secrets, found {found}"

    return expect


all_clusters = [
    pullseal, "render", "--catalog", w("fleet.catalog.yaml"), "--age-key-file", age_key,
    "--all-clusters", "--out-dir", w("fleet-out"), w("small.yaml"),
]
large_bytes = os.path.getsize(w("large.yaml"))
# name, what, pullseal command, its output check, reference name, reference command, its
# check, target ratio (wall medians), runs, peak RSS target in KiB (or None)
figures = [
    ("small", "small app (20 documents, 2 workloads, sealed-secrets, 10-entry catalog)",
     render("small.catalog.yaml", "small.yaml", "--cluster", "bench"), count("SealedSecret", 2),
     "sops decrypt (10 entries)", decrypt("small.catalog.yaml"), decrypted, 0.15, 40, None),
    ("small-flux", "small app, seal: sops (Flux)",
     render("small.catalog.yaml", "small.yaml", "--cluster", "bench-flux"), sops_secrets(2),
     "sops decrypt (10 entries)", decrypt("small.catalog.yaml"), decrypted, 0.15, 40, None),
    ("small-ecr", "small app, one workload on ECR (refresh: external-secrets)",
     render("small.catalog.yaml", "small-ecr.yaml", "--cluster", "bench"),
     every(count("SealedSecret", 2), count("ExternalSecret", 1), count("ECRAuthorizationToken", 1)),
     "sops decrypt (10 entries)", decrypt("small.catalog.yaml"), decrypted, 0.15, 40, None),
    ("large", f"large monorepo ({large_bytes / 2**20:.1f} MB, 10,000 documents, 2,000 workloads in 200 namespaces, 2,000-entry catalog), sealed-secrets",
     render("large.catalog.yaml", "large.yaml", "--cluster", "bench"), large_sealed,
     "sops decrypt (2,000 entries)", decrypt("large.catalog.yaml"), decrypted, 0.4, 7,
     (3 * large_bytes) // 1024 + 50 * 1024),
    ("large-flux", "large monorepo, seal: sops (Flux)",
     render("large.catalog.yaml", "large.yaml", "--cluster", "bench-flux"), sops_secrets(2000),
     "sops decrypt (2,000 entries)", decrypt("large.catalog.yaml"), decrypted, 0.4, 7,
     (3 * large_bytes) // 1024 + 50 * 1024),
    ("catalog", "catalog decryption alone (2,000 entries, empty stream)",
     render("large.catalog.yaml", "empty.yaml", "--cluster", "bench"), lambda t: None if t == "" else "output not empty",
     "sops decrypt (2,000 entries)", decrypt("large.catalog.yaml"), decrypted, 1 / 20, 10, None),
    ("all-clusters", "--all-clusters, 50 clusters, small app",
     all_clusters, fleet_dirs,
     "one cluster of the same catalog", render("fleet.catalog.yaml", "small.yaml", "--cluster", "c00"),
     count("SealedSecret", 2), 4.0, 20, None),
]
if static:
    figures[1:1] = [
        ("small-static", "small app, the static musl binary",
         render("small.catalog.yaml", "small.yaml", "--cluster", "bench", binary=static), count("SealedSecret", 2),
         "sops decrypt (10 entries)", decrypt("small.catalog.yaml"), decrypted, 0.15, 40, None),
    ]
    at = next(i for i, f in enumerate(figures) if f[0] == "large") + 1
    figures[at:at] = [
        ("large-static", "large monorepo, sealed-secrets, the static musl binary",
         render("large.catalog.yaml", "large.yaml", "--cluster", "bench", binary=static), large_sealed,
         "sops decrypt (2,000 entries)", decrypt("large.catalog.yaml"), decrypted, 0.4, 7,
         (3 * large_bytes) // 1024 + 50 * 1024),
    ]

broken = []
results = []
for name, what, cmd, expect, ref_name, ref, ref_expect, target, runs, rss_target in figures:
    runs = max(3, round(runs * scale))
    problem = check(name, cmd, expect) or check(f"{name}.ref", ref, ref_expect)
    if problem:
        print(f"BROKEN {name}: {problem}", flush=True)
        broken.append(name)
        continue
    mine, theirs = [], []
    for _ in range(runs):
        for argv, into in ((cmd, mine), (ref, theirs)):
            r = run_once(argv, subprocess.DEVNULL)
            if r is None:
                problem = f"{' '.join(argv[:2])} failed while timing"
                break
            into.append(r)
        if problem:
            break
    if problem:
        print(f"BROKEN {name}: {problem}", flush=True)
        broken.append(name)
        continue
    med = lambda rows, i: statistics.median(r[i] for r in rows)
    wall, cpu, rss = med(mine, 0), med(mine, 1), max(r[2] for r in mine)
    ref_wall, ref_cpu = med(theirs, 0), med(theirs, 1)
    ratio, cpu_ratio = wall / ref_wall, cpu / ref_cpu
    met, cpu_met = ratio <= target, cpu_ratio <= target
    rss_met = rss_target is None or rss <= rss_target
    target_text = f"{target:.2f}" if target < 1 else f"{target:.0f}x"
    print(f"{name}: {what}", flush=True)
    print(f"  pullseal  wall {wall * 1000:8.1f} ms  cpu {cpu * 1000:8.1f} ms  peak RSS {rss / 1024:6.1f} MB  ({runs} runs, medians)")
    print(f"  reference wall {ref_wall * 1000:8.1f} ms  cpu {ref_cpu * 1000:8.1f} ms  {ref_name}")
    verdict = lambda ok: "met" if ok else "MISSED"
    line = f"  ratio     wall {ratio:.3f}  cpu {cpu_ratio:.3f}  target <= {target_text}: {verdict(met)} (by CPU time: {verdict(cpu_met)})"
    if rss_target is not None:
        line += f"; peak RSS target <= {rss_target / 1024:.0f} MB: {'met' if rss_met else 'MISSED'}"
    print(line, flush=True)
    results.append({
        "figure": name, "wall_ms": wall * 1000, "cpu_ms": cpu * 1000, "rss_kb": rss,
        "ref_wall_ms": ref_wall * 1000, "ref_cpu_ms": ref_cpu * 1000, "ratio_wall": ratio,
        "ratio_cpu": cpu_ratio, "target": target, "met": met and rss_met, "cpu_met": cpu_met and rss_met,
    })

with open(w("figures.json"), "w") as f:
    json.dump(results, f, indent=1)
missed = [r["figure"] for r in results if not r["met"]]
cpu_missed = [r["figure"] for r in results if not r["cpu_met"]]
print(f"\n{len(results)} figures, {len(results) - len(missed)} targets met by wall time"
      + (f" (missed: {', '.join(missed)})" if missed else "")
      + f", {len(results) - len(cpu_missed)} by CPU time"
      + (f" (missed: {', '.join(cpu_missed)})" if cpu_missed else "")
      + (f"; BROKEN: {', '.join(broken)}" if broken else ""))
sys.exit(1 if broken else 0)
