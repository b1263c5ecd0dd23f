"""Section VI.A: the demonstrative targets, Figures 17-35.

The entry (``work``, ``EXPERIMENT``) is ``experiment``; this file imports nothing, so that
``python -m experiments.toy_targets --help`` answers before TensorFlow is imported.
"""
