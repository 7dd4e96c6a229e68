"""The soak's RSS figures: least-squares slope, the window after the warm-up, the summary."""

from __future__ import annotations

import os

import pytest

from soak.rss import RssSampler, after, read_status, slope_per_min, summarize


def test_slope_of_a_line_is_its_rate_per_minute() -> None:
    points = [(t, 100.0 + 0.5 * t / 60) for t in range(0, 600, 10)]  # 0.5 MiB/min
    assert slope_per_min(points) == pytest.approx(0.5)


def test_slope_of_a_flat_series_is_zero_and_noise_averages_out() -> None:
    assert slope_per_min([(t, 80.0) for t in range(0, 300, 10)]) == pytest.approx(0.0)
    noisy = [(t, 80.0 + (0.3 if (t // 10) % 2 else -0.3)) for t in range(0, 1800, 10)]
    assert abs(slope_per_min(noisy)) < 0.01


def test_slope_needs_two_distinct_times() -> None:
    assert slope_per_min([]) is None
    assert slope_per_min([(10.0, 1.0)]) is None
    assert slope_per_min([(10.0, 1.0), (10.0, 2.0)]) is None


def test_slope_is_least_squares_not_end_to_end() -> None:
    # a spike at the end moves the least-squares slope much less than the end-to-end one
    points = [(float(t), 100.0) for t in range(0, 600, 10)] + [(600.0, 110.0)]
    assert slope_per_min(points) < 0.5 < (110 - 100) / 10


def test_after_keeps_the_window() -> None:
    samples = [{"t_s": t, "rss_mib": float(t)} for t in range(0, 200, 10)]
    assert after(samples, 120)[0] == (120, 120.0)
    assert after(samples, 120, end_s=150) == [(120, 120.0), (130, 130.0), (140, 140.0), (150, 150.0)]


def test_summary_after_warmup() -> None:
    # steep during the warm-up, then flat: passes
    samples = [{"t_s": t, "rss_mib": 70.0 + min(t, 120) / 10} for t in range(0, 1810, 10)]
    summary = summarize(samples, warmup_s=120, end_s=1800, target=0.1)
    assert summary["ok"]
    assert summary["slope_mib_per_min"] == pytest.approx(0.0)
    assert summary["rss_start_mib"] == 70.0
    assert summary["rss_after_warmup_mib"] == 82.0
    assert summary["rss_end_mib"] == 82.0
    assert summary["slope_samples"] == 169
    # 1.2 MiB/min after the warm-up: fails
    growing = [{"t_s": t, "rss_mib": 90.0 + 1.2 * t / 60} for t in range(0, 1810, 10)]
    summary = summarize(growing, warmup_s=120, end_s=1800, target=0.1)
    assert not summary["ok"]
    assert summary["slope_mib_per_min"] == pytest.approx(1.2)
    assert summary["slope_halves_mib_per_min"]["second_half"] == pytest.approx(1.2)


def test_summary_without_samples_after_warmup_fails() -> None:
    summary = summarize([{"t_s": 0, "rss_mib": 70.0}], warmup_s=120, end_s=180, target=0.1)
    assert not summary["ok"] and summary["slope_mib_per_min"] is None


def test_sampler_reads_this_process() -> None:
    status = read_status(os.getpid())
    assert status["VmRSS"] > 0
    sampler = RssSampler(os.getpid(), 10.0)
    sample = sampler.sample()
    assert sample is not None and sample["rss_mib"] > 1 and sampler.samples == [sample]
    assert read_status(2**22 + 12345) == {}  # no such process
