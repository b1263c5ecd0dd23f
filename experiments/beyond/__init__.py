"""Beyond the study: the flows its discussion asked for (section VII), on eight schools, by its own protocol.

The entry (``work``, ``EXPERIMENT``) is ``experiment``; this file imports nothing, so that
``python -m experiments.beyond --help`` answers before TensorFlow is imported.
"""
