"""``python -m policy.cli``."""

import sys

from policy.cli.commands import main

sys.exit(main())
