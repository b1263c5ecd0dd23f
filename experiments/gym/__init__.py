"""Beyond eight schools: the study's conclusions tested on TensorFlow Probability's Inference Gym.

The entry (``work``, ``EXPERIMENT``) is ``experiment``; this file imports nothing, so that
``python -m experiments.gym --help`` answers before TensorFlow is imported.
"""
