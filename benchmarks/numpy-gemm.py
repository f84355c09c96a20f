"""Times the same fp32 GEMM in numpy, for the kernel benchmark's ratio. Prints JSON."""
import json
import sys
import time

import numpy as np


def blas_name():
    try:
        return np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:  # older numpy: no dict mode; the name is only informative
        return "unknown BLAS"


m, k, n, reps = (int(a) for a in sys.argv[1:5])
rng = np.random.default_rng(0)
a = rng.standard_normal((m, k), dtype=np.float32)
w = rng.standard_normal((n, k), dtype=np.float32)
a @ w.T
times = []
for _ in range(reps):
    t = time.perf_counter()
    a @ w.T
    times.append(time.perf_counter() - t)
times.sort()
median = times[len(times) // 2]
print(json.dumps({"numpy": np.__version__, "blas": blas_name(), "seconds": median, "gflops": 2 * m * k * n / median / 1e9}))
