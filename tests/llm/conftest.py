"""A scripted model of its own for each test, registered with litellm like any provider, and a
session that talks to it."""

from __future__ import annotations

import pytest

from engine import scripted_model
from sessions import SessionStore

from tests.conftest import long_text


@pytest.fixture
def model(request):
    name = f"scripted/{request.node.name[:40]}"
    scripted_model.reset(name)
    yield name
    scripted_model.reset(name)


@pytest.fixture
def session(model):
    session = SessionStore(":memory:").create_session("loop")
    session.add_message("system", "You manage your own context.")
    session.add_message("user", "The code word is PELICAN.\n" + long_text(20))
    session.configure(model=model)
    return session


class OpenAICompatibleServer:
    """A real HTTP server speaking OpenAI's chat-completions API, streamed (SSE) or whole.

    `replies` is the queue of assistant messages it answers with, in order: dicts with
    `content`, `reasoning_content`, `tool_calls` (`{"name", "arguments"}`) and, for a request
    that asks for them, `logprobs` (`[(token, logprob), ...]`). `requests`
    keeps each request body as received. `url` is the base to give as `api_base`."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.replies: list[dict] = []
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                outer.requests.append(body)
                if not self.path.endswith("/chat/completions") or not outer.replies:
                    self.send_response(404 if outer.replies else 500)
                    self.end_headers()
                    self.wfile.write(b'{"error": {"message": "no reply queued"}}')
                    return
                reply = outer.replies.pop(0)
                calls = [{"index": i, "id": f"call_{len(outer.requests)}_{i}", "type": "function",
                          "function": {"name": c["name"], "arguments": c["arguments"]}}
                         for i, c in enumerate(reply.get("tool_calls", []))]
                finish = "tool_calls" if calls else "stop"
                if not body.get("stream"):
                    message = {"role": "assistant", "content": reply.get("content"), "tool_calls": calls or None}
                    choice = {"index": 0, "message": message, "finish_reason": finish}
                    if body.get("logprobs") and "logprobs" in reply:  # [(token, logprob), ...]
                        choice["logprobs"] = {"content": [{"token": t, "logprob": p, "bytes": None, "top_logprobs": []}
                                                          for t, p in reply["logprobs"]]}
                    self._send("application/json", json.dumps({
                        "id": "x", "object": "chat.completion", "created": 0, "model": body.get("model"),
                        "choices": [choice],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}).encode())
                    return
                pieces = [{"reasoning_content": p} for p in _pieces(reply.get("reasoning_content", ""))]
                pieces += [{"content": p} for p in _pieces(reply.get("content") or "")]
                pieces += [{"tool_calls": [call]} for call in calls]
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                try:
                    for delta in [{"role": "assistant"}, *pieces]:
                        chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": body.get("model"),
                                 "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                        self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                        self.wfile.flush()
                    last = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": body.get("model"),
                            "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
                    self.wfile.write(b"data: " + json.dumps(last).encode() + b"\n\ndata: [DONE]\n\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: a brake or a Stop

            def _send(self, kind: str, data: bytes) -> None:
                self.send_response(200)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _pieces(text: str, size: int = 16) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.fixture
def openai_server(monkeypatch):
    """An OpenAI-compatible server on a free port of 127.0.0.1, for the length of one test."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    server = OpenAICompatibleServer()
    yield server
    server.close()
