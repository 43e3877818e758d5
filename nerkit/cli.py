"""`nerkit` command line: parse arguments, then call a plain function. Heavy imports stay inside the
commands so `nerkit --help` is instant."""

from __future__ import annotations

import argparse
import logging
import sys


def train_command(args) -> int:
    from .config import load_recipe
    from .train import run

    run(load_recipe(args.recipe, args.overrides))
    return 0


def predict_command(args) -> int:
    from .predict import predict_to

    return predict_to(args.model, args.texts, input=args.input, output=args.output, fmt=args.format,
                      text_field=args.text_field, skip_invalid=args.skip_invalid, device=args.device,
                      batch_size=args.batch_size, precision=args.precision)


def evaluate_command(args) -> int:
    from .config import DataConfig
    from .evaluate import evaluate, format_errors
    from .metrics import format_table

    cfg = DataConfig(format=args.data_format, scheme=args.scheme, tag_column=args.tag_column,
                     tokens_field=args.tokens_field, tags_field=args.tags_field, document_field=args.document_field)
    report = evaluate(args.model, args.data, split=args.split, mode=args.mode, output=args.output, data_config=cfg,
                      device=args.device, batch_size=args.batch_size)
    print(format_table({args.split: report}))
    print(format_errors(report["errors"]))
    return 0


def serve_command(args) -> int:
    from .serve import serve

    return serve(args.model, host=args.host, port=args.port, max_texts=args.max_texts, max_chars=args.max_chars,
                 max_body_bytes=args.max_body_bytes, batch_texts=args.batch_texts, max_wait_ms=args.max_wait_ms,
                 batch_size=args.batch_size, device=args.device, precision=args.precision)


def push_command(args) -> int:
    from .hub import push

    push(args.run, args.model_id, private=args.private, revision=args.revision, merged=args.merged)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nerkit", description="Named-entity recognition on the Hugging Face stack.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="fine-tune from a YAML recipe")
    train.add_argument("recipe")
    train.add_argument("overrides", nargs="*", help="dotted overrides: training.learning_rate=3e-5 lora.r=8 lora=null")
    train.set_defaults(func=train_command)

    predict = commands.add_parser("predict", help="tag entities in raw text")
    predict.add_argument("model", help="run directory (full model or LoRA adapter) or Hub id")
    predict.add_argument("texts", nargs="*", help="documents; without them --input or stdin is read")
    predict.add_argument("--input", help="one document per line, or JSON Lines with --text-field")
    predict.add_argument("--text-field", help="JSON Lines input: the field holding the text")
    predict.add_argument("--output", help="write here instead of stdout")
    predict.add_argument("--format", choices=["jsonl", "conll", "html", "pretty"], help="default: pretty on a terminal, else jsonl")
    predict.add_argument("--skip-invalid", action="store_true", help="skip (with a warning) lines that are not valid UTF-8/JSON")
    _inference_options(predict)
    predict.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                         help="auto: bf16 where the hardware supports it natively")
    predict.set_defaults(func=predict_command)

    evaluate = commands.add_parser("evaluate", help="score a model on a labelled file")
    evaluate.add_argument("model")
    evaluate.add_argument("data", help="CoNLL, JSON Lines, JSON or Parquet file")
    evaluate.add_argument("--split", default="test", help="name used in the report")
    evaluate.add_argument("--output", help="report JSON (a confusion-matrix PNG is written beside it)")
    evaluate.add_argument("--mode", default="default", choices=["default", "strict"])
    evaluate.add_argument("--data-format", default="auto", choices=["auto", "conll", "jsonl", "json", "parquet"])
    evaluate.add_argument("--scheme", default="auto", choices=["auto", "iob1", "iob2", "bioes", "bilou", "io"])
    evaluate.add_argument("--tag-column", type=int, default=-1)
    evaluate.add_argument("--tokens-field", default="tokens")
    evaluate.add_argument("--tags-field", default="tags")
    evaluate.add_argument("--document-field", help="JSON-like files: field holding a document id (document context)")
    _inference_options(evaluate)
    evaluate.set_defaults(func=evaluate_command)

    push = commands.add_parser("push", help="push a finished run to the Hugging Face Hub")
    push.add_argument("run")
    push.add_argument("--model-id", required=True)
    push.add_argument("--private", action="store_true")
    push.add_argument("--revision", help="branch to push to")
    push.add_argument("--merged", action="store_true", help="push the merged model of a LoRA run")
    push.set_defaults(func=push_command)

    serve = commands.add_parser("serve", help="an HTTP API with dynamic batching and a page that highlights entities")
    serve.add_argument("model", help="run directory (full model or LoRA adapter) or Hub id")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--max-texts", type=int, default=32, help="texts per request")
    serve.add_argument("--max-chars", type=int, default=10_000, help="characters per text")
    serve.add_argument("--max-body-bytes", type=int, help="request body size (default: room for the two limits above)")
    serve.add_argument("--batch-texts", type=int, default=64, help="texts of concurrent requests tagged in one call")
    serve.add_argument("--max-wait-ms", type=float, default=5.0, help="how long a call waits for more requests")
    serve.add_argument("--batch-size", type=int, default=8,
                       help="sentences per forward pass (small length-sorted passes pad least on a CPU)")
    serve.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto")
    serve.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    serve.set_defaults(func=serve_command)
    return parser


def _inference_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto")


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    try:
        return args.func(args)
    except Exception as err:
        if not (type(err).__module__.startswith("nerkit.") or isinstance(err, FileNotFoundError)):
            raise
        print(f"nerkit {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
