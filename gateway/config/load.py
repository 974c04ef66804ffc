"""Reading the configuration: TOML file, then ``STOREGW_...`` environment overrides.

Environment variables override the file; nesting uses ``__``
(``STOREGW_MQTT__PORT=8883`` sets ``mqtt.port``). Every problem is reported at
once, one line each, naming the key, the bad value and what is expected.
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from gateway.config.model import GatewayConfig

ENV_PREFIX = "STOREGW_"
EX_CONFIG = 78  # sysexits.h: configuration error


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> GatewayConfig:
    data = read_toml(path)
    env = os.environ if environ is None else environ
    problems = _unknown_env(env)
    merged = _merge(data, _env_overrides(env))
    try:
        config = GatewayConfig.model_validate(merged)
    except ValidationError as exc:
        problems.extend(format_errors(exc, _env_names(env)))
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    if not config.data_dir.is_absolute():
        # Relative paths are relative to the configuration file, not the working directory.
        config = config.model_copy(update={"data_dir": (path.parent / config.data_dir).resolve()})
    return config


def load_or_report(path: Path) -> GatewayConfig | None:
    """For commands: the configuration, or None after printing one line per problem."""
    import sys

    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(where(path, problem), file=sys.stderr)
        return None


def where(path: Path, problem: str) -> str:
    """A problem as it is printed: with the file it is in (one from an environment
    variable says so itself)."""
    return problem if problem.startswith(("environment ", f"{path}:")) else f"{path}: {problem}"


def read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot be read ({exc.strerror})"]) from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text (byte {exc.start})"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: TOML syntax error: {exc}"]) from None


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """``STOREGW_A__B=v`` as ``{"a": {"b": v}}``; names are case-insensitive. A value for a
    list, a table or a section is JSON; any other stays text, for the model to convert."""
    out: dict[str, Any] = {}
    for name, value in sorted(env.items()):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        if path[0] not in GatewayConfig.model_fields:
            continue  # reported by _unknown_env
        node = out
        for key in path[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[path[-1]] = _env_value(path, value)
    return out


def _env_value(path: list[str], value: str) -> Any:
    if _structured(_annotation(GatewayConfig, path)):
        try:
            return json.loads(value)
        except ValueError:
            return value  # the model says what is wrong with it
    return value


def _annotation(model: type[BaseModel], path: list[str]) -> Any:
    """The type of the setting at ``path`` (None if there is no such setting)."""
    annotation: Any = model
    for key in path:
        section = next((a for a in _members(annotation) if _is_model(a)), None)
        if section is None or key not in section.model_fields:
            return None
        annotation = section.model_fields[key].annotation
    return annotation


def _members(annotation: Any) -> tuple[Any, ...]:
    """The alternatives of a union (``X | None``), or the annotation itself."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _structured(annotation: Any) -> bool:
    return any(
        _is_model(a) or typing.get_origin(a) in (list, dict, tuple, set, frozenset)
        for a in _members(annotation)
    )


def _unknown_env(env: Mapping[str, str]) -> list[str]:
    fields = set(GatewayConfig.model_fields)
    out = []
    for name in sorted(env):
        if name.upper().startswith(ENV_PREFIX):
            top = name[len(ENV_PREFIX) :].lower().split("__", 1)[0]
            if top not in fields:
                out.append(
                    f"environment {name}: unknown setting {top!r}{_did_you_mean(top, fields)} "
                    f"(known: {', '.join(sorted(fields))})"
                )
    return out


def _env_names(env: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """The settings the environment gives, by their path: the variable that gives each."""
    return {
        tuple(name[len(ENV_PREFIX) :].lower().split("__")): name
        for name in env
        if name.upper().startswith(ENV_PREFIX)
    }


def _did_you_mean(word: str, known: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _known_keys(path: list[str]) -> list[str]:
    """The keys the section at ``path`` takes (by their names in the file)."""
    section = (
        next((a for a in _members(_annotation(GatewayConfig, path)) if _is_model(a)), None)
        if path
        else GatewayConfig
    )
    if section is None:
        return []
    return [f.alias or name for name, f in section.model_fields.items()]


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def format_errors(
    exc: ValidationError, env_names: Mapping[tuple[str, ...], str] | None = None
) -> list[str]:
    """One line per problem, naming the key (or the environment variable that set it),
    the bad value and what is expected; a misspelt key gets the likeliest one."""
    env_names = env_names or {}
    lines = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"] if not str(p).startswith("function-")]
        # Drop pydantic's union/tag branch names from the path (e.g. "list[...]").
        parts = [p for p in loc if "[" not in p]
        key = ".".join(parts) or "(top level)"
        origin = next(
            (
                env_names[tuple(parts[:n])]
                for n in range(len(parts), 0, -1)
                if tuple(parts[:n]) in env_names
            ),
            None,
        )
        where = key if origin is None else f"environment {origin} ({key})"
        kind = err["type"]
        if kind == "missing":
            lines.append(f"{where}: missing; this setting is required")
        elif kind == "extra_forbidden":
            hint = _did_you_mean(parts[-1], _known_keys(parts[:-1])) if parts else ""
            lines.append(
                f"{where}: unknown key{hint} (check the spelling; every key is listed in "
                "config/gateway.example.toml)"
            )
        elif not parts and kind == "value_error":
            # A check across sections: its message names the keys (one line each).
            msg = err["msg"].removeprefix("Value error, ")
            lines.extend(msg.split("\n"))
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{where}: {err['input']!r} is not valid: {msg}")
    return sorted(set(lines), key=lines.index)
