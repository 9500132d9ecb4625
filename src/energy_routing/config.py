"""Loading and validating a configuration (every stage starts here).

The JSON Schema ``config.schema.yaml`` beside this module documents every key with a
description, type, default and bounds. :func:`validate` fills in the defaults, checks the
schema and then the cross-key rules a schema cannot express (unique names, a feasible model
for every task, ...). Every failure is a :class:`ConfigError` whose message names the key
and says what is allowed, raised before any work starts.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path

import jsonschema
import yaml

from energy_routing.engine.policies import POLICIES
from energy_routing.errors import ConfigError
from energy_routing.supply.harvests import HARVESTS
from energy_routing.units import SECONDS_PER_DAY


def schema() -> dict:
    """The configuration's JSON Schema, as a dict.

    ``config.schema.yaml`` holds every key but what the plug-ins say of themselves: the
    sections of the dispatch policies under ``policies`` come from the policy classes
    (:meth:`energy_routing.engine.policies.Policy.config_schema`, one per registered
    class) and the names ``supply.model`` allows from the harvest registry
    (:data:`energy_routing.supply.harvests.HARVESTS`), so a new one needs no schema edit.
    """
    sch = yaml.safe_load(files(__package__).joinpath("config.schema.yaml").read_text())
    props = sch["properties"]["policies"]["properties"]
    for name, cls in POLICIES.items():
        props[name] = cls.config_schema()
    sch["properties"]["supply"]["properties"]["model"]["enum"] = list(HARVESTS)
    return sch


def _defaults(node: Mapping):
    if "properties" in node:
        return {
            k: _defaults(v)
            for k, v in node["properties"].items()
            if "default" in v or "properties" in v
        }
    return copy.deepcopy(node["default"])


def section_defaults(name: str) -> dict:
    """A top-level section's defaults as :func:`validate` fills them in, from the schema.

    >>> section_defaults("storage_grid")["t_max"]
    50000
    >>> section_defaults("policies")["slack_deferral"]
    {'max_wait_s': [0.0, 5.0, 10.0, 20.0, 40.0], 'reserve_J': 0.0}
    """
    return _defaults(schema()["properties"][name])


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML would keep the
    last silently: a second ``montecarlo:`` section replaces the first)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(
                    f"config key {key!r} appears twice in one mapping (lines "
                    f"{seen[key] + 1} and {key_node.start_mark.line + 1}); YAML would keep the "
                    "second silently: remove or merge one"
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | Path):
    """A YAML config file's content, with no key given twice (:class:`ConfigError` naming
    the file, the key and its lines otherwise).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.yaml"
    >>> _ = p.write_text("montecarlo: {seed: 1}" + chr(10) + "montecarlo: {trials: 5}")
    >>> read_yaml(p)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    energy_routing.errors.ConfigError: config file '...c.yaml': config key 'montecarlo' appears...
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} is not a file")
    try:
        return yaml.load(path.read_text(), Loader=_StrictLoader)
    except ConfigError as err:
        raise ConfigError(f"config file {str(path)!r}: {err}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {str(path)!r} is not UTF-8 text") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            f"config file {str(path)!r} is not valid YAML: {err.problem or err.context}{where}"
        ) from None
    except yaml.YAMLError as err:
        what = " ".join(str(err).split())
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {what}") from None


def load(path: str | Path) -> dict:
    """Read a YAML configuration file and validate it (see :func:`validate`)."""
    raw = read_yaml(path)
    return validate(raw if raw is not None else {})


#: The workflow's own config file (the Snakefile's ``configfile:``), relative to the
#: working directory, as Snakemake reads it.
WORKFLOW_CONFIGFILE = "config/config.yaml"


def read_layers(paths) -> list[tuple[str, dict]]:
    """Config files in merge order (the workflow's own first, then each ``--configfile``),
    each read strictly (:func:`read_yaml`), as ``(path, content)`` pairs."""
    layers = []
    for path in paths:
        raw = read_yaml(path)
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ConfigError(
                f"config file {str(path)!r} must hold a mapping of keys to values, "
                f"got {type(raw).__name__}"
            )
        layers.append((str(path), raw))
    return layers


def configfile_layers(configfiles, workflow_configfile=WORKFLOW_CONFIGFILE):
    """The layers Snakemake merges for ``snakemake --configfile <configfiles>``: the
    workflow's ``config/config.yaml`` when it exists (Snakemake requires it only when no
    ``--configfile`` is given), then each of ``configfiles`` in order."""
    base = Path(workflow_configfile)
    if not base.is_file() and not configfiles:
        raise ConfigError(
            f"the workflow's config file {str(base)!r} does not exist and no --configfile "
            "was given (run from the checkout's root or name a config file)"
        )
    return read_layers([base, *configfiles] if base.is_file() else list(configfiles))


def merge(layers) -> dict:
    """The config Snakemake builds from ``layers`` (``(path, content)`` pairs: the Snakefile's
    ``configfile:`` first, then every ``--configfile`` in order), with its own
    :func:`snakemake.utils.update_config`: the ``--configfile`` files are merged into one
    another, then the workflow's file is merged in and the former over it again. Mappings
    merge key by key at every depth; any other value, a list too, replaces the old one.

    >>> merge([("a", {"m": {"x": 1, "l": [1, 2]}}), ("b", {"m": {"l": [3]}, "n": 2})])
    {'m': {'l': [3], 'x': 1}, 'n': 2}
    """
    from snakemake.utils import update_config

    layers = list(layers)
    overwrite: dict = {}
    for _, raw in layers[1:]:
        update_config(overwrite, copy.deepcopy(raw))
    cfg = copy.deepcopy(overwrite)
    if layers:
        update_config(cfg, copy.deepcopy(layers[0][1]))
    update_config(cfg, copy.deepcopy(overwrite))
    return cfg


def load_merged(configfiles, workflow_configfile=WORKFLOW_CONFIGFILE) -> dict:
    """Validate the config ``snakemake --configfile <configfiles>`` would run (see
    :func:`configfile_layers`, :func:`merge` and :func:`validate`)."""
    layers = configfile_layers(configfiles, workflow_configfile)
    return validate(merge(layers), layers=layers)


def validate(config: Mapping, layers=None) -> dict:
    """Return a validated copy of ``config`` with every default filled in.

    ``layers``, the ``(path, content)`` pairs ``config`` was merged from (see
    :func:`merge`), tell which file gave a hardware constant: one brought along by a file
    before the one that names ``hardware.accelerator`` gives way to it; one given in that
    file or a later one is an error. Without ``layers``, ``config`` is the only one.

    Raises
    ------
    ConfigError
        Naming every offending key (as a dotted path such as ``tasks[3].deadline_s``) and
        what is allowed there, one line each: the schema's errors and the rules across
        keys together, not only the first.

    Examples
    --------
    >>> cfg = validate({"tasks": [{"name": "a", "difficulty": 1.9, "deadline_s": 60}]})
    >>> cfg["ds3"]["skills"], cfg["models"][1]["name"]
    (50, '10B')
    >>> validate({"tasks": [], "colour": 1})
    Traceback (most recent call last):
    ...
    energy_routing.errors.ConfigError: 2 problems in the config:
      config key 'colour' is not a known key; allowed keys: ...
      config key 'tasks' must have at least 1 item(s), got given value ...
    """
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"config must be a mapping of keys to values, got {type(config).__name__}"
        )
    cfg = _coerce_exponent_strings(copy.deepcopy(dict(config)))
    problems = list(_non_finite(cfg, ""))
    problems += _settle_hardware(cfg, layers if layers is not None else [("", config)])
    problems += _catalogue_conflicts(cfg)
    problems += _harvest_parameters(cfg)
    sch = schema()
    errors = sorted(_VALIDATOR(sch).iter_errors(cfg), key=lambda e: (len(e.path), list(e.path)))
    problems += [msg for err in errors for msg in _explain(err)]
    for check in _RULES:
        try:
            problems += check(cfg)
        except (KeyError, TypeError, AttributeError, IndexError, ValueError):
            if not errors:  # a rule may trip over a value the schema refused, not otherwise
                raise
    problems = _one_per_key(problems)
    if len(problems) == 1:
        raise ConfigError(problems[0])
    if problems:
        raise ConfigError(
            f"{len(problems)} problems in the config:\n" + "\n".join(f"  {p}" for p in problems)
        )
    return _expand_catalogue(cfg)


_KEY = re.compile(r"config key '([^']*)'")


def _one_per_key(problems: list[str]) -> list[str]:
    """The first problem of each key (``nan`` is both not finite and not > 0: one line)."""
    seen, out = set(), []
    for msg in problems:
        m = _KEY.match(msg)
        key = m.group(1) if m else msg
        if key not in seen:
            seen.add(key)
            out.append(msg)
    return out


def _extend_with_defaults(validator_class):
    """A validator that fills in ``default`` values while it validates (jsonschema FAQ)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, sch):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, sch)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_VALIDATOR = _extend_with_defaults(jsonschema.Draft202012Validator)


def _key(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _explain(err: jsonschema.ValidationError) -> list[str]:
    """One line per problem of a schema error, naming the key (each unknown key its own)."""
    key = _key(err.absolute_path)
    sub = err.schema if isinstance(err.schema, dict) else {}
    desc = sub.get("description", "")
    if err.validator == "additionalProperties":
        allowed = sorted(sub.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed))
        return [
            f"config key {_key([*err.absolute_path, name])!r} is not a known key; "
            f"allowed keys: {', '.join(allowed)}"
            for name in extra
        ]
    if err.validator == "anyOf" and all("required" in s for s in err.validator_value):
        options = " or ".join(repr(s["required"][0]) for s in err.validator_value)
        return [f"config key {key!r} needs {options}"]
    if err.validator == "required":
        return [f"config key {key!r}: {err.message}"]
    what = {
        "type": f"must be of type {err.validator_value}",
        "minimum": f"must be >= {err.validator_value}",
        "maximum": f"must be <= {err.validator_value}",
        "exclusiveMinimum": f"must be > {err.validator_value}",
        "exclusiveMaximum": f"must be < {err.validator_value}",
        "minItems": f"must have at least {err.validator_value} item(s)",
        "minProperties": f"must have at least {err.validator_value} entry(ies)",
        "enum": f"must be one of {err.validator_value}",
        "pattern": f"must match the pattern {err.validator_value}",
        "uniqueItems": "must not repeat items",
    }.get(err.validator, err.message)
    got = repr(err.instance) if not isinstance(err.instance, dict | list) else "given value"
    hint = f" ({desc.strip()})" if desc else ""
    return [f"config key {key!r} {what}, got {got}{hint}"]


_EXPONENT_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def _coerce_exponent_strings(node):
    """Read ``1e9`` as a number: YAML 1.1 loaders leave exponent notation without a
    sign or a dot as a string, which would otherwise fail with a confusing type error."""
    if isinstance(node, dict):
        return {k: _coerce_exponent_strings(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_coerce_exponent_strings(v) for v in node]
    if isinstance(node, str) and _EXPONENT_NUMBER.match(node):
        return float(node)
    return node


def _non_finite(node, path: str) -> list[str]:
    """NaN and infinity are never meaningful configuration values."""
    if isinstance(node, dict):
        return [
            m for k, v in node.items() for m in _non_finite(v, f"{path}.{k}" if path else str(k))
        ]
    if isinstance(node, list):
        return [m for i, v in enumerate(node) for m in _non_finite(v, f"{path}[{i}]")]
    if isinstance(node, float) and not math.isfinite(node):
        return [f"config key {path!r} must be a finite number, got {node!r}"]
    return []


def _unique(items: list, what: str) -> list[str]:
    seen, out = set(), []
    for i, item in enumerate(items):
        if item["name"] in seen:
            out.append(
                f"config key '{what}[{i}].name' repeats the name {item['name']!r}; "
                f"{what} names must be unique"
            )
        seen.add(item["name"])
    return out


def _check_names(cfg: dict) -> list[str]:
    """Unique model, task and router names; ``sweep_`` scenario names are reserved."""
    out = _unique(cfg["models"], "models") + _unique(cfg["tasks"], "tasks")
    out += _unique(cfg["policies"]["routers"], "policies.routers")
    return out + [
        f"config key 'scenarios.{name}': names starting with 'sweep_' are reserved "
        "for the provisioning sweep; choose another name"
        for name in cfg["scenarios"]
        if name.startswith("sweep_")
    ]


def _check_horizons(cfg: dict) -> list[str]:
    """Every horizon past the first checkpoint (docs/model.md §12 for the studies)."""
    t_min = cfg["montecarlo"]["t_min"]
    out = []
    if t_min >= cfg["montecarlo"]["t_max"]:
        out.append(
            f"config key 'montecarlo.t_max' ({cfg['montecarlo']['t_max']}) must exceed the "
            f"first checkpoint montecarlo.t_min ({t_min})"
        )
    for name in ("sweep", "policies", "storage_grid"):
        sec = cfg[name]
        if sec["activate"] and sec["t_max"] <= t_min:
            out.append(
                f"config key '{name}.t_max' ({sec['t_max']}) must exceed the first "
                f"checkpoint montecarlo.t_min ({t_min})"
            )
    return out


def _check_studies(cfg: dict) -> list[str]:
    """Random energies are charged lumped only (docs/model.md §12); the serving section
    (§14); a fine grid with room."""
    out = []
    pol = cfg["policies"]
    if pol["stochastic_length"] and pol["consumption"] != "lumped":
        out.append(
            "config key 'policies.stochastic_length': random task energies are charged "
            "lumped only; set policies.consumption to lumped or stochastic_length to false"
        )
    return out + _serving_problems(cfg["serving"]) + _fine_grid_problems(cfg)


def _serving_problems(sec: Mapping) -> list[str]:
    """Rules of the ``serving`` section the schema cannot state (docs/model.md §14): a
    catalogue accelerator for the fitted law, the critical rho among the regimes' ratios,
    critical trials in whole groups of the transition test."""
    from energy_routing.model.catalogue import ACCELERATORS

    out = []
    if sec["law"] == "fitted" and sec["accelerator"] not in ACCELERATORS:
        out.append(
            f"config key 'serving.accelerator': {sec['accelerator']!r} is not in the "
            f"catalogue ({', '.join(ACCELERATORS)})"
        )
    reg = sec["regimes"]
    if 1.0 not in reg["provisioning"]:
        out.append("config key 'serving.regimes.provisioning': must hold the critical 1.0")
    if reg["trials"] % reg["transition_group"]:
        out.append(
            "config key 'serving.regimes.trials': must be a multiple of "
            f"serving.regimes.transition_group ({reg['transition_group']})"
        )
    if reg["warmup_slots"] + 4 * reg["block_slots"] > reg["t_max"]:
        out.append(
            "config key 'serving.regimes.t_max': must leave at least four blocks of "
            "block_slots after warmup_slots"
        )
    return out


def check_serving(sec: Mapping) -> None:
    """:func:`_serving_problems` as an error, for a section checked on its own (the study)."""
    problems = _serving_problems(sec)
    if problems:
        raise ConfigError(problems[0] if len(problems) == 1 else "; ".join(problems))


def _fine_grid_problems(cfg: dict) -> list[str]:
    """The fine grid needs room between its ends."""
    out = []
    fine = cfg["fine_grid"]
    if fine["difficulty_max"] <= fine["difficulty_min"]:
        out.append(
            "config key 'fine_grid.difficulty_max' must be greater than "
            f"fine_grid.difficulty_min ({fine['difficulty_min']})"
        )
    return out


def _check_realworld(cfg: dict) -> list[str]:
    """``supply.phi`` belongs to ar1; the real-world studies' horizon and carbon region."""
    out = []
    sup = cfg["supply"]
    if sup["model"] != "ar1" and sup["phi"] != 0:
        out.append(
            f"config key 'supply.phi' ({sup['phi']}) applies to supply.model ar1 only, "
            f"not {sup['model']!r}; remove it or set supply.model: ar1"
        )
    rw = cfg["realworld"]
    if rw["activate"]:
        if rw["horizon_days"] * SECONDS_PER_DAY / cfg["dt_s"] < 1:
            out.append(
                f"config key 'realworld.horizon_days' ({rw['horizon_days']}) is shorter than "
                f"one slot (dt_s = {cfg['dt_s']} s)"
            )
        from energy_routing.supply import carbon

        try:
            carbon.intensity(cfg["carbon"]["region"], cfg["carbon"]["source"])
        except ValueError as err:
            out.append(f"config key 'carbon.region': {err}")
    return out


#: The rules across keys that the schema cannot state, each checked on its own.
_RULES = (_check_names, _check_horizons, _check_studies, _check_realworld)

_HW_CONSTANTS = ("e_mem", "e_flop", "bandwidth", "throughput")
_HW_CATALOGUE = ("accelerator", "power_fraction", "bytes_per_param", "n_devices")


def _hardware_of(raw) -> Mapping:
    hw = raw.get("hardware") if isinstance(raw, Mapping) else None
    return hw if isinstance(hw, Mapping) else {}


def _settle_hardware(cfg: dict, layers) -> list[str]:
    """The hardware constants an accelerator derives (docs/model.md §13), by the file that
    gave them: one given in the file that names the accelerator, or in a later one, is an
    error naming the key, whatever its value; one only an earlier file brought along (the
    constants of ``config/config.yaml`` under ``--configfile config/real_site.yaml``) gives
    way to the accelerator and is dropped from ``cfg``."""
    hw = cfg.get("hardware")
    if not isinstance(hw, dict) or hw.get("accelerator") is None:
        return []
    named = [i for i, (_, raw) in enumerate(layers) if "accelerator" in _hardware_of(raw)]
    first = named[-1] if named else 0
    out = []
    for key in _HW_CONSTANTS:
        if key not in hw:
            continue
        late = [p for i, (p, raw) in enumerate(layers) if i >= first and key in _hardware_of(raw)]
        given = [p for p, raw in layers if key in _hardware_of(raw)]
        if late or not given:
            where = f" (given in {', '.join(sorted(set(late)))})" if any(late) else ""
            out.append(
                f"config key 'hardware.{key}' cannot be given with hardware.accelerator "
                f"({hw['accelerator']!r}), which derives it from the data sheet; remove "
                f"hardware.{key}{where}"
            )
        else:
            del hw[key]
    return out


def _catalogue_conflicts(cfg: dict) -> list[str]:
    """Catalogue names and the explicit values they replace are exclusive (checked on the
    config as given, before defaults are filled in; docs/model.md §13)."""
    out = []
    hw = cfg.get("hardware")
    if isinstance(hw, Mapping) and hw.get("accelerator") is None:
        out += [
            f"config key 'hardware.{key}' applies only with hardware.accelerator; "
            "set an accelerator or remove it"
            for key in _HW_CATALOGUE[1:]
            if key in hw
        ]
    models = cfg.get("models")
    if isinstance(models, list):
        for i, m in enumerate(models):
            if isinstance(m, Mapping) and "catalogue" in m:
                out += [
                    f"config key 'models[{i}].{key}' cannot be given with "
                    f"models[{i}].catalogue ({m['catalogue']!r}), which sets it; "
                    "remove one of them"
                    for key in ("params", "n_layers", "d_attn")
                    if key in m
                ]
    return out


def _harvest_parameters(cfg: dict) -> list[str]:
    """A harvest model's own parameters must be given, not defaulted (``supply.model: ar1``
    without ``supply.phi`` would run as the i.i.d. harvest); checked on the config as
    given, before defaults are filled in."""
    sup = cfg.get("supply")
    if not isinstance(sup, Mapping):
        return []
    model = HARVESTS.get(sup.get("model")) if isinstance(sup.get("model"), str) else None
    return [
        f"config key 'supply.{key}' is required with supply.model {sup['model']!r} "
        f"({model.label}); the default would make it another model"
        for key in getattr(model, "parameters", ())
        if key not in sup
    ]


def _expand_catalogue(cfg: dict) -> dict:
    """Catalogue names resolved into explicit values
    (:func:`energy_routing.model.catalogue.expand_config`), so every stage sees numbers."""
    from energy_routing.model import catalogue

    hw = cfg["hardware"]
    if hw.get("accelerator") is None:
        for key in _HW_CATALOGUE:
            hw.pop(key, None)
    try:
        return catalogue.expand_config(cfg)
    except ValueError as err:
        raise ConfigError(f"config key 'hardware': {err}") from None


def scenarios(cfg: dict) -> dict[str, dict]:
    """Every Monte Carlo scenario of a validated config, by name.

    The named ``scenarios`` run to ``montecarlo.t_max``; an active ``sweep`` adds one
    scenario per provisioning ratio, named ``sweep_rho<rho>`` (e.g. ``sweep_rho1.05``),
    each with the sweep's routing error, horizon and trials. Values: ``provisioning``,
    ``routing_errors``, ``t_max`` and ``trials``.

    Examples
    --------
    >>> task = {"name": "a", "difficulty": 1.9, "deadline_s": 60}
    >>> cfg = validate({"tasks": [task], "sweep": {"provisioning": [0.9, 1.05], "trials": 20}})
    >>> sorted(scenarios(cfg))
    ['fig4', 'sweep_rho0.9', 'sweep_rho1.05']
    >>> scenarios(cfg)["sweep_rho1.05"]["provisioning"], scenarios(cfg)["sweep_rho1.05"]["trials"]
    (1.05, 20)
    """
    out = {
        name: {
            "provisioning": float(sc["provisioning"]),
            "routing_errors": [float(e) for e in sc["routing_errors"]],
            "t_max": int(cfg["montecarlo"]["t_max"]),
            "trials": int(cfg["montecarlo"]["trials"]),
        }
        for name, sc in cfg["scenarios"].items()
    }
    sweep = cfg["sweep"]
    if sweep["activate"]:
        for rho in sweep["provisioning"]:
            out[f"sweep_rho{float(rho):g}"] = {
                "provisioning": float(rho),
                "routing_errors": [float(sweep["routing_error"])],
                "t_max": int(sweep["t_max"]),
                "trials": int(sweep["trials"]),
            }
    return out
