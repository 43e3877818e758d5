"""What each `nerkit` command does with its parsed arguments: check what can be checked before a model
loads, then call the plain function (nerkit.train, nerkit.evaluate, ...). The parser is in cli.py; heavy
imports stay inside the functions so `nerkit --help` is instant."""

from __future__ import annotations

from .errors import UsageError


def train_command(args) -> int:
    from .config import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    if args.seeds:
        from .seeds import train_seeds

        train_seeds(recipe, args.seeds, overwrite=args.overwrite)
        return 0
    from .training import train

    train(recipe, overwrite=args.overwrite)
    return 0


def compare_command(args) -> int:
    from .compare import compare, format_comparison
    from .config import DataConfig, flag_names

    check_inference_options(args)
    if args.resamples < 1:
        raise UsageError(f"--resamples must be a positive integer, got {args.resamples}")
    with flag_names():
        report = compare(args.a, args.b, args.data, mode=args.mode, data_config=from_options(DataConfig, args),
                         resamples=args.resamples, seed=args.seed, output=args.output, device=args.device,
                         batch_size=args.batch_size, revision=args.revision, newlines=args.newlines,
                         decoding=args.decoding)
    print(format_comparison(report))
    return 0


def tune_command(args) -> int:
    from .config import load_recipe
    from .tune import tune

    tune(load_recipe(args.recipe, args.overrides), args.trials, timeout=args.timeout, resume=args.resume,
         n_jobs=args.n_jobs)
    return 0


def init_command(args) -> int:
    from .starter import init

    written = init(args.recipe, args.data, args.validation, args.test)
    print("wrote " + ", ".join(map(str, written)))
    print(f"train it:  {'cd ' + str(written[0].parent) + ' && ' if str(written[0].parent) != '.' else ''}"
          f"nerkit train {written[0].name}")
    return 0


def predict_command(args) -> int:
    from .prediction import predict_to

    check_inference_options(args)
    if args.input:
        from .formats.tables import check_input_file

        check_input_file(args.input)
    return predict_to(args.model, args.texts, input=args.input, output=args.output, fmt=args.format,
                      text_field=args.text_field, skip_invalid=args.skip_invalid, dataset=args.dataset,
                      split=args.split, dataset_config=args.dataset_config, input_format=args.input_format,
                      chunk_size=args.chunk_size, resume=args.resume, device=args.device,
                      batch_size=args.batch_size, precision=args.precision,
                      revision=args.revision, newlines=args.newlines, decoding=args.decoding,
                      threshold=args.threshold)


def select_command(args) -> int:
    from .selection import Selection, select_to

    check_inference_options(args)
    return select_to(args.model, from_options(Selection, args), args.output, input=args.input, fmt=args.format,
                     text_field=args.text_field, dataset=args.dataset, split=args.split,
                     dataset_config=args.dataset_config, input_format=args.input_format,
                     skip_invalid=args.skip_invalid, chunk_size=args.chunk_size, resume=args.resume,
                     device=args.device, batch_size=args.batch_size, precision=args.precision,
                     revision=args.revision, newlines=args.newlines, decoding=args.decoding,
                     threshold=args.threshold)


def evaluate_command(args) -> int:
    from .config import DataConfig, flag_names
    from .confidence import format_scores
    from .evaluation import evaluate, format_errors
    from .metrics import format_table
    from .partial_match import format_partial

    check_inference_options(args)
    if args.bootstrap < 0:
        raise UsageError(f"--bootstrap must be 0 (no intervals) or a number of resamples, got {args.bootstrap}")
    with flag_names():  # errors name --scheme, not data.scheme
        report = evaluate(args.model, args.data, split=args.split, mode=args.mode, output=args.output,
                          data_config=from_options(DataConfig, args), device=args.device,
                          batch_size=args.batch_size, revision=args.revision, newlines=args.newlines,
                          decoding=args.decoding, threshold=args.threshold, calibrate=args.calibrate,
                          calibration=args.calibration,
                          tune_thresholds=args.tune_thresholds, min_precision=args.min_precision,
                          predictions=args.predictions, resamples=args.bootstrap, seed=args.seed)
    print(format_table({args.split: report}))
    if "without_thresholds" in report:
        w = report["without_thresholds"]
        print(f"without thresholds: precision {w['precision']:.4f} recall {w['recall']:.4f} f1 {w['f1']:.4f}")
    print(format_partial(report["partial_match"]))
    print(format_scores(report["entity_scores"]))
    print(format_errors(report["errors"]))
    if report["repaired_tags"]:
        print(f"gold tags repaired: {report['repaired_tags']} continuation tags that continued no entity, read as "
              "conlleval reads them (--invalid-tags error refuses them)")
    if "char_spans" in report:
        from .evaluation import format_char_spans

        print(format_char_spans(report["char_spans"]))
    return 0


def serve_command(args) -> int:
    from .serve import Batching, Limits, serve
    from .thresholds import parse

    args.threshold = parse(args.threshold) if args.threshold is not None else None
    return serve(args.model, host=args.host, port=args.port, device=args.device, precision=args.precision,
                 newlines=args.newlines, threshold=args.threshold, **vars(from_options(Limits, args)), **vars(from_options(Batching, args)))


def push_command(args) -> int:
    from .hub import push

    push(args.run, args.model_id, private=args.private, revision=args.revision, merged=args.merged)
    return 0


def export_command(args) -> int:
    from .export import export

    export(args.run, args.output, quantize=args.quantize, check_data=args.check_data, force=args.force,
           opset=args.opset)
    return 0


def from_options(settings: type, args):
    """The settings dataclass from the options `add_options` made for it."""
    import dataclasses

    return settings(**{f.name: getattr(args, f.name) for f in dataclasses.fields(settings) if f.metadata.get("flag")})


def check_inference_options(args) -> None:
    """What would otherwise fail only after the model has loaded."""
    if getattr(args, "threshold", None) is not None:
        from .thresholds import parse

        args.threshold = parse(args.threshold)  # the types it names are checked against the model's
    if args.batch_size is not None and args.batch_size < 1:
        raise UsageError(f"--batch-size must be a positive integer, got {args.batch_size}")
    if args.device == "auto":
        return
    import torch

    try:
        device = torch.device(args.device)
    except (RuntimeError, ValueError):
        raise UsageError(f"--device {args.device!r} is not a device; expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cpu":
        return
    accelerator = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else None
    if accelerator is None or accelerator.type != device.type:
        kind = "CUDA GPU" if device.type == "cuda" else f"{device.type} device"
        raise UsageError(f"--device {args.device}: no {kind} is available")
    if (device.index or 0) >= torch.accelerator.device_count():
        raise UsageError(f"--device {args.device}: there are {torch.accelerator.device_count()} {device.type} devices")
