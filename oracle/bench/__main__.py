"""`python -m oracle.bench` (`make bench`)."""

import sys

from oracle.bench.cli import main

if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
