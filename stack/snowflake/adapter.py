"""Local Snowflake emulator for the Node driver (snowflake-sdk): fakesnow behind a rewriter.

Usage: python stack/snowflake/adapter.py --host 127.0.0.1 --port 58085 [--db-path DIR]

Serves fakesnow's Snowflake REST API (login, query, session, abort) in-process with uvicorn,
rewrites its responses and patches two of its conversions, so that snowflake-sdk behaves as it
does against real Snowflake:

- SELECT/DDL results come back as JSON rowsets in Snowflake's JSON result encoding (fakesnow only
  answers with Arrow, which the Node driver cannot read), with the session parameters the driver
  needs to decode them.
- A statement fakesnow cannot run fails at once with a code and a message (HTTP 200,
  success: false) instead of an HTTP 500 that the driver retries for minutes; error messages
  lose the Python connector's "002003 (42S02): None: " prefix.
- Array binds are always sent inline rather than staged (fakesnow cannot serve stage binds), and
  may hold NULLs, or fractions after integers, in any column. A client that sets its own
  arrayBindingThreshold (the loader does) keeps it: the loader stays below it by chunking.
- NUMBER and NUMBER(38,0) hold 38 digits, as in Snowflake (fakesnow makes them 64-bit integers).
- A statement still running after 10 s is answered "in progress" and its result polled, as
  Snowflake does, so the driver never times out and sends it again.
- A session that holds an open transaction but has sent nothing for 30 s is taken as detached (its
  client was killed) and the transaction is rolled back. Snowflake aborts a detached transaction
  that blocks another once it has been idle for 5 minutes (its transactions documentation); the
  emulator does it sooner, so tests need not wait, and without it a killed client's uncommitted
  writes would conflict with its successor's until the emulator restarts.

GET /healthz answers 200 once the server is up. With --db-path, databases are files in DIR
(DIR/<DATABASE>.db, created if missing) shared by all sessions; otherwise they live in memory.
One log line per request at INFO; never SQL text, bind values or error messages.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextvars
import datetime
import json
import logging
import math
import re
import secrets
import time
import warnings
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import uvicorn
from sqlglot import exp

import fakesnow.server
import fakesnow.transforms
from fakesnow.converter import from_binding
from fakesnow.instance import FakeSnow
from fakesnow.transforms.transforms import NUMBER_38_0, integer_precision

log = logging.getLogger('dsr_cdc.snowflake')

# What the middleware answers: HTTP status, body, content type, Snowflake error code if failed.
Response = tuple[int, bytes, bytes, str | None]

# Real Snowflake's defaults, sent with every result as Snowflake does. snowflake-sdk needs
# BINARY_OUTPUT_FORMAT to decode BINARY at all, and the others to render values as strings.
RESULT_PARAMETERS = {
    'BINARY_OUTPUT_FORMAT': 'HEX',
    'DATE_OUTPUT_FORMAT': 'YYYY-MM-DD',
    'TIME_OUTPUT_FORMAT': 'HH24:MI:SS',
    'TIMESTAMP_OUTPUT_FORMAT': 'YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM',
    'TIMESTAMP_NTZ_OUTPUT_FORMAT': 'YYYY-MM-DD HH24:MI:SS.FF3',
}

# fakesnow advertises CLIENT_STAGE_ARRAY_BINDING_THRESHOLD 0, meaning "never stage" to the Python
# connector; snowflake-sdk reads it as "stage every array bind": it creates a temporary stage and
# PUTs the rows, which fakesnow rejects, then warns and falls back to inline binds. Advertise a
# threshold no batch reaches, so binds go inline at once. The driver's connection option
# arrayBindingThreshold overrides this value.
ARRAY_BINDING_THRESHOLD = 2**31 - 1

# A statement still running after this long is answered "in progress". Snowflake waits about 45 s,
# under the driver's default request timeout of 90 s; this stays under shorter ones too.
IN_PROGRESS_AFTER_S = 10

# A session with an open transaction that sent nothing for this long was abandoned (see above).
ABANDONED_AFTER_S = 30
RESULT_PATH = re.compile(r'/queries/(\w+)/result')

EPOCH_DATE = datetime.date(1970, 1, 1)
INTEGER = re.compile(r'-?\d+')

# The Python connector's errors, whose text fakesnow answers with, start "002003 (42S02): None: ";
# Snowflake's messages carry no such prefix (code and SQL state are fields of their own).
CONNECTOR_PREFIX = re.compile(r'^\d{6} \(\w{5}\): (?:None: )?')

# Exceptions fakesnow caught and logged (with the bind values) while handling the current request.
_unhandled: contextvars.ContextVar[list[BaseException]] = contextvars.ContextVar('unhandled')


class _CaptureUnhandled(logging.Filter):
    """Keeps the exception behind fakesnow's HTTP 500 and drops its log line, which holds binds."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and (sink := _unhandled.get(None)) is not None:
            sink.append(exc)
            return False
        return True


def _integer_precision(expression: exp.Expr) -> exp.Expr:
    # fakesnow stores NUMBER and NUMBER(38,0) as BIGINT (int64) for the Python connector's sake;
    # Snowflake's hold 38 digits, and values beyond 2^63 must round-trip exactly
    if (
        isinstance(expression, exp.DataType)
        and expression.this == exp.DataType.Type.DECIMAL
        and (not expression.expressions or expression.expressions == NUMBER_38_0)
    ):
        return exp.DataType.build('DECIMAL(38, 0)')
    return integer_precision(expression)


def _from_binding(binding: dict[str, Any]) -> Any:
    # snowflake-sdk types each column of an array bind from its first row, so later rows bring NULL
    # or, after an integer, a fraction as FIXED; fakesnow's converter raises on both, Snowflake not
    value = binding['value']
    if value is None:
        return None
    if binding['type'] == 'FIXED' and not INTEGER.fullmatch(value):
        return Decimal(value)
    return from_binding(binding)


def _seconds(nanos: int) -> str:
    """Snowflake's JSON encoding of a time or timestamp: seconds since the epoch (or midnight)."""
    return format(Decimal(nanos).scaleb(-9), 'f')


def _json_cell(value: Any, sf_type: str) -> str | None:
    """One value of fakesnow's Arrow result, in Snowflake's JSON result encoding for its type."""
    if value is None:
        return None
    if sf_type.startswith('timestamp'):
        # fakesnow encodes a NULL timestamp as a valid struct {epoch: None, fraction: None}
        if value['epoch'] is None:
            return None
        text = _seconds(value['epoch'] * 1_000_000_000 + value['fraction'])
        return f'{text} {value.get("timezone", 1440)}' if sf_type == 'timestamp_tz' else text
    if sf_type == 'time':
        return _seconds(value)
    if sf_type == 'date':
        return str((value - EPOCH_DATE).days)
    if sf_type == 'boolean':
        return '1' if value else '0'
    if sf_type == 'binary':
        return value.hex().upper()
    if isinstance(value, Decimal):
        return format(value, 'f')
    if isinstance(value, float):
        if math.isnan(value):
            return 'NaN'
        if math.isinf(value):
            return 'Infinity' if value > 0 else '-Infinity'
        return repr(value)
    return str(value)


def _json_rowset(rowset_base64: str, rowtype: list[dict[str, Any]]) -> list[list[str | None]]:
    if not rowset_base64:
        return []
    table = pa.ipc.open_stream(base64.b64decode(rowset_base64)).read_all()
    columns = [
        [_json_cell(value, column['type']) for value in array.to_pylist()]
        for array, column in zip(table.columns, rowtype, strict=True)
    ]
    return [list(row) for row in zip(*columns)]


def _rewrite_login(body: dict[str, Any]) -> None:
    for parameter in body['data']['parameters']:
        if parameter['name'] == 'CLIENT_STAGE_ARRAY_BINDING_THRESHOLD':
            parameter['value'] = ARRAY_BINDING_THRESHOLD


def _rewrite_result(data: dict[str, Any]) -> None:
    if data.get('queryResultFormat') == 'arrow':
        data['rowset'] = _json_rowset(data.pop('rowsetBase64'), data['rowtype'])
        data['queryResultFormat'] = 'json'
    # snowflake-sdk reads the rows inline only up to `returned`, which fakesnow leaves out;
    # version 1 is the result encoding above ("seconds offset" for TIMESTAMP_TZ).
    data['returned'] = len(data.get('rowset') or [])
    data['version'] = 1
    parameters = {p['name']: p['value'] for p in data.get('parameters', [])}
    parameters = {**RESULT_PARAMETERS, **parameters}
    data['parameters'] = [{'name': name, 'value': value} for name, value in parameters.items()]


def _failure(exc: BaseException | None) -> dict[str, Any]:
    """A failed statement as Snowflake reports one: HTTP 200, success false, code and message."""
    detail = f'{type(exc).__name__}: {exc}' if exc else 'unknown error'
    code, state = '000603', 'XX000'  # Snowflake's "SQL execution internal error"
    return {
        'data': {'errorCode': code, 'sqlState': state},
        'code': code,
        'message': f'SQL execution internal error: the emulator (fakesnow) failed: {detail}',
        'success': False,
    }


class Adapter:
    """ASGI middleware over fakesnow's Starlette app; buffers and rewrites each JSON response."""

    def __init__(self, app: Any) -> None:
        self.app = app
        # statements answered "in progress", by the id of the URL their result is polled at
        self.running: dict[str, asyncio.Task[Response]] = {}
        # per session token: requests not yet answered, and when it last sent or was answered
        self.busy: dict[str, int] = {}
        self.last_seen: dict[str, float] = {}
        self.reaped: dict[str, float] = {}
        self.reaper: asyncio.Task[None] | None = None

    def _track(self, scope: dict[str, Any], task: asyncio.Task[Response]) -> None:
        """Notes a session's activity until its request's task is done."""
        auth = next((v for k, v in scope['headers'] if k.lower() == b'authorization'), b'').decode()
        token = auth[17:-1] if auth.startswith('Snowflake Token=') else None
        if token is None:
            return
        self.busy[token] = self.busy.get(token, 0) + 1
        self.last_seen[token] = time.monotonic()

        def done(_: asyncio.Task[Response]) -> None:
            self.busy[token] -= 1
            self.last_seen[token] = time.monotonic()

        task.add_done_callback(done)
        if self.reaper is None:
            self.reaper = asyncio.create_task(self._reap_abandoned())

    async def _reap_abandoned(self) -> None:
        """Rolls back the open transaction of every session idle for ABANDONED_AFTER_S."""
        while True:
            await asyncio.sleep(5)
            now = time.monotonic()
            for token, seen in list(self.last_seen.items()):
                conn = fakesnow.server.sessions.get(token)
                if conn is None:
                    del self.last_seen[token]
                    self.busy.pop(token, None)
                    self.reaped.pop(token, None)
                elif (
                    self.busy.get(token, 0) == 0
                    and now - seen > ABANDONED_AFTER_S
                    and self.reaped.get(token) != seen
                ):
                    # once per idle spell; with autocommit on fakesnow passes BEGIN through to
                    # duckdb without noting it, so a ROLLBACK is tried and "no transaction" ignored
                    self.reaped[token] = seen
                    try:
                        conn.rollback()
                        log.info('rolled back the transaction of a session idle for %.0f s', now - seen)
                    except Exception:  # noqa: BLE001 - no transaction open (the usual case)
                        pass

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        path = scope['path']
        if path == '/healthz':
            await _send(send, 200, b'ok', b'text/plain')
            return

        started = time.monotonic()
        poll = RESULT_PATH.fullmatch(path)
        key = poll[1] if poll and poll[1] in self.running else secrets.token_hex(16)
        task = self.running.pop(key, None)
        if task is None:
            task = asyncio.create_task(self._respond(scope, receive))
            self._track(scope, task)
        statement = path == '/queries/v1/query-request' or poll
        await asyncio.wait({task}, timeout=IN_PROGRESS_AFTER_S if statement else None)
        if task.done():
            status, body, content_type, error_code = task.result()
            note = f' error {error_code}' if error_code else ''
        else:
            # Snowflake answers a statement still running with "in progress" and a URL to poll, so
            # that no request outlasts the driver's timeout, after which it would send the
            # statement again and fakesnow would run it twice, at once, on one session
            self.running[key] = task
            status, content_type, note = 200, b'application/json', ' in progress'
            body = json.dumps({
                'code': '333333',
                'message': 'Query execution in progress.',
                'success': True,
                'data': {'queryId': key, 'getResultUrl': f'/queries/{key}/result'},
            }).encode()

        await _send(send, status, body, content_type)
        elapsed_ms = (time.monotonic() - started) * 1000
        log.info('%s %s %d %.0fms%s', scope['method'], path, status, elapsed_ms, note)

    async def _respond(self, scope: dict[str, Any], receive: Any) -> Response:
        """Runs the request through fakesnow and rewrites the answer as Snowflake would give it."""
        response: dict[str, Any] = {'status': 500, 'headers': [], 'body': b''}
        unhandled: list[BaseException] = []
        _unhandled.set(unhandled)

        async def capture(message: dict[str, Any]) -> None:
            if message['type'] == 'http.response.start':
                response['status'] = message['status']
                response['headers'] = message.get('headers', [])
            elif message['type'] == 'http.response.body':
                response['body'] += message.get('body', b'')

        try:
            await self.app(scope, receive, capture)
        except Exception as exc:  # Starlette re-raises what it answered with its 500 page
            unhandled.append(exc)
            response['status'] = 500

        status, body = response['status'], response['body']
        content_type = next(
            (v for k, v in response['headers'] if k.lower() == b'content-type'),
            b'application/octet-stream',
        )
        error_code = None
        if status >= 500:
            payload = _failure(unhandled[-1] if unhandled else None)
            status, error_code = 200, payload['code']
            body, content_type = json.dumps(payload).encode(), b'application/json'
        elif content_type == b'application/json' and status == 200:
            payload = json.loads(body)
            if not payload.get('success'):
                error_code = payload.get('code')
                payload['message'] = CONNECTOR_PREFIX.sub('', payload.get('message') or '')
            elif scope['path'] == '/session/v1/login-request':
                _rewrite_login(payload)
            elif scope['path'] == '/queries/v1/query-request' and 'rowtype' in payload['data']:
                _rewrite_result(payload['data'])
            body = json.dumps(payload).encode()
        return status, body, content_type, error_code


async def _send(send: Any, status: int, body: bytes, content_type: bytes) -> None:
    headers = [(b'content-type', content_type), (b'content-length', str(len(body)).encode())]
    await send({'type': 'http.response.start', 'status': status, 'headers': headers})
    await send({'type': 'http.response.body', 'body': body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=58085)
    parser.add_argument('--db-path', type=Path, help='database files directory (default: memory)')
    args = parser.parse_args()

    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(name)s %(message)s')
    # duckdb's advice to fakesnow (how it fetches Arrow), not about anything a client sent
    warnings.filterwarnings('ignore', message='Arrow output on a DB-API result')
    fakes_log = logging.getLogger('fakesnow.server')
    # fakesnow logs each login and failed statement at INFO with its SQL, and unhandled ones with
    # their binds; our middleware logs one line per request instead.
    fakes_log.setLevel(logging.WARNING)
    fakes_log.addFilter(_CaptureUnhandled())

    fakesnow.server.from_binding = _from_binding
    fakesnow.transforms.integer_precision = _integer_precision
    if args.db_path:
        args.db_path.mkdir(parents=True, exist_ok=True)
        # sessions that don't pass FAKESNOW_DB_PATH use fakesnow's shared instance: make it persist
        fakesnow.server.shared_fs = FakeSnow(db_path=args.db_path)

    app = Adapter(fakesnow.server.app)
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_config=None)


if __name__ == '__main__':
    main()
