"""A webhook receiver that verifies signatures with PyPI's `standardwebhooks` (the Standard
Webhooks project's own library), independently of the server's code. Run with the venv that
scripts/setup.sh's `setup_standardwebhooks` makes (tests/alerts/verified.rs starts it).

    serve DIR    listens on 127.0.0.1 (a free port, written to DIR/port); for every request reads
                 the secrets in DIR/secrets (one per line), verifies the request with each, appends
                 {path, headers, body_b64, results} to DIR/hits.jsonl (results: one per secret,
                 "ok" or the verification error), and answers 204 when every secret verifies,
                 else 400 with the errors.
    check SECRET HITS INDEX
                 verifies recorded request INDEX of HITS again, as received and tampered with (a
                 changed body byte, an appended byte, another webhook-id, the timestamp a second later, a stale timestamp), and
                 prints {"as_received", "tampered": {...}} with "ok" or the error of each.
"""

import base64
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks import Webhook


def verify(secret, body, headers):
    try:
        Webhook(secret).verify(body, headers)
        return "ok"
    except Exception as e:  # the library's WebhookVerificationError, or a bad secret
        return f"{type(e).__name__}: {e}"


def serve(directory):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with open(os.path.join(directory, "secrets")) as f:
                secrets = [line.strip() for line in f if line.strip()]
            results = [verify(s, body, headers) for s in secrets]
            record = {
                "path": self.path,
                "headers": headers,
                "body_b64": base64.b64encode(body).decode(),
                "results": results,
            }
            with open(os.path.join(directory, "hits.jsonl"), "a") as f:
                f.write(json.dumps(record) + "\n")
            if secrets and all(r == "ok" for r in results):
                self.send_response(204)
                self.end_headers()
            else:
                answer = json.dumps(results).encode()
                self.send_response(400)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    port_file = os.path.join(directory, "port")
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()


def check(secret, hits, index):
    with open(hits) as f:
        record = [json.loads(line) for line in f][int(index)]
    body = base64.b64decode(record["body_b64"])
    headers = record["headers"]
    flipped = bytearray(body)
    flipped[len(flipped) // 2] ^= 0x01
    moved = dict(headers, **{"webhook-timestamp": str(int(headers["webhook-timestamp"]) + 1)})
    stale = dict(headers, **{"webhook-timestamp": str(int(headers["webhook-timestamp"]) - 3600)})
    print(
        json.dumps(
            {
                "as_received": verify(secret, body, headers),
                "tampered": {
                    "body_byte_changed": verify(secret, bytes(flipped), headers),
                    "body_byte_appended": verify(secret, body + b" ", headers),
                    "other_webhook_id": verify(secret, body, dict(headers, **{"webhook-id": "msg_other"})),
                    "timestamp_changed": verify(secret, body, moved),
                    "stale_timestamp": verify(secret, body, stale),
                },
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"] and len(sys.argv) == 3:
        serve(sys.argv[2])
    elif sys.argv[1:2] == ["check"] and len(sys.argv) == 5:
        check(*sys.argv[2:])
    else:
        sys.exit(__doc__)
