"""Shared fixtures, and which tests a process collects."""

import os
import pathlib

import pytest

# Keras loads one backend per process (KERAS_BACKEND). The tests directly in
# tests/ are TensorFlow's; tests/jax and tests/torch run in a process of
# their backend; tests/backends in every process (see the README's test
# command).
BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
collect_ignore = [name for name in ("jax", "torch") if name != BACKEND]
if BACKEND != "tensorflow":
    collect_ignore += [
        p.name for p in pathlib.Path(__file__).parent.glob("test_*.py")
    ]

LOOP_STRATEGIES = ("hoisted", "per_step")


def use_loop_strategy(monkeypatch, strategy):
    """Makes `ops` run one of its two ways: weight gradients as single
    matmuls after the loop (`"hoisted"`, for small steps) or summed inside
    the loop (`"per_step"`, from `tf_ops.PER_STEP_UNITS` units and
    `tf_ops.PER_STEP_BATCH` rows on). The batch is one part when hoisted, and
    per step it is cut into `tf_ops.BATCH_PARTS` parts however few rows it has
    (inside a `tf.function`; eager calls never cut it). Per step in one
    part is what eager calls run."""
    from keras_scratch_rnn.ops import tensorflow as tf_ops

    threshold = 10**9 if strategy == "hoisted" else 1
    monkeypatch.setattr(tf_ops, "PER_STEP_UNITS", threshold)
    monkeypatch.setattr(tf_ops, "PER_STEP_BATCH", threshold)
    monkeypatch.setattr(tf_ops, "MIN_PART_ROWS", threshold)


@pytest.fixture(params=LOOP_STRATEGIES)
def loop_strategy(request, monkeypatch):
    """Runs a test with both ways of `ops` (see `use_loop_strategy`)."""
    use_loop_strategy(monkeypatch, request.param)
    return request.param


@pytest.fixture(scope="session")
def demo_reports():
    """Every `explain` topic's demonstration, run once per test process:
    `{topic: Report}` (test_explain.py and test_docs.py share it, and run
    in one worker: their `xdist_group`)."""
    from keras_scratch_rnn.learn import docs_gen

    return docs_gen.run_demos()


@pytest.fixture
def mixed_float16():
    """The `mixed_float16` global policy, always reset to float32 after."""
    import keras

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")
