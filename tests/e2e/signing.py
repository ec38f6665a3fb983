"""Requests signed outside the SDK's operations: the OpenSearch v3 scheme of alibabacloud-opensearch-util (which
algocenter accepts on every endpoint), and raw HTTP for replaying captured bytes."""

import hashlib
import http.client
import json
import socket
import threading
import uuid
from urllib.parse import unquote, urlencode

from alibabacloud_opensearch_util.opensearch_util import OpensearchUtil
from Tea.request import TeaRequest

from conftest import ADMIN_ID, ADMIN_SECRET


def opensearch_request(address, method, path, body=None, query=None, key_id=ADMIN_ID, secret=ADMIN_SECRET,
                       tamper=None, text=False):
    """Signs with OpensearchUtil.get_signature and sends; `tamper(body) -> body` changes the body after signing.
    Answers (status, parsed JSON body), or (status, body as text) with `text`."""
    data = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
    request = TeaRequest()
    request.method = method
    request.pathname = unquote(path)
    request.query = dict(query or {})
    request.headers = {
        "Content-Type": "application/json",
        "Date": OpensearchUtil.get_date(),
        "X-Opensearch-Nonce": uuid.uuid4().hex,
    }
    if data:
        request.headers["Content-MD5"] = OpensearchUtil.get_content_md5(data.decode())
    request.headers["Authorization"] = OpensearchUtil.get_signature(request, key_id, secret)
    if tamper:
        data = tamper(data)
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    url = path + ("?" + urlencode(query) if query else "")
    connection.request(method, url, body=data or None, headers=request.headers)
    response = connection.getresponse()
    if text:
        return response.status, response.read().decode()
    return response.status, json.loads(response.read() or b"null")


class RecordingProxy:
    """A TCP proxy in front of the server that records what clients send, to replay it byte for byte."""

    def __init__(self, target):
        self.target = target
        self.sent = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.address = "127.0.0.1:%d" % self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            client, _ = self.listener.accept()
            host, port = self.target.split(":")
            upstream = socket.create_connection((host, int(port)))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source, sink, record):
        while True:
            try:
                chunk = source.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                try:
                    sink.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            if record:
                self.sent.append(chunk)
            sink.sendall(chunk)

    def captured(self):
        """Everything recorded since the last call, as one byte string."""
        data, self.sent = b"".join(self.sent), []
        return data


def send_raw(address, data):
    """Sends raw HTTP/1.1 request bytes; answers (status, parsed JSON body)."""
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(data)
        response = http.client.HTTPResponse(s)
        response.begin()
        return response.status, json.loads(response.read() or b"null")


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()
