"""`python -m twinkit.cli`."""

from twinkit.cli import main

main()
