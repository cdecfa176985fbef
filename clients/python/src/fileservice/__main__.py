"""``python -m fileservice``: the CLI."""

import sys

from fileservice.cli import main

sys.exit(main())
