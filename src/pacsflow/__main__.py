"""Allow ``python -m pacsflow``."""

import sys

from pacsflow.cli import main

sys.exit(main())
