"""The PyTorch layer's structure: its gradient is the Function."""

import numpy as np

from keras_scratch_rnn import ScratchRNN

N, T, D, H = 16, 6, 4, 5


def _data(seed=0):
    x = np.random.default_rng(seed).normal(size=(N, T, D))
    return x.astype("float32"), None


def test_torch_autograd_graph_holds_the_function_only():
    import torch

    layer = ScratchRNN(H, return_sequences=True)
    x = torch.tensor(_data()[0], requires_grad=True)
    out = layer(x)
    names, stack, seen = set(), [out.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.add(type(node).__name__)
        stack.extend(n for n, _ in node.next_functions)
    assert any("ScratchRNN" in n or "Rnn" in n for n in names), names
    assert not any(n.startswith("Tanh") for n in names), names
