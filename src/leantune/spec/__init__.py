"""The study spec: what a study is, from YAML or Python, validated before anything starts."""

from leantune.spec._axis import Axis
from leantune.spec._load import dump_spec, load_spec
from leantune.spec._model import (
    MODEL_TASKS,
    ConstraintsSpec,
    ConstraintStopSpec,
    DatasetSpec,
    DivergenceSpec,
    OutputSpec,
    PatienceSpec,
    PrecheltSpec,
    PredictiveSpec,
    ResourcesSpec,
    SchedulerSpec,
    SearchSpaceSpec,
    SearchSpec,
    StoppingSpec,
    StudySpec,
    TrackingSpec,
    TrainingSpec,
    ValidationSpec,
)

__all__ = [
    "MODEL_TASKS",
    "Axis",
    "ConstraintStopSpec",
    "ConstraintsSpec",
    "DatasetSpec",
    "DivergenceSpec",
    "OutputSpec",
    "PatienceSpec",
    "PrecheltSpec",
    "PredictiveSpec",
    "ResourcesSpec",
    "SchedulerSpec",
    "SearchSpaceSpec",
    "SearchSpec",
    "StoppingSpec",
    "StudySpec",
    "TrackingSpec",
    "TrainingSpec",
    "ValidationSpec",
    "dump_spec",
    "load_spec",
]
