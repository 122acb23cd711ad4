"""keras_scratch_rnn: the RNN of "Deep Learning from Scratch 2" in Keras 3.

Data flow, bottom to top (lower modules never import upper ones):

- `reference`: the book's `RNN` and `TimeRNN` in NumPy, the math to trust.
- `ops`: the same forward and handwritten backward as TensorFlow ops.
- `scratch_rnn_cell`, `scratch_rnn`: Keras layers on those ops, drop-in
  replacements of `keras.layers.SimpleRNNCell` and `keras.layers.SimpleRNN`.
- `parity`: side-by-side comparison with SimpleRNN (`python -m
  keras_scratch_rnn`).
"""

from keras_scratch_rnn.scratch_rnn import ScratchRNN
from keras_scratch_rnn.scratch_rnn_cell import ScratchRNNCell

__version__ = "0.1.0"
__all__ = ["ScratchRNN", "ScratchRNNCell"]
