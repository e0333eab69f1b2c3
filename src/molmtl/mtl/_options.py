"""Checking registry options so that a misspelled hyper-parameter fails loudly."""

from __future__ import annotations

import inspect

from molmtl.errors import InputError


def check_options(kind: str, name: str, cls, hp: dict, fixed: tuple[str, ...], extra: tuple[str, ...] = ()) -> None:
    """InputError naming the accepted options when ``hp`` has a key ``cls.__init__`` does not take."""
    params = inspect.signature(cls.__init__).parameters
    accepted = [p for p in params if p not in ("self", *fixed)] + list(extra)
    unknown = [k for k in hp if k not in accepted]
    if unknown:
        raise InputError(f"{kind} {name!r} has no option {', '.join(map(repr, unknown))}; "
                         f"its options are: {', '.join(accepted) or 'none'}.")
