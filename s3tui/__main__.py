"""``python -m s3tui`` behaves exactly like the ``s3tui`` command."""

import sys

from s3tui.cli import main

sys.exit(main())
