"""moto's DynamoDB-protocol server for the tests, with requests handled one at a time.

Why not plain `moto_server`: it serves requests on threads, and when a TransactWriteItems call is
cancelled moto rolls back by restoring the tables as they were when that call began, wiping out
writes that other threads made meanwhile (200 concurrent transactions, half cancelled by their
condition: the successful half's counter increments came out 173, not 200). DynamoDB's
transactions are serializable; serializing the requests gives the tests that same guarantee.
Connections are still accepted on threads, so a slow client never blocks the others.

Usage: python infra/scripts/moto_server.py [-H 127.0.0.1] [-p 5000]
"""

import argparse
import threading

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


class OneRequestAtATime:
    """A WSGI wrapper that lets one request at a time into moto."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            body = self.app(environ, start_response)
            try:
                return [b"".join(body)]
            finally:
                if hasattr(body, "close"):
                    body.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    app = OneRequestAtATime(DomainDispatcherApplication(create_backend_app))
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
