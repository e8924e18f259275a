"""The names of the files and folders in a run folder (see :mod:`artgan.core.run_folder`).

Kept apart, free of torch, so that readers such as ``artgan report`` spell the layout the
same way as the writer without importing it.
"""

CONFIG, STATS, METRICS, REPORT = "config.json", "stats.jsonl", "metrics.jsonl", "report.html"
SAMPLES, CHECKPOINTS, LAST, BEST, FINAL_GRID = "samples", "checkpoints", "last.pt", "best.pt", \
    "final.png"
