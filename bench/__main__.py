"""Run benchmark parts by name: `python -m bench [part ...]` (default: all). Each part prints a table."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bench import answering, bot, freshness, knowledge_base, learning, relay, rerank_variants, retrieval, scrape, soak

PARTS: dict[str, Callable[[], None]] = {
    **knowledge_base.PARTS,
    **retrieval.PARTS,
    **rerank_variants.PARTS,
    **answering.PARTS,
    **scrape.PARTS,
    **bot.PARTS,
    **freshness.PARTS,
    **soak.PARTS,
    **relay.PARTS,
    **learning.PARTS,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("parts", nargs="*", help=f"any of {', '.join(PARTS)} (default: all)")
    args = parser.parse_args()
    unknown = [p for p in args.parts if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {unknown}; choose from {', '.join(PARTS)}")
    for name in args.parts or list(PARTS):
        knowledge_base.console.rule(name)
        PARTS[name]()


if __name__ == "__main__":
    main()
