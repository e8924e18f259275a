"""A run request: the user's raw choices, before anything is checked or filled in.

Only what the user chose is in it: a setting that is absent (or None) is "not chosen",
so a recipe, the data source, the loss or the declared default decides it. Values are
what the user typed (names, numbers) or, from Python, objects in place of component
names (a generator module, a loss instance, a data source).
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from .config import SETTINGS
from .errors import ConfigError
from .options import OptionError


class RunRequest:
    """``RunRequest(gen="dcgan", epochs=5, options={"gen": {"ngf": 32}})``.

    ``options`` maps a group (``gen``, ``disc``, ``loss``, ``data``, a chosen metric or
    augmentation) to component options; values may be strings (``-o gen.ngf=32``) or
    typed. Unknown setting names raise :class:`ConfigError` listing the valid ones.
    """

    def __init__(self, values: Mapping[str, Any] | None = None, /, *,
                 options: Mapping[str, Mapping[str, Any]] | None = None, **chosen: Any):
        merged = {**(values or {}), **chosen}
        unknown = sorted(set(merged) - set(SETTINGS) - {"overrides"})
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; settings are "
                              f"{', '.join(sorted(SETTINGS))}")
        self._values = {k: v for k, v in merged.items() if v is not None and k != "overrides"}
        self.options = {group: dict(values) for group, values in (options or {}).items()}

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def get(self, name: str, default: Any = None) -> Any:
        return self._values.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __repr__(self) -> str:
        return f"RunRequest({self._values!r}, options={self.options!r})"


def parse_overrides(pairs: list[str] | tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Parse ``["gen.ngf=32", "loss.gp_weight=5"]`` into ``{"gen": {"ngf": "32"}, ...}``.

    Only the syntax is checked here; which groups exist (the components, the chosen
    metrics and augmentations) is checked when the request is resolved. Values stay
    strings: :func:`artgan.core.options.build_options` converts them.
    """
    out: dict[str, dict[str, str]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        group, dot, name = key.strip().partition(".")
        if not sep or not dot or not name or not group:
            raise OptionError(f"-o expects GROUP.KEY=VALUE (for example gen.ngf=32); got {pair!r}")
        out.setdefault(group, {})[name.strip().replace("-", "_")] = value.strip()
    return out
