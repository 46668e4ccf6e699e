"""The process settings of a zone's server (``jichitai serve``, the benchmarks' servers)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator

import pytest

from jichitai.apps import GEN0_THRESHOLD, SWITCH_INTERVAL_S, tune_server_process
from jichitai.platform.zones import Zone


@pytest.fixture
def restored() -> Iterator[None]:
    interval = sys.getswitchinterval()
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def test_the_internet_zone_server_switches_threads_sooner(restored: None) -> None:
    sys.setswitchinterval(0.005)
    tune_server_process(Zone.LGWAN)
    assert sys.getswitchinterval() == pytest.approx(0.005)
    tune_server_process(Zone.INTERNET)
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL_S[Zone.INTERNET]) != 0.005


def test_what_lives_at_start_is_left_out_of_collections(restored: None) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    tune_server_process(Zone.MYNUMBER)
    assert gc.get_freeze_count() > 1000


def test_the_youngest_generation_is_collected_less_often(restored: None) -> None:
    gc.set_threshold(700, 10, 10)
    tune_server_process(Zone.INTERNET)
    assert gc.get_threshold() == (GEN0_THRESHOLD, 10, 10)
    assert GEN0_THRESHOLD > 700
