"""Open a page in headless Chromium through the DevTools protocol (loopback websocket, tornado's client).

Collects console errors, uncaught exceptions and every network request, evaluates a script in the page and saves a
screenshot. Only ``file:`` and ``data:`` URLs count as local; anything else is a network request.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tornado.ioloop import IOLoop
from tornado.websocket import websocket_connect

from cohortode.report._pdf import chromium_process, find_chromium

LOCAL_SCHEMES = ("file:", "data:", "about:")


@dataclass
class PageVisit:
    console_errors: list[str] = field(default_factory=list)
    network: list[str] = field(default_factory=list)
    result: object = None
    screenshot: Path | None = None


async def _visit(ws_url: str, url: str, script: str, screenshot: Path, timeout: float) -> PageVisit:
    conn = await websocket_connect(ws_url, max_message_size=256 * 1024 * 1024)
    visit = PageVisit()
    counter = iter(range(1, 10**6))

    async def call(method: str, params: dict | None = None, session: str | None = None) -> dict:
        msg_id = next(counter)
        msg = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        await conn.write_message(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            raw = await conn.read_message()
            if raw is None:
                raise RuntimeError("DevTools connection closed")
            reply = json.loads(raw)
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            _event(reply)
        raise TimeoutError(method)

    loaded = {"done": False}

    def _event(ev: dict) -> None:
        method, p = ev.get("method"), ev.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            visit.console_errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
        elif method == "Runtime.exceptionThrown":
            visit.console_errors.append(p["exceptionDetails"].get("text", "exception"))
        elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
            visit.console_errors.append(p["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            req_url = p["request"]["url"]
            if not req_url.startswith(LOCAL_SCHEMES):
                visit.network.append(req_url)
        elif method == "Page.loadEventFired":
            loaded["done"] = True

    target = await call("Target.createTarget", {"url": "about:blank"})
    session = (await call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}))["sessionId"]
    for domain in ("Runtime", "Log", "Network", "Page"):
        await call(f"{domain}.enable", session=session)
    await call("Emulation.setDeviceMetricsOverride",
               {"width": 1100, "height": 1400, "deviceScaleFactor": 1, "mobile": False}, session=session)
    await call("Page.navigate", {"url": url}, session=session)
    deadline = time.monotonic() + timeout
    while not loaded["done"] and time.monotonic() < deadline:
        raw = await conn.read_message()
        if raw is None:
            break
        _event(json.loads(raw))
    value = await call("Runtime.evaluate", {"expression": script, "returnByValue": True, "awaitPromise": True},
                       session=session)
    visit.result = value.get("result", {}).get("value")
    shot = await call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=session)
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    visit.screenshot = screenshot
    try:
        await call("Browser.close")
    except Exception:  # noqa: BLE001 - the browser may close the socket before it answers
        pass
    conn.close()
    return visit


def open_page(path: Path, script: str, screenshot: Path, timeout: float = 90) -> PageVisit:
    """Load ``path`` in a fresh headless Chromium, run ``script`` (a JS expression) and save a screenshot."""
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError("chromium")
    args = ["--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank"]
    with chromium_process(exe, args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
        ws_url = None
        deadline = time.monotonic() + timeout
        while ws_url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {proc.returncode}")
            m = re.search(r"DevTools listening on (ws://127\.0\.0\.1:\d+/\S+)", line)
            if m:
                ws_url = m.group(1)
        if ws_url is None:
            raise TimeoutError("chromium did not open its DevTools port")
        return IOLoop.current().run_sync(
            lambda: _visit(ws_url, Path(path).resolve().as_uri(), script, screenshot, timeout), timeout=timeout)
