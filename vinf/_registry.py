"""Factories by name: the one registry that targets and surrogate families both use."""

__all__ = ["Registry"]


class Registry:
    """Factories registered under names; ``kind`` ("target", "family") and its ``plural`` word the errors.

    ``sort`` lists names alphabetically, otherwise in the order they were registered.
    """

    def __init__(self, kind, plural=None, sort=False):
        self.kind = kind
        self.plural = plural or f"{kind}s"
        self.sort = sort
        self._factories = {}

    def register(self, name):
        """A decorator adding a factory under ``name``."""

        def decorate(factory):
            self._factories[name] = factory
            return factory

        return decorate

    def names(self):
        return sorted(self._factories) if self.sort else list(self._factories)

    def factory(self, name):
        """The factory registered as ``name``; an unknown name raises ``ValueError`` listing the known ones."""
        if name not in self._factories:
            raise ValueError(f"unknown {self.kind} {name!r}; known {self.plural}: {', '.join(self.names())}")
        return self._factories[name]
