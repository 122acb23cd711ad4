"""`python -m keras_scratch_rnn`: ScratchRNN vs SimpleRNN, side by side.

Without arguments it runs the main job: the parity table of
`keras_scratch_rnn.parity` on a built-in input (no download).
"""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="keras-scratch-rnn",
        description=(
            "Builds ScratchRNN (the RNN of 'Deep Learning from Scratch 2' "
            "with a handwritten backward) and keras.layers.SimpleRNN with "
            "the same weights, runs both on a built-in input for a table "
            "of parameter combinations, eagerly and in tf.function, and "
            "prints the largest output and gradient differences. Exits "
            "with 1 if any is above tolerance."
        ),
    )
    parser.parse_args(argv)

    from keras_scratch_rnn.parity import main_job

    return main_job()


if __name__ == "__main__":
    sys.exit(main())
