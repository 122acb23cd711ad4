"""Covering arrays: every combination of any `strength` options, not all.

A full product of eight options with two or three values each is hundreds
of cases; a set of cases in which every pair (or triple) of option values
appears at least once is a few dozen, and it still catches a bug that
needs two (or three) options to show. `covering(factors, strength=3)`
builds such a set greedily and deterministically from the product.
"""

import itertools


def covering(factors, strength=3):
    """Cases covering every combination of `strength` factors' values.

    Args:
        factors: Dict of factor name to its list of values.
        strength: How many factors each covered combination spans.

    Returns:
        A list of dicts (name -> value), the same on every call: every
        assignment of values to any `strength` of the factors appears in at
        least one of them.
    """
    names = list(factors)
    levels = [range(len(factors[n])) for n in names]
    groups = list(itertools.combinations(range(len(names)), strength))
    uncovered = {
        (group, values)
        for group in groups
        for values in itertools.product(*(levels[i] for i in group))
    }
    candidates = list(itertools.product(*levels))
    chosen = []
    while uncovered:
        best = max(
            candidates,
            key=lambda row: sum(
                (g, tuple(row[i] for i in g)) in uncovered for g in groups
            ),
        )
        chosen.append(best)
        uncovered -= {(g, tuple(best[i] for i in g)) for g in groups}
    return [{n: factors[n][i] for n, i in zip(names, row)} for row in chosen]


def case_id(case):
    """A short test id: the names of the true flags and the other values."""
    parts = []
    for name, value in case.items():
        if value is True:
            parts.append(name)
        elif value not in (False, None):
            value = getattr(value, "__name__", value)  # no address in ids
            parts.append(f"{name}={value}")
    return "-".join(parts) or "defaults"
