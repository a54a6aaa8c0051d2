"""What the Python harnesses that drive `make run`'s program share (tools/clients/story.py and
functions/console/browser-tests/test_console.py): waiting for the stream to catch up, and a local
webhook endpoint."""

import http.server
import json
import threading
import time


def eventually(what, check, seconds=15):
    """check()'s first truthy value; the stream processor and webhook delivery are asynchronous."""
    deadline = time.time() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


class WebhookReceiver:
    """A webhook endpoint on a free local port: answers 200 and keeps each delivery's webhook-id and
    parsed body, in arrival order."""

    def __init__(self):
        self.ids, self.events = [], []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.ids.append(self.headers.get("webhook-id"))
                receiver.events.append(json.loads(body) if body else None)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
