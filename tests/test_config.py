"""Configuration validation: every bad value fails early, naming the key and the rule."""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from snakerun import ROOT

from energy_routing import config
from energy_routing.config import ConfigError
from energy_routing.model import grids


def _set(cfg: dict, path: str, value) -> dict:
    """Return a copy of ``cfg`` with the dotted ``path`` (``a.b[2].c``) set or deleted."""
    cfg = copy.deepcopy(cfg)
    node = cfg
    parts = path.replace("[", ".[").split(".")
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    last = parts[-1]
    key = int(last[1:-1]) if last.startswith("[") else last
    if value is _DELETE:
        del node[key]
    else:
        node[key] = value
    return cfg


_DELETE = object()

# (path, value, expected key in the message, expected words)
BAD = [
    ("arrival_rate", "fast", "arrival_rate", "type number"),
    ("arrival_rate", 0, "arrival_rate", "> 0"),
    ("arrival_rate", -1.0, "arrival_rate", "> 0"),
    ("arrival_rate", float("nan"), "arrival_rate", "finite"),
    ("dt_s", float("inf"), "dt_s", "finite"),
    ("ds3.tolerance", 0.0, "ds3.tolerance", "> 0"),
    ("ds3.tolerance", 1.0, "ds3.tolerance", "< 1"),
    ("ds3.skills", 2.5, "ds3.skills", "integer"),
    ("ds3.tokens_per_attempt", 0, "ds3.tokens_per_attempt", ">= 1"),
    ("hardware.e_mem", -1e-11, "hardware.e_mem", "> 0"),
    ("hardware.flops", 1.0, "hardware.flops", "not a known key"),
    ("colour", "blue", "colour", "not a known key"),
    ("models", [], "models", "at least 1"),
    ("models[0].params", "big", "models[0].params", "type number"),
    ("models[1].name", "1B", "models[1].name", "unique"),
    ("models[0].name", "a b", "models[0].name", "must match"),
    ("models[0].n_layers", 0, "models[0].n_layers", ">= 1"),
    ("tasks", [], "tasks", "at least 1"),
    ("tasks[3].deadline_s", -5, "tasks[3].deadline_s", "> 0"),
    ("tasks[2].difficulty", None, "tasks[2].difficulty", "type number"),
    ("tasks[1].name", "t0", "tasks[1].name", "unique"),
    ("tasks[0].weight", 0, "tasks[0].weight", "> 0"),
    ("tasks[0].deadline_s", _DELETE, "tasks[0]", "'deadline_s' is a required property"),
    ("chinchilla.alpha", 0, "chinchilla.alpha", "> 0"),
    ("sigmoid_steepness", -5, "sigmoid_steepness", "> 0"),
    ("harvest.variance_scale", -1, "harvest.variance_scale", ">= 0"),
    ("fine_grid.difficulty_max", 1.6, "fine_grid.difficulty_max", "greater than"),
    ("fine_grid.points", 1, "fine_grid.points", ">= 2"),
    ("figures.formats", ["png", "gif"], "figures.formats[1]", "one of"),
    ("figures.dpi", 10, "figures.dpi", ">= 50"),
]


@pytest.mark.parametrize(("path", "value", "key", "words"), BAD, ids=[b[0] for b in BAD])
def test_bad_value_names_key(default_cfg, path, value, key, words):
    with pytest.raises(ConfigError) as err:
        config.validate(_set(default_cfg, path, value))
    msg = str(err.value)
    assert f"'{key}'" in msg
    assert words in msg


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        ("tasks[4].deadline_s", 10.0, "no feasible model"),
        ("dispatch_latency_s", 60.0, "no feasible model"),
        ("ds3.max_attempts", 100, "exceed the cap"),
        ("tasks[0].difficulty", 0.01, "exceed the cap"),
    ],
)
def test_infeasible_scenarios_fail_in_the_grid_check(default_cfg, path, value, words):
    cfg = config.validate(_set(default_cfg, path, value))
    with pytest.raises(ConfigError, match=words):
        grids.task_grid(cfg)


def test_defaults_fill_a_minimal_config():
    cfg = config.validate({"tasks": [{"name": "x", "difficulty": 1.9, "deadline_s": 60}]})
    assert cfg["hardware"]["bandwidth"] == 5e12
    assert cfg["models"][0]["n_layers"] == 48
    assert cfg["tasks"][0]["weight"] == 1.0
    grids.task_grid(cfg)


def test_exponent_strings_are_numbers(tmp_path, default_cfg):
    text = yaml.safe_dump(default_cfg).replace("10000000000.0", "1e10")
    assert "1e10" in text
    path = tmp_path / "c.yaml"
    path.write_text(text)
    assert yaml.safe_load(text)["models"][1]["params"] == "1e10"
    assert config.load(path)["models"][1]["params"] == 1e10


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("tasks: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.load(bad)


# The Monte Carlo and analysis sections.
BAD_MC = [
    ("montecarlo.t_max", 5, "montecarlo.t_max", "must exceed the first checkpoint"),
    ("montecarlo.trials", 9, "montecarlo.trials", ">= 10"),
    ("montecarlo.seed", -1, "montecarlo.seed", ">= 0"),
    ("montecarlo.chunk_slots", 10, "montecarlo.chunk_slots", ">= 64"),
    ("montecarlo.checkpoints", 1.5, "montecarlo.checkpoints", "integer"),
    ("montecarlo.trails", 10, "montecarlo.trails", "not a known key"),
    ("scenarios", {}, "scenarios", "at least 1 entry"),
    ("scenarios.fig4.routing_errors", [1.0], "scenarios.fig4.routing_errors[0]", "< 1"),
    ("scenarios.fig4.routing_errors", [-0.1], "scenarios.fig4.routing_errors[0]", ">= 0"),
    ("scenarios.fig4.routing_errors", [], "scenarios.fig4.routing_errors", "at least 1"),
    ("scenarios.fig4.provisioning", 0, "scenarios.fig4.provisioning", "> 0"),
    ("scenarios.sweep_x", {"routing_errors": [0.0]}, "scenarios.sweep_x", "reserved"),
    ("sweep.t_max", 3, "sweep.t_max", "must exceed the first checkpoint"),
    ("regimes.bic_penalty", -1, "regimes.bic_penalty", ">= 0"),
    ("reserve_quantiles", [1.0], "reserve_quantiles[0]", "< 1"),
    # Dispatch policies and storage (docs/model.md §12).
    ("policies.trials", 1, "policies.trials", ">= 2"),
    ("policies.trails", 3, "policies.trails", "not a known key"),
    ("policies.t_max", 10, "policies.t_max", "must exceed the first checkpoint"),
    ("policies.consumption", "spread", "policies.consumption", "one of"),
    ("policies.consumption", "distributed", "policies.stochastic_length", "lumped only"),
    ("policies.routing_error", 1.5, "policies.routing_error", "<= 1"),
    ("policies.storage.eta_charge", 0.0, "policies.storage.eta_charge", "> 0"),
    ("policies.storage.capacity_J", -1.0, "policies.storage.capacity_J", "> 0"),
    ("policies.slack_deferral.max_wait_s", [-5.0], "policies.slack_deferral.max_wait_s[0]", ">= 0"),
    (
        "policies.drift_plus_penalty.V_tasks_per_J",
        [],
        "policies.drift_plus_penalty.V_tasks_per_J",
        "at least 1",
    ),
    ("policies.routers", [{"name": "a"}, {"name": "a"}], "policies.routers[1].name", "unique"),
    (
        "policies.routers",
        [{"energy_J": 1.0}, {"name": "b"}],
        "policies.routers[0]",
        "'name' is a required",
    ),
    ("serving.max_batch", 0, "serving.max_batch", ">= 1"),
    ("serving.law", "roofline", "serving.law", "one of"),
    ("serving.replicas", [0], "serving.replicas[0]", ">= 1"),
    ("serving.regimes.trials", 25, "serving.regimes.trials", "multiple"),
    ("serving.regimes.provisioning", [0.9], "serving.regimes.provisioning", "critical 1.0"),
    ("serving.regimes.t_max", 1000, "serving.regimes.t_max", "four blocks"),
    ("storage_grid.capacity_J", [0.0], "storage_grid.capacity_J[0]", "> 0"),
    ("storage_grid.provisioning", [], "storage_grid.provisioning", "at least 1"),
    ("storage_grid.eta_discharge", 1.5, "storage_grid.eta_discharge", "<= 1"),
    ("storage_grid.self_discharge_per_slot", 1.0, "storage_grid.self_discharge_per_slot", "< 1"),
]


@pytest.mark.parametrize(("path", "value", "key", "words"), BAD_MC, ids=[b[0] for b in BAD_MC])
def test_bad_montecarlo_value_names_key(default_cfg, path, value, key, words):
    with pytest.raises(ConfigError) as err:
        config.validate(_set(default_cfg, path, value))
    assert f"'{key}'" in str(err.value)
    assert words in str(err.value)


def _schema_keys(node: dict, path: str = ""):
    """Every (dotted path, schema, required) below an object schema, arrays and maps too."""
    required = set(node.get("required", []))
    # Keys of which one is required (anyOf of required lists) need no default.
    required |= {k for alt in node.get("anyOf", []) for k in alt.get("required", [])}
    for key, sub in node.get("properties", {}).items():
        dotted = f"{path}.{key}" if path else key
        yield dotted, sub, key in required
        yield from _nested(sub, dotted)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        yield from _nested(extra, f"{path}.*")


def _nested(sub: dict, dotted: str):
    if sub.get("type") == "object":
        yield from _schema_keys(sub, dotted)
    items = sub.get("items")
    if isinstance(items, dict) and items.get("type") == "object":
        yield from _schema_keys(items, f"{dotted}[]")


def test_schema_documents_every_key():
    """README: every key has a description and a type, every optional key a default, and
    every number its bounds."""
    problems = []
    for dotted, sub, required in _schema_keys(config.schema()):
        types = sub.get("type")
        types = types if isinstance(types, list) else [types]
        missing = [k for k in ("description", "type") if k not in sub]
        if not required and "default" not in sub:
            missing.append("default")
        bounds = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
        if {"number", "integer"} & set(types) and not bounds & set(sub):
            missing.append("bounds")
        if missing:
            problems.append(f"{dotted}: {missing}")
    assert problems == []


# --- Strict input: cases from a fuzz of malformed configs ---------------------------------


def test_a_key_given_twice_is_refused_naming_it(tmp_path):
    """A second `montecarlo:` once replaced the first silently (and the run grew 666x)."""
    path = tmp_path / "twice.yaml"
    path.write_text("montecarlo:\n  trials: 20\nscenarios: {}\nmontecarlo:\n  seed: 3\n")
    with pytest.raises(config.ConfigError, match=r"'montecarlo' appears twice .*lines 1 and 4"):
        config.load(path)
    nested = tmp_path / "nested.yaml"
    nested.write_text("montecarlo:\n  seed: 1\n  seed: 2\n")
    with pytest.raises(config.ConfigError, match="'seed' appears twice"):
        config.read_yaml(nested)


@pytest.mark.parametrize("seed", [2**32, 2**80])
def test_a_seed_beyond_what_seeding_takes_is_refused(default_cfg, seed):
    """2^80 once passed validation and crashed the shard job writing its attribute."""
    with pytest.raises(config.ConfigError, match=r"'montecarlo.seed' must be <= 4294967295"):
        config.validate({**default_cfg, "montecarlo": {**default_cfg["montecarlo"], "seed": seed}})


def test_the_largest_seed_is_accepted(default_cfg):
    mc = {**default_cfg["montecarlo"], "seed": 2**32 - 1}
    assert config.validate({**default_cfg, "montecarlo": mc})["montecarlo"]["seed"] == 2**32 - 1


def test_ar1_without_phi_is_refused(default_cfg):
    """`supply.model: ar1` with no phi once ran as the i.i.d. harvest."""
    raw = {k: v for k, v in default_cfg.items() if k != "supply"}
    with pytest.raises(config.ConfigError, match=r"'supply\.phi' is required with supply\.model"):
        config.validate({**raw, "supply": {"model": "ar1"}})
    ok = config.validate({**raw, "supply": {"model": "ar1", "phi": 0.5}})
    assert ok["supply"]["phi"] == 0.5


def test_a_pattern_error_states_the_pattern_not_a_wrong_hint(default_cfg):
    """The hint once spoke of digits, '_' and '.' for patterns that forbid them."""
    with pytest.raises(config.ConfigError) as err:
        config.validate({**default_cfg, "carbon": {**default_cfg["carbon"], "region": "U5A"}})
    assert "must match the pattern" in str(err.value) and "digits" not in str(err.value)


def test_policy_sections_come_from_the_policy_classes():
    """The schema's policy sections are built from the registered classes (one home); the
    built-in policies keep the contract they had in the schema file."""
    from energy_routing.engine.policies import POLICIES

    sch = config.schema()["properties"]["policies"]["properties"]
    assert list(POLICIES) == ["myopic", "slack_deferral", "drift_plus_penalty", "variance_aware"]
    for name, cls in POLICIES.items():
        assert sch[name] == cls.config_schema()
        assert cls.parameter_name in sch[name]["properties"]
    assert config.section_defaults("policies")["myopic"] == {"routing_error": [0.0, 0.05]}
    assert config.section_defaults("policies")["drift_plus_penalty"] == {
        "V_tasks_per_J": [0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 1.0],
        "max_wait_s": None,
    }
    assert config.section_defaults("policies")["variance_aware"] == {
        "risk_weight_per_J": [0.0, 0.002, 0.005, 0.01, 0.02, 0.05]
    }
    assert sch["myopic"]["properties"]["routing_error"]["items"]["maximum"] == 1.0


# --- Merging as Snakemake does, every problem at once (issue 20) --------------------------


def _write(path, text: str):
    path.write_text(text)
    return path


def test_merge_follows_snakemake_update_config():
    """Mappings merge key by key at every depth, a list or scalar replaces the old value,
    an empty mapping changes nothing, and a later --configfile wins over an earlier one."""
    base = ("config/config.yaml", {"a": {"x": 1, "l": [1, 2]}, "b": 1, "s": {"k": {"v": 1}}})
    one = ("one.yaml", {"a": {"l": [3]}, "s": {}, "c": {"d": 1}})
    two = ("two.yaml", {"a": {"x": 2}, "b": [5]})
    merged = config.merge([base, one, two])
    assert merged == {"a": {"x": 2, "l": [3]}, "b": [5], "s": {"k": {"v": 1}}, "c": {"d": 1}}
    assert base[1]["a"] == {"x": 1, "l": [1, 2]}  # the layers are not modified
    assert config.merge([base]) == base[1]


def test_a_partial_config_is_merged_over_the_workflows_own(tmp_path, monkeypatch):
    """`validate --configfile partial.yaml` once refused a file Snakemake runs: Snakemake
    merges it over config/config.yaml, and so does load_merged."""
    monkeypatch.chdir(ROOT)
    partial = _write(tmp_path / "partial.yaml", "montecarlo: {trials: 20}\n")
    with pytest.raises(ConfigError, match="'tasks' is a required property"):
        config.load(partial)  # alone it is not a config
    cfg = config.load_merged([partial])
    assert cfg["montecarlo"]["trials"] == 20 and len(cfg["tasks"]) == 10
    assert (
        cfg["montecarlo"]["t_max"]
        == config.load(ROOT / "config" / "config.yaml")["montecarlo"]["t_max"]
    )
    elsewhere = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError, match="'tasks' is a required property"):
        config.load_merged([partial], workflow_configfile=elsewhere)  # as Snakemake, none
    with pytest.raises(ConfigError, match="no --configfile was given"):
        config.load_merged([], workflow_configfile=elsewhere)


def test_three_independent_errors_are_all_reported(default_cfg):
    """Only the first error was reported: a schema error, a rule across keys and a
    pre-check together, each naming its key, one line each."""
    cfg = copy.deepcopy(default_cfg)
    cfg["arrival_rate"] = -1.0  # schema
    cfg["tasks"][1]["name"] = "t0"  # rule across keys (unique names)
    cfg["supply"] = {"model": "ar1"}  # ar1 without phi, checked on the config as given
    with pytest.raises(ConfigError) as err:
        config.validate(cfg)
    lines = str(err.value).splitlines()
    assert lines[0] == "3 problems in the config:"
    assert any("'arrival_rate' must be > 0" in line for line in lines)
    assert any("'tasks[1].name' repeats the name 't0'" in line for line in lines)
    assert any("'supply.phi' is required with supply.model 'ar1'" in line for line in lines)


def test_every_unknown_key_and_nan_are_named_once(default_cfg):
    cfg = {**default_cfg, "colour": 1, "flavour": 2, "arrival_rate": float("nan")}
    with pytest.raises(ConfigError) as err:
        config.validate(cfg)
    msg = str(err.value)
    assert "'colour' is not a known key" in msg and "'flavour' is not a known key" in msg
    assert msg.count("'arrival_rate'") == 1 and "finite" in msg  # not also "must be > 0"


# Fuzz cases of issue 20, each through the files Snakemake would merge (load_merged).
FUZZ = [
    ("montecarlo: {seed: 1208925819614629174706176}\n", "'montecarlo.seed' must be <= 4294967295"),
    ("montecarlo: {seed: 1}\nmontecarlo: {trials: 20}\n", "'montecarlo' appears twice"),
    ("supply: {model: ar1}\n", "'supply.phi' is required with supply.model 'ar1'"),
    (
        "hardware: {accelerator: H100-SXM5-80GB, e_mem: 1.0e-11}\n",
        "'hardware.e_mem' cannot be given with hardware.accelerator",
    ),
    ("carbon: {region: U5A}\n", "'carbon.region' must match the pattern"),
]


@pytest.mark.parametrize(("text", "words"), FUZZ, ids=[w.split("'")[1] for _, w in FUZZ])
def test_issue_20_fuzz_cases_are_refused_through_the_merge(tmp_path, monkeypatch, text, words):
    monkeypatch.chdir(ROOT)
    with pytest.raises(ConfigError, match=re.escape(words)):
        config.load_merged([_write(tmp_path / "x.yaml", text)])


@pytest.mark.parametrize("value", ["1.0e-11", "2.0e-11"])
def test_a_constant_the_accelerator_derives_is_refused_whatever_its_value(tmp_path, value):
    """`e_mem` equal to its default was once dropped silently beside an accelerator."""
    raw = {"tasks": [{"name": "a", "difficulty": 1.9, "deadline_s": 600}]}
    hw = {"accelerator": "H100-SXM5-80GB", "e_mem": float(value)}
    with pytest.raises(ConfigError, match=r"'hardware\.e_mem' cannot be given with"):
        config.validate({**raw, "hardware": hw})
    # Given in a --configfile beside an accelerator of the workflow's file: refused, naming
    # the file; brought along by the workflow's file under a later accelerator: replaced.
    base = ("config/config.yaml", {**raw, "hardware": {"accelerator": "H100-SXM5-80GB"}})
    user = ("user.yaml", {"hardware": {"e_mem": float(value)}})
    with pytest.raises(ConfigError, match=r"'hardware\.e_mem' cannot .* \(given in user\.yaml\)"):
        config.validate(config.merge([base, user]), layers=[base, user])
    base = ("config/config.yaml", {**raw, "hardware": {"e_mem": float(value)}})
    user = ("user.yaml", {"hardware": {"accelerator": "H100-SXM5-80GB"}})
    cfg = config.validate(config.merge([base, user]), layers=[base, user])
    assert cfg["hardware"]["e_mem"] != float(value)  # the data sheet's


def test_unreadable_config_files_are_one_line_errors(tmp_path):
    cases = {
        "bad.yaml": (b"tasks: [\n", "not valid YAML: .* at line 2, column 1$"),
        "bin.yaml": (b"\x00\xff\xfe", "is not UTF-8 text$"),
        "list.yaml": (b"- a\n- b\n", "must hold a mapping of keys to values, got list$"),
    }
    for name, (data, words) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ConfigError, match=words) as err:
            config.read_layers([tmp_path / name])
        assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="is not a file"):
        config.read_layers([tmp_path])
