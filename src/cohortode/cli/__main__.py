"""``python -m cohortode.cli``: the same as the ``cohortode`` command."""

from . import main

raise SystemExit(main())
