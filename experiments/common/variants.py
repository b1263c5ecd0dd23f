"""Ways of training: our defaults, and each of our departures from the study switched back to its choice.

A ``Variant`` names the options it gives the surrogate (``vinf.surrogates.get``)
and the fit (``vinf.fit``), and how it changes the training's length or
annealing. Rows trained under one carry its name in ``"variant"``
(``"default"`` for ours). The study's choices (thesis section V) are the
planar ``w`` starting at sd 1e-2 (ours: ``1/sqrt(D)``) and the checkpoint of
its code when its tables were made, the parameters after the update that
followed the lowest single-step loss from step 500 on (ours: the lowest moving
average of the loss; ``vinf.fit.CHECKPOINTS``); ``STUDY`` holds them one at a
time and together, and ``THESIS_FINAL_CHECKPOINT`` the rule of its final commit. An experiment that needs
further ways of training (beyond the study, the toy targets' mode study)
defines its own ``Variant`` s beside these.
"""
import dataclasses

__all__ = ["Variant", "DEFAULT", "STUDY", "THESIS_INIT", "THESIS_CHECKPOINT", "THESIS_ALL", "THESIS_FINAL_CHECKPOINT"]


@dataclasses.dataclass(frozen=True)
class Variant:
    """One way of training.

    Attributes:
      name: what rows call it.
      surrogate, fit: the options given to the surrogate's factory and to
        ``vinf.fit``, as ``(name, value)`` pairs (hashable; ``options`` gives dicts).
      steps_factor: trains this many times the steps of the default.
      anneal_fraction: when set, ``vinf.fit`` anneals the target over
        ``num_steps // anneal_fraction`` steps (Rezende & Mohamed 2015).
      families: the surrogate families it applies to (empty: every family).
    """

    name: str
    surrogate: tuple = ()
    fit: tuple = ()
    steps_factor: int = 1
    anneal_fraction: int = 0
    families: tuple = ()

    @classmethod
    def of(cls, name, surrogate=None, fit=None, **fields):
        """A variant from option dicts: ``Variant.of("thesis_init", surrogate=dict(w_scale=1e-2))``."""
        return cls(name, tuple(sorted((surrogate or {}).items())), tuple(sorted((fit or {}).items())), **fields)

    @property
    def surrogate_options(self):
        return dict(self.surrogate)

    @property
    def fit_options(self):
        return dict(self.fit)

    def applies_to(self, family):
        return not self.families or family in self.families

    def steps(self, num_steps):
        """The steps this variant trains where the default trains ``num_steps``."""
        return num_steps * self.steps_factor

    def anneal_steps(self, num_steps):
        """The annealing steps of a training of ``num_steps`` (0: none)."""
        return num_steps // self.anneal_fraction if self.anneal_fraction else 0


DEFAULT = Variant("default")
THESIS_INIT = Variant.of("thesis_init", surrogate=dict(w_scale=1e-2), families=("planar",))  # w at sd 1e-2 (section V)
# the study's code when its tables were made (ee24ca6): the lowest single-step loss from step 500, saved after the update
THESIS_CHECKPOINT = Variant.of("thesis_checkpoint", fit=dict(checkpoint="lowest_post_update"))
THESIS_ALL = Variant.of("thesis_all", surrogate=dict(w_scale=1e-2), fit=dict(checkpoint="lowest_post_update"),
                        families=("planar",))
STUDY = (THESIS_INIT, THESIS_CHECKPOINT, THESIS_ALL)  # the study's choices, one at a time and together
# The checkpoint rule of the study's final commit, which came after its tables (vinf.fit.CHECKPOINTS)
THESIS_FINAL_CHECKPOINT = Variant.of("thesis_final_checkpoint", fit=dict(checkpoint="two_percent_post_update"))
