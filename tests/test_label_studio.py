"""`nerkit serve`'s Label Studio ML backend (/label-studio): the label_config parser on Label Studio's own
templates, the routes with requests shaped as Label Studio's api_connector.py sends them, and the round
trip: a prediction, exported by Label Studio, read back by nerkit's reader gives the same spans."""

import json
import logging
import re

import pytest

pytest.importorskip("fastapi", reason="nerkit serve needs FastAPI: pip install 'nerkit[serve]'")
httpx = pytest.importorskip("httpx")

from nerkit.formats.spans import SpanStats, span_documents  # noqa: E402
from nerkit.inference.tagger import Tagger  # noqa: E402
from nerkit.metadata import RunMetadata  # noqa: E402
from nerkit.serve.app import Limits, create_app  # noqa: E402
from nerkit.serve.label_studio import LabelConfigError, Target, label_map, parse_label_config  # noqa: E402

from conftest import ROOT  # noqa: E402
from test_serve import Server  # noqa: E402

CONFIGS = ROOT / "tests" / "data" / "label-studio-configs"  # *-template.xml: Label Studio's own templates


def config(name: str) -> str:
    return (CONFIGS / name).read_text(encoding="utf-8")


NER_TEMPLATE = config("ner-template.xml")
RELATION_TEMPLATE = config("relation-extraction-template.xml")
TWO_BLOCKS = config("two-labels-blocks.xml")
TWO_TEXTS = config("two-texts.xml")
CLASSIFICATION_TEMPLATE = config("text-classification-template.xml")


def test_label_config_parser_reads_the_ner_template():
    assert parse_label_config(NER_TEMPLATE) == (Target("text", "ner", {v: "label" for v in ("PER", "ORG", "LOC", "MISC")}),)


def test_label_config_parser_reads_labels_next_to_relations():
    (target,) = parse_label_config(RELATION_TEMPLATE)
    assert target.key == "text" and list(target.labels) == ["Organization", "Person", "Datetime"]


def test_label_config_parser_joins_two_labels_blocks_over_one_text():
    (target,) = parse_label_config(TWO_BLOCKS)
    assert target == Target("body", "text", {"per": "people", "LOC": "places", "Country": "places"})
    # by name, then ignoring case; a model label the project lacks (MISC) is not mapped
    assert label_map(target, ["LOC", "MISC", "PER"]) == {"LOC": ("places", "LOC"), "PER": ("people", "per")}


def test_label_config_parser_keeps_each_text_with_its_own_labels():
    title, body = parse_label_config(TWO_TEXTS)
    assert (title.name, title.key, list(title.labels)) == ("title", "headline", ["PER", "LOC"])
    assert (body.name, body.key, list(body.labels)) == ("body", "text", ["ORG"])


@pytest.mark.parametrize("config, message", [
    (CLASSIFICATION_TEMPLATE, "no <Labels> over a <Text>"),
    ("<View></View>", "no <Labels> over a <Text>"),
    ('<View><Labels name="l" toName="img"><Label value="A"/></Labels><Image name="img" value="$image"/></View>',
     "no <Labels> over a <Text>"),
    ("<View><Labels>", "not valid XML"),
    ('<View><Labels name="l" toName="t"><Label value="A"/></Labels><Text name="t" value="plain"/></View>',
     'reads no task field (value="plain"'),
])
def test_label_config_parser_says_what_is_missing(config, message):
    with pytest.raises(LabelConfigError, match=re.escape(message)):
        parse_label_config(config)


class NamesTagger:
    """Tags fixed names wherever they occur (any script, so offsets can be checked exactly)."""

    NAMES = {"Zoë Müller": "PER", "Anna": "PER", "Paris": "LOC", "Acme": "ORG", "Kyōto": "LOC", "Monday": "DATE"}
    labels = ["O"] + [f"{p}-{t}" for t in ("DATE", "LOC", "ORG", "PER") for p in "BI"]
    metadata = RunMetadata(labels, base_model="fake", max_length=128, context="sentence")
    device = "cpu"

    def __init__(self):
        self.calls = []

    def predict(self, texts):
        self.calls.append(list(texts))
        return [{"text": text, "entities": sorted(
            ({"label": label, "start": m.start(), "end": m.end(), "text": m.group(), "score": 0.75}
             for name, label in self.NAMES.items() for m in re.finditer(re.escape(name), text)),
            key=lambda e: e["start"])} for text in texts]


# Zoë with a combining diaeresis (e + U+0308), an emoji before it: characters, UTF-16 units and bytes differ
TEXTS = ["Anna met Zoe\u0308 Mu\u0308ller in Paris on Monday.", "😀 Anna 👩‍👩‍👧 left Kyōto for Paris.", "", "Acme."]
TEXTS[0] = TEXTS[0].replace("Zoe\u0308 Mu\u0308ller", "Zoë Müller")  # one of the names as composed characters
TEXTS.append("Zoe\u0308 and Zoë Müller.")  # decomposed (not tagged) and composed (tagged)


def label_studio_tasks(texts, key="ner"):
    """Tasks as Label Studio's TaskSimpleSerializer sends them to /predict."""
    return [{"id": 100 + i, "data": {key: text}, "meta": {}, "created_at": "2026-12-02T10:00:00.000000Z",
             "updated_at": "2026-12-02T10:00:00.000000Z", "is_labeled": False, "overlap": 1, "inner_id": i + 1,
             "total_annotations": 0, "cancelled_annotations": 0, "total_predictions": 0, "comment_count": 0,
             "unresolved_comment_count": 0, "last_comment_updated_at": None, "project": 7, "updated_by": None,
             "file_upload": 3, "comment_authors": [], "annotations": [], "predictions": []}
            for i, text in enumerate(texts)]


def predict_request(tasks, config=NER_TEMPLATE):
    """What api_connector.MLApi.make_predictions posts."""
    return {"tasks": tasks, "model_version": None, "project": "7.1764669600", "label_config": config,
            "params": {"login": None, "password": None, "context": None}}


@pytest.fixture(scope="module")
def names_tagger():
    return NamesTagger()


@pytest.fixture(scope="module")
def served(names_tagger):
    with Server(create_app(names_tagger, None, Limits(max_texts=2, max_chars=200, max_tasks=20),
                           batch_texts=64, max_wait_ms=20)) as server:
        yield server


def post(url, payload):
    return httpx.post(url, json=payload, timeout=120)


def test_health_and_setup_answer_as_label_studio_expects(served):
    """Label Studio connects with GET health and POST setup at URL + '/' + route (urljoin)."""
    health = httpx.get(f"{served.url}/label-studio/health", timeout=60)
    assert health.status_code == 200 and health.json()["status"] == "UP" and health.json()["model_class"]
    setup = post(f"{served.url}/label-studio/setup", {"project": "7.1764669600", "schema": NER_TEMPLATE,
                                                      "hostname": "http://localhost:8080", "access_token": "t",
                                                      "model_version": None})
    assert setup.status_code == 200 and setup.json() == {"model_version": "nerkit"}


def test_setup_refuses_a_project_without_labels_over_text_by_name(served):
    setup = post(f"{served.url}/label-studio/setup", {"project": "7.1", "schema": CLASSIFICATION_TEMPLATE})
    assert setup.status_code == 400 and "no <Labels> over a <Text>" in setup.json()["error"]


def test_predict_answers_one_prediction_per_task_in_order_at_character_offsets(served, names_tagger):
    response = post(f"{served.url}/label-studio/predict", predict_request(label_studio_tasks(TEXTS)))
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == len(TEXTS)
    for text, prediction, expected in zip(TEXTS, results, names_tagger.predict(TEXTS)):
        assert prediction["model_version"] == "nerkit"
        regions = prediction["result"]
        assert all(r["from_name"] == "label" and r["to_name"] == "text" and r["type"] == "labels" for r in regions)
        assert all(text[r["value"]["start"]:r["value"]["end"]] == r["value"]["text"] for r in regions)
        wanted = [(e["start"], e["end"], e["label"]) for e in expected["entities"] if e["label"] != "DATE"]
        assert [(r["value"]["start"], r["value"]["end"], r["value"]["labels"][0]) for r in regions] == wanted
        assert len({r["id"] for r in regions}) == len(regions)
        assert prediction.get("score") == (0.75 if regions else None)
    paris = results[1]["result"][-1]["value"]
    assert (paris["start"], paris["text"]) == (TEXTS[1].index("Paris"), "Paris")  # not UTF-16 units (emoji: 2 each)


def test_entities_of_labels_the_project_lacks_are_left_out_and_counted(served, caplog):
    with caplog.at_level(logging.INFO, logger="nerkit.serve.label_studio"):
        response = post(f"{served.url}/label-studio/predict", predict_request(label_studio_tasks(TEXTS[:1])))
    assert "DATE" not in json.dumps(response.json())
    assert "left out 1 entities" in caplog.text and "'DATE': 1" in caplog.text


def test_two_labels_blocks_and_two_texts_get_their_own_from_and_to_names(served):
    tasks = label_studio_tasks(["Anna left Paris."], key="text")
    two_blocks = post(f"{served.url}/label-studio/predict", predict_request(tasks, TWO_BLOCKS)).json()["results"][0]
    assert [(r["from_name"], r["to_name"], r["value"]["labels"]) for r in two_blocks["result"]] == \
        [("people", "body", ["per"]), ("places", "body", ["LOC"])]
    tasks = [{"id": 1, "data": {"headline": "Acme in Paris", "text": "Anna left Acme."}}]
    two_texts = post(f"{served.url}/label-studio/predict", predict_request(tasks, TWO_TEXTS)).json()["results"][0]
    assert [(r["from_name"], r["to_name"], r["value"]["text"], r["value"]["labels"][0]) for r in two_texts["result"]] \
        == [("title_ner", "title", "Paris", "LOC"), ("body_ner", "body", "Acme", "ORG")]


def test_a_page_of_tasks_over_the_text_limit_is_split_not_refused(served, names_tagger):
    names_tagger.calls.clear()
    texts = [f"Anna {i} in Paris." for i in range(15)]
    response = post(f"{served.url}/label-studio/predict", predict_request(label_studio_tasks(texts)))
    assert response.status_code == 200 and len(response.json()["results"]) == 15
    assert [r["result"][0]["value"]["text"] for r in response.json()["results"]] == ["Anna"] * 15
    assert sorted(t for call in names_tagger.calls for t in call) == sorted(texts)  # each text tagged once


@pytest.mark.parametrize("payload, status, message", [
    ({"tasks": []}, 400, "missing label_config"),
    ({"tasks": [], "label_config": CLASSIFICATION_TEMPLATE}, 400, "no <Labels> over a <Text>"),
    ({"tasks": "x", "label_config": NER_TEMPLATE}, 422, '"tasks" must be an array'),
    ({"tasks": [{"id": 5, "data": {"text": "Anna"}}], "label_config": NER_TEMPLATE}, 422,
     "tasks[0] (id 5): data has no field 'ner' (<Text name=\"text\" value=\"$ner\">); its fields: text"),
    ({"tasks": [{"id": 5, "data": {"ner": "/data/upload/1.txt"}, "x": 1}, {"data": {"ner": 3}}],
      "label_config": NER_TEMPLATE}, 422, "tasks[1]: data.ner must be a string, got a number"),
    ({"tasks": [{"data": {"ner": "x" * 201}}], "label_config": NER_TEMPLATE}, 413, "the limit is 200 (--max-chars)"),
    ({"tasks": [{"data": {"ner": "x"}}] * 21, "label_config": NER_TEMPLATE}, 413, "21 tasks in one request"),
])
def test_bad_predict_requests_get_a_4xx_that_says_why(served, payload, status, message):
    response = post(f"{served.url}/label-studio/predict", payload)
    assert response.status_code == status and message in response.json()["error"]


def test_webhook_answers_training_events_with_how_to_retrain(served):
    started = post(f"{served.url}/label-studio/webhook", {"action": "START_TRAINING", "project": {"id": 7}})
    assert started.status_code == 201 and "nerkit train" in started.json()["result"]["message"]
    assert post(f"{served.url}/label-studio/train", {"annotations": [], "project": "7.1"}).status_code == 201
    other = post(f"{served.url}/label-studio/webhook", {"action": "PROJECT_UPDATED", "project": {"id": 7}})
    assert other.status_code == 200 and other.json() == {"status": "Unknown event"}


def test_a_prediction_exported_by_label_studio_reads_back_to_the_same_spans(served):
    """serve's result -> a Label Studio export (the prediction accepted as the annotation) -> nerkit's reader."""
    results = post(f"{served.url}/label-studio/predict", predict_request(label_studio_tasks(TEXTS))).json()["results"]
    export = [{"id": 100 + i, "data": {"ner": text}, "annotations": [{"id": i, "result": p["result"],
                                                                      "was_cancelled": False}]}
              for i, (text, p) in enumerate(zip(TEXTS, results))]
    stats = SpanStats()
    documents = span_documents(((f"export.json:{i}", t) for i, t in enumerate(export)), "label-studio",
                               text_field="ner", stats=stats)
    assert stats.utf16_offsets == 0  # read as characters, as written
    assert [d.spans for d in documents] == [
        [(r["value"]["start"], r["value"]["end"], r["value"]["labels"][0]) for r in p["result"]] for p in results]


def test_predict_with_a_real_model_matches_tagger_predict(trained_run):
    tagger = Tagger.load(str(trained_run), precision="fp32", batch_size=8)
    texts = ["Anna Smith visited Paris.", "😀 John met Zoë Müller in Berlin on Monday.", ""]
    with Server(create_app(tagger, str(trained_run), Limits(max_texts=2))) as server:
        config = NER_TEMPLATE.replace("$ner", "$text")
        response = post(f"{server.url}/label-studio/predict", predict_request(label_studio_tasks(texts, "text"), config))
        version = post(f"{server.url}/label-studio/setup", {"project": "1.1", "schema": config}).json()["model_version"]
    expected = tagger.predict(texts)
    got = response.json()["results"]
    assert [[(r["value"]["start"], r["value"]["end"], r["value"]["labels"][0], r["score"]) for r in p["result"]]
            for p in got] == [[(e["start"], e["end"], e["label"], e["score"]) for e in x["entities"]] for x in expected]
    assert re.fullmatch(re.escape(trained_run.name) + r"-[0-9a-f]{8}", version) and got[0]["model_version"] == version
