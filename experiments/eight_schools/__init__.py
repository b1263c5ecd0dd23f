"""Section VI.B: the eight-schools model, Tables I-V and Figures 37-48.

The entry (``work``, ``EXPERIMENT``) is ``experiment``; this file imports nothing, so that
``python -m experiments.eight_schools --help`` answers before TensorFlow is imported.
"""
