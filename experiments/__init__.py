"""The experiments: one package per part of the thesis (and what builds on it), each ``python -m experiments.NAME``.

Every experiment imports TensorFlow through ``vinf``; importing this package
first keeps TensorFlow's C++ start-up lines out of the terminal.
"""
from experiments.common.runner import quiet_tensorflow

quiet_tensorflow()
