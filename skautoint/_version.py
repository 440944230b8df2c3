"""The package version, in a module of its own so that no module imports the package back."""

__version__ = "0.2.0.dev0"
