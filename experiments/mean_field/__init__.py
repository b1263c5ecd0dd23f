"""Sections II-III: the mean-field approximation, CAVI for the Gaussian mixture, and ADVI (Figures 2-7).

The entry (``work``, ``EXPERIMENT``) is ``experiment``; this file imports nothing, so that
``python -m experiments.mean_field --help`` answers before TensorFlow is imported.
"""
