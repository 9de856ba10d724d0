"""Reading a case file's YAML with bounded cost: `yaml.SafeLoader` (no tags that build objects,
no code), behind limits on the file's size, its nesting depth and the number of values it holds
once aliases are expanded (a few hundred bytes of nested aliases can otherwise stand for billions
of values: the "billion laughs"). A key given twice is an error, not silently the last one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

MAX_BYTES = 1_000_000  # size of a case file
MAX_DEPTH = 32  # nesting of mappings and lists
MAX_NODES = 20_000  # keys, values and items, with every alias counted as what it stands for
MAX_DIGITS = 4000  # characters of an integer (Python reads and writes at most 4300 digits)
# YAML 1.1 integers: decimal, 0x hex, 0o/0 octal, 0b binary, with '_' anywhere, and base 60
# (1:30:00; PyYAML reads it in quadratic time: 330,000 parts took 33 s)
_INT = re.compile(
    r"[-+]?(?:0[xX][0-9a-fA-F_]+|0[oObB]?[0-7_]*|[0-9][0-9_]*|[1-9][0-9_]*(?::[0-5]?[0-9])+)"
)


class YAMLLimitError(ValueError):
    """The file is over one of the limits (the message says which)."""


def _safe_loader() -> Any:
    """libyaml's SafeLoader where installed (C parser, no recursion when parsing), else PyYAML's."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _unique_key_loader() -> type:
    import yaml

    class UniqueKeyLoader(_safe_loader()):  # type: ignore[misc]
        """yaml.SafeLoader that rejects a key given twice (YAML would keep the last silently)."""

        def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
            seen: set = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`, may be overridden
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    again = key in seen
                except TypeError:  # an unhashable key: SafeConstructor says so below
                    continue
                if again:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key '{str(key)[:60]}' is given twice", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def check_limits(text: str) -> None:
    """YAMLLimitError if `text` nests deeper than `MAX_DEPTH` or stands for more than `MAX_NODES`
    values. Reads the event stream (libyaml when available, which nests without recursion) and
    stops at the first limit passed, so its cost is bounded whatever the file holds."""
    import yaml

    sizes: dict[str, int] = {}  # anchor → values it stands for
    stack: list[list[Any]] = []  # open collections: [anchor, values so far]
    total = 0

    def add(n: int) -> None:
        nonlocal total
        total += n
        if stack:
            stack[-1][1] += n
        if total > MAX_NODES:
            raise YAMLLimitError(
                f"it holds more than {MAX_NODES} keys and values (aliases counted as what they "
                "stand for); a case file needs far fewer"
            )

    for event in yaml.parse(text, Loader=_safe_loader()):
        if isinstance(event, yaml.ScalarEvent):
            add(1)
            v = event.value
            if not event.style and len(v) > MAX_DIGITS and _INT.fullmatch(v):  # plain
                raise YAMLLimitError(  # Python refuses to read or write it (int_max_str_digits)
                    f"line {event.start_mark.line + 1 if event.start_mark else '?'}: a number of "
                    f"{len(v):,} digits; at most "
                    f"{MAX_DIGITS:,} are read"
                )
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in sizes:
                raise YAMLLimitError(
                    f"the alias *{str(event.anchor)[:40]} refers to no anchor before it, or to a "
                    "list or mapping that holds the alias itself"
                )
            add(sizes[event.anchor])
        elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            add(1)
            stack.append([event.anchor, 1])
            if len(stack) > MAX_DEPTH:
                raise YAMLLimitError(f"it nests lists and mappings over {MAX_DEPTH} deep")
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            anchor, n = stack.pop()
            if anchor:
                sizes[anchor] = n
            if stack:
                stack[-1][1] += n - 1  # the parent counted the start already


def read_yaml(path: Path) -> Any:
    """The YAML document in `path`, read within the limits. Raises `OSError` or
    `UnicodeDecodeError` (cannot read), `YAMLLimitError` or `yaml.YAMLError`."""
    import yaml

    size = path.stat().st_size
    if size > MAX_BYTES:
        raise YAMLLimitError(f"it is {size:,} bytes; a case file may have at most {MAX_BYTES:,}")
    with path.open("rb") as f:
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:  # grew since stat, or not a regular file
        raise YAMLLimitError(f"it is over {MAX_BYTES:,} bytes, the most a case file may have")
    text = data.decode("utf-8")
    if "\x00" in text:
        raise YAMLLimitError("it holds a NUL character; a case file is text")
    try:
        check_limits(text)
    except yaml.YAMLError as e:
        if "nesting depth" in str(getattr(e, "problem", "")):  # libyaml's own limit, 1000
            raise YAMLLimitError(f"it nests lists and mappings over {MAX_DEPTH} deep") from None
        mark = getattr(e, "problem_mark", None)
        if mark is not None and mark.index <= 20_000 and _safe_loader() is not yaml.SafeLoader:
            for _ in yaml.parse(text, Loader=yaml.SafeLoader):  # PyYAML words it better
                pass
        raise
    try:
        return yaml.load(text, Loader=_unique_key_loader())  # noqa: S506 (a SafeLoader subclass)
    except ValueError as e:  # an integer past Python's digit limit in a form not caught above
        raise YAMLLimitError(f"a value it cannot read ({e})") from None
