"""The results app the api-server mounts at /recipebench (plugins/recipebench_plugin.py).

Authentication and authorisation are Airflow's own: `get_user` (airflow.api_fastapi.core_api.security)
reads the JWT from the Authorization header or the UI's `_token` cookie and resolves it with the
configured auth manager; a recipe's numbers are shown to a user the auth manager lets read that
recipe's DAG (filter_authorized_dag_ids / is_authorized_dag). An anonymous request gets 401, or
the auth manager's login page when a browser asks for HTML.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

PREFIX = "/recipebench"
TEMPLATES = Path(__file__).with_name("templates")
STATIC = {name: (Path(__file__).with_name("static") / name, media)
          for name, media in (("style.css", "text/css"), ("links.js", "text/javascript"))}


_bearer = HTTPBearer(auto_error=False)
Text = Annotated[str | None, Query()]


def page_view(days: Annotated[int | None, Query()] = None, since: Annotated[str | None, Query(alias="from")] = None,
              until: Annotated[str | None, Query(alias="to")] = None, accelerator: Text = None, framework: Text = None,
              model: Text = None, precision: Text = None, metric: str = "throughput", stat: str = "p50"):
    """The view a page's URL asks for (ui.query): its days (`days`, or `from`/`to`), filters, metric and
    statistic; 400 naming what is outside the accepted range."""
    from recipebench.ui.query import BadQuery, parse

    try:
        return parse(dt.datetime.now(dt.UTC).date(), days, since, until,
                     {"accelerator": accelerator, "framework": framework, "model": model, "precision": precision},
                     metric, stat)
    except BadQuery as exc:
        raise HTTPException(400, str(exc)) from None


PageView = Annotated[Any, Depends(page_view)]


def page_format(form: Annotated[str, Query(alias="format")] = "html") -> str:
    """html, or csv / json: what the page shows, as rows (ui.downloads); 400 for anything else."""
    from recipebench.ui.downloads import FORMATS

    if form not in FORMATS:
        raise HTTPException(400, f"format={form!r}: one of {', '.join(FORMATS)}")
    return form


Format = Annotated[str, Depends(page_format)]


async def current_user(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)):
    """The signed-in user, resolved by Airflow's own get_user (Bearer header, else the UI's cookie).
    Imported here, not at module level: every Airflow component loads plugins, only the api-server
    serves these pages, and the security module is heavy to import."""
    from airflow.api_fastapi.core_api.security import get_user

    return await get_user(request, None, credentials)


User = Annotated[Any, Depends(current_user)]


def _auth_manager():
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager()


def allowed(user, recipe_ids: set[str]) -> set[str]:
    """The recipes (DAG ids) this user may read."""
    return set(_auth_manager().filter_authorized_dag_ids(dag_ids=set(recipe_ids), user=user, method="GET"))


def require(user, recipe_ids: set[str]) -> None:
    denied = recipe_ids - allowed(user, recipe_ids)
    if denied:
        raise HTTPException(403, f"not allowed to read DAG(s) {', '.join(sorted(denied))}")


def choice_label(name: str, value: str) -> str:
    """A filter's option as people read it: a machine family with its GPUs (a4: 8x NVIDIA B200)."""
    from recipebench.catalog.accelerators import ACCELERATORS

    machine = ACCELERATORS.get(value) if name == "accelerator" else None
    return f"{value} ({machine.gpu})" if machine else value


@functools.cache
def _env():
    """The templates' environment, built once: Jinja compiles each template on first use and keeps it."""
    import jinja2

    from recipebench.results.regressions import number
    from recipebench.ui.data import concurrency_label, when

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["when"] = when
    env.filters["num"] = number
    env.filters["pct"] = lambda v: "–" if v is None else f"{v:+.1%}"
    env.filters["conc"] = concurrency_label
    env.filters["q"] = lambda v: quote(str(v), safe="")
    env.filters["choice"] = choice_label
    return env


_READY: set[str] = set()  # warehouses whose tables this process has made sure of


def _warehouse():
    """The warehouse, its tables checked once per process (a page view need not inspect every table)."""
    from recipebench.results.warehouse import WarehouseError, open_warehouse, warehouse_url

    try:
        wh = open_warehouse()
        if warehouse_url() not in _READY:
            wh.ensure_tables()
            _READY.add(warehouse_url())
        return wh
    except WarehouseError as exc:
        raise HTTPException(503, f"the warehouse cannot be read: {exc}") from None


def _recipe_ids() -> list[str]:
    """Every recipe of the catalog, broken files included, by file name (a page needs none of them parsed)."""
    from recipebench.catalog.recipe import recipe_files

    return sorted(p.stem for p in recipe_files())


def _run_row(wh, run_id: str) -> dict:
    rows = wh.select("runs", {"run_id": run_id}, limit=1)
    if not rows:
        raise HTTPException(404, f"no run {run_id!r} in the warehouse")
    return rows[0]


def _readable_run(user, run_id: str):
    """(warehouse, runs row, artifacts prefix) of a run this user may read; 404 otherwise: a run of a
    recipe the user may not read is not admitted to exist."""
    from recipebench.pipeline import artifacts

    wh = _warehouse()
    run = _run_row(wh, run_id)
    if not allowed(user, {run["recipe"]}):
        raise HTTPException(404, f"no run {run_id!r} in the warehouse")
    return wh, run, artifacts.run_prefix(run["recipe"], run_id)


def _here(request: Request) -> str:
    """This page's path and query (its permalink inside Airflow's UI is /plugin/recipebench-results + it)."""
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _answer(template: str, user, form: str, name: str, table, **values) -> Response:
    """The page, or what it shows as rows (ui.downloads) for `format=csv|json`, named for the download."""
    from recipebench.ui.downloads import render

    if form == "html":
        return _page(template, user, **values)
    media = "text/csv" if form == "csv" else "application/json"
    return Response(render(table(), form), media_type=f"{media}; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.{form}"'})


def _page(template: str, user, status: int = 200, **values) -> HTMLResponse:
    """A page from its template; every value is escaped (autoescape), none is put into HTML by hand."""
    from recipebench.pipeline.links import airflow_base_url

    values.setdefault("any_simulated", False)
    html = _env().get_template(template).render(prefix=PREFIX, airflow=airflow_base_url(),
                                                user=getattr(user, "get_name", lambda: "")(), **values)
    return HTMLResponse(html, status)


# The pages load only their own stylesheet and their one script (static/links.js: Airflow links opened at
# the top level), nothing inline. Airflow's UI embeds them in an iframe of the same origin (the external
# views of recipebench_plugin), so framing is allowed from there and nowhere else.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'self'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
}


def _error(request: Request, status: int, detail: str):
    """An error as the asker reads it: Airflow's login for a browser without a session, an escaped page
    for a browser, JSON for the API."""
    wants_html = "text/html" in request.headers.get("accept", "") and "/api/" not in request.url.path
    if status == 401 and wants_html:
        # a browser without a session goes to Airflow's login and comes back
        return RedirectResponse(_auth_manager().get_url_login(next_url=str(request.url)), status_code=303)
    if wants_html:
        return _page("error.html", None, status, code=status, detail=detail)
    return JSONResponse({"detail": detail}, status)


def _guard(app: FastAPI) -> None:
    """The headers of every answer and the handlers of every error."""
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from recipebench.results.warehouse import WarehouseError

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(StarletteHTTPException)  # ours, and the router's own 404/405
    async def _errors(request: Request, exc: StarletteHTTPException):
        return _error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(WarehouseError)
    async def _warehouse_down(request: Request, exc: WarehouseError):
        # a warehouse that is down or corrupt is the warehouse's failure, said as such, not a 500; its
        # tables are checked again on the next page (a file replaced under a running api-server)
        _READY.clear()
        return _error(request, 503, f"the warehouse cannot be read: {exc}")


def create_app() -> FastAPI:
    app = FastAPI(title="recipebench results", docs_url=None, redoc_url=None, openapi_url=None)
    _guard(app)

    @app.get("/static/{name}")
    def static(name: str):
        if name not in STATIC:
            raise HTTPException(404, f"no static file {name!r}")
        path, media = STATIC[name]
        return Response(path.read_text(), media_type=media)

    @app.get("/")
    def overview_page(request: Request, user: User, view: PageView, form: Format):
        from recipebench.results import pages
        from recipebench.ui import data, downloads

        wh = _warehouse()
        ids = sorted(allowed(user, set(_recipe_ids())))
        with wh.session():
            last = view.scope.until or dt.datetime.now(dt.UTC).date()
            rows = pages.overview(wh, ids, view.scope, last - dt.timedelta(weeks=6))
            choices = pages.choices(wh, ids, view.scope)
        page = data.overview(ids, rows, view)
        return _answer("overview.html", user, form, "recipes", lambda: downloads.overview_rows(page),
                       choices=choices, here=_here(request), **page)

    @app.get("/frontier")
    def frontier_view(request: Request, user: User, view: PageView, form: Format,
                      recipe: Annotated[list[str] | None, Query()] = None):
        """`recipe` (repeatable): the recipes to put on one frontier; none: every recipe the filters keep."""
        from recipebench.results import pages
        from recipebench.ui.frontier import frontier_page

        readable = sorted(allowed(user, set(_recipe_ids())))
        chosen = list(dict.fromkeys(recipe or []))
        require(user, set(chosen))
        wh = _warehouse()
        with wh.session():
            rows = pages.frontier(wh, chosen or readable, view.scope)
            choices = pages.choices(wh, readable, view.scope)
        page = frontier_page(rows["runs"], rows["results"], chosen, view)
        return _answer("frontier.html", user, form, "frontier", lambda: page["rows"], choices=choices,
                       readable=readable, here=_here(request), **page)

    @app.get("/recipes/{recipe}")
    def recipe_view(request: Request, recipe: str, user: User, view: PageView, form: Format,
                    run: Annotated[str | None, Query()] = None, airflow_run: Annotated[str | None, Query()] = None):
        """`run`: a recipebench run key; `airflow_run`: an Airflow run id (the DAG run's tab); a selected run
        outside the view's days is shown with its runs."""
        from recipebench.catalog.naming import run_key
        from recipebench.results import pages
        from recipebench.ui import data, downloads

        require(user, {recipe})
        run = run or (run_key(recipe, airflow_run) if airflow_run else None)
        wh = _warehouse()
        with wh.session():
            rows = pages.recipe(wh, recipe, view.scope, data.RUNS_SHOWN, run)
        page = data.recipe_page(recipe, rows["runs"], rows["results"], rows["verdicts"], rows["alerts"], run,
                                rows["trials"], rows["capacity"], view)
        return _answer("recipe.html", user, form, f"{recipe}-{(page['current'] or {}).get('run_id', 'none')}",
                       lambda: downloads.recipe_rows(page), selected=run, here=_here(request), **page)

    @app.get("/compare", response_class=HTMLResponse)
    def compare_view(user: User, a: str, b: str):
        from recipebench.ui import data

        wh = _warehouse()
        run_a, run_b = _run_row(wh, a), _run_row(wh, b)
        require(user, {run_a["recipe"], run_b["recipe"]})
        page = data.compare(data.with_verdict(run_a, wh.select("verdicts", {"run_id": a})),
                            data.with_verdict(run_b, wh.select("verdicts", {"run_id": b})),
                            wh.select("results", {"run_id": a}), wh.select("results", {"run_id": b}))
        return _page("compare.html", user, **page)

    @app.get("/runs/{run_id}/artifacts", response_class=HTMLResponse)
    def artifacts_view(run_id: str, user: User):
        _, run, prefix = _readable_run(user, run_id)
        return _page("artifacts.html", user, run=run, files=_listing(prefix), location=str(prefix),
                     any_simulated=bool(run.get("simulated")))

    @app.get("/runs/{run_id}/artifacts/{name:path}", response_class=PlainTextResponse)
    def artifact_file(run_id: str, name: str, user: User):
        from recipebench.pipeline.artifacts import NotInside, inside

        _, _, prefix = _readable_run(user, run_id)
        try:
            path = inside(prefix, name)
        except NotInside:
            path = None
        if path is None or not path.is_file():
            raise HTTPException(404, f"no artifact {name!r} in run {run_id}")
        return PlainTextResponse(path.read_text(errors="replace"))

    @app.get("/api/runs/{run_id}")
    def run_json(run_id: str, user: User):
        wh, run, _ = _readable_run(user, run_id)
        return JSONResponse(_jsonable({"run": run, "results": wh.select("results", {"run_id": run_id}),
                                       "verdicts": wh.select("verdicts", {"run_id": run_id})}))

    return app


def _listing(prefix) -> list[str]:
    """The run's files, relative to its prefix; only those that resolve inside it (a symlink
    placed in the folder is not followed out)."""
    from recipebench.pipeline.artifacts import NotInside, inside

    if not prefix.exists():
        return []
    names = []
    for path in prefix.rglob("*"):
        name = str(path.relative_to(prefix))
        try:
            if inside(prefix, name).is_file():
                names.append(name)
        except NotInside:
            continue
    return sorted(names)


def _jsonable(value):
    import datetime as dt

    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


app = create_app()
