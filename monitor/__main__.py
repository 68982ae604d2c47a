"""``python -m monitor`` does what the ``kamermonitor`` command does."""

from .cli import main

raise SystemExit(main())
