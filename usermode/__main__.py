"""`python -m usermode ...`"""

import sys

from usermode.cli import main

sys.exit(main())
