"""Tools for training and swapping in the layers: truncated BPTT
(`tbptt`), conversion of models and weights files (`interchange`), and the
parity checks against Keras's layers (`parity`)."""
