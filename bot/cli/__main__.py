"""``python -m bot.cli``: the ``yishi`` command."""

import sys

from bot.cli import main

sys.exit(main())
