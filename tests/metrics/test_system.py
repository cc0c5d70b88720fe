import numpy as np
import psutil

from leantune.metrics import SystemSampler, private_memory_mb


def test_private_memory_is_rss_minus_shared():
    process = psutil.Process()
    info = process.memory_info()
    assert abs(private_memory_mb(process) - (info.rss - info.shared) / 2**20) < 5


def test_samples_are_relative_to_the_sampler_start():
    sampler = SystemSampler()
    block = np.ones(40 * 2**20 // 8)  # 40 MB this process holds alone
    sum(i * i for i in range(300_000))  # some CPU work
    sample = sampler.sample()
    assert sample["memory_rise_mb"] > 30
    assert sample["cpu_time_s"] > 0
    assert sample["cpu_percent"] > 0  # primed at start, so the first reading is a real one
    assert sample["train_time_s"] > 0
    del block
