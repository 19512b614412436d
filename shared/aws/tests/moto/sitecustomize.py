"""Loaded by the moto server the AWS adapter tests start (they put this folder on its
PYTHONPATH): makes moto handle one request at a time.

moto's server runs each request in its own thread, and its DynamoDB backend does a
conditional write as "evaluate the condition, then change the item" with no lock, so
two concurrent UpdateItem calls can both read the old item and one update is lost (seen
as two `ADD`s returning the same counter). Real DynamoDB applies each write atomically;
serializing requests makes moto do the same, so the store conformance suite's
concurrency cases test the adapter rather than moto's thread safety.
"""

import sys
import threading

try:
    from moto.moto_server import werkzeug_app
except Exception as error:  # not the moto server, or a moto without this module
    print(f"confab sitecustomize: moto not patched ({error})", file=sys.stderr, flush=True)
else:
    _lock = threading.Lock()
    _call = werkzeug_app.DomainDispatcherApplication.__call__

    def _serialized_call(self, environ, start_response):
        with _lock:
            # moto builds whole responses, so the body is ready when the call returns.
            return _call(self, environ, start_response)

    werkzeug_app.DomainDispatcherApplication.__call__ = _serialized_call
    print("confab sitecustomize: moto requests serialized", file=sys.stderr, flush=True)
