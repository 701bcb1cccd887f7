"""Receptive fields: how far a stack or a transform sees, computed, probed and planned.

- ``field``: the one place that computes extents, tables and halos from spec trees.
- ``planning``: ``plan_dilations``, gap-free dilation schedules for a wanted reach.
- ``probe``: empirical receptive fields (impulse or gradient support), effective RF.
- ``torch_trace``: spec trees of any ``torch.nn.Module`` (imported on demand).
"""

from .field import ReceptiveField, halo, receptive_field, specs_from_schedule
from .planning import Candidate, Plan, plan_dilations
from .probe import EffectiveReceptiveField, effective_receptive_field, probe_receptive_field

__all__ = ["Candidate", "EffectiveReceptiveField", "Plan", "ReceptiveField",
           "effective_receptive_field", "halo", "plan_dilations", "probe_receptive_field",
           "receptive_field", "specs_from_schedule"]
