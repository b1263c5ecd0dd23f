"""The experiments: one package per part of the thesis (and what builds on it), each ``python -m experiments.NAME``.

``registry`` lists them; ``common`` holds what they share. A command reads its
arguments before it imports TensorFlow (``common.run.command``), so ``--help``
answers at once.
"""
