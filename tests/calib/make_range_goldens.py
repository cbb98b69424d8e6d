"""Golden values for tests/calib/range_search_test.cc.

Builds seeded histograms (2048 bins), writes their counts to tests/calib/data/*.hist and
prints the C++ table of expected results that range_search_test.cc holds:

  * MseRange: PyTorch's own HistogramObserver._non_linear_param_search, with the
    histogram, min_val and max_val set directly (float32, as PyTorch keeps them).
  * KlAmax: an independent numpy/scipy reimplementation, written here from the published
    algorithm of NVIDIA pytorch-quantization's _compute_amax_entropy (that package is not
    installed on this machine), using scipy.stats.entropy as the original does.
  * PercentileRange: the interpolated quantiles computed with numpy.

Rerun (Debian 12 packages python3-torch 1.13, python3-numpy, python3-scipy):
  /usr/bin/python3 tests/calib/make_range_goldens.py
then paste the printed table over kGoldens in range_search_test.cc. The .hist files are
rewritten identically as long as numpy's seeded generator is unchanged.

.hist format (text): "lo hi bins" with lo and hi as C99 hex floats (exact float32), then
the bin counts, whitespace separated.
"""
import pathlib

import numpy as np
import scipy.stats
import torch
from torch.ao.quantization.observer import HistogramObserver

BINS = 2048
QUANTIZED_BINS = 128
PERCENTILE = 99.9
DATA_DIR = pathlib.Path(__file__).resolve().parent / "data"


def make_samples():
    """Named float32 sample sets; each generator has its own seed."""
    rng = lambda seed: np.random.default_rng(seed)
    heavy = rng(4).standard_t(3, size=150001)
    heavy[:7] = [40.0, -35.0, 38.5, -41.0, 39.0, 37.0, -36.5]
    spike = rng(5).laplace(0.0, 0.5, size=120011)
    spike[: 84000] = 0.0
    return {
        "gaussian": rng(1).normal(0.0, 1.0, size=200003),
        "uniform": rng(2).uniform(-1.0, 3.0, size=100019),
        "relu": np.maximum(rng(3).normal(0.2, 1.0, size=180007), 0.0),
        "heavy_tails": heavy,
        "spike_at_zero": spike,
        "sparse": rng(6).normal(1.0, 2.0, size=700),
        # 100000 values: every quantile threshold q * total lands on a whole count.
        "round_total": np.concatenate([rng(7).normal(-1.0, 0.5, size=60000), rng(8).normal(2.0, 1.0, size=40000)]),
    }


def histogram(x, lo, hi):
    counts, _ = np.histogram(x, bins=BINS, range=(float(lo), float(hi)))
    return counts.astype(np.int64)


def write_hist(path, lo, hi, counts):
    lines = [f"{float(lo).hex()} {float(hi).hex()} {len(counts)}"]
    lines += [" ".join(str(c) for c in counts[i : i + 16]) for i in range(0, len(counts), 16)]
    path.write_text("\n".join(lines) + "\n")


def torch_l2_range(lo, hi, counts):
    observer = HistogramObserver(bins=BINS)
    observer.histogram = torch.tensor(counts, dtype=torch.float32)
    observer.min_val = torch.tensor(lo, dtype=torch.float32)
    observer.max_val = torch.tensor(hi, dtype=torch.float32)
    new_min, new_max = observer._non_linear_param_search()
    return float(new_min), float(new_max)


def kl_amax(lo, hi, counts, levels=QUANTIZED_BINS):
    """pytorch-quantization's entropy calibration, reimplemented from its description."""
    hist = counts.astype(np.int64).copy()
    hist[0] = hist[1]
    total = hist.sum()
    divergences = []
    cuts = range(levels, len(hist) + 1)
    for cut in cuts:
        kept = hist[:cut]
        # Bin j of the cut belongs to level floor(j * levels / cut); empty bins to none.
        level = np.digitize(np.arange(cut), np.linspace(0, cut, levels + 1)) - 1
        level[kept == 0] = -1
        level_sum = np.bincount(level[level >= 0], weights=kept[level >= 0], minlength=levels)
        level_bins = np.bincount(level[level >= 0], minlength=levels)
        q = np.where(level >= 0, level_sum[np.maximum(level, 0)] / np.maximum(level_bins[np.maximum(level, 0)], 1), 0.0)
        p = kept.copy()
        p[-1] += hist[cut:].sum()
        divergences.append(scipy.stats.entropy(p, q) if q.sum() > 0 else np.inf)
    divergences = np.asarray(divergences)
    best = len(divergences) - 1 - int(np.argmin(divergences[::-1]))
    width = (float(hi) - float(lo)) / len(counts)
    return float(np.float32(float(lo) + cuts[best] * width))


def interpolated_quantiles(lo, hi, counts, percentile):
    """Bounds where the interpolated CDF crosses the clipped mass, from each end."""
    edges = np.linspace(float(lo), float(hi), len(counts) + 1)
    cdf = np.concatenate([[0.0], np.cumsum(counts, dtype=np.float64)])
    total = cdf[-1]
    one_sided = lo >= 0
    clipped = total * (100.0 - percentile) / 100.0
    high_cut = clipped if one_sided else clipped / 2

    # Upper bound: the first point where the CDF reaches total - high_cut.
    target = total - high_cut
    k = int(np.searchsorted(cdf, target, side="left"))
    upper = edges[k - 1] + (target - cdf[k - 1]) / counts[k - 1] * (edges[1] - edges[0])
    if one_sided:
        return float(lo), float(np.float32(upper))
    # Lower bound: the last point where the CDF is still at most clipped / 2.
    target = clipped / 2
    k = int(np.searchsorted(cdf, target, side="right"))
    lower = edges[k - 1] + (target - cdf[k - 1]) / counts[k - 1] * (edges[1] - edges[0])
    return float(np.float32(lower)), float(np.float32(upper))


def main():
    DATA_DIR.mkdir(exist_ok=True)
    rows = []
    for name, samples in make_samples().items():
        x = samples.astype(np.float32)
        lo, hi = np.float32(x.min()), np.float32(x.max())
        counts = histogram(x, lo, hi)
        write_hist(DATA_DIR / f"{name}.hist", lo, hi, counts)
        amax = np.float32(np.abs(x).max())
        abs_counts = histogram(np.abs(x), 0.0, amax)
        write_hist(DATA_DIR / f"{name}_abs.hist", np.float32(0.0), amax, abs_counts)

        mse = torch_l2_range(lo, hi, counts)
        kl = kl_amax(0.0, amax, abs_counts)
        pct = interpolated_quantiles(lo, hi, counts, PERCENTILE)
        rows.append((name, mse, kl, pct))

    def lit(v):
        text = f"{v:.9g}"
        return (text if any(c in text for c in ".e") else text + ".0") + "f"

    print(f"// Generated by tests/calib/make_range_goldens.py (percentile {PERCENTILE}).")
    for name, mse, kl, pct in rows:
        print(f'    {{"{name}", {{{lit(mse[0])}, {lit(mse[1])}}}, {lit(kl)}, {{{lit(pct[0])}, {lit(pct[1])}}}}},')


if __name__ == "__main__":
    main()
