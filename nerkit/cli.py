"""`nerkit` command line: parse arguments, then call the command's function (commands.py), which calls a
plain function; nerkit's own errors print as one line. Heavy imports stay inside the commands so
`nerkit --help` is instant."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .commands import (compare_command, evaluate_command, export_command, init_command, predict_command, push_command,
                       select_command, serve_command, train_command, tune_command)
from .errors import NerkitError, UsageError  # noqa: F401 (UsageError: imported from here by users and tests)


def duration(text: str) -> float:
    """--timeout: seconds, or a number with s, m or h (90m, 2h)."""
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], units[text[-1]]) if text and text[-1] in units else (text, 1)
    try:
        seconds = float(number) * unit
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; expected seconds or e.g. 90m, 2h") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a timeout must be above zero")
    return seconds


class RecipeHelp(argparse.Action):
    """`nerkit train --help-recipe`: like --help, it prints and exits before the recipe argument is required."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from .starter import recipe_help

        print(recipe_help())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    from .config import DataConfig, EvalConfig
    from .serve import Batching, Limits

    parser = argparse.ArgumentParser(prog="nerkit", description="Named-entity recognition on the Hugging Face stack.")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error, and transformers' loading reports")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=AnyOrderParser)

    train = commands.add_parser("train", help="fine-tune from a YAML recipe")
    train.add_argument("recipe")
    train.add_argument("overrides", nargs="*", default=[], help="dotted overrides: training.learning_rate=3e-5 lora.r=8 lora=null")
    train.add_argument("--overwrite", action="store_true", help="replace a non-empty output_dir (it is cleared first)")
    train.add_argument("--seeds", nargs="+", type=int, metavar="SEED",
                       help="one run per seed in output_dir/seed-N, then output_dir/summary.json (mean, sd, "
                            "95%% interval; the best seed on dev); put it after the overrides")
    train.add_argument("--help-recipe", action=RecipeHelp, help="list every recipe key with its type, default and help")
    train.set_defaults(func=train_command)
    _init_parser(commands)
    _tune_parser(commands)
    _compare_parser(commands)

    predict = commands.add_parser("predict", help="tag entities in raw text")
    predict.add_argument("model", help="run directory (full model or LoRA adapter) or Hub id")
    predict.add_argument("texts", nargs="*", default=[], help="documents; without them --input or stdin is read")
    _input_options(predict)
    predict.add_argument("--output", help="write here instead of stdout (atomically: OUT.partial, renamed when done)")
    predict.add_argument("--format", choices=["jsonl", "parquet", "conll", "pretty", "html", "label-studio", "doccano", "spans"],
                         help="default: from the --output suffix; pretty on a terminal, else jsonl; html: one page with the entities "
                              "highlighted; label-studio, doccano, "
                              "spans: pre-annotations each tool imports")
    predict.add_argument("--skip-invalid", action="store_true",
                         help="write {\"line\": N, \"error\": ...} in place of a bad record instead of stopping")
    _chunk_options(predict)
    _inference_options(predict)
    predict.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                         help="auto: bf16 where the hardware supports it natively (an ONNX folder runs as exported)")
    predict.set_defaults(func=predict_command)

    evaluate = commands.add_parser("evaluate", help="score a model on a labelled file")
    evaluate.add_argument("model")
    evaluate.add_argument("data", help="CoNLL, JSON Lines, JSON or Parquet file; or validation / test: the run's own "
                                       "file of that split, from any folder")
    evaluate.add_argument("--split", default="test", help="name used in the report")
    evaluate.add_argument("--output", help="report JSON (beside it: the confusion matrix .png, the reliability "
                                           "diagram .reliability.png and the precision-recall curves .pr.png)")
    evaluate.add_argument("--predictions", help="write word, gold tag and predicted tag per line (what conlleval reads)")
    evaluate.add_argument("--calibrate", action="store_true",
                          help="fit the entity-score calibrator on this file and store it in the run's nerkit.json")
    evaluate.add_argument("--calibration", choices=("auto", "isotonic", "platt"), default="auto",
                          help="with --calibrate: isotonic or Platt curves, or auto: the one with the lower held-out "
                               "ECE over 5 folds of this file's entities")
    evaluate.add_argument("--tune-thresholds", action="store_true",
                          help="per-type thresholds with the best F1 on this file, stored in the run's nerkit.json")
    evaluate.add_argument("--min-precision", type=float,
                          help="with --tune-thresholds: per type, the lowest threshold whose precision reaches this")
    evaluate.add_argument("--bootstrap", type=int, default=1000,
                          help="sentence resamples for the 95%% F1 intervals (0: none)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    add_options(evaluate, EvalConfig)
    add_options(evaluate, DataConfig)
    _inference_options(evaluate)
    evaluate.set_defaults(func=evaluate_command)

    push = commands.add_parser("push", help="push a finished run to the Hugging Face Hub")
    push.add_argument("run")
    push.add_argument("--model-id", required=True, help="the Hub repository, e.g. my-org/bert-base-cased-conll03")
    push.add_argument("--private", action="store_true", help="create the repository as private")
    push.add_argument("--revision", help="branch to push to")
    push.add_argument("--merged", action="store_true", help="push the merged model of a LoRA run")
    push.set_defaults(func=push_command)

    export = commands.add_parser("export", help="export a run to ONNX (optionally int8) for ONNX Runtime")
    export.add_argument("run", help="a saved run directory (full model or LoRA adapter)")
    export.add_argument("--output", required=True, help="the ONNX model folder to write (must not exist)")
    export.add_argument("--quantize", choices=["int8"], help="dynamic int8 weights, checked against fp32 on "
                        "the run's validation file")
    export.add_argument("--check-data", help="labelled file for the int8 check (default: the recipe's validation)")
    export.add_argument("--force", action="store_true", help="write the int8 model even if its F1 drops too much")
    export.add_argument("--opset", type=int, default=17, help="ONNX opset")
    export.set_defaults(func=export_command)

    _select_parser(commands)

    serve = commands.add_parser("serve", help="an HTTP API with dynamic batching and a page that highlights entities")
    serve.add_argument("model", help="run directory (full model or LoRA adapter) or Hub id")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (0: any free port)")
    add_options(serve, Limits)
    add_options(serve, Batching)
    serve.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto")
    serve.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                       help="auto: bf16 where the hardware supports it natively")
    _newlines_option(serve)
    _threshold_option(serve)
    serve.set_defaults(func=serve_command)
    return parser


class DefaultsFormatter(argparse.HelpFormatter):
    """`--help` shows every default that is a value (not None, not an off switch)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "%(default)" in text or "(default" in text or default is None or default is False \
                or default is argparse.SUPPRESS or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


class AnyOrderParser(argparse.ArgumentParser):
    """A command's flags go before, between or after its positional arguments and dotted overrides
    (argparse's intermixed parsing: `nerkit predict runs/x --device cpu "John left."`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, formatter_class=DefaultsFormatter, **kwargs)
        self._intermixing = False

    def parse_known_args(self, args=None, namespace=None):
        if self._intermixing:  # parse_known_intermixed_args calls back here for each of its two passes
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            namespace, extras = self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False
        if extras:  # said with this command's usage, not the top level's
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


def add_options(parser: argparse.ArgumentParser, settings: type) -> None:
    """One option per field of a settings dataclass that names its `flag`: type, default, choices and help
    come from the field, so the command line and the recipe (or the function) cannot drift apart."""
    import dataclasses
    import typing

    hints = typing.get_type_hints(settings)
    for field in dataclasses.fields(settings):
        flag = field.metadata.get("flag")
        if not flag:
            continue
        kind = next((t for t in typing.get_args(hints[field.name]) if t is not type(None)), hints[field.name])
        choices = field.metadata.get("choices") or (typing.get_args(kind) if typing.get_origin(kind) is typing.Literal
                                                    else None)
        parser.add_argument(flag, dest=field.name, type=str if choices else kind, choices=choices,
                            default=field.default, help=field.metadata["help"])


def _select_parser(commands) -> None:
    from .selection import Selection
    from .selection_io import FORMATS

    select = commands.add_parser("select", help="pick the unlabelled texts most worth labelling next, with the "
                                               "model's pre-annotations (active learning)")
    select.add_argument("model", help="run directory (full model or LoRA adapter) or Hub id")
    _input_options(select)
    select.add_argument("--output", required=True, help="the picks, most informative first (written when done)")
    select.add_argument("--format", choices=FORMATS, help="default: label-studio (tasks with predictions); jsonl "
                                                          "for a .jsonl output")
    add_options(select, Selection)
    select.add_argument("--skip-invalid", action="store_true", help="leave out bad records (counted) instead of stopping")
    _chunk_options(select)
    _inference_options(select)
    select.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                        help="auto: bf16 where the hardware supports it natively")
    select.set_defaults(func=select_command)


def _init_parser(commands) -> None:
    init = commands.add_parser("init", help="write a recipe that trains as written (offline model, sample data)")
    init.add_argument("recipe", nargs="?", default="recipe.yaml", help="the recipe to write (default: recipe.yaml)")
    init.add_argument("--data", help="your training file instead of the sample (format and scheme are detected)")
    init.add_argument("--validation", help="with --data: your validation file")
    init.add_argument("--test", help="with --data: your test file")
    init.set_defaults(func=init_command)


def _input_options(parser: argparse.ArgumentParser) -> None:
    """Where documents come from: what `nerkit predict` and `nerkit select` read."""
    parser.add_argument("--input", help="text lines, JSON Lines (.jsonl) or Parquet (.parquet) file")
    parser.add_argument("--input-format", default="auto", choices=["auto", "text", "jsonl", "parquet"],
                        help="auto: from the suffix (--text-field alone means JSON Lines)")
    parser.add_argument("--dataset", help="a Hub dataset id or local dataset folder, streamed")
    parser.add_argument("--split", default="train", help="--dataset split")
    parser.add_argument("--dataset-config", help="--dataset configuration name")
    parser.add_argument("--text-field", help="JSON Lines, Parquet, dataset: the field holding the text (default: text)")


def _chunk_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--chunk-size", type=int, default=1000, help="documents tagged and written at a time")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run where its output ends")


def _compare_parser(commands) -> None:
    from .config import DataConfig, EvalConfig

    compare = commands.add_parser("compare", help="is model A better than model B on a labelled file? paired "
                                                  "bootstrap and approximate randomisation")
    compare.add_argument("a", help="model A: run folder, seeded parent folder (its best-dev seed) or Hub id")
    compare.add_argument("b", help="model B, the same")
    compare.add_argument("data", help="labelled file both models tag (CoNLL, JSON Lines, JSON or Parquet)")
    compare.add_argument("--output", help="the comparison as JSON")
    compare.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples and randomisation trials")
    compare.add_argument("--seed", type=int, default=0, help="seed of the resamples")
    add_options(compare, EvalConfig)
    add_options(compare, DataConfig)
    _inference_options(compare)
    compare.set_defaults(func=compare_command)


def _tune_parser(commands) -> None:
    tune = commands.add_parser("tune", help="search hyperparameters with Optuna over the recipe's tune: section")
    tune.add_argument("recipe")
    tune.add_argument("overrides", nargs="*", default=[], help="dotted overrides, as for nerkit train")
    tune.add_argument("--trials", type=int, default=20, help="trials the study runs in all (resumed ones included)")
    tune.add_argument("--timeout", type=duration, help="stop starting trials after this long: seconds, 90m, 2h")
    tune.add_argument("--resume", action="store_true", help="continue the study in output_dir (or join it from "
                                                            "a second process)")
    tune.add_argument("--n-jobs", type=int, default=1, help="trials run at once in this process (threads)")
    tune.set_defaults(func=tune_command)


def _newlines_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--newlines", choices=["auto", "sentence", "space"],
                        help="does a single newline end a sentence? auto: yes unless the paragraph is hard-wrapped "
                             "prose; sentence: always; space: only after . ! ? (default: the model's, from training)")


def _threshold_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threshold",
                        help="drop entities whose score is below this: one number (0.8) or per type (PER=0.6,ORG=0.9); "
                             "0: none (default: the thresholds tuned into the model, if any)")


def _inference_options(parser: argparse.ArgumentParser) -> None:
    _newlines_option(parser)
    _threshold_option(parser)
    parser.add_argument("--batch-size", type=int, help="sentences per forward pass (default 64; 32 for an ONNX folder)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto")
    parser.add_argument("--revision", help="Hub model ids: branch, tag or commit")
    parser.add_argument("--decoding", choices=["viterbi", "argmax"],
                        help="viterbi: the best tag sequence IOB2 allows; argmax: each word's best label "
                             "(default: the model's own, viterbi for runs saved without one)")


def is_user_error(err: BaseException) -> bool:
    """nerkit's own errors (bad recipes, data, models, arguments) and OSErrors: files that cannot be read or
    written, model folders transformers cannot load (no weights, no config)."""
    return isinstance(err, (NerkitError, OSError))


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def module_main(command: str, argv: list[str]) -> int:
    """`python -m nerkit.<command>`: under `accelerate launch --cpu --num_processes N` (which starts one
    process without MPI) start the N processes with torch.distributed; otherwise run the command."""
    from .launch import relaunch, requested_cpu_processes

    processes = requested_cpu_processes()
    if processes > 1:
        configure_logging()
        return relaunch(f"nerkit.{command}", argv, processes)
    return main([command, *argv])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    from . import modeling

    modeling.SHOW_LOAD_REPORTS = args.debug
    try:
        return args.func(args)
    except Exception as err:
        if args.debug or not is_user_error(err):
            raise
        if os.environ.get("RANK", "0") != "0":
            return 2  # every process meets the same mistake: the main one says it once
        message = " ".join(str(err).split()) if isinstance(err, OSError) else err  # transformers' span lines
        print(f"nerkit {args.command}: error: {message}", file=sys.stderr)
        return 2
    finally:
        modeling.SHOW_LOAD_REPORTS = False  # for this command only (main may be called in-process)


if __name__ == "__main__":
    sys.exit(main())
