"""Join codes: `join amber-fox-river-482`, a short code that whitelists like the trial key, for typing on a phone.

A code is derived from the key (a keyed digest, one way: it reveals nothing of the key), so the e-mail and the
dashboard, which both hold the key, show it without storing it; the trials table holds only its SHA-256 under a
lookup item that names the trial's key hash (`DynamoTrialStore`), written with the trial in one transaction.

Three words from a list of 256 (8 bits each: short, common, spelt one way, none a homophone of another) and a number
from 100 to 999 (9.8 bits): about 33.8 bits, 16.8 billion codes. With the sign-ups' overall limit (100 an hour) and a
24-hour trial at most 2,400 trials live at once, so a guess hits some trial with a chance of 1 in 7 million and a
given trial with 1 in 16.8 billion: every guess is a real message through a provider (a paid SMS, or WhatsApp traffic
Meta's spam controls throttle), and each wrong one is answered at most `reply_limit_per_sender` times. Guessing a
given trial within its life is out of reach; hitting any trial at all takes millions of messages in a day, for a slot
on a stranger's test trial that its owner sees on the dashboard. docs/design-decisions.md has the reasoning.

Parsing forgives what phones do to typed text: any letter case, spaces, hyphens, dots or underscores between the
parts, with or without the word `join`, a trailing full stop, and fullwidth forms (NFKC).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

# One block of words, not 256 quoted ones: the list reads (and is reviewed) as the words themselves.
_WORD_BLOCK = """
acorn actor agent alarm album alpha amber angle ankle apple apron arena arrow aspen atlas attic
audio autumn bacon badge bagel baker bamboo banjo barn basin basket beach beacon beaver bench berry
bison blade blanket bonus boot bottle bounty branch bread brick bridge bronze brook broom bucket
bugle butter button cabin cactus camel camera candle canoe canyon carbon cargo carpet carrot castle
cedar cello cereal chalk cherry chess cider cinema circus citrus clay cliff clock cloud clover
cobalt comet copper coral cotton cougar crane crater daisy dance delta desert diamond dingo dolphin
donkey dragon drum eagle earth easel echo elbow ember engine falcon fern ferry fiddle finch flame
flute forest fossil fox garden garlic gecko ginger globe goat granite grape gravel guitar hammer
harbor harp hazel helmet heron hippo honey hornet island ivory jacket jaguar jelly jungle kayak
kettle kitten koala ladder lagoon lantern lemon lentil lily linen lizard llama lotus magnet mango
maple marble meadow melon mint mirror mitten monkey moose mosaic muffin nectar needle nickel noodle
oasis ocean olive onion orange orbit orchid otter owl oyster paddle panda paper parrot peach peanut
pebble pencil pepper piano pickle pigeon pillow pine planet plum pocket pony poppy potato puffin
pumpkin puzzle quartz quill rabbit radio raven ribbon river robin rocket rose ruby saddle salmon
sandal satin scarf shadow shell silver sketch sled sparrow spider spruce squid statue stone summer
sunset swan tango teapot temple thunder tiger timber toast tomato topaz tulip tunnel turtle valley
velvet violin waffle walnut walrus willow window winter wizard wombat yogurt zebra
"""
WORDS: tuple[str, ...] = tuple(_WORD_BLOCK.split())
_INDEX = {word: index for index, word in enumerate(WORDS)}
NUMBER_LOW = 100
NUMBER_COUNT = 900
# Longer messages are no code (the longest code with `join` is 33 characters): nothing long is normalized or matched.
MAX_MESSAGE_CHARS = 80
PREFIX = "join"
# Three words and a number, separated by anything a phone keyboard makes of a separator; `join` before it optional.
_SEP = r"[\s._\-]+"
_PATTERN = re.compile(rf"(?:{PREFIX}{_SEP})?([a-z]+){_SEP}([a-z]+){_SEP}([a-z]+)(?:{_SEP})?(\d{{3}})[\s.!]*")
# What a code is derived with: never the key's own stored hash (that is the trial's id in the table).
_DOMAIN = b"trialgw join code v1:"


def join_code(key: str) -> str:
    """The trial's join code, `amber-fox-river-482`, the same for a key every time."""
    digest = hashlib.sha256(_DOMAIN + key.strip().lower().encode("ascii", "replace")).digest()
    number = NUMBER_LOW + int.from_bytes(digest[3:5], "big") % NUMBER_COUNT
    return f"{WORDS[digest[0]]}-{WORDS[digest[1]]}-{WORDS[digest[2]]}-{number}"


def join_text(key: str) -> str:
    """What a person sends to join: `join amber-fox-river-482`."""
    return f"{PREFIX} {join_code(key)}"


def find_join_code(text: str | None) -> str | None:
    """The canonical join code that `text` (an inbound message) is, or None. The message must be the code alone (with
    or without `join`, as the QR codes' links type it): a whitelisted person's ordinary message that happens to hold
    three of the words and a number is recorded as a message, never taken for a try to join."""
    if not isinstance(text, str) or len(text) > MAX_MESSAGE_CHARS:
        return None
    match = _PATTERN.fullmatch(unicodedata.normalize("NFKC", text).strip().lower())
    if match is None or not all(word in _INDEX for word in match.group(1, 2, 3)):
        return None
    return f"{match.group(1)}-{match.group(2)}-{match.group(3)}-{match.group(4)}"


def hash_join_code(code: str) -> str:
    """The SHA-256 hex digest of a canonical code: the lookup item's key, so the table holds no code."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()


__all__ = ["WORDS", "find_join_code", "hash_join_code", "join_code", "join_text"]
