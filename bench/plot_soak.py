"""Draws the soak's series (target/soak/soak.csv, written by io.faultline.bench.Soak) into one PNG.

Usage: plot_soak.py SOAK_CSV OUT_PNG [WARMUP_MINUTES]
Four panels against the minute: memory (RSS, heap after a full GC, heap committed, non-heap), threads and database
connections, batch latency (p50, p99) with the load average, and every bounded map's entries (log scale).
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    source, target = sys.argv[1], sys.argv[2]
    warmup = float(sys.argv[3]) if len(sys.argv) > 3 else 0
    with open(source, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit("no samples in " + source)
    minute = [int(r["minute"]) for r in rows]

    def col(name):
        return [float(r[name]) if r[name] != "" else float("nan") for r in rows]

    fig, axes = plt.subplots(4, 1, figsize=(10, 13), sharex=True)
    ax = axes[0]
    for name, label in [("rss_mb", "RSS"), ("heap_after_gc_mb", "heap after full GC"),
                        ("heap_committed_mb", "heap committed"), ("nonheap_mb", "non-heap used")]:
        ax.plot(minute, col(name), marker=".", label=label)
    ax.set_ylabel("MB")
    ax.set_title("Faultline soak: memory")
    ax.set_ylim(bottom=0)
    ax.legend(loc="center right", fontsize="small")

    ax = axes[1]
    ax.plot(minute, col("live_threads"), marker=".", label="JVM live threads")
    ax.plot(minute, col("db_connections"), marker=".", label="database connections (pg_stat_activity)")
    ax.set_ylim(bottom=0)
    ax.set_title("threads and connections")
    ax.legend(loc="lower right")

    ax = axes[2]
    ax.plot(minute, col("p50_ms"), marker=".", label="batch p50")
    ax.plot(minute, col("p99_ms"), marker=".", label="batch p99")
    ax.set_ylabel("ms (from scheduled send)")
    ax.set_yscale("log")
    ax.set_title("ingest latency per minute (100-call batches, open loop)")
    twin = ax.twinx()
    twin.plot(minute, col("load1"), color="grey", linestyle=":", label="load average (1 min)")
    twin.set_ylabel("load average")
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left")

    ax = axes[3]
    ax.set_prop_cycle(color=plt.cm.tab20.colors)
    for name in [k for k in rows[0].keys() if k.startswith("map:")]:
        values = [v if v > 0 else float("nan") for v in col(name)]
        if any(v == v for v in values):
            ax.plot(minute, values, marker=".", label=name[4:])
    ax.set_yscale("log")
    ax.set_ylabel("entries")
    ax.set_title("bounded in-memory maps (faultline_memory_entries)")
    ax.legend(fontsize="x-small", ncol=2, loc="upper left")
    ax.set_xlabel("minute")

    for a in axes:
        if warmup > 0:
            a.axvspan(0, warmup, color="0.92", zorder=0)
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(target, dpi=90)


if __name__ == "__main__":
    main()
