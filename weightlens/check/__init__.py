"""``weightlens check``: gate a build on the numerical health of trained weights.

>>> from weightlens.check import load_config, run_check
>>> result = run_check("ckpt/", load_config({"max_condition": 1e4}))     # doctest: +SKIP
>>> result.passed, result.summary_line()                                 # doctest: +SKIP
(False, '1 violation in 1 tensor (31 tensors checked, 4 rules) in 0.40s')

The rules are declared once in :data:`RULES`; settings merge in :func:`load_config`;
:func:`run_check` runs only the analysis passes the active rules need.
"""

from weightlens.check.baseline import Baseline, load_baseline
from weightlens.check.config import CheckConfig, Override, find_pyproject, load_config
from weightlens.check.evaluate import Outcome, evaluate
from weightlens.check.result import CheckResult
from weightlens.check.rules import RULES, RULES_BY_NAME, Rule
from weightlens.check.runner import CheckRun, required_passes, run_check

__all__ = [
    "RULES",
    "RULES_BY_NAME",
    "Baseline",
    "CheckConfig",
    "CheckResult",
    "CheckRun",
    "Outcome",
    "Override",
    "Rule",
    "evaluate",
    "find_pyproject",
    "load_baseline",
    "load_config",
    "required_passes",
    "run_check",
]
