"""The book's NumPy code ("Deep Learning from Scratch 2"), float64-capable:
the reference every other implementation is checked against."""

from keras_scratch_rnn.reference.rnn import (
    RNN,
    SGD,
    SimpleRnnlm,
    TimeAffine,
    TimeEmbedding,
    TimeRNN,
    TimeSoftmaxWithLoss,
    numerical_gradient,
)

__all__ = [
    "RNN",
    "SGD",
    "SimpleRnnlm",
    "TimeAffine",
    "TimeEmbedding",
    "TimeRNN",
    "TimeSoftmaxWithLoss",
    "numerical_gradient",
]
