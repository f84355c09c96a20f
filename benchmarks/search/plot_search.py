"""The search benchmark's figure, rendered with matplotlib from the results JSON run.ts writes.

    plot_search.py results.json out.png

Left: best feasible Δ bits/byte so far against evaluations spent, the median over seeds as a line and
the interquartile range as a band, per method (an evaluation index enters the median once at least
half of the runs have a feasible point by then). Right: every feasible (GB per GPU, Δ) point each
method evaluated, with the GPU's capacity.
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

COLORS = {"graph": "#1b9e77", "ablated": "#d95f02", "random": "#7570b3", "tpe": "#e7298a"}


def main() -> int:
    src, out = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        res = json.load(f)
    summary = res["summary"]
    labels = res["labels"]
    budget = summary["budget"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.6))
    x = np.arange(1, budget + 1)
    for m in summary["methods"]:
        name = m["method"]
        color = COLORS.get(name)
        curves = np.array([[np.nan if v is None else v for v in c] for c in m["curves"]], dtype=float)
        if curves.size == 0:
            continue
        enough = np.sum(~np.isnan(curves), axis=0) * 2 >= curves.shape[0]
        # A run without a feasible point yet counts as worse than any value: nan sorts last as +inf.
        filled = np.where(np.isnan(curves), np.inf, curves)
        med = np.where(enough, np.quantile(filled, 0.5, axis=0), np.nan)
        q1 = np.where(enough, np.quantile(filled, 0.25, axis=0), np.nan)
        q3 = np.where(enough, np.quantile(filled, 0.75, axis=0), np.nan)
        q3 = np.where(np.isinf(q3), np.nan, q3)
        ax.plot(x, med, color=color, lw=2, label=f"{labels[name]} (n={curves.shape[0]})", drawstyle="steps-post")
        ax.fill_between(x, q1, q3, color=color, alpha=0.18, step="post")
        pts = np.array([[p["memory"], p["loss"]] for p in m["points"]], dtype=float).reshape(-1, 2)
        bx.scatter(pts[:, 0], pts[:, 1], s=14, alpha=0.55, color=color, label=labels[name])
    if summary["threshold"] is not None:
        ax.axhline(summary["threshold"], color="grey", ls=":", lw=1, label="within 10% of the best found")
    ax.set_xlabel("evaluations")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("best feasible Δ bits/byte vs bf16 (lower is better)")
    ax.set_title("best so far: median and interquartile range over seeds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    bx.axvline(summary["reference"]["memory"], color="grey", ls="--", lw=1, label="GPU capacity (80 GiB)")
    bx.set_xlabel("memory per GPU on the target (GB)")
    bx.set_ylabel("Δ bits/byte vs bf16")
    bx.set_title("feasible points evaluated (all seeds)")
    bx.grid(alpha=0.3)
    bx.legend(fontsize=8)
    fig.suptitle(res["title"], fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
