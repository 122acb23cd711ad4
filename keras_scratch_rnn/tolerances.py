"""Every numeric tolerance of the project, in one place.

Errors are scaled: `max|a - b| / max(1, max|b|)`, so a tolerance is absolute
for values up to 1 and relative above (weight gradients summed over many
steps can be large).
"""

import numpy as np

# ScratchRNN vs keras.layers.SimpleRNN in float32 (outputs and gradients).
FLOAT32_PARITY = 1e-5

# TensorFlow ops vs the NumPy reference, both in float64.
FLOAT64_PARITY = 1e-12

# Handwritten gradients vs central differences, float64, relative.
GRADIENT_CHECK_RTOL = 1e-7


def scaled_error(a, b):
    """`max|a - b| / max(1, max|b|)` over all elements, as a Python float."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"Shapes differ: {a.shape} vs {b.shape}.")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1.0, np.max(np.abs(b))))


# Loss curves of two float32 trainings from identical weights (ScratchRNN vs
# SimpleRNN), relative, per epoch: float32 round-off grows with each step.
TRAINING_LOSS_RTOL = 1e-4

# Perplexity per epoch of the ch05 RNNLM trained with Keras (float32) vs the
# book's NumPy code, from identical weights on identical batches, relative
# (`examples/rnnlm.py`; measured at most 1.5e-6 over 100 epochs).
RNNLM_PERPLEXITY_RTOL = 1e-3

# Perplexity per epoch of the ch06 LSTM language model (`Rnnlm`) trained with
# Keras vs the book's NumPy code, both float64, from identical weights on
# identical batches, relative (`examples/rnnlm_lstm.py`; measured 1e-15 in the
# quick run, 3e-7 at the default run's 8th epoch). At the book's lr 20 the
# training is chaotic: any difference grows ~30x per epoch and passes 1e-3 in
# the 9th, which bounds how long the example runs, not the implementations.
RNNLM_LSTM_PERPLEXITY_RTOL = 1e-3

# |dL/dh_t| of `gradflow` (TensorFlow ops, float64) vs the NumPy reference's
# RNN.backward loop and vs scale^(T-1-t), relative.
GRADFLOW_RTOL = 1e-10
