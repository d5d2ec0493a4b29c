"""`python -m usermode ...`"""

import sys

from usermode.cli.main import main

sys.exit(main())
