"""``python -m jaxcodecs``: see :mod:`jaxcodecs.cli`."""

import sys

from jaxcodecs.cli import main

if __name__ == "__main__":
    sys.exit(main())
