"""`python -m oracle.localnet.bench` (`make bench`)."""

import sys

from oracle.localnet.bench.cli import main

if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
