"""The book's NumPy code ("Deep Learning from Scratch 2"), float64-capable:
the reference every other implementation is checked against."""

from keras_scratch_rnn.reference.gru import (
    GRU,
    TimeGRU,
    book_to_keras_gru,
    keras_to_book_gru,
)
from keras_scratch_rnn.reference.lstm import (
    LSTM,
    BetterRnnlm,
    Rnnlm,
    TimeDropout,
    TimeLSTM,
    book_to_keras_lstm,
    keras_to_book_lstm,
    remove_duplicate,
)
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
    "GRU",
    "LSTM",
    "RNN",
    "SGD",
    "BetterRnnlm",
    "Rnnlm",
    "SimpleRnnlm",
    "TimeAffine",
    "TimeDropout",
    "TimeEmbedding",
    "TimeGRU",
    "TimeLSTM",
    "TimeRNN",
    "TimeSoftmaxWithLoss",
    "book_to_keras_gru",
    "book_to_keras_lstm",
    "keras_to_book_gru",
    "keras_to_book_lstm",
    "numerical_gradient",
    "remove_duplicate",
]
