"""Cloud Run job entry point: the scheduled scrape (placeholder until its issue lands; see README "Status")."""

from __future__ import annotations

import sys


def main() -> int:
    """Not implemented yet: exits non-zero so a scheduled run is visibly failing, never silently empty."""
    print('{"severity": "ERROR", "message": "the scrape job is not implemented yet"}')
    return 2


if __name__ == "__main__":
    sys.exit(main())
