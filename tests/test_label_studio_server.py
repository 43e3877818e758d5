"""A real Label Studio connected to `nerkit serve` (opt-in: `pytest -m labelstudio`).

It starts `label-studio` on a free port with SQLite in a temporary folder and a user token, creates an
NER project through the REST API, imports tasks, connects nerkit's /label-studio as the ML backend,
asks Label Studio for predictions on every task (the Data Manager's action) and checks that the stored
predictions carry nerkit's entities at the right offsets, an emoji and a combining accent included.

Label Studio is a large Django application: install it in a virtual environment of its own, not in
nerkit's, and point the test at its executable:

    python -m venv /work/venv-ls && /work/venv-ls/bin/pip install label-studio==1.23.2
    NERKIT_LABEL_STUDIO=/work/venv-ls/bin/label-studio python -m pytest -m labelstudio tests/test_label_studio_server.py
"""

import os
import shutil
import subprocess
import time

import pytest

pytest.importorskip("fastapi", reason="nerkit serve needs FastAPI: pip install 'nerkit[serve]'")
httpx = pytest.importorskip("httpx")

from nerkit.serve import bind  # noqa: E402
from nerkit.serve.app import Limits, create_app  # noqa: E402

from test_label_studio import NamesTagger  # noqa: E402
from test_serve import Server  # noqa: E402

pytestmark = pytest.mark.labelstudio
EXECUTABLE = os.environ.get("NERKIT_LABEL_STUDIO") or shutil.which("label-studio")
TOKEN = "nerkit-test-token-0123456789abcdef"
CONFIG = """<View>
  <Labels name="label" toName="text">
    <Label value="PER"/><Label value="ORG"/><Label value="LOC"/><Label value="MISC"/>
  </Labels>
  <Text name="text" value="$text"/>
</View>"""
TEXTS = ["Anna met Zoe\u0308 Mu\u0308ller and Zoë Müller in Paris.", "😀 Anna 👩‍👩‍👧 left Kyōto for Paris.",
         "No names here.", "Acme opened in Kyōto on Monday."]


@pytest.fixture(autouse=True)
def only_when_asked(request):
    if "labelstudio" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("opt-in: starts a real Label Studio (pytest -m labelstudio)")
    if EXECUTABLE is None or not os.path.exists(EXECUTABLE):
        pytest.skip("no `label-studio` executable: install label-studio in its own venv and set NERKIT_LABEL_STUDIO "
                    "to its bin/label-studio (see this file's docstring)")


@pytest.fixture
def label_studio(tmp_path):
    """A Label Studio on a free loopback port: (its URL, the headers of its API)."""
    port = bind("127.0.0.1", 0)
    number = port.getsockname()[1]
    port.close()
    env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(tmp_path / "ls"), "DJANGO_DB": "sqlite",
           "ML_BLOCK_LOCAL_IP": "false",  # nerkit serves on 127.0.0.1: a reserved address Label Studio blocks
           "SSRF_PROTECTION_ENABLED": "false",  # ... also in the webhook (URL/webhook) it adds for every ML backend
           "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",  # `Authorization: Token ...` for a new organisation
           "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true", "LATEST_VERSION_CHECK": "false"}
    log = open(tmp_path / "label-studio.log", "wb")
    process = subprocess.Popen([EXECUTABLE, "start", "--no-browser", "--internal-host", "127.0.0.1", "--port",
                                str(number), "--data-dir", str(tmp_path / "ls"), "--username", "nerkit@example.com",
                                "--password", "nerkit-password-1", "--user-token", TOKEN],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{number}"
    try:
        deadline = time.monotonic() + 600  # the first start migrates a new SQLite database
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=10).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "label-studio.log").read_text(errors="replace")[-3000:]
            time.sleep(2)
        yield url, {"Authorization": f"Token {TOKEN}"}
    finally:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_label_studio_stores_nerkits_predictions_at_character_offsets(label_studio):
    url, headers = label_studio
    api = httpx.Client(base_url=url, headers=headers, timeout=300)
    tagger = NamesTagger()
    with Server(create_app(tagger, None, Limits(max_texts=2))) as nerkit:
        project = api.post("/api/projects", json={"title": "nerkit", "label_config": CONFIG})
        assert project.status_code == 201, project.text
        project_id = project.json()["id"]
        imported = api.post(f"/api/projects/{project_id}/import", json=[{"text": t} for t in TEXTS])
        assert imported.status_code == 201, imported.text
        connected = api.post("/api/ml", json={"url": f"{nerkit.url}/label-studio", "project": project_id,
                                              "title": "nerkit"})
        assert connected.status_code == 201, connected.text
        action = api.post(f"/api/dm/actions?id=retrieve_tasks_predictions&project={project_id}",
                          json={"selectedItems": {"all": True, "excluded": []}})
        assert action.status_code == 200, action.text
        listed = api.get("/api/tasks", params={"project": project_id, "page_size": 100}).json()
        tasks = listed["tasks"] if isinstance(listed, dict) else listed
    assert sorted(t["data"]["text"] for t in tasks) == sorted(TEXTS)
    for task in tasks:
        text = task["data"]["text"]
        stored = api.get("/api/predictions", params={"task": task["id"]}).json()
        assert len(stored) == 1, stored
        regions = [r for r in stored[0]["result"] if r["type"] == "labels"]
        wanted = [(e["start"], e["end"], e["label"]) for e in tagger.predict([text])[0]["entities"]
                  if e["label"] != "DATE"]  # the project has no DATE label
        assert [(r["value"]["start"], r["value"]["end"], r["value"]["labels"][0]) for r in regions] == wanted
        assert all(text[r["value"]["start"]:r["value"]["end"]] == r["value"]["text"] for r in regions)
        assert stored[0]["model_version"] == "nerkit"
