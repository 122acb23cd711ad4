"""`python -m keras_scratch_rnn`: ScratchRNN vs SimpleRNN, side by side.

Without arguments it runs the main job: the parity table of
`keras_scratch_rnn.tools.parity` on a built-in input (no download). The commands
(`explain`, `compare`, `gradflow`, `docs`, `parity`) live in
`keras_scratch_rnn.cli`; `--help` lists them.
"""

import sys

from keras_scratch_rnn.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
