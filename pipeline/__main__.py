"""`python -m pipeline` is the `insights` command."""

from .cli import main

# Guarded: a spawned child process (sending, resolving, parsing) imports this module
# under another name, and must not run the command again.
if __name__ == "__main__":
    main()
