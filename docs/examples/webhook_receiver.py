# A webhook receiver that verifies every delivery with the Standard Webhooks library
# (pip install standardwebhooks) and de-duplicates by webhook-id, as receivers should.
# Usage: python3 webhook_receiver.py PORT SECRET_FILE LOG_FILE [FAIL_FIRST]
#   SECRET_FILE holds the endpoint's whsec_… secret (read at each request);
#   each request is logged to LOG_FILE as one JSON line;
#   FAIL_FIRST: answer 500 to the first N attempts of each webhook-id (to exercise retries).
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

import standardwebhooks

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
            event = standardwebhooks.Webhook(secret).verify(body, dict(self.headers))
            verified = True
        except Exception as e:
            event, verified = {"error": str(e)}, False
        status = 500 if attempts[msg_id] <= fail_first else (200 if verified else 400)
        with open(log_file, "a") as log:
            log.write(json.dumps({"id": msg_id, "attempt": attempts[msg_id], "status": status,
                                  "verified": verified, "event": event}) + "\n")
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", port), Receiver).serve_forever()
