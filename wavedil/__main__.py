"""``python -m wavedil``: the same command line as the ``wavedil`` script."""

from .cli import main

raise SystemExit(main())
