"""Warnings and errors that skautoint raises, so that users can filter or catch them by class."""

__all__ = [
    "HighCardinalityWarning",
    "InconsistentVersionWarning",
    "LevelTypeChangedWarning",
    "TrainingDivergedError",
    "TrainingInterruptedWarning",
    "TruncatedCellsWarning",
]


class HighCardinalityWarning(UserWarning):
    """A categorical column has so many levels that most carry no shared information.

    Raised by the field transformer when a column looks like an identifier (most of its levels
    are seen once) or when ``max_categories`` caps its levels.
    """


class LevelTypeChangedWarning(UserWarning):
    """A categorical column holds values of another type than in ``fit`` (e.g. ints for strings).

    Such values can never match a fitted level, so all of them are encoded as unseen.
    """


class TruncatedCellsWarning(UserWarning):
    """Some cells of a multi-valued column hold more levels than its slots.

    Such cells keep the levels most frequent in ``fit``; ``max_levels_per_cell`` sets the
    slots.
    """


class TrainingInterruptedWarning(UserWarning):
    """``fit`` was interrupted (``KeyboardInterrupt``); the best weights so far were kept."""


class InconsistentVersionWarning(UserWarning):
    """A model is loaded by another skautoint version than the one that saved it."""


class TrainingDivergedError(FloatingPointError, ValueError):
    """The training loss became NaN or infinite; no model with such weights is kept."""
