"""The small router both HTTP test modules of the mock services serve: ``/a`` (GET, POST) and the
``/hook/`` prefix echo what they got, ``/boom`` raises."""

from __future__ import annotations

from obs_tests.demo.http import Router
from obs_tests.demo.http_messages import Request, Response, json_response


async def echo(request: Request) -> Response:
    """The path, the tail past a prefix route and the body, as JSON."""
    return json_response({"path": request.path, "tail": request.tail, "body": request.body.decode()})


async def boom(request: Request) -> Response:
    """A handler with a bug."""
    raise RuntimeError("bug")


def echo_router() -> Router:
    """The routes above."""
    router = Router()
    router.add("GET", "/a", echo)
    router.add("POST", "/a", echo)
    router.add_prefix("POST", "/hook/", echo)
    router.add("GET", "/boom", boom)
    return router
