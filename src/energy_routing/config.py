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
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        return yaml.load(path.read_text(), Loader=_StrictLoader)
    except ConfigError as err:
        raise ConfigError(f"config file {str(path)!r}: {err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {err}") from None


def load(path: str | Path) -> dict:
    """Read a YAML configuration file and validate it (see :func:`validate`)."""
    raw = read_yaml(path)
    return validate(raw if raw is not None else {})


def validate(config: Mapping) -> dict:
    """Return a validated copy of ``config`` with every default filled in.

    Raises
    ------
    ConfigError
        Naming the first offending key (as a dotted path such as ``tasks[3].deadline_s``)
        and what is allowed there.

    Examples
    --------
    >>> cfg = validate({"tasks": [{"name": "a", "difficulty": 1.9, "deadline_s": 60}]})
    >>> cfg["ds3"]["skills"], cfg["models"][1]["name"]
    (50, '10B')
    >>> validate({"tasks": [], "colour": 1})
    Traceback (most recent call last):
    ...
    energy_routing.errors.ConfigError: config key 'colour' is not a known key; allowed keys: ...
    """
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"config must be a mapping of keys to values, got {type(config).__name__}"
        )
    cfg = _coerce_exponent_strings(copy.deepcopy(dict(config)))
    _reject_non_finite(cfg, "")
    _reject_catalogue_conflicts(cfg)
    _require_harvest_parameters(cfg)
    sch = schema()
    errors = sorted(_VALIDATOR(sch).iter_errors(cfg), key=lambda e: (len(e.path), list(e.path)))
    if errors:
        raise ConfigError(_explain(errors[0], sch))
    _check_semantics(cfg)
    return _expand_catalogue(cfg)


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


def _explain(err: jsonschema.ValidationError, sch: dict) -> str:
    key = _key(err.absolute_path)
    sub = err.schema if isinstance(err.schema, dict) else {}
    desc = sub.get("description", "")
    if err.validator == "additionalProperties":
        allowed = sorted(sub.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed))
        where = _key([*err.absolute_path, extra[0]])
        return f"config key {where!r} is not a known key; allowed keys: {', '.join(allowed)}"
    if err.validator == "anyOf" and all("required" in s for s in err.validator_value):
        options = " or ".join(repr(s["required"][0]) for s in err.validator_value)
        return f"config key {key!r} needs {options}"
    if err.validator == "required":
        return f"config key {key!r}: {err.message}"
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
    return f"config key {key!r} {what}, got {got}{hint}"


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


def _reject_non_finite(node, path: str) -> None:
    """NaN and infinity are never meaningful configuration values."""
    if isinstance(node, dict):
        for k, v in node.items():
            _reject_non_finite(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _reject_non_finite(v, f"{path}[{i}]")
    elif isinstance(node, float) and not math.isfinite(node):
        raise ConfigError(f"config key {path!r} must be a finite number, got {node!r}")


def _unique(items: list, what: str) -> None:
    seen = set()
    for i, item in enumerate(items):
        if item["name"] in seen:
            raise ConfigError(
                f"config key '{what}[{i}].name' repeats the name {item['name']!r}; "
                f"{what} names must be unique"
            )
        seen.add(item["name"])


def _check_studies(cfg: dict) -> None:
    """The policy, dispatcher and storage studies (docs/model.md §12): horizons past the
    first checkpoint, random energies charged lumped only, unique router names."""
    t_min = cfg["montecarlo"]["t_min"]
    for name in ("policies", "storage_grid"):
        sec = cfg[name]
        if sec["activate"] and sec["t_max"] <= t_min:
            raise ConfigError(
                f"config key '{name}.t_max' ({sec['t_max']}) must exceed the first "
                f"checkpoint montecarlo.t_min ({t_min})"
            )
    pol = cfg["policies"]
    if pol["stochastic_length"] and pol["consumption"] != "lumped":
        raise ConfigError(
            "config key 'policies.stochastic_length': random task energies are charged "
            "lumped only; set policies.consumption to lumped or stochastic_length to false"
        )
    _unique(pol["routers"], "policies.routers")
    check_serving(cfg["serving"])


def check_serving(sec: Mapping) -> None:
    """Rules of the ``serving`` section the schema cannot state (docs/model.md §14): a
    catalogue accelerator for the fitted law, the critical rho among the regimes' ratios,
    critical trials in whole groups of the transition test."""
    from energy_routing.model.catalogue import ACCELERATORS

    if sec["law"] == "fitted" and sec["accelerator"] not in ACCELERATORS:
        raise ConfigError(
            f"config key 'serving.accelerator': {sec['accelerator']!r} is not in the "
            f"catalogue ({', '.join(ACCELERATORS)})"
        )
    reg = sec["regimes"]
    if 1.0 not in reg["provisioning"]:
        raise ConfigError("config key 'serving.regimes.provisioning': must hold the critical 1.0")
    if reg["trials"] % reg["transition_group"]:
        raise ConfigError(
            "config key 'serving.regimes.trials': must be a multiple of "
            f"serving.regimes.transition_group ({reg['transition_group']})"
        )
    if reg["warmup_slots"] + 4 * reg["block_slots"] > reg["t_max"]:
        raise ConfigError(
            "config key 'serving.regimes.t_max': must leave at least four blocks of "
            "block_slots after warmup_slots"
        )


def _check_semantics(cfg: dict) -> None:
    """Rules across keys that the schema cannot state."""
    _unique(cfg["models"], "models")
    _unique(cfg["tasks"], "tasks")
    for name in cfg["scenarios"]:
        if name.startswith("sweep_"):
            raise ConfigError(
                f"config key 'scenarios.{name}': names starting with 'sweep_' are reserved "
                "for the provisioning sweep; choose another name"
            )
    mc = cfg["montecarlo"]
    if mc["t_min"] >= mc["t_max"]:
        raise ConfigError(
            f"config key 'montecarlo.t_max' ({mc['t_max']}) must exceed the first checkpoint "
            f"montecarlo.t_min ({mc['t_min']})"
        )
    if cfg["sweep"]["activate"] and cfg["sweep"]["t_max"] <= mc["t_min"]:
        raise ConfigError(
            f"config key 'sweep.t_max' ({cfg['sweep']['t_max']}) must exceed the first "
            f"checkpoint montecarlo.t_min ({mc['t_min']})"
        )
    _check_studies(cfg)
    fine = cfg["fine_grid"]
    if fine["difficulty_max"] <= fine["difficulty_min"]:
        raise ConfigError(
            "config key 'fine_grid.difficulty_max' must be greater than "
            f"fine_grid.difficulty_min ({fine['difficulty_min']})"
        )


_HW_CONSTANTS = ("e_mem", "e_flop", "bandwidth", "throughput")
_HW_CATALOGUE = ("accelerator", "power_fraction", "bytes_per_param", "n_devices")


def _number(value):
    """``value`` as a float when it is a number or exponent text (``"1e9"``), else as is."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _reject_catalogue_conflicts(cfg: dict) -> None:
    """Catalogue names and the explicit values they replace are exclusive (checked on the
    config as given, before defaults are filled in; docs/model.md §13). A hardware constant
    equal to its default is dropped beside an accelerator: it is what merging a config file
    into config/config.yaml brings along."""
    hw = cfg.get("hardware")
    if isinstance(hw, Mapping):
        if hw.get("accelerator") is not None:
            # Snakemake merges a --configfile into config/config.yaml, whose constants are
            # the schema's defaults: those are dropped, only a value of the user's conflicts.
            defaults = schema()["properties"]["hardware"]["properties"]
            for key in _HW_CONSTANTS:
                if key in hw and _number(hw[key]) == defaults[key].get("default"):
                    del hw[key]
            for key in _HW_CONSTANTS:
                if key in hw:
                    raise ConfigError(
                        f"config key 'hardware.{key}' cannot be given with "
                        f"hardware.accelerator ({hw['accelerator']!r}), which derives it "
                        "from the data sheet; remove one of them"
                    )
        else:
            for key in _HW_CATALOGUE[1:]:
                if key in hw:
                    raise ConfigError(
                        f"config key 'hardware.{key}' applies only with hardware.accelerator; "
                        "set an accelerator or remove it"
                    )
    models = cfg.get("models")
    if isinstance(models, list):
        for i, m in enumerate(models):
            if isinstance(m, Mapping) and "catalogue" in m:
                for key in ("params", "n_layers", "d_attn"):
                    if key in m:
                        raise ConfigError(
                            f"config key 'models[{i}].{key}' cannot be given with "
                            f"models[{i}].catalogue ({m['catalogue']!r}), which sets it; "
                            "remove one of them"
                        )


def _require_harvest_parameters(cfg: dict) -> None:
    """A harvest model's own parameters must be given, not defaulted (``supply.model: ar1``
    without ``supply.phi`` would run as the i.i.d. harvest); checked on the config as
    given, before defaults are filled in."""
    sup = cfg.get("supply")
    if not isinstance(sup, Mapping):
        return
    model = HARVESTS.get(sup.get("model"))
    for key in getattr(model, "parameters", ()):
        if key not in sup:
            raise ConfigError(
                f"config key 'supply.{key}' is required with supply.model "
                f"{sup['model']!r} ({model.label}); the default would make it another model"
            )


def _expand_catalogue(cfg: dict) -> dict:
    """Checks of the real-world keys, then catalogue names resolved into explicit values
    (:func:`energy_routing.model.catalogue.expand_config`), so every stage sees numbers."""
    from energy_routing.model import catalogue

    sup = cfg["supply"]
    if sup["model"] != "ar1" and sup["phi"] != 0:
        raise ConfigError(
            f"config key 'supply.phi' ({sup['phi']}) applies to supply.model ar1 only, "
            f"not {sup['model']!r}; remove it or set supply.model: ar1"
        )
    rw = cfg["realworld"]
    if rw["activate"]:
        if rw["horizon_days"] * SECONDS_PER_DAY / cfg["dt_s"] < 1:
            raise ConfigError(
                f"config key 'realworld.horizon_days' ({rw['horizon_days']}) is shorter than "
                f"one slot (dt_s = {cfg['dt_s']} s)"
            )
        from energy_routing.supply import carbon

        try:
            carbon.intensity(cfg["carbon"]["region"], cfg["carbon"]["source"])
        except ValueError as err:
            raise ConfigError(f"config key 'carbon.region': {err}") from None
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
