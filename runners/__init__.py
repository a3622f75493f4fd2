"""Sandbox backends, chosen by name through one registry.

``docker`` is the only backend that is a security boundary. Backends are
imported only when chosen, so ``engine`` tests never need the Docker SDK.
"""

from __future__ import annotations

from importlib import import_module

from engine.errors import ConfigurationError
from engine.ports import Runner

BACKENDS = {
    "docker": "runners.docker:DockerRunner",
}


def from_name(name: str, **options) -> Runner:
    """The runner registered as ``name``, built from its environment (``from_env``).

    Raises:
        ConfigurationError: ``name`` is not a known backend; the message lists the known ones.
    """
    try:
        target = BACKENDS[name]
    except KeyError:
        raise ConfigurationError(f"unknown runner backend {name!r}; known: {', '.join(BACKENDS)}") from None
    module, _, attribute = target.partition(":")
    return getattr(import_module(module), attribute).from_env(**options)


__all__ = ["BACKENDS", "Runner", "from_name"]
