"""Each of our departures from the study switched off, on the eight-schools rows that deviate from the thesis.

The entry (``work``, ``EXPERIMENT``) is ``experiment``; this file imports nothing, so that
``python -m experiments.ablations --help`` answers before TensorFlow is imported.
"""
