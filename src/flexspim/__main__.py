"""``python -m flexspim`` runs the command-line interface."""

import sys

from flexspim.cli import main

sys.exit(main())
