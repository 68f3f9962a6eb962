//! The OpenAPI 3.1 description of the admin API, served at `/v1/openapi.json`.
//! A test walks every path and method in it against the real server.

use axum::Json;
use serde_json::{Value, json};

/// The 500 of a change the blocklist could not persist.
const STORAGE_FAILED: &str = "The blocklist could not be saved; nothing was changed";

/// `GET /v1/openapi.json`.
pub(super) async fn serve() -> Json<Value> {
    Json(document())
}

fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn content(name: &str) -> Value {
    json!({ "application/json": { "schema": schema(name) } })
}

fn error(description: &str) -> Value {
    json!({ "description": description, "content": content("Error") })
}

fn ok(description: &str, name: &str) -> Value {
    json!({ "description": description, "content": content(name) })
}

fn param(name: &str, place: &str, required: bool, schema: Value, description: &str) -> Value {
    json!({ "name": name, "in": place, "required": required, "schema": schema, "description": description })
}

/// The usual error responses of an authenticated endpoint, plus `extra`.
fn responses(success: (&str, Value), extra: &[(&str, &str)]) -> Value {
    let mut r = json!({
        success.0: success.1,
        "400": error("Invalid parameters or body"),
        "401": error("Missing or invalid bearer token"),
        "429": error("Too many failed logins from this address (with Retry-After)"),
    });
    for (status, description) in extra {
        r[*status] = error(description);
    }
    r
}

/// A `limit` query parameter of at most `max`.
fn limit_param(max: u32) -> Value {
    param(
        "limit",
        "query",
        false,
        json!({"type": "integer", "minimum": 1, "maximum": max}),
        "Page size",
    )
}

/// Every documented path.
fn paths() -> Value {
    let mut paths = block_paths();
    if let (Some(all), Value::Object(more)) = (paths.as_object_mut(), other_paths()) {
        all.extend(more);
    }
    paths
}

/// `/v1/blocks…`.
fn block_paths() -> Value {
    json!({
        "/v1/blocks": { "get": list_blocks(), "post": add_blocks() },
        "/v1/blocks/stream": { "get": stream_blocks() },
        "/v1/blocks/{id}": block_by_id(),
    })
}

/// `GET /v1/blocks`.
fn list_blocks() -> Value {
    json!({
        "operationId": "listBlocks",
        "summary": "List active decisions",
        "parameters": [
            param("scope", "query", false, json!({"type": "string", "enum": ["ip", "range", "client", "country", "asn"]}), "Only this scope"),
            param("origin", "query", false, json!({"type": "string", "enum": ["manual", "anomaly", "list"]}), "Only this origin"),
            param("value", "query", false, json!({"type": "string"}), "Only this value"),
            limit_param(1000),
            param("offset", "query", false, json!({"type": "integer", "minimum": 0}), "Decisions to skip"),
        ],
        "responses": responses(("200", ok("A page of decisions", "DecisionPage")), &[]),
    })
}

/// `POST /v1/blocks`.
fn add_blocks() -> Value {
    json!({
        "operationId": "addBlocks",
        "summary": "Add one decision, or up to 10000 in an array (all or none)",
        "description": "A value has at most one active decision. Adding a value already blocked (same scope and value, also twice in one array) keeps its decision and id and gives it the later of the two expiries (no duration is the latest); when the add extends it, its reason, origin and created_by replace the old ones and stream followers get it again in `new`. An add that does not extend it changes nothing. The reply holds the resulting decision of each item, in order.",
        "requestBody": {
            "required": true,
            "content": { "application/json": { "schema": { "oneOf": [
                schema("NewDecision"),
                { "type": "array", "items": schema("NewDecision"), "minItems": 1, "maxItems": 10000 },
            ]}}},
        },
        "responses": responses(
            ("201", json!({
                "description": "The resulting decision (an existing one when merged), or {\"decisions\": [...]}, one per item, for an array",
                "content": { "application/json": { "schema": { "oneOf": [schema("Decision"), schema("DecisionBatch")] } } },
            })),
            &[("413", "Body over 4 MiB"), ("415", "Not JSON"), ("500", STORAGE_FAILED), ("507", "The blocklist is full")],
        ),
    })
}

/// `GET /v1/blocks/stream`.
fn stream_blocks() -> Value {
    json!({
        "operationId": "streamBlocks",
        "summary": "All active decisions on start-up, then the changes since this caller's last pull",
        "description": "A follower applies `deleted`, then `new`. When `resync` is true, `new` is the complete set of active decisions: the follower drops every decision it holds that is not in it. Callers are told apart by token and `caller`; 1024 are remembered, and past that the least recently seen is forgotten (its next pull is a resync).",
        "parameters": [
            param("startup", "query", false, json!({"type": "boolean"}), "Send every active decision (resync) and restart this caller's cursor"),
            param("caller", "query", false, json!({"type": "string", "maxLength": 64}), "Tells several consumers sharing a token apart"),
            param("cursor", "query", false, json!({"type": "integer", "minimum": 0}), "The `cursor` of the last answer this follower applied: the pull resumes from it, so an answer lost on the way is sent again"),
        ],
        "responses": responses(("200", ok("New and deleted decisions", "DecisionStream")), &[("500", "The pull failed; the caller's cursor is unchanged")]),
    })
}

/// `GET` and `DELETE /v1/blocks/{id}`.
fn block_by_id() -> Value {
    let id = param(
        "id",
        "path",
        true,
        json!({"type": "integer", "minimum": 0}),
        "Decision id",
    );
    json!({
        "get": {
            "operationId": "getBlock",
            "summary": "One active decision",
            "parameters": [id.clone()],
            "responses": responses(("200", ok("The decision", "Decision")), &[("404", "No active decision with this id")]),
        },
        "delete": {
            "operationId": "deleteBlock",
            "summary": "Remove a decision",
            "parameters": [id, param("reason", "query", false, json!({"type": "string"}), "Why, for the audit log")],
            "responses": responses(("200", ok("The removed decision", "Decision")), &[("404", "No decision with this id"), ("500", STORAGE_FAILED)]),
        },
    })
}

/// Clients, events and this document.
fn other_paths() -> Value {
    let key = param(
        "key",
        "path",
        true,
        json!({"type": "string"}),
        "Client key (ip:ADDRESS, ip:PREFIX/64 URL-encoded, client:ID) or an IP address",
    );
    json!({
        "/v1/clients/{key}": {
            "get": {
                "operationId": "getClient",
                "summary": "A client's tier, rate-limit windows, reputation, block and recent events",
                "parameters": [key.clone()],
                "responses": responses(("200", ok("The client", "Client")), &[]),
            },
        },
        "/v1/clients/{key}/reputation": {
            "delete": {
                "operationId": "forgiveClient",
                "summary": "Reset a client's reputation score and ban history",
                "parameters": [key],
                "responses": responses(("200", ok("The reset reputation", "Reputation")), &[]),
            },
        },
        "/v1/events": {
            "get": {
                "operationId": "listEvents",
                "summary": "Recent security events, oldest first",
                "parameters": [
                    param("since", "query", false, json!({"type": "string"}), "RFC 3339 time or Unix seconds"),
                    limit_param(1000),
                ],
                "responses": responses(("200", ok("Events", "Events")), &[]),
            },
        },
        "/v1/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document",
                "security": [],
                "responses": { "200": { "description": "OpenAPI 3.1 document", "content": { "application/json": { "schema": { "type": "object", "required": ["openapi", "paths"] } } } } },
            },
        },
    })
}

/// Every schema.
fn schemas() -> Value {
    let mut schemas = decision_schemas();
    if let (Some(all), Value::Object(more)) = (schemas.as_object_mut(), client_schemas()) {
        all.extend(more);
    }
    schemas
}

/// Errors and decisions.
fn decision_schemas() -> Value {
    let time = json!({"type": "string", "format": "date-time"});
    json!({
        "Error": {
            "type": "object", "required": ["error"],
            "properties": { "error": {
                "type": "object", "required": ["code", "message"],
                "properties": { "code": {"type": "string"}, "message": {"type": "string"} },
            }},
        },
        "Decision": {
            "type": "object",
            "required": ["id", "scope", "value", "type", "origin", "reason", "created_at", "expires_at", "created_by"],
            "properties": {
                "id": {"type": "integer"},
                "scope": {"type": "string", "enum": ["ip", "range", "client", "country", "asn"]},
                "value": {"type": "string"},
                "type": {"type": "string", "enum": ["ban"]},
                "origin": {"type": "string", "enum": ["manual", "anomaly", "list"]},
                "reason": {"type": "string"},
                "created_at": time,
                "expires_at": {"type": ["string", "null"], "format": "date-time"},
                "created_by": {"type": "string"},
            },
        },
        "NewDecision": {
            "type": "object", "required": ["value", "reason"], "additionalProperties": false,
            "properties": {
                "value": {"type": "string", "description": "203.0.113.7 | 198.51.100.0/24 | client:abc | country:XX | asn:64500"},
                "duration": {"type": "string", "description": "e.g. \"4h\"; omit for a decision that never expires; at least 1s, at most 3650 days"},
                "reason": {"type": "string", "maxLength": 1024},
                "origin": {"type": "string", "enum": ["manual", "list"], "default": "manual"},
            },
        },
        "DecisionPage": {
            "type": "object", "required": ["decisions", "next_offset"],
            "properties": {
                "decisions": {"type": "array", "items": schema("Decision")},
                "next_offset": {"type": ["integer", "null"]},
            },
        },
        "DecisionBatch": {
            "type": "object", "required": ["decisions"],
            "properties": { "decisions": {"type": "array", "items": schema("Decision")} },
        },
        "DecisionStream": {
            "type": "object", "required": ["new", "deleted", "resync", "cursor"],
            "properties": {
                "new": {"type": "array", "items": schema("Decision"), "description": "Decisions added or extended since this caller's last pull; with resync, every active decision"},
                "deleted": {"type": "array", "items": schema("Decision"), "description": "Decisions removed or expired since this caller's last pull; empty with resync"},
                "cursor": {"type": "integer", "minimum": 0, "description": "Where this answer leaves the follower: send it back as `cursor=` on the next pull"},
                "resync": {"type": "boolean", "description": "When true, `new` is the complete set of active decisions, not an increment: drop anything not in it. True for startup=true, for a caller not seen before, and when the caller's position is lost (a restart, more changes than the change log keeps, or the caller was forgotten as least recently seen)"},
            },
        },
    })
}

/// Clients, windows and events.
fn client_schemas() -> Value {
    let time = json!({"type": "string", "format": "date-time"});
    json!({
        "Window": {
            "type": "object", "required": ["name", "quota", "period_secs", "remaining", "reset_after_secs"],
            "properties": {
                "name": {"type": "string"}, "quota": {"type": "integer"}, "period_secs": {"type": "integer"},
                "remaining": {"type": "integer"},
                "reset_after_secs": {"type": "integer", "description": "Seconds until one more request is allowed"},
            },
        },
        "Reputation": {
            "type": "object", "required": ["score", "offences"],
            "properties": { "score": {"type": "number"}, "offences": {"type": "integer"} },
        },
        "Event": {
            "type": "object", "required": ["seq", "at", "kind", "key", "ip", "detail"],
            "properties": {
                "seq": {"type": "integer"}, "at": time,
                "kind": {"type": "string", "enum": ["code_rejected", "rate_limited", "body_too_large", "exec_timeout", "memory_killed", "output_limit", "output_leak", "upstream_error", "refused", "high_request_rate", "high_error_rate", "banned", "would_ban", "forgiven"]},
                "key": {"type": "string"}, "ip": {"type": ["string", "null"]}, "detail": {"type": "string"},
            },
        },
        "Events": {
            "type": "object", "required": ["events"],
            "properties": { "events": {"type": "array", "items": schema("Event")} },
        },
        "Client": {
            "type": "object", "required": ["key", "tier", "windows", "reputation", "blocked", "events"],
            "properties": {
                "key": {"type": "string"}, "tier": {"type": ["string", "null"]},
                "windows": {"type": "array", "items": schema("Window")},
                "reputation": schema("Reputation"),
                "blocked": {"oneOf": [schema("Decision"), {"type": "null"}]},
                "events": {"type": "array", "items": schema("Event")},
            },
        },
    })
}

/// The OpenAPI 3.1 document of the admin API.
pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "execgate admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Blocklist, client standing and security events. Every endpoint but this document needs `Authorization: Bearer TOKEN`. Errors are {\"error\":{\"code\",\"message\"}}.",
        },
        "security": [{ "bearerAuth": [] }],
        "paths": paths(),
        "components": {
            "securitySchemes": { "bearerAuth": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas(),
        },
    })
}
