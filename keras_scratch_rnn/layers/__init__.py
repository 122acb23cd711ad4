"""The Keras layers: drop-ins for Keras's recurrent layers, on every
backend, computed by `keras_scratch_rnn.ops`."""
