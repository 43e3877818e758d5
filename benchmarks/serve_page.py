"""A screenshot of `nerkit serve`'s page with a news paragraph tagged, for docs/serve-page.png.

    python benchmarks/serve_page.py /work/models/minilm-400 docs/serve-page.png

Serves the model on a free loopback port and opens `/?text=...` in headless Chromium (Debian's
`chromium` package), which tags the text on load.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import quote

TEXT = ("George Washington went to Washington. Angela Merkel met Emmanuel Macron in Paris on Monday, "
        "and the European Union said Siemens would build a plant near Berlin. "
        "The Los Angeles Lakers beat Real Madrid in an exhibition game.")


def main(model: str, png: str) -> int:
    import uvicorn

    import nerkit
    from nerkit.serve import bind
    from nerkit.serve.app import create_app

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("no chromium on this machine (Debian: apt-get install chromium)")
    listener = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(nerkit.load(model, batch_size=8), model), log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/?text={quote(TEXT)}"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", "--hide-scrollbars", "--window-size=900,520",
                        "--virtual-time-budget=30000", f"--screenshot={png}", url], check=True, timeout=300,
                       capture_output=True)
    server.should_exit = True
    print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
