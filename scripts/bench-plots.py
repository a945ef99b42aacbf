#!/usr/bin/env python3
"""Plots for docs/benchmarks.md from the JSON the benchmarks print (no dependencies: plain SVG).

Usage: scripts/bench-plots.py IN_DIR OUT_DIR

IN_DIR holds what scripts/bench-page-size.sh and scripts/bench-concurrency.sh wrote:
  small-PAGE-ROUND.json, store-PAGE-ROUND.json   (coffer bench small|store --json --page-size PAGE)
  concurrency-ROUND.json                          (coffer bench small --json --concurrency 1,2,...)
  growth-N.json                                   (coffer bench small --json --preload N)
  size-SIZE-ROUND.json                            (scripts/bench-object-size.sh: coffer bench store --json --size SIZE)
Each figure takes, for every point, the median over the rounds. Prints the tables it plotted.
"""
import glob
import json
import os
import statistics
import sys

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def line_chart(path, title, x_label, y_label, series, log_x=True):
    """Writes an SVG line chart: series is [(name, [(x, y), ...]), ...]."""
    import math
    width, height, left, right, top, bottom = 720, 420, 80, 200, 40, 60
    xs = sorted({x for _, points in series for x, _ in points})
    ys = [y for _, points in series for _, y in points]
    y_max = max(ys) * 1.1 if ys else 1
    fx = (lambda x: math.log2(x)) if log_x else (lambda x: x)
    x_lo, x_hi = fx(xs[0]), fx(xs[-1])
    span = (x_hi - x_lo) or 1

    def px(x):
        return left + (fx(x) - x_lo) / span * (width - left - right)

    def py(y):
        return top + (1 - y / y_max) * (height - top - bottom)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
           f'<line x1="{left}" y1="{py(0)}" x2="{width - right}" y2="{py(0)}" stroke="black"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{py(0)}" stroke="black"/>',
           f'<text x="{(left + width - right) / 2}" y="{height - 15}" text-anchor="middle">{x_label}</text>',
           f'<text x="18" y="{(top + height - bottom) / 2}" text-anchor="middle" transform="rotate(-90 18 {(top + height - bottom) / 2})">{y_label}</text>']
    for x in xs:
        out.append(f'<text x="{px(x)}" y="{py(0) + 18}" text-anchor="middle">{label(x)}</text>')
    for i in range(6):
        y = y_max * i / 5
        out.append(f'<line x1="{left - 4}" y1="{py(y)}" x2="{width - right}" y2="{py(y)}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 8}" y="{py(y) + 4}" text-anchor="end">{y:,.0f}</text>')
    for n, (name, points) in enumerate(series):
        colour = COLOURS[n % len(COLOURS)]
        coordinates = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in sorted(points))
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coordinates}"/>')
        for x, y in points:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>')
        out.append(f'<rect x="{width - right + 15}" y="{top + 20 * n}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{width - right + 32}" y="{top + 20 * n + 11}">{name}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def label(x):
    if x >= 1 << 20 and x % (1 << 20) == 0:
        return f"{x >> 20} MiB"
    if x >= 1024 and x % 1024 == 0:
        return f"{x >> 10} KiB"
    return str(x)


def median_by(points):
    """{x: [y, ...]} -> [(x, median)]"""
    return [(x, statistics.median(ys)) for x, ys in sorted(points.items())]


def collect(files, points):
    """{series name: {x: [y, ...]}} over every report in `files`; points(report) yields (name, x, y)."""
    series = {}
    for path in files:
        with open(path) as f:
            report = json.load(f)
        for name, x, y in points(report):
            series.setdefault(name, {}).setdefault(x, []).append(y)
    return series


def figure(target, file_name, title, x_label, y_label, series, keep=lambda name: True):
    """Plots the series `keep` selects into target/file_name and prints every series' medians."""
    line_chart(os.path.join(target, file_name), title, x_label, y_label,
               [(n, median_by(p)) for n, p in sorted(series.items()) if keep(n)], log_x=True)
    print(f"{title} (median of rounds)")
    for name, points in sorted(series.items()):
        print(f"  {name:24} " + "  ".join(f"{label(x)}: {y:,.0f}" for x, y in median_by(points)))


def small_points(report, x):
    for m in report["measurements"]:
        yield f'{m["operation"]} {"log" if m["audited"] else "no log"}' + (f' {m["callers"]}' if x != "callers" else ""), \
            report["contentPageSize"] if x == "page" else m["callers"], m["operationsPerSecond"]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    source, target = sys.argv[1], sys.argv[2]
    os.makedirs(target, exist_ok=True)

    def files(pattern):
        return sorted(glob.glob(os.path.join(source, pattern)))

    if files("small-*.json"):
        figure(target, "page-size-small.svg", "4 KiB operations against content.sqlite's page size", "page size",
               "operations per second", collect(files("small-*.json"), lambda r: small_points(r, "page")),
               keep=lambda name: "no log" not in name)
    if files("store-*.json"):
        figure(target, "page-size-large.svg", "Large objects against content.sqlite's page size", "page size", "MB/s",
               collect(files("store-*.json"), lambda r: ((m["name"], r["contentPageSize"], m["rate"] / 1e6)
                                                         for m in r["measurements"] if m["unit"] == "bytes/s")))
    if files("size-*.json"):
        figure(target, "object-size.svg", "Large-object put and get against object size", "object size", "MB/s",
               collect(files("size-*.json"), lambda r: ((m["name"].replace("-large", ""), r["size"], m["rate"] / 1e6)
                                                        for m in r["measurements"] if m["unit"] == "bytes/s")))
    if files("growth-*.json"):
        figure(target, "small-growth.svg", "4 KiB operations against objects in the vault", "objects in the vault",
               "operations per second", collect(files("growth-*.json"), lambda r: (
                   (f'{m["operation"]} {"log" if m["audited"] else "no log"} {m["callers"]}', r["preloaded"] + 200,
                    m["operationsPerSecond"]) for m in r["measurements"])), keep=lambda name: "no log" not in name)
    if files("concurrency-*.json"):
        figure(target, "small-concurrency.svg", "4 KiB operations against concurrent callers", "callers",
               "operations per second", collect(files("concurrency-*.json"), lambda r: small_points(r, "callers")))
        figure(target, "small-latency.svg", "4 KiB operations with the log: latency percentiles against callers", "callers",
               "microseconds", collect(files("concurrency-*.json"), lambda r: (
                   (f'{m["operation"]} {p}', m["callers"], m[f"{p}Microseconds"])
                   for m in r["measurements"] if m["audited"] for p in ("p50", "p99"))))


if __name__ == "__main__":
    main()
