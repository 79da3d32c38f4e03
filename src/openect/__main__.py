"""``python -m openect``: the same as the ``openect`` command."""

from openect.cli import main

raise SystemExit(main())
