"""`python -m pipeline` is the `insights` command."""

from .cli import main

main()
