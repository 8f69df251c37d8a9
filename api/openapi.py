"""The OpenAPI 3.1 document, generated from the routes and their @operation declarations."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import falcon
import pydantic

from api import schemas
from api.pages import render
from api.spec import JSON, Operation, operation, operation_of

METHODS = ("get", "post", "put", "patch", "delete")
_REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{(\w+)}")


class _Collector:
    def __init__(self) -> None:
        self.models: set[type[pydantic.BaseModel]] = set()

    def ref(self, model: type[pydantic.BaseModel]) -> dict[str, str]:
        self.models.add(model)
        return {"$ref": _REF.format(model=model.__name__)}

    def components(self) -> dict[str, Any]:
        if not self.models:
            return {}
        _, defs = pydantic.json_schema.models_json_schema(
            [(model, "validation") for model in sorted(self.models, key=lambda m: m.__name__)],
            ref_template=_REF)
        return defs.get("$defs", {})


def build_document(routes: Iterable[tuple[str, object]], version: str = "1.0.0") -> dict[str, Any]:
    collector = _Collector()
    paths: dict[str, Any] = {}
    for path, resource in routes:
        for method in METHODS:
            op = operation_of(getattr(resource, f"on_{method}", None))
            if op is not None:
                paths.setdefault(path, {})[method] = _operation(path, method, op, collector)
    collector.ref(schemas.ProblemOut)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Marketplace payments API", "version": version,
                 "description": "Wallets, catalogue, purchases and payouts. Errors are RFC 9457 problems."},
        "paths": paths,
        "components": {
            "schemas": collector.components(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def _operation(path: str, method: str, op: Operation, collector: _Collector) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{method}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
        "tags": list(op.tags),
        "parameters": _parameters(path, op),
        "responses": _responses(op, collector),
    }
    if op.auth:
        doc["security"] = [{"bearer": []}]
    if op.body is not None:
        doc["requestBody"] = {"required": True, "content": {JSON: {"schema": collector.ref(op.body)}}}
    if op.form is not None:
        doc["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": _form_schema(op.form)}}}
    return doc


def _form_schema(parts: dict[str, str]) -> dict[str, Any]:
    properties = {name: {"type": "string", "contentMediaType": "application/octet-stream", "description": text}
                  for name, text in parts.items()}
    return {"type": "object", "properties": properties, "required": list(parts), "additionalProperties": False}


def _parameters(path: str, op: Operation) -> list[dict[str, Any]]:
    params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
              for name in _PATH_PARAM.findall(path)]
    if op.query is not None:
        schema = op.query.model_json_schema()
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in required, "schema": prop})
    for name, description in op.headers.items():
        params.append({"name": name, "in": "header", "required": True, "description": description,
                       "schema": {"type": "string"}})
    return params


def _responses(op: Operation, collector: _Collector) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, model in op.responses.items():
        if status == "html":
            entry = out.setdefault("200", {"description": model, "content": {}})
            entry["content"][falcon.MEDIA_HTML] = {"schema": {"type": "string"}}
        elif model is None:
            out[str(status)] = {"description": "No content"}
        elif isinstance(model, tuple):
            content_type, description = model
            out[str(status)] = {"description": description, "content": {content_type: {}}}
        else:
            entry = out.setdefault(str(status), {"description": model.__doc__ or model.__name__, "content": {}})
            entry["content"][JSON] = {"schema": collector.ref(model)}
    problem = {"application/problem+json": {"schema": collector.ref(schemas.ProblemOut)}}
    errors = dict(op.errors)
    if op.body is not None:
        errors.setdefault(400, []).append("invalid_json")
        errors.setdefault(413, []).append("body_too_large")
        errors.setdefault(415, []).append("unsupported_media_type")
        errors.setdefault(422, []).append("validation_error")
    if op.auth:
        errors.setdefault(401, []).append("unauthenticated")
    for status, codes in sorted(errors.items()):
        unique = sorted(set(codes))
        out[str(status)] = {"description": "Problem: " + ", ".join(f"`{c}`" for c in unique), "content": problem}
    return out


class OpenApiDocument:
    document: dict[str, Any] = {}  # set by create_app once every route is known

    @operation("This OpenAPI 3.1 document", tags=("meta",), responses={200: ("application/json", "OpenAPI")})
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self.document


class DocsPage:
    document: dict[str, Any] = {}

    @operation("A page rendering the OpenAPI document", tags=("meta",), responses={"html": "HTML"})
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        render(resp, "docs.html", doc=self.document, methods=METHODS)
