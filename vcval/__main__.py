"""``python -m vcval``: the same as the ``vcval`` command (and what ``torchrun -m vcval`` launches)."""

import sys

from vcval.main import main

sys.exit(main())
