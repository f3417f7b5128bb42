"""A 1000-tool OpenAPI catalog for the tools/list benchmark of bench/run.sh.

usage: tools1000.py OUT_JSON [N]      N operations, default 1000
Writes an OpenAPI 3.0.3 document (JSON) with N GET operations, each one tool: a path parameter,
two query parameters (limit, offset), a summary, a description and an object response schema,
so each tool's inputSchema is of a realistic size. Deterministic output.
"""
import json, sys

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
resources = ["orders", "invoices", "customers", "products", "shipments", "tickets", "projects", "accounts"]
paths = {}
for i in range(n):
    res = resources[i % len(resources)]
    path = f"/v1/{res}{i:04d}/{{id}}"
    paths[path] = {"get": {
        "operationId": f"get_{res}_{i:04d}",
        "summary": f"Read one {res[:-1]} of collection {i}",
        "description": f"Returns the {res[:-1]} with the given id from collection {i}, "
                       "with its line items and history, paged by limit and offset.",
        "tags": [res],
        "parameters": [
            {"name": "id", "in": "path", "required": True, "description": "Record id",
             "schema": {"type": "integer", "minimum": 1}},
            {"name": "limit", "in": "query", "description": "Items per page",
             "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
            {"name": "offset", "in": "query", "description": "Items to skip",
             "schema": {"type": "integer", "minimum": 0, "default": 0}},
        ],
        "responses": {"200": {"description": "The record", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                                             "items": {"type": "array", "items": {"type": "object"}}}}}}}},
    }}
doc = {"openapi": "3.0.3", "info": {"title": f"Benchmark catalog of {n} tools", "version": "1.0"},
       "servers": [{"url": "http://127.0.0.1:1"}], "paths": paths}
with open(out, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
