"""The knobs of ``promptcheck adapt`` and their defaults, validated once.

One home for them, so that the command line, the library and the docs (docs/adapt.md) cannot
drift apart; a bad value is a :class:`~promptcheck.errors.ConfigError` naming the option.
"""

from __future__ import annotations

from dataclasses import dataclass

from promptcheck.errors import ConfigError
from promptcheck.stats.racing import CONFIRM_CONTENDERS, CONFIRM_LEVEL, RACE_ALPHA

#: Share of a case's variable combinations held out for the confirmation (the rest is searched).
HELD_OUT_SHARE = 0.5
#: Samples per rewrite and round of the race (at least one per search combination).
ROUND_SIZE = 10
#: Rewrites the optimizer model is asked for per case, when one is named.
OPTIMIZER_REWRITES = 2
#: Failing candidate outputs and conforming baseline outputs shown to the optimizer.
OPTIMIZER_EXAMPLES = 3
#: The optimizer's sampling: some temperature, so that two asks give two rewrites.
OPTIMIZER_TEMPERATURE = 0.7
OPTIMIZER_MAX_TOKENS = 1024
#: The label of the runs ``adapt`` records (``promptcheck runs`` lists it).
DEFAULT_LABEL = "adapt"
#: Where patched copies of suites go unless ``--out`` says (relative to the project root).
DEFAULT_OUT = ".promptcheck/adapted"


@dataclass(frozen=True, slots=True)
class AdaptSettings:
    """How ``adapt`` samples, races, confirms and spends.

    ``samples`` sets every case's budget for the diagnosis (None: the gate's plan);
    ``search_samples`` is the most a rewrite draws in the race and ``confirm_samples`` the size
    of the held-out test (None: the case's ``samples``). ``budget_samples`` caps what the race
    and the confirmations draw in all (the diagnosis excluded), ``budget_calls`` the optimizer
    calls, ``budget_cost`` the money the models report (in their prices' unit); None: no cap.
    ``seed`` decides the search / held-out split; ``contenders`` is how many rewrites the race
    could not tell apart may go to the held-out test in turn (each at ``confirm_level`` split
    between them).
    """

    samples: int | None = None
    search_samples: int | None = None
    confirm_samples: int | None = None
    held_out_share: float = HELD_OUT_SHARE
    round_size: int = ROUND_SIZE
    race_alpha: float = RACE_ALPHA
    confirm_level: float = CONFIRM_LEVEL
    contenders: int = CONFIRM_CONTENDERS
    optimizer_rewrites: int = OPTIMIZER_REWRITES
    budget_samples: int | None = None
    budget_calls: int | None = None
    budget_cost: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("samples", "search_samples", "confirm_samples", "budget_samples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        if self.budget_cost is not None and not self.budget_cost > 0:
            raise ConfigError(f"--budget-cost must be above 0, got {self.budget_cost:g}")
        if self.budget_calls is not None and self.budget_calls < 0:
            raise ConfigError(f"--budget-calls must be at least 0, got {self.budget_calls}")
        if not 0.0 < self.held_out_share < 1.0:
            raise ConfigError(f"--held-out must be in (0, 1), got {self.held_out_share:g}")
        if self.contenders < 1:
            raise ConfigError(f"--contenders must be at least 1, got {self.contenders}")
        if self.round_size < 1:
            raise ConfigError(f"the round size must be at least 1, got {self.round_size}")
        for name in ("race_alpha", "confirm_level"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ConfigError(f"{name.replace('_', ' ')} must be in (0, 1), got {value:g}")
        if self.optimizer_rewrites < 0:
            raise ConfigError(
                f"optimizer rewrites must be at least 0, got {self.optimizer_rewrites}"
            )
