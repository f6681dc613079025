"""Run the bqemulator BigQuery emulator in this process, offline.

Its DuckDB engine would INSTALL the spatial and avro extensions at start-up, which downloads
them; nothing here uses GEOGRAPHY or Avro, so both loads are skipped. (bqemulator's own
threaded runner lives in a package that imports testcontainers, hence this small one.)
"""

import asyncio
import threading

from bqemulator.config import PersistenceMode, Settings
from bqemulator.server import EmulatorServer
from bqemulator.storage.engine import DuckDBEngine


class Emulator:
    def __init__(self):
        DuckDBEngine._load_spatial = lambda self: None
        DuckDBEngine._load_format_extensions = lambda self: None
        self.settings = Settings(persistence_mode=PersistenceMode.EPHEMERAL, rest_host="127.0.0.1", rest_port=0,
                                 grpc_host="127.0.0.1", grpc_port=0)
        self.server = EmulatorServer(self.settings)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error = None
        self._thread = threading.Thread(target=self._run, name="bqemulator", daemon=True)

    def _run(self):
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.server.start())
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    def start(self):
        self._thread.start()
        if not self._ready.wait(60) or self._error:
            raise RuntimeError(f"bqemulator did not start: {self._error}")
        return self

    def stop(self):
        if self._loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop)
            try:
                fut.result(timeout=20)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=20)

    @property
    def project(self):
        return self.settings.default_project_id

    def client(self):
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(project=self.project, credentials=AnonymousCredentials(),
                               client_options=ClientOptions(api_endpoint=self.server.rest_url))
