"""Real data sets shipped with skautoint."""

from ._adult import load_adult

__all__ = ["load_adult"]
