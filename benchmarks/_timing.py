"""Interleaved timing of several step functions in one process."""
import statistics
import time
from typing import Callable, Dict


def interleaved_medians(fns: Dict[str, Callable[[], None]], repeats: int,
                        device: str = 'cpu', warmup: int = 3
                        ) -> Dict[str, float]:
    """Median milliseconds of each function; one call of each per round,
    so slow drifts of a shared machine hit all of them alike."""
    import torch
    sync = torch.cuda.synchronize if str(device).startswith('cuda') else \
        (lambda: None)
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    timings = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync()
            start = time.perf_counter()
            fn()
            sync()
            timings[name].append(time.perf_counter() - start)
    return {k: round(statistics.median(v) * 1000, 3)
            for k, v in timings.items()}
