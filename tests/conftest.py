"""Shared fixtures."""

import pytest

from keras_scratch_rnn import ops


@pytest.fixture(params=["hoisted", "per_step"])
def loop_strategy(request, monkeypatch):
    """Runs a test with both ways of `ops`: weight gradients as single
    matmuls after the loop (`"hoisted"`, for small steps) and summed inside
    the loop (`"per_step"`, from `ops.PER_STEP_UNITS` units and
    `ops.PER_STEP_BATCH` rows on)."""
    threshold = 10**9 if request.param == "hoisted" else 1
    monkeypatch.setattr(ops, "PER_STEP_UNITS", threshold)
    monkeypatch.setattr(ops, "PER_STEP_BATCH", threshold)
    return request.param
