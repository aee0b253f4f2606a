"""Entity tags and ``If-Match`` as RFC 9110 defines them (sections 8.8.3 and 13.1.1).

``If-Match`` is ``*`` or a comma-separated list of entity tags, each a quoted opaque string,
optionally prefixed ``W/`` (weak). It is evaluated with the *strong* comparison: a tag matches
only when neither is weak and their opaque strings are equal, so a weak tag never matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# etagc = %x21 / %x23-7E / obs-text (any visible character but DQUOTE, and bytes >= 0x80)
_ENTITY_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*')


@dataclass(frozen=True)
class EntityTag:
    opaque: str  # with its quotes, as sent
    weak: bool = False

    def strongly_matches(self, other: EntityTag) -> bool:
        return not self.weak and not other.weak and self.opaque == other.opaque


class MalformedEntityTags(ValueError):
    """The header is not ``*`` nor a list of quoted entity tags."""


def parse_if_match(value: str) -> list[EntityTag] | None:
    """The tags of an ``If-Match`` value, or None for ``*`` (any current representation).

    Raises ``MalformedEntityTags`` for anything else (an unquoted ``3``, a stray comma-free
    run of text, an empty value), which the caller answers with 400.
    """
    if value.strip() == "*":
        return None
    tags: list[EntityTag] = []
    for part in value.split(","):
        if not part.strip():
            continue  # RFC 9110 5.6.1: empty list elements are ignored
        match = _ENTITY_TAG.fullmatch(part)
        if match is None:
            msg = f"not an entity tag: {part.strip()!r}"
            raise MalformedEntityTags(msg)
        tags.append(EntityTag(opaque=f'"{match.group(2)}"', weak=match.group(1) is not None))
    if not tags:
        raise MalformedEntityTags("no entity tag")
    return tags
