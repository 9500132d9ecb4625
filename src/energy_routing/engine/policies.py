"""Dispatch policies of the engine (docs/model.md §8, §12.2-12.4).

A policy decides, for every task, which model serves it and in which slot it starts.

* Static policies decide at arrival from the task alone: :class:`Myopic` (the cheapest
  feasible model, with a routing error epsilon) and :class:`VarianceAware` (mean energy
  plus a risk weight times the energy variance). They take the fast vectorised path.
* State-dependent policies look at the stored energy and the queue in every slot:
  :class:`SlackDeferral` and :class:`DriftPlusPenalty`. They run in the per-slot kernel
  (:mod:`energy_routing.engine.per_slot`).

Every policy keeps the model chosen at arrival (with its routing error), so only the start
slot differs between myopic, deferral and drift-plus-penalty, and waiting never costs
energy. A task waits at most until the last slot from which its model still meets the
deadline (``last_start``); its feasible set F_i(w) shrinks as it waits (docs/model.md §4)
and the policy never lets it shrink past the chosen model.

Each policy has a ``name`` and a scalar ``parameter`` (the one a sweep varies), and
validates its fields on construction, naming the field and the allowed range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from energy_routing.theory.moments import route_probabilities

__all__ = [
    "KIND_DEFERRAL",
    "KIND_DPP",
    "KIND_STATIC",
    "POLICIES",
    "DriftPlusPenalty",
    "Myopic",
    "Policy",
    "Router",
    "SlackDeferral",
    "VarianceAware",
    "last_start_slots",
    "policy_from_spec",
    "register",
]

#: Integer codes of the per-slot kernel's decision rule.
KIND_STATIC, KIND_DEFERRAL, KIND_DPP = 0, 1, 2


def _check_epsilon(policy: str, value: float, what: str = "policy") -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{what} {policy!r}: routing_error must lie in [0, 1], got {value!r}")
    return value


def _check_nonneg(
    policy: str, name: str, value: float, allow_inf: bool = False, what: str = "policy"
) -> float:
    value = float(value)
    ok = value >= 0 and (allow_inf or math.isfinite(value))
    if not ok or math.isnan(value):
        finite = "" if allow_inf else "finite and "
        raise ValueError(f"{what} {policy!r}: {name} must be {finite}>= 0, got {value!r}")
    return value


def last_start_slots(slack_s: np.ndarray, dt_s: float) -> np.ndarray:
    """Last wait [slot] after which a task of type i still meets its deadline on model m.

    ``floor(slack / dt + 1e-12)`` with slack = Delta_i - Delta_disp - Theta_im [s]
    (docs/model.md §4: m is in F_i(w dt) iff w <= this); -1 where m is not feasible at
    arrival.

    >>> last_start_slots(np.array([[0.0, 2.5, -1.0]]), 1.0).tolist()
    [[0, 2, -1]]
    """
    slack = np.asarray(slack_s, dtype=float)
    out = np.floor(slack / float(dt_s) + 1e-12)
    return np.where(slack >= 0, out, -1).astype(np.int64)


@dataclass(frozen=True, kw_only=True)
class Policy:
    """Base of all policies: a routing error and the kernel's decision code.

    A policy describes itself to the rest of the package through class attributes: the
    config schema (:func:`energy_routing.config.schema`), the policy study
    (:func:`energy_routing.studies.policies.policy_study`) and the report read them from
    the class, so a new policy is one class decorated with :func:`register` (README,
    "Adding a policy"). A policy whose decisions are static overrides
    :meth:`route_table`; a state-dependent one needs a decision rule in the per-slot kernel.
    """

    routing_error: float = 0.0
    kind = KIND_STATIC
    #: Config key under ``policies`` (and the ``policy`` label in datasets and summaries).
    name: ClassVar[str] = "policy"
    #: Words for the report.
    label: ClassVar[str] = "policy"
    #: One sentence for the config schema, with its docs/model.md section.
    description: ClassVar[str] = ""
    #: The field a study sweeps: the config lists its values.
    parameter_name: ClassVar[str] = "routing_error"
    #: Its unit.
    parameter_unit: ClassVar[str] = "-"
    #: What the config's list of its values means, with the unit.
    parameter_description: ClassVar[str] = ""
    #: How the report writes one value of it.
    setting_format: ClassVar[str] = "{:g}"
    #: The values a study compares by default.
    parameter_default: ClassVar[tuple[float, ...]] = (0.0,)
    #: Upper bound of the parameter (None: unbounded above); all are >= 0.
    parameter_maximum: ClassVar[float | None] = None
    #: Fixed fields the policy's config section may set: name -> (default, description).
    #: A default of None means "not set" (the class's own default applies).
    options: ClassVar[dict[str, tuple[float | None, str]]] = {}

    @classmethod
    def setting(cls, value: float) -> str:
        """One value of the parameter as the report writes it."""
        return cls.setting_format.format(value)

    @classmethod
    def option_names(cls) -> set[str]:
        """Options :func:`policy_from_spec` accepts: the class's own, and the study-wide
        routing error for a policy whose parameter is not the routing error."""
        shared = set() if cls.parameter_name == "routing_error" else {"routing_error"}
        return set(cls.options) | shared

    @classmethod
    def from_config(cls, parameter: float, options: Mapping, *, energy_var_J2=None) -> Policy:
        """The policy at one value of its parameter, with its fixed options."""
        return cls(**{cls.parameter_name: parameter}, **options)

    @classmethod
    def config_schema(cls) -> dict:
        """The JSON Schema of the policy's config section (docs/model.md §12.6)."""
        items = {"type": "number", "minimum": 0}
        if cls.parameter_maximum is not None:
            items["maximum"] = cls.parameter_maximum
        props = {
            cls.parameter_name: {
                "description": cls.parameter_description,
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": items,
                "default": list(cls.parameter_default),
            }
        }
        for key, (default, text) in cls.options.items():
            props[key] = {
                "description": text,
                "type": "number" if default is not None else ["number", "null"],
                "minimum": 0,
                "default": default,
            }
        return {
            "description": cls.description,
            "type": "object",
            "additionalProperties": False,
            "default": {},
            "properties": props,
        }

    @property
    def state_dependent(self) -> bool:
        """Whether decisions read the queue or the battery (the per-slot kernel is needed)."""
        return self.kind != KIND_STATIC

    @property
    def parameter(self) -> float:
        """The policy's swept scalar."""
        return self.routing_error

    def route_table(self, workload) -> np.ndarray:
        """The model each task type goes to when not misrouted, shape (K,) int64."""
        return np.asarray(workload.best_model, dtype=np.int64)

    def wait_limit(self, workload) -> np.ndarray:
        """Largest wait [slot] of a task of type i on model m, shape (K, M) int64."""
        return np.zeros(workload.energy_J.shape, dtype=np.int64)

    def kernel_params(self) -> tuple[float, float]:
        """(reserve [J], V [tasks/J]) as the per-slot kernel reads them."""
        return 0.0, 0.0

    def guarantees_deadlines(self, workload) -> bool:
        """Whether no task can miss its deadline by construction (docs/model.md §12.6).

        True when every model a task can be served by (its route, and with a routing
        error the other feasible models) is feasible at arrival and the policy never lets
        it wait past its last feasible start: ``wait_limit <= last_start`` on every
        reachable (type, model). A policy that breaks this (e.g. one that batches, or
        routes to an infeasible model) returns False, and the study's missed-deadline
        fraction is then a measurement rather than a guarantee.
        """
        reachable = route_probabilities(workload, self) > 0
        if getattr(workload, "slack_s", None) is not None:
            last = last_start_slots(workload.slack_s, workload.dt_s)
        else:
            last = np.where(workload.feasible, 0, -1)
        limit = self.wait_limit(workload)
        return bool(np.all(((last >= 0) & (limit <= last))[reachable]))


#: Every policy the config can name, by config key, in the order the policy study runs
#: them (filled by :func:`register`; myopic first: it is the reference).
POLICIES: dict[str, type[Policy]] = {}


def register(cls: type[Policy]) -> type[Policy]:
    """Class decorator: make a policy known to the config schema, the policy study and the
    report, under its ``name``."""
    if cls.name in POLICIES:
        raise ValueError(f"policy {cls.name!r}: already registered")
    POLICIES[cls.name] = cls
    return cls


@register
@dataclass(frozen=True, kw_only=True)
class Myopic(Policy):
    """Dispatch at arrival to m*(i), misrouting with probability epsilon (docs/model.md §8).

    ``parameter`` is the routing error.

    >>> Myopic(routing_error=0.05).parameter
    0.05
    """

    name = "myopic"
    label = "myopic"
    description = "The reference policy (cheapest feasible model, docs/model.md §12.6)."
    parameter_unit = "1"
    parameter_description = (
        "Routing errors epsilon of the myopic cases; the first is the reference of every "
        "paired difference [-]."
    )
    setting_format = "ε = {:g}"
    parameter_default = (0.0, 0.05)
    parameter_maximum = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "routing_error", _check_epsilon(self.name, self.routing_error))


def _wait_limit(workload, max_wait_s: float, policy: str) -> np.ndarray:
    if getattr(workload, "slack_s", None) is None:
        raise ValueError(
            f"policy {policy!r} needs the workload's slack_s (deadline - dispatch latency - "
            "latency per task and model); build the workload with it"
        )
    last = last_start_slots(workload.slack_s, workload.dt_s)
    if math.isinf(max_wait_s):
        cap = last
    else:
        cap = np.minimum(last, math.floor(max_wait_s / workload.dt_s + 1e-12))
    return np.where(last >= 0, cap, 0).astype(np.int64)


@register
@dataclass(frozen=True, kw_only=True)
class SlackDeferral(Policy):
    """Wait while the battery is low, start when it can carry the task (docs/model.md §12.2).

    A queued task starts in the first slot in which the stored energy at the start of the
    slot, less ``reserve_J`` and less the energy of the tasks already started in that
    slot, covers its energy; and at the latest after ``min(max_wait_s, slack)`` (its last
    feasible start). ``max_wait_s = 0`` is the myopic policy, path by path.

    Parameters
    ----------
    max_wait_s : float
        Slack the policy may use [s], >= 0 (``inf``: the whole slack).
    reserve_J : float, default 0
        Stored energy kept back [J], >= 0.
    routing_error : float, default 0
    """

    max_wait_s: float = 0.0
    reserve_J: float = 0.0
    name = "slack_deferral"
    kind = KIND_DEFERRAL
    label = "slack-aware deferral"
    description = (
        "Slack-aware deferral (docs/model.md §12.2) - a task waits for harvest up to its "
        "deadline slack."
    )
    parameter_name = "max_wait_s"
    parameter_unit = "s"
    parameter_description = "Maximum waits to compare [s]; 0 is myopic."
    setting_format = "max wait {:g} s"
    parameter_default = (0.0, 5.0, 10.0, 20.0, 40.0)
    options: ClassVar[dict[str, tuple[float | None, str]]] = {
        "reserve_J": (0.0, "Stored energy kept back before a deferred task may start [J]."),
    }

    def __post_init__(self) -> None:
        object.__setattr__(self, "routing_error", _check_epsilon(self.name, self.routing_error))
        object.__setattr__(
            self, "max_wait_s", _check_nonneg(self.name, "max_wait_s", self.max_wait_s, True)
        )
        object.__setattr__(self, "reserve_J", _check_nonneg(self.name, "reserve_J", self.reserve_J))

    @property
    def parameter(self) -> float:
        return self.max_wait_s

    def wait_limit(self, workload) -> np.ndarray:
        return _wait_limit(workload, self.max_wait_s, self.name)

    def kernel_params(self) -> tuple[float, float]:
        return self.reserve_J, 0.0


@register
@dataclass(frozen=True, kw_only=True)
class DriftPlusPenalty(Policy):
    """Drift-plus-penalty dispatch (docs/model.md §12.4).

    In slot t with Q_t queued tasks, a task of energy e starts when
    Q_t >= V * max(0, e - b) [tasks], where b is the stored energy at the start of the slot
    less the energy of the tasks already started in it: the backlog's weight against V
    times the auxiliary energy the start would draw now; and at the latest at its last
    feasible start. V = 0 is myopic, V -> inf waits for stored energy (deferral with no
    reserve).

    Parameters
    ----------
    V_tasks_per_J : float
        Trade-off V [tasks/J], >= 0.
    max_wait_s : float, default inf
        Slack the policy may use [s], >= 0.
    routing_error : float, default 0
    """

    V_tasks_per_J: float = 0.0
    max_wait_s: float = math.inf
    name = "drift_plus_penalty"
    kind = KIND_DPP
    label = "drift-plus-penalty"
    description = (
        "Drift-plus-penalty dispatch (docs/model.md §12.4) - the trade-off V between queue "
        "and auxiliary energy."
    )
    parameter_name = "V_tasks_per_J"
    parameter_unit = "tasks/J"
    parameter_description = "Trade-off weights V to compare [tasks/J]; 0 is myopic."
    setting_format = "V = {:g} tasks/J"
    parameter_default = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 1.0)
    options: ClassVar[dict[str, tuple[float | None, str]]] = {
        "max_wait_s": (None, "Longest wait in the queue [s]; null for the task's whole slack."),
    }

    def __post_init__(self) -> None:
        object.__setattr__(self, "routing_error", _check_epsilon(self.name, self.routing_error))
        object.__setattr__(
            self, "V_tasks_per_J", _check_nonneg(self.name, "V_tasks_per_J", self.V_tasks_per_J)
        )
        object.__setattr__(
            self, "max_wait_s", _check_nonneg(self.name, "max_wait_s", self.max_wait_s, True)
        )

    @property
    def parameter(self) -> float:
        return self.V_tasks_per_J

    def wait_limit(self, workload) -> np.ndarray:
        return _wait_limit(workload, self.max_wait_s, self.name)

    def kernel_params(self) -> tuple[float, float]:
        return 0.0, self.V_tasks_per_J


@register
@dataclass(frozen=True, kw_only=True)
class VarianceAware(Policy):
    """Dispatch at arrival to argmin over F_i of E[e_im] + kappa Var[e_im] (docs/model.md §12.3).

    Parameters
    ----------
    risk_weight_per_J : float
        kappa [1/J], >= 0; 0 is the myopic choice m*(i) (ties to the lower index).
    energy_var_J2 : ndarray, shape (K, M)
        Var[e_im] [J^2], e.g. from the stochastic reasoning length
        (:func:`energy_routing.model.reasoning.energy_moments`).
    routing_error : float, default 0
        epsilon, as for :class:`Myopic`, relative to the chosen model.
    """

    risk_weight_per_J: float = 0.0
    energy_var_J2: np.ndarray = field(default=None, repr=False, compare=False)
    name = "variance_aware"
    label = "variance-aware routing"
    description = (
        "Variance-aware routing (docs/model.md §12.3) - mean energy plus a risk weight times "
        "its variance."
    )
    parameter_name = "risk_weight_per_J"
    parameter_unit = "1/J"
    parameter_description = "Risk weights kappa to compare [1/J]; 0 is myopic."
    setting_format = "κ = {:g} /J"
    parameter_default = (0.0, 0.002, 0.005, 0.01, 0.02, 0.05)

    @classmethod
    def from_config(cls, parameter: float, options: Mapping, *, energy_var_J2=None) -> Policy:
        return cls(risk_weight_per_J=parameter, energy_var_J2=energy_var_J2, **options)

    def __post_init__(self) -> None:
        object.__setattr__(self, "routing_error", _check_epsilon(self.name, self.routing_error))
        object.__setattr__(
            self,
            "risk_weight_per_J",
            _check_nonneg(self.name, "risk_weight_per_J", self.risk_weight_per_J),
        )
        if self.energy_var_J2 is None:
            raise ValueError(f"policy {self.name!r}: energy_var_J2 (K x M variances) is required")
        var = np.array(self.energy_var_J2, dtype=float)
        if var.ndim != 2 or not np.all(np.isfinite(var)) or np.any(var < 0):
            raise ValueError(
                f"policy {self.name!r}: energy_var_J2 must be a finite non-negative K x M array"
            )
        var.setflags(write=False)
        object.__setattr__(self, "energy_var_J2", var)

    @property
    def parameter(self) -> float:
        return self.risk_weight_per_J

    def route_table(self, workload) -> np.ndarray:
        if self.energy_var_J2.shape != workload.energy_J.shape:
            raise ValueError(
                f"policy {self.name!r}: energy_var_J2 has shape {self.energy_var_J2.shape}, "
                f"the workload {workload.energy_J.shape}"
            )
        score = workload.energy_J + self.risk_weight_per_J * self.energy_var_J2
        return np.where(workload.feasible, score, np.inf).argmin(axis=1).astype(np.int64)


def policy_from_spec(
    name: str,
    parameter: float,
    options: Mapping | None = None,
    *,
    energy_var_J2: np.ndarray | None = None,
) -> Policy:
    """Build a registered policy from its config name, its swept parameter and fixed
    options (:meth:`Policy.option_names`). ``energy_var_J2`` is needed by
    ``variance_aware``.

    >>> policy_from_spec("slack_deferral", 30.0, {"reserve_J": 100.0})
    SlackDeferral(routing_error=0.0, max_wait_s=30.0, reserve_J=100.0)
    >>> policy_from_spec("greedy", 1.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: policy 'greedy': unknown (allowed: myopic, slack_deferral, ...)
    """
    opts = dict(options or {})
    if name not in POLICIES:
        raise ValueError(f"policy {name!r}: unknown (allowed: {', '.join(POLICIES)})")
    cls = POLICIES[name]
    allowed = cls.option_names()
    for key in opts:
        if key not in allowed:
            ok = ", ".join(sorted(allowed)) or "none"
            raise ValueError(f"policy {name!r}: unknown option {key!r} (allowed: {ok})")
    return cls.from_config(parameter, opts, energy_var_J2=energy_var_J2)


@dataclass(frozen=True, kw_only=True)
class Router:
    """A dispatcher: its routing error, and the energy and latency of each decision
    (docs/model.md §12.8). A heavier router errs less but costs more per decision.

    Parameters
    ----------
    name : str
        Label.
    routing_error : float
        epsilon [1], in [0, 1].
    energy_J : float
        Energy of one dispatch decision [J], >= 0, charged to the task's dispatch slot.
    latency_s : float
        Latency of one decision [s], >= 0; it shrinks every task's slack (docs/model.md §4).
    """

    name: str
    routing_error: float = 0.0
    energy_J: float = 0.0
    latency_s: float = 0.0

    def __post_init__(self) -> None:
        n, r = self.name, "router"
        object.__setattr__(self, "routing_error", _check_epsilon(n, self.routing_error, r))
        object.__setattr__(self, "energy_J", _check_nonneg(n, "energy_J", self.energy_J, what=r))
        object.__setattr__(self, "latency_s", _check_nonneg(n, "latency_s", self.latency_s, what=r))
