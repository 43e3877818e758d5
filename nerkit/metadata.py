"""The typed `nerkit.json`: what a saved model needs besides its weights to be used as it was trained.

    meta = RunMetadata.from_file("runs/conll03/nerkit.json")
    meta.labels, meta.kind, meta.max_length, meta.context

Training writes it (training.py), `nerkit export` extends it (export.py), and everything that loads a
model reads it through this one class: each key is one field here with its one default, choice fields are
`Literal`s checked once as the file is read, and the error names the file and the key. Keys this version
does not know (a newer nerkit wrote them) are kept in `extra` and written back, never dropped; files of
an older nerkit (no `version` key: version 1) load as they are. Adding a key is one line below.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .calibration import Calibrator
from .config import DataConfig
from .errors import ModelError
from .thresholds import TunedThresholds
from .writing import write_json

VERSION = 2  # 1: files written before this class (no `version` key); they read the same
FILE = "nerkit.json"
Kind = Literal["full", "adapter"]  # full weights, or a LoRA adapter over `base_model`
Context = Literal["sentence", "document"]
Scheme = Literal["iob1", "iob2", "bioes", "bmes", "bilou", "io"]  # the scheme the training files were in
Engine = Literal["torch", "onnx"]  # onnx: `nerkit export` wrote model.onnx in place of the PyTorch weights
Newlines = Literal["auto", "sentence", "space"]  # nerkit/lines.py
Head = Literal["softmax", "crf"]  # crf: a linear-chain CRF over the classifier's scores (nerkit/heads.py)
Decoding = Literal["viterbi", "argmax"]  # decoding.py; runs saved before the choice: viterbi


@dataclass
class OnnxExport:
    """What `nerkit export` wrote: the file, the opset, the run it came from, the fused operators."""
    file: str = "model.onnx"
    opset: int = 17
    exported_from: str | None = None
    fused: dict[str, int] = field(default_factory=dict)


@dataclass
class RunMetadata:
    labels: list[str]  # index = the model's label id
    kind: Kind = "full"
    base_model: str | None = None  # a Hub id (never a local folder), so that the run is portable
    base_revision: str | None = None
    source_scheme: Scheme | None = None
    max_length: int = DataConfig.max_length  # sub-tokens per window, special tokens included
    stride: int | None = None  # None: the Encoder's default
    context: Context = "sentence"
    context_size: int = 0  # sub-tokens of document context on each side
    newlines: Newlines = "auto"  # does a single newline of raw text end a sentence (nerkit/lines.py)
    head: Head = "softmax"
    decoding: Decoding = "viterbi"
    crf: dict[str, Any] | None = None  # an ONNX export's CRF scores (start, end, transitions): Viterbi reads them
    raw_text_agreement: dict[str, dict[str, Any]] = field(default_factory=dict)  # nerkit/agreement.py
    repaired_tags: dict[str, int] = field(default_factory=dict)  # split -> broken continuation tags repaired
    continued_from: dict[str, Any] | None = None  # the NER model it continued from, labels mapped (label_mapping.py)
    rehearsal: dict[str, Any] | None = None  # old-type entities added as labels (rehearsal.py)
    engine: Engine = "torch"
    onnx: OnnxExport | None = None
    quantization: dict[str, Any] | None = None  # nerkit/quantize.py's figures for an int8 export
    calibrator: Calibrator | None = None  # entity score -> probability it is right (calibration.py)
    thresholds: TunedThresholds | None = None  # per-type score thresholds tuned on dev (thresholds.py)
    version: int = VERSION  # of the file it was read from; always written as VERSION
    extra: dict[str, Any] = field(default_factory=dict)  # keys of a newer nerkit, kept and written back

    @classmethod
    def from_file(cls, path: str | Path, name: str | Path | None = None) -> RunMetadata:
        """Read and check a nerkit.json; errors are ModelErrors naming `name` (default: the folder)."""
        path = Path(path)
        name = name if name is not None else path.parent
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ModelError(f"{name}: {path.name} cannot be read ({err})") from None
        return cls.from_dict(value, f"{name}: {path.name}")

    @classmethod
    def from_dict(cls, value: Any, where: str = FILE) -> RunMetadata:
        if not isinstance(value, dict) or not isinstance(value.get("labels"), list) or not value["labels"]:
            raise ModelError(f"{where} has no label list (\"labels\"); it is not a nerkit model folder")
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values = {k: _checked(cls, k, v, where) for k, v in value.items() if k in known}
        for key, kind in NESTED.items():
            if isinstance(values.get(key), dict):
                values[key] = _nested(kind, values[key], f"{where}: {key}")
        values.setdefault("version", 1)  # written before the key existed
        return cls(**values, extra={k: v for k, v in value.items() if k not in known})

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, in this version's format; None values are left out (an older nerkit reads
        `"quantization" in ...`)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        fields["version"] = VERSION
        plain = {k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for k, v in fields.items()}
        return {**{k: v for k, v in plain.items() if v is not None}, **self.extra}

    def write(self, folder: str | Path) -> Path:
        return write_json(Path(folder, FILE), self.to_dict())

    def replace(self, **changes: Any) -> RunMetadata:
        return dataclasses.replace(self, **changes)

    @property
    def label2id(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels)}

    @property
    def entity_types(self) -> list[str]:
        return sorted({label[2:] for label in self.labels if label != "O"})

    def __getitem__(self, key: str) -> Any:  # the dict it used to be: `metadata["labels"]` in older code
        warnings.warn(f"nerkit.json is a RunMetadata: read .{key} instead of [{key!r}]", DeprecationWarning,
                      stacklevel=2)
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        warnings.warn(f"nerkit.json is a RunMetadata: read .{key} instead of .get({key!r})", DeprecationWarning,
                      stacklevel=2)
        return self.to_dict().get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        warnings.warn(f"nerkit.json is a RunMetadata: set .{key} instead of [{key!r}]", DeprecationWarning,
                      stacklevel=2)
        if key in {f.name for f in dataclasses.fields(self)} - {"extra"}:
            setattr(self, key, value)
        else:
            self.extra[key] = value

    def __contains__(self, key: str) -> bool:
        return key in self.to_dict()

    def keys(self):  # with __getitem__: `{**metadata}` gives the dict
        return self.to_dict().keys()


NESTED = {"onnx": OnnxExport, "calibrator": Calibrator, "thresholds": TunedThresholds}


def _nested(kind: type, value: dict[str, Any], where: str) -> Any:
    """A nested record (its own keys only; a newer nerkit's extra keys are left out)."""
    known = {k: v for k, v in value.items() if k in {f.name for f in dataclasses.fields(kind)}}
    try:
        return kind.from_dict(known) if hasattr(kind, "from_dict") else kind(**known)
    except (TypeError, KeyError, ValueError) as err:
        raise ModelError(f"{where} cannot be read ({err})") from None


def _checked(cls: type, key: str, value: Any, where: str) -> Any:
    """A choice field's value must be one of its Literal's; a None where None is allowed passes."""
    hint = typing.get_type_hints(cls)[key]
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    choices = [c for a in options if typing.get_origin(a) is Literal for c in typing.get_args(a)]
    allows_none = type(None) in options
    if choices and value not in choices and not (value is None and allows_none):
        raise ModelError(f"{where}: {key} is {value!r}; expected one of {', '.join(choices)}")
    return value
