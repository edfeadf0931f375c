"""A real OpenAI-compatible chat-completions server on 127.0.0.1 that streams its replies slowly
as server-sent events, for the streaming tests of the index and the bot.

Each entry of ``replies`` is a Reply: the content pieces, the pause before each, and whether the
stream ends properly with ``data: [DONE]`` or is cut (the connection closed) after ``cut_after``
pieces. A request without ``"stream": true`` gets the whole content as one ordinary completion."""

from __future__ import annotations

import http.server
import json
import time
from dataclasses import dataclass

from .http import serve_in_thread


@dataclass
class Reply:
    pieces: list[str]
    interval: float = 0.05
    cut_after: int | None = None  # close the connection after this many pieces, without [DONE]

    @classmethod
    def of(cls, text: str, words_per_piece: int = 2, **kwargs) -> Reply:
        words = text.split(" ")
        pieces = [" ".join(words[i : i + words_per_piece]) + " " for i in range(0, len(words), words_per_piece)]
        pieces[-1] = pieces[-1].rstrip()
        return cls(pieces, **kwargs)


class StreamingLLMServer:
    def __init__(self):
        self.replies: list[Reply] = []
        self.requests: list[dict] = []
        self.sent: list[tuple[float, str]] = []  # (monotonic time, piece) as each piece went out
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # the body ends when the connection closes

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                outer.requests.append({"path": self.path, "body": body})
                reply = outer.replies.pop(0) if outer.replies else Reply(["NO ANSWER"])
                try:
                    if body.get("stream"):
                        self._stream(reply)
                    else:
                        self._whole("".join(reply.pieces))
                except OSError:
                    pass  # the client went away

            def _whole(self, content: str):
                data = json.dumps(
                    {
                        "choices": [
                            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
                        ]
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _event(self, payload: str):
                self.wfile.write(f"data: {payload}\n\n".encode())
                self.wfile.flush()

            def _stream(self, reply: Reply):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                self.wfile.write(b": keep-alive\n\n")
                self._event(json.dumps({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}))
                for n, piece in enumerate(reply.pieces):
                    if reply.cut_after is not None and n >= reply.cut_after:
                        return  # cut: the connection closes without a final event
                    time.sleep(reply.interval)
                    self._event(
                        json.dumps({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
                    )
                    outer.sent.append((time.monotonic(), piece))
                self._event(json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
                self._event("[DONE]")

            def log_message(self, *args):
                pass

        self.httpd = serve_in_thread(Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
