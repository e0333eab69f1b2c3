"""``python -m molmtl``: the same as the ``molmtl`` command."""

from molmtl.cli import main

main()
