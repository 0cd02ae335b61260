"""`python -m sessions`: the command-line face of the session store."""

import sys

from sessions.cli import main

sys.exit(main())
