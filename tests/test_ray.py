"""Ray Data in local mode (2 CPUs, one Ray for the module): records equal `Tagger.predict`'s, columns kept,
nulls and invalid cells, a model by Hub id from the workers' offline cache."""

import pytest

pytest.importorskip("ray.data", reason="Ray Data is an optional extra: pip install 'nerkit[ray]'")

import pyarrow as pa  # noqa: E402
import ray  # noqa: E402

import nerkit  # noqa: E402
import nerkit.integrations.ray as nr  # noqa: E402
from nerkit.errors import TaggingError  # noqa: E402


@pytest.fixture(scope="module")
def local_ray(hub_home):
    with pytest.MonkeyPatch.context() as env:  # what the workers inherit: the Hub cache, no network
        env.setenv("HF_HOME", str(hub_home))
        env.setenv("HF_HUB_OFFLINE", "1")
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
        ray.data.DataContext.get_current().enable_progress_bars = False
        yield
        ray.shutdown()


@pytest.fixture(scope="module")
def expected(trained_run, short_texts):
    return [r["entities"] for r in nerkit.load(str(trained_run), precision="fp32").predict(short_texts)]


def blocks(table: pa.Table, n: int = 4):
    """A dataset of n blocks, so that two actors both get work."""
    size = -(-table.num_rows // n)
    return ray.data.from_arrow([table.slice(i, size) for i in range(0, table.num_rows, size)])


def by_id(dataset) -> list[dict]:
    return sorted(dataset.take_all(), key=lambda row: row["id"])


def test_two_actors_give_tagger_predict_records_and_keep_every_column(local_ray, trained_run, short_texts, expected):
    n = len(short_texts)
    table = pa.table({"id": list(range(n + 1)), "text": [*short_texts, None],
                      "meta": [{"source": f"s{i % 3}", "tags": ["a"] * (i % 2)} for i in range(n + 1)],
                      "weight": [i / 7 for i in range(n + 1)]})
    tagged = nr.tag(blocks(table), str(trained_run), concurrency=2, batch_size=64, precision="fp32")
    rows = by_id(tagged)
    assert [{k: row[k] for k in table.column_names} for row in rows] == table.to_pylist()
    assert [row["entities"] for row in rows] == [*expected, []]  # the null text: no entities, no error
    assert [row["error"] for row in rows] == [None] * (n + 1)
    assert sum(map(len, expected)) > 100  # the tiny model finds entities, so the comparison means something


def test_a_hub_id_from_the_workers_cache_and_invalid_cells_as_errors(local_ray, short_texts, expected):
    cells = [t.encode() for t in short_texts[:40]] + [b"\xffnot utf-8", None]
    table = pa.table({"id": list(range(len(cells))), "body": pa.array(cells, pa.binary())})
    rows = by_id(nr.tag(ray.data.from_arrow(table), "me/ner", text_column="body", concurrency=1,
                        entities_column="found", error_column="problem", precision="fp32"))
    assert [row["found"] for row in rows] == [*expected[:40], None, []]
    assert [row["problem"] for row in rows] == [None] * 40 + [
        "column 'body': not valid UTF-8 (invalid start byte at byte 0)", None]
    assert rows[40]["body"] == b"\xffnot utf-8"


def test_an_unknown_tagger_option_fails_before_any_actor_starts(trained_run):
    with pytest.raises(TaggingError, match=r"^unknown Tagger option\(s\) colour"):
        nr.tag(ray.data.from_items([{"text": "a"}]), str(trained_run), colour="red")
