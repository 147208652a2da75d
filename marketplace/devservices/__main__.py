"""`python -m marketplace.devservices ...` (see the package docstring)."""

import sys

from marketplace.devservices.run import main

sys.exit(main())
