"""Section IV: what a normalizing flow does to space and to a density, Figures 8-16.

The entry (``work``, ``EXPERIMENT``) is ``experiment``; this file imports nothing, so that
``python -m experiments.flow_geometry --help`` answers before TensorFlow is imported.
"""
