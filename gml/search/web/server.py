"""The HTTP server of ``search-ctl serve`` (the standard library's
``ThreadingHTTPServer``: nothing to install, and a page that a few people
poll every 2 s needs no more).

Guards:

- it binds 127.0.0.1 unless told otherwise, and another address needs
  ``public=True`` (``--public``);
- it serves a fixed set of page files and JSON answers: no request path is
  ever joined to a folder; a task is found by its name in the root's list,
  a trial by its number, and a trial's log only if, links resolved, it lies
  inside its task's folder;
- requests whose Host header is not the loopback address it serves are
  refused when bound to loopback (a web page elsewhere cannot reach it
  through DNS rebinding);
- read-only unless ``allow_stop``: then ``POST /api/stop`` (with the header
  ``X-GML-Confirm: stop``, which a form of another site cannot send) asks
  the task's controller to stop, as ``search-ctl stop`` does;
- names and messages reach the page as JSON (``<``, ``>``, ``&`` escaped)
  and the page sets them as text, never as HTML; a Content-Security-Policy
  allows only the server's own scripts.
"""
import errno
import http.server
import ipaddress
import json
import math
import os
import socket
import sqlite3
import sys
import threading
import time
from typing import Any, Dict, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

from ...errors import ConfigError
from ..task import TaskDir
from . import data
from .importance import importance

ASSETS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          'assets')
#: URL path -> (file in assets/, content type): all the files it serves
ASSETS = {
    '/': ('index.html', 'text/html; charset=utf-8'),
    '/index.html': ('index.html', 'text/html; charset=utf-8'),
    '/static/style.css': ('style.css', 'text/css; charset=utf-8'),
    '/static/charts.js': ('charts.js', 'text/javascript; charset=utf-8'),
    '/static/app.js': ('app.js', 'text/javascript; charset=utf-8'),
}
SECURITY_HEADERS = {
    'Content-Security-Policy': "default-src 'self'; script-src 'self'; "
                               "style-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'none'",
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'DENY',
}
LOOPBACK_NAMES = ('localhost', '127.0.0.1', '::1')
DEFAULT_PORT = 8090


def is_loopback(host: str) -> bool:
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def to_json(value: Any) -> bytes:
    """JSON with NaN and infinities as null and ``< > &`` escaped, so that
    no answer can be read as HTML."""
    text = json.dumps(_finite(value), separators=(',', ':'))
    return text.replace('<', '\\u003c').replace('>', '\\u003e') \
        .replace('&', '\\u0026').encode()


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


#: a task's importance: (completed trials, when computed, the answer)
Cached = Tuple[int, float, Dict[str, Any]]


class HTTPError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class ViewServer(http.server.ThreadingHTTPServer):
    """Serves the tasks of ``root`` (only ``only`` when given)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: Tuple[str, int], root: str,
                 only: Optional[str] = None, allow_stop: bool = False):
        self.root, self.only, self.allow_stop = root, only, allow_stop
        self.loopback = is_loopback(address[0])
        self._importance: Dict[str, Cached] = {}
        self._importance_lock = threading.Lock()
        family = socket.AF_INET6 if ':' in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = f'[{host}]' if ':' in host else host
        return f'http://{host}:{port}/'

    def reader(self, name: Optional[str]) -> data.TaskReader:
        if not name or (self.only is not None and name != self.only):
            raise data.NotFound(f'no task {name!r}')
        return data.TaskReader(self.root, name)

    def importance(self, name: str) -> Dict[str, Any]:
        """The task's parameter importance. While a search runs it is
        computed again only when the completed trials grew by a fifth or
        ``IMPORTANCE_EVERY`` seconds passed (a forest fit costs the cores
        the trials run on)."""
        with self._importance_lock, self.reader(name) as reader:
            completed = reader.completed_count()
            cached = self._importance.get(name)
            if cached is None or _stale(cached, completed):
                trials = reader.trials()
                cached = (completed, time.monotonic(),
                          importance(trials, data.param_names(trials)))
                self._importance[name] = cached
            return cached[2]


#: seconds after which a changed task's importance is computed again
IMPORTANCE_EVERY = 30.0


def _stale(cached: Cached, completed: int) -> bool:
    count, when, _ = cached
    if completed == count:
        return False
    return completed >= 1.2 * count or \
        time.monotonic() - when >= IMPORTANCE_EVERY


class Handler(http.server.BaseHTTPRequestHandler):
    server: ViewServer
    server_version = 'gml-search-view'
    sys_version = ''

    def log_message(self, format, *args) -> None:  # quiet: no access log
        pass

    # -- plumbing ------------------------------------------------------------
    def send(self, status: int, body: bytes, content_type: str,
             cache: bool = False) -> None:
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Cache-Control', 'max-age=60' if cache
                         else 'no-store')
        for key, value in SECURITY_HEADERS.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def send_json(self, value: Any, status: int = 200) -> None:
        self.send(status, to_json(value), 'application/json')

    def handle_one(self, routes) -> None:
        try:
            self.check_host()
            parts = urlsplit(self.path)
            route = routes.get(parts.path)
            if route is None:
                raise HTTPError(404, 'not found')
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            route(self, query)
        except HTTPError as exc:
            self.send_json(dict(error=str(exc)), exc.status)
        except data.NotFound as exc:
            self.send_json(dict(error=str(exc)), 404)
        except sqlite3.Error as exc:  # e.g. a store being created
            self.send_json(dict(error=f'store not readable now: {exc}'), 503)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def check_host(self) -> None:
        if not self.server.loopback:
            return
        host = (self.headers.get('Host') or '').strip()
        if host.startswith('['):
            name = host[1:].split(']')[0]
        else:
            name = host.rsplit(':', 1)[0] if host.count(':') == 1 else host
        if name not in LOOPBACK_NAMES:
            raise HTTPError(403, 'this server answers only to the loopback '
                            'address it serves')

    def do_GET(self) -> None:
        self.handle_one(GET_ROUTES)

    def do_HEAD(self) -> None:
        self.handle_one(GET_ROUTES)

    def do_POST(self) -> None:
        self.handle_one(POST_ROUTES)

    # -- routes --------------------------------------------------------------
    def no_icon(self, query) -> None:  # browsers ask; there is none
        self.send(204, b'', 'text/plain', cache=True)

    def asset(self, query) -> None:
        name, content_type = ASSETS[urlsplit(self.path).path]
        with open(os.path.join(ASSETS_DIR, name), 'rb') as f:
            self.send(200, f.read(), content_type, cache=name != 'index.html')

    def api_tasks(self, query) -> None:
        tasks = data.task_list(self.server.root)
        if self.server.only is not None:
            tasks = [t for t in tasks if t['name'] == self.server.only]
        self.send_json(dict(root=os.path.abspath(self.server.root),
                            only=self.server.only, tasks=tasks,
                            allow_stop=self.server.allow_stop,
                            time=time.time()))

    def api_task(self, query) -> None:
        after = _int(query.get('after'), 'after') if 'after' in query \
            else None
        with self.server.reader(query.get('name')) as reader:
            detail = reader.detail(query.get('stamp'), after)
        detail['allow_stop'] = self.server.allow_stop
        self.send_json(detail)

    def api_trial(self, query) -> None:
        trial_id = _int(query.get('id'), 'id')
        with self.server.reader(query.get('task')) as reader:
            self.send_json(reader.trial_detail(trial_id))

    def api_importance(self, query) -> None:
        self.send_json(self.server.importance(query.get('task')))

    def api_stop(self, query) -> None:
        if not self.server.allow_stop:
            raise HTTPError(403, 'stopping is off: start the server with '
                            '--allow-stop')
        if self.headers.get('X-GML-Confirm') != 'stop':
            raise HTTPError(400, 'a stop needs the header X-GML-Confirm: '
                            'stop')
        with self.server.reader(query.get('task')) as reader:
            if reader.state(reader.meta()) != 'RUNNING':
                raise HTTPError(409, f'task {reader.name!r} has no running '
                                'controller')
            TaskDir(reader.name, reader.root).request_stop()
        self.send_json(dict(ok=True, message='stop requested: the '
                            'controller stops the running trials and ends '
                            'the task'))


def _int(value: Optional[str], name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise HTTPError(400, f'{name}: expected an integer') from None


GET_ROUTES = dict({path: Handler.asset for path in ASSETS},
                  **{'/api/tasks': Handler.api_tasks,
                     '/api/task': Handler.api_task,
                     '/api/trial': Handler.api_trial,
                     '/api/importance': Handler.api_importance,
                     '/favicon.ico': Handler.no_icon})
POST_ROUTES = {'/api/stop': Handler.api_stop}


def make_server(root: str, host: str = '127.0.0.1',
                port: int = DEFAULT_PORT,
                only: Optional[str] = None, public: bool = False,
                allow_stop: bool = False) -> ViewServer:
    """A bound :class:`ViewServer`; every user mistake is a ConfigError."""
    from ..task import list_tasks
    if not os.path.isdir(root):
        raise ConfigError(f'--root: no folder {root!r} (the tasks are in '
                          'search_tasks/ by default)')
    if only is not None and only not in list_tasks(root):
        raise ConfigError(f'-t: no task {only!r} in {root}/ (see '
                          '`search-ctl list`)')
    if not 0 <= port <= 65535:
        raise ConfigError(f'--port: expected 0..65535 (0: any free port), '
                          f'found {port}')
    if not is_loopback(host) and not public:
        raise ConfigError(f'--host {host}: not a loopback address; serving '
                          'the tasks to the network needs --public')
    try:
        return ViewServer((host, port), root, only, allow_stop)
    except socket.gaierror as exc:
        raise ConfigError(f'--host {host}: unknown address ({exc.strerror})'
                          ) from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f'--port {port}: already in use on {host}; '
                              'pick another (--port 0 takes a free one)'
                              ) from None
        if exc.errno == errno.EACCES:
            raise ConfigError(f'--port {port}: not allowed (ports below 1024 '
                              'need root); pick another') from None
        raise ConfigError(f'--host {host} --port {port}: cannot listen '
                          f'({exc.strerror})') from None


def serve(root: str, host: str = '127.0.0.1', port: int = DEFAULT_PORT,
          only: Optional[str] = None, public: bool = False,
          allow_stop: bool = False) -> None:
    """Serve until interrupted; print the address first."""
    server = make_server(root, host, port, only, public, allow_stop)
    if not server.loopback:
        print(f'search-ctl serve: warning: serving on {host}, reachable from '
              'the network; anyone who reaches it sees the tasks, their '
              'configs and logs' + (' and can stop them' if allow_stop
                                     else ''), file=sys.stderr)
    what = f'task {only!r}' if only else f'the tasks of {root}/'
    print(f'search-ctl serve: {what} at {server.url} (Ctrl-C stops)',
          flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
