# A webhook receiver that verifies every delivery with the Standard Webhooks library
# (pip install standardwebhooks; without it, with the same check in the standard library).
# Usage: python3 webhook_receiver.py PORT SECRET_FILE LOG_FILE [FAIL_FIRST]
#   SECRET_FILE holds the endpoint's whsec_… secret (read at each request);
#   each request is logged to LOG_FILE as one JSON line;
#   FAIL_FIRST: answer 500 to the first N attempts of each webhook-id (to exercise retries).
import base64, hashlib, hmac, json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

try:
    import standardwebhooks
except ImportError:
    standardwebhooks = None

def verify(secret, body, headers):
    """The event, if one of `webhook-signature`'s signatures is ours (Standard Webhooks 1.0)."""
    if standardwebhooks:
        return standardwebhooks.Webhook(secret).verify(body, headers)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.{body}".encode()
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    if not any(hmac.compare_digest(s.split(",", 1)[-1], expected) for s in headers["webhook-signature"].split()):
        raise ValueError("no matching signature")
    return json.loads(body)

port, secret_file, log_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
fail_first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
attempts = {}

class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
        msg_id = self.headers.get("webhook-id", "")
        attempts[msg_id] = attempts.get(msg_id, 0) + 1
        try:
            secret = open(secret_file).read().strip()
            event = verify(secret, body, {k.lower(): v for k, v in self.headers.items()})
            verified = True
        except Exception as e:
            event, verified = {"error": str(e)}, False
        status = 500 if attempts[msg_id] <= fail_first else (200 if verified else 400)
        with open(log_file, "a") as log:
            log.write(json.dumps({"id": msg_id, "attempt": attempts[msg_id], "status": status,
                                  "verified": verified, "verifiedWith": "standardwebhooks" if standardwebhooks else "hmac",
                                  "event": event}) + "\n")
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", port), Receiver).serve_forever()
