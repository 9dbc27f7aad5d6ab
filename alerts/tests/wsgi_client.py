"""Call a WSGI application in-process, as a server would, and read its answer."""

import io
import json


def wsgi_post(app, body, *, key=None, **environ):
    """POST `body` to /event; return the status, the headers and the body."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return wsgi_call(app, "POST", "/event", content, key=key, **environ)


def wsgi_call(app, method: str, path: str, content: bytes, *, key=None, query="", **environ):
    """Send one request to `app`; return the status, the headers and the body."""
    request = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(content)),
        "wsgi.input": io.BytesIO(content),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        **({"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}),
        **environ,
    }
    started = {}
    chunks = app(request, lambda status, headers: started.update(status=status, headers=headers))
    content = b"".join(chunks)
    getattr(chunks, "close", lambda: None)()
    return int(started["status"].split()[0]), dict(started["headers"]), content
