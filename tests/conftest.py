"""Shared fixtures."""

import pytest

from keras_scratch_rnn import ops


@pytest.fixture(params=["hoisted", "per_step"])
def loop_strategy(request, monkeypatch):
    """Runs a test with both ways of `ops`: weight gradients as single
    matmuls after the loop (`"hoisted"`, for small steps) and summed inside
    the loop (`"per_step"`, from `ops.PER_STEP_UNITS` units and
    `ops.PER_STEP_BATCH` rows on). The batch is one part when hoisted, and
    per step it is cut into `ops.BATCH_PARTS` parts however few rows it has
    (inside a `tf.function`; eager calls never cut it). Per step in one
    part is what eager calls run."""
    threshold = 10**9 if request.param == "hoisted" else 1
    monkeypatch.setattr(ops, "PER_STEP_UNITS", threshold)
    monkeypatch.setattr(ops, "PER_STEP_BATCH", threshold)
    least = 10**9 if request.param == "hoisted" else 1
    monkeypatch.setattr(ops, "MIN_PART_ROWS", least)
    return request.param
