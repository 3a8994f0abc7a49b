#!/usr/bin/env python3
"""Joins the harness timings (harness.jsonl) with the PyTorch-eager ones
(eager.jsonl) and prints one table, then the verdict on the issue's targets
at Vim-S 1248 (>= 20x faster than eager, within 2x of the memory floor).

Usage: summarize.py HARNESS_JSONL EAGER_JSONL
"""
import json
import sys


def load(path):
    rows = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    rows.append(json.loads(line))
    except OSError as e:
        print(f"(cannot read {path}: {e})")
    return rows


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    harness, eager = load(sys.argv[1]), load(sys.argv[2])
    checks = [r for r in harness if r.get("kind") == "check"]
    failed = [r for r in checks if not r["pass"]]
    print(f"correctness: {len(checks) - len(failed)}/{len(checks)} checks passed")
    for r in failed:
        print(f"  FAIL {r['case']} {r['dtype']} chunks={r['nchunks']} vs {r['against']}: "
              f"rel={r['rel_l2']:.2e} nonfinite={r['nonfinite']}")
    worst = {}
    for r in checks:
        k = (r["dtype"], r["against"])
        worst[k] = max(worst.get(k, 0.0), r["rel_l2"])
    for (dt, against), e in sorted(worst.items()):
        print(f"  worst rel L2 {dt} vs {against}: {e:.2e}")

    ev = {(r["shape"], r["dtype"]): r for r in eager if r.get("kind") == "eager"}
    times = [r for r in harness if r.get("kind") == "time"]
    print()
    print(f"{'shape':13} {'type':4} {'chunks':>6} {'cuda us':>9} {'floor us':>9} {'x floor':>7} "
          f"{'eager ms':>9} {'speedup':>8}")
    verdict = []
    for r in times:
        e = ev.get((r["shape"], r["dtype"]))
        xf = r["us_median"] / r["floor_us"]
        sp = e["ms_median"] * 1e3 / r["us_median"] if e else float("nan")
        print(f"{r['shape']:13} {r['dtype']:4} {r['nchunks']:>6} {r['us_median']:>9.1f} "
              f"{r['floor_us']:>9.1f} {xf:>7.2f} "
              f"{(e['ms_median'] if e else float('nan')):>9.2f} {sp:>8.0f}")
        if r["shape"] == "vim-s-1248":
            verdict.append((r["dtype"], xf, sp))
    if times:
        print(f"\ncopy bandwidth {times[0]['copy_bw_GBs']:.0f} GB/s (read + write)")
    print()
    for dt, xf, sp in verdict:
        ok_f = xf <= 2.0
        ok_s = sp >= 20.0
        print(f"target vim-s-1248 {dt}: x{xf:.2f} of floor ({'MET' if ok_f else 'MISSED'} <= 2), "
              f"{sp:.0f}x eager ({'MET' if ok_s else 'MISSED'} >= 20)")
    if not checks:
        print("no correctness results: the harness did not run or crashed")
    sys.exit(1 if failed or not checks else 0)


if __name__ == "__main__":
    main()
