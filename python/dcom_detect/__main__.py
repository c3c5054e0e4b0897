"""``python -m dcom_detect``: the ``dcom-detect`` command."""

import sys

from .cli import main

sys.exit(main())
