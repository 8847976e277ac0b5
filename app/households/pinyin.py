"""Search keys for a household's name: its pinyin, full and initials (zhouchangshun, zcs).

Kept in columns of the household, so a search by pinyin is one query however many
households the village has. A surname may be read several ways (单 dan/shan, 曾
ceng/zeng): every reading of the first character is kept, separated by spaces, so
the storekeeper finds the household whichever reading they type.
"""

import re

from pypinyin import Style, lazy_pinyin, pinyin

MAX_READINGS = 3
NOT_A_KEY = re.compile(r"[^a-z0-9]")
FULL_LENGTH = 400
INITIALS_LENGTH = 100


def query_key(text: str) -> str:
    """What a typed search compares with the keys: lowercase letters and digits only."""
    return NOT_A_KEY.sub("", text.lower())


def _key(syllables: list[str]) -> str:
    return query_key("".join(syllables))


def name_keys(name: str) -> tuple[str, str]:
    """Return the full pinyin and the initials of a name, each reading space-separated."""
    name = name.strip()
    if not name:
        return "", ""
    # The whole name in context reads 周长顺 as zhou chang shun; the first character alone
    # would read 长 as zhang.
    syllables = lazy_pinyin(name)
    letters = lazy_pinyin(name, style=Style.FIRST_LETTER)
    han = "\u4e00" <= name[0] <= "\u9fff"
    others = pinyin(name[0], heteronym=True, style=Style.NORMAL)[0][:MAX_READINGS] if han else []
    readings = [syllables[0]] + [r for r in others if r != syllables[0]]
    full = " ".join(dict.fromkeys(_key([r, *syllables[1:]]) for r in readings))
    initials = " ".join(dict.fromkeys(_key([r[:1], *letters[1:]]) for r in readings))
    return full[:FULL_LENGTH], initials[:INITIALS_LENGTH]
