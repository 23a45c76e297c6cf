"""``python -m cohortode``: the same as the ``cohortode`` command."""

from .cli import main

raise SystemExit(main())
