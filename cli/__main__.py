"""`python -m cli`: the `readface` command without its console script."""

import sys

from cli import main

sys.exit(main())
