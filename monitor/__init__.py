"""kamermonitor: alerts when a new letter is filed in a Kamerstuk dossier."""

__version__ = "0.1.0"
