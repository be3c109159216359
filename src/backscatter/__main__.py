"""``python -m backscatter``: the same command line as the ``backscatter`` script."""

from backscatter.cli import main

main()
