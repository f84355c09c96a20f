"""The long-context evolution's figure, rendered with matplotlib from the results JSON run.ts writes.

    plot_buckets.py results.json out.png

Left: Δ bits/byte against the original by position bucket for the best manual and the best evolved
recipe (and every other fitting candidate, faint). Right: retrieval accuracy by distance for the
original, the best manual and the best evolved recipe.
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> int:
    src, out = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        res = json.load(f)
    rows = res["rows"]
    labels = [f"{b['from']}–{b['to'] - 1}" for b in rows[0]["summary"]["buckets"]]
    x = list(range(len(labels)))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for r in rows:
        if r["fits"] and r["id"] not in (res["bestManual"], res["bestEvolved"]):
            left.plot(x, r["deltas"], color="#bbbbbb", linewidth=0.8, alpha=0.6)
    styles = {res["bestManual"]: ("#d95f02", "best manual"), res["bestEvolved"]: ("#1b9e77", "best evolved")}
    for r in rows:
        if r["id"] in styles and r["id"] is not None:
            color, label = styles[r["id"]]
            left.plot(x, r["deltas"], marker="o", color=color, linewidth=2, label=label)
            dist = [p["distance"] for p in r["summary"]["retrieval"]]
            right.plot(dist, [100 * p["accuracy"] for p in r["summary"]["retrieval"]], marker="o", color=color, linewidth=2, label=label)
    base = rows[0]["summary"]["retrieval"]
    right.plot([p["distance"] for p in base], [100 * p["baseline_accuracy"] for p in base], marker="s", color="#444444", linestyle="--", label="original (bf16)")
    right.axhline(100 / 26, color="#999999", linewidth=0.8, linestyle=":", label="chance")
    left.axhline(0, color="#444444", linewidth=0.8)
    left.set_xticks(x, labels)
    left.set_xlabel("position in the window (bytes)")
    left.set_ylabel("Δ bits/byte vs the original")
    left.set_title("Loss by position bucket")
    left.plot([], [], color="#bbbbbb", linewidth=0.8, label="other candidates that fit")
    left.legend(fontsize=8, loc="upper left")
    right.set_xlabel("distance from key to query (bytes)")
    right.set_ylabel("key letters retrieved (%)")
    right.set_title("Retrieval by distance")
    right.legend(fontsize=8)
    fig.suptitle(res["title"], fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
