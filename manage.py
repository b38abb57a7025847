#!/usr/bin/env python
"""Same as the `pricewatch` command; kept for Django habits."""

from pricewatch.cli import main

if __name__ == "__main__":
    main()
