"""The runner seam. The protocol lives in ``engine.ports``; backends implement it."""

from engine.ports import Runner

__all__ = ["Runner"]
