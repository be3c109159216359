"""Saving and loading models in a format that cannot run code when loaded.

skops stores the pipeline as data; loading checks every type named in the file against
the allowlist below and refuses anything else, so a model file from elsewhere cannot
execute code (as a pickle could). joblib is kept for caches the project writes itself.

A skops file is a zip, and a zip can lie about its size: 2 MB can inflate to gigabytes. The
archive's directory is checked against fixed caps before skops inflates anything (issue 12);
Python's zipfile never inflates a member past the size its directory declares, so checking
the declared sizes bounds the real work.
"""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

import skops.io as sio
from sklearn.pipeline import Pipeline

from backscatter.errors import BackscatterError

#: Types a backscatter model file may contain, and nothing more.
ALLOWED_TYPES = frozenset(
    {
        "backscatter.features.transformer.BounceFeatures",
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.calibration.CalibratedClassifierCV",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.linear_model._logistic.LogisticRegression",
        "numpy.dtype",
        "numpy.ndarray",
        "numpy.float64",
        "numpy.int64",
        "builtins.slice",
    }
)

SHIPPED_NAME = "backscatter-default.skops"

#: Caps on a model archive, far above what a backscatter model needs (the shipped one: 160 KB
#: on disk, 36 members, 160 KB inflated) and far below what would hurt the host.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_MEMBERS = 4096
MAX_UNCOMPRESSED_BYTES = 256 * 1024 * 1024


def save(model: Pipeline, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sio.dump(model, path)


def load(path: str | Path) -> Pipeline:
    """Load a model file, refusing any type outside :data:`ALLOWED_TYPES`."""
    check_archive(path)
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except FileNotFoundError:
        raise BackscatterError(f"no model file at {path}") from None
    except Exception as exc:  # not a zip, not a skops file, corrupt
        raise BackscatterError(
            f"cannot read model {path}: not a backscatter model ({exc})"
        ) from None
    refused = sorted(set(untrusted) - ALLOWED_TYPES)
    if refused:
        raise BackscatterError(
            f"refusing model {path}: it contains types not allowed: {', '.join(refused)}"
        )
    try:
        model = sio.load(path, trusted=sorted(set(untrusted)))
    except Exception as exc:
        raise BackscatterError(f"cannot read model {path}: {exc}") from None
    if not isinstance(model, Pipeline):
        raise BackscatterError(f"refusing model {path}: not a scikit-learn pipeline")
    _check_features(model, path)
    return model


def check_archive(path: str | Path) -> None:
    """Refuse a model archive whose size or members exceed the caps, reading only its
    directory (milliseconds, whatever it claims to hold)."""
    try:
        on_disk = os.stat(path).st_size
    except FileNotFoundError:
        raise BackscatterError(f"no model file at {path}") from None
    except OSError as exc:
        raise BackscatterError(f"cannot read model {path}: {exc.strerror or exc}") from None
    if on_disk > MAX_FILE_BYTES:
        raise BackscatterError(
            f"refusing model {path}: {on_disk} bytes, more than {MAX_FILE_BYTES} a model may be"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise BackscatterError(
            f"cannot read model {path}: not a backscatter model ({exc})"
        ) from None
    inflated = sum(member.file_size for member in members)
    if len(members) > MAX_MEMBERS or inflated > MAX_UNCOMPRESSED_BYTES:
        raise BackscatterError(
            f"refusing model {path}: it would inflate to {inflated} bytes in {len(members)} "
            f"files (at most {MAX_UNCOMPRESSED_BYTES} bytes in {MAX_MEMBERS} files): a zip bomb?"
        )


def _check_features(model: Pipeline, path: str | Path) -> None:
    """A model reads the features it was trained on, in that order, or it is refused: a
    vector of another version's features would be scored silently wrong."""
    from backscatter.features import CATALOG

    step = model.named_steps.get("features")
    current = [feature.name for feature in CATALOG]
    trained = getattr(step, "feature_names_", None)
    count = getattr(step, "n_features_in_", None)
    if trained is None and count == len(current):
        return  # saved before names were recorded: the count is all there is to check
    if trained is None or list(trained) != current:
        known = len(trained) if trained is not None else count
        missing = sorted(set(current) - set(trained or ()))
        hint = f" (new: {', '.join(missing[:5])})" if trained is not None and missing else ""
        raise BackscatterError(
            f"model {path} was trained on {known} features, this version has "
            f"{len(current)}{hint}: retrain it (backscatter train, or scripts/train_default.py)"
        )


def shipped_model_path() -> Path:
    """The default model, from a checkout (models/) or an installed copy (share/backscatter)."""
    candidates = (
        Path(__file__).resolve().parents[3] / "models" / SHIPPED_NAME,
        Path(sys.prefix) / "share" / "backscatter" / "models" / SHIPPED_NAME,
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise BackscatterError("the shipped model is missing; pass --model or reinstall backscatter")
