//! Walks every path and method of `/v1/openapi.json` against the real server:
//! each operation is called for success, without a token, and with bad input
//! where the document promises a 400/404; statuses must be documented and
//! bodies must carry the required fields of the documented schema.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use support::Fixture;

/// A request the walker sends: operation, method, path, body, whether it sends the token.
struct Call {
    op: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
    auth: bool,
}

fn call(op: &'static str, method: Method, path: &str, body: Option<Value>) -> Call {
    Call {
        op,
        method,
        path: path.to_string(),
        body,
        auth: true,
    }
}

/// Successful and failing calls covering every operation of the document.
fn calls(id: u64) -> Vec<Call> {
    let one = json!({"value": "203.0.113.9", "duration": "1h", "reason": "walk"});
    let many =
        json!([{"value": "client:w1", "reason": "walk"}, {"value": "asn:64500", "reason": "walk"}]);
    vec![
        call(
            "listBlocks",
            Method::GET,
            "/v1/blocks?scope=ip&limit=5",
            None,
        ),
        call("listBlocks", Method::GET, "/v1/blocks?scope=nope", None),
        call("addBlocks", Method::POST, "/v1/blocks", Some(one)),
        call("addBlocks", Method::POST, "/v1/blocks", Some(many)),
        call(
            "addBlocks",
            Method::POST,
            "/v1/blocks",
            Some(json!({"value": "1.2.3.4/8", "reason": "x"})),
        ),
        call(
            "streamBlocks",
            Method::GET,
            "/v1/blocks/stream?startup=true",
            None,
        ),
        call(
            "streamBlocks",
            Method::GET,
            "/v1/blocks/stream?startup=7",
            None,
        ),
        call("getBlock", Method::GET, &format!("/v1/blocks/{id}"), None),
        call("getBlock", Method::GET, "/v1/blocks/999999", None),
        call("getBlock", Method::GET, "/v1/blocks/x", None),
        call("getClient", Method::GET, "/v1/clients/ip:203.0.113.9", None),
        call("getClient", Method::GET, "/v1/clients/bogus", None),
        call(
            "forgiveClient",
            Method::DELETE,
            "/v1/clients/client:w1/reputation",
            None,
        ),
        call(
            "forgiveClient",
            Method::DELETE,
            "/v1/clients/bogus/reputation",
            None,
        ),
        call("listEvents", Method::GET, "/v1/events?limit=10", None),
        call("listEvents", Method::GET, "/v1/events?limit=0", None),
        call("getOpenApi", Method::GET, "/v1/openapi.json", None),
        call(
            "deleteBlock",
            Method::DELETE,
            &format!("/v1/blocks/{id}?reason=walk"),
            None,
        ),
        call(
            "deleteBlock",
            Method::DELETE,
            &format!("/v1/blocks/{id}"),
            None,
        ),
        call("deleteBlock", Method::DELETE, "/v1/blocks/-1", None),
    ]
}

/// Follows a local `$ref`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let pointer = r.trim_start_matches('#');
            resolve(
                doc,
                doc.pointer(pointer)
                    .unwrap_or_else(|| panic!("dangling {r}")),
            )
        }
        None => schema,
    }
}

fn type_ok(ty: &str, v: &Value) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        other => panic!("unknown type {other}"),
    }
}

/// Problems of `v` against `schema` (types, required fields, enums), with JSON paths.
fn check(doc: &Value, schema: &Value, v: &Value, at: &str) -> Vec<String> {
    let schema = resolve(doc, schema);
    if let Some(options) = schema["oneOf"].as_array() {
        let ok = options.iter().any(|s| check(doc, s, v, at).is_empty());
        return if ok {
            vec![]
        } else {
            vec![format!("{at}: matches no oneOf branch")]
        };
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !types.is_empty() && !types.iter().any(|t| type_ok(t, v)) {
        return vec![format!("{at}: {v} is not {types:?}")];
    }
    if let Some(values) = schema["enum"].as_array()
        && !values.contains(v)
    {
        return vec![format!("{at}: {v} not in enum")];
    }
    let mut problems = Vec::new();
    if let Some(obj) = v.as_object() {
        for field in schema["required"].as_array().into_iter().flatten() {
            let name = field.as_str().unwrap();
            if !obj.contains_key(name) {
                problems.push(format!("{at}: missing required {name}"));
            }
        }
        for (name, sub) in schema["properties"].as_object().into_iter().flatten() {
            if let Some(value) = obj.get(name) {
                problems.extend(check(doc, sub, value, &format!("{at}.{name}")));
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), v.as_array()) {
        for (i, item) in array.iter().enumerate() {
            problems.extend(check(doc, items, item, &format!("{at}[{i}]")));
        }
    }
    problems
}

/// The documented operation for `method` + `path`, matching `{param}` segments.
fn operation<'a>(doc: &'a Value, method: &Method, path: &str) -> (&'a str, &'a Value) {
    let path = path.split('?').next().unwrap();
    let segments: Vec<&str> = path.split('/').collect();
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(template, _)| {
            let t: Vec<&str> = template.split('/').collect();
            t.len() == segments.len()
                && t.iter()
                    .zip(&segments)
                    .all(|(a, b)| a.starts_with('{') || a == b)
        })
        .map(|(template, item)| (template.as_str(), &item[method.as_str().to_lowercase()]))
        .unwrap_or_else(|| panic!("{method} {path} is not documented"))
}

/// Sends one call; asserts its status is documented and its body fits the schema.
async fn walk(f: &Fixture, doc: &Value, op: &Value, c: &Call, with_token: bool) -> u16 {
    let mut rb = f.http.request(c.method.clone(), f.url(&c.path));
    if with_token {
        rb = rb.bearer_auth(support::TOKEN);
    }
    if let Some(body) = &c.body {
        rb = rb.json(body);
    }
    let (status, body) = f.send(rb).await;
    let response = &op["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{} {}: status {status} not documented ({body})",
        c.method,
        c.path
    );
    let schema = &response["content"]["application/json"]["schema"];
    let problems = check(doc, schema, &body, "$");
    assert!(
        problems.is_empty(),
        "{} {} {status}: {problems:?}\n{body}",
        c.method,
        c.path
    );
    status
}

#[tokio::test]
async fn every_documented_operation_behaves_as_documented() {
    let f = Fixture::start().await;
    let (status, doc) = f.send(f.http.get(f.url("/v1/openapi.json"))).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let (_, seed) = f
        .post(
            "/v1/blocks",
            json!({"value": "198.51.100.0/24", "reason": "seed"}),
        )
        .await;
    let id = seed["id"].as_u64().unwrap();

    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.insert(op["operationId"].as_str().unwrap().to_string());
            assert!(op["responses"].is_object(), "{method} {path} has responses");
        }
    }
    let mut exercised = BTreeSet::new();
    let mut statuses = BTreeSet::new();
    for c in calls(id) {
        let (template, op) = operation(&doc, &c.method, &c.path);
        assert_eq!(
            op["operationId"], c.op,
            "{} {} routes to {template}",
            c.method, c.path
        );
        let public = op["security"].as_array().is_some_and(|s| s.is_empty());
        let mut cases = vec![c.auth];
        if !public {
            cases.push(false);
        }
        for with_token in cases {
            let status = walk(&f, &doc, op, &c, with_token).await;
            statuses.insert((c.op, status));
        }
        exercised.insert(c.op.to_string());
    }
    assert_eq!(
        exercised, documented,
        "every documented operation is walked"
    );
    for op in &documented {
        assert!(
            statuses.iter().any(|(o, s)| o == op && *s < 300),
            "{op} never succeeded"
        );
    }
    for (op, expected) in [
        ("getBlock", 404),
        ("deleteBlock", 404),
        ("addBlocks", 400),
        ("listBlocks", 401),
    ] {
        assert!(
            statuses.contains(&(op, expected)),
            "{op} never answered {expected}"
        );
    }
}

#[test]
fn the_checker_catches_missing_fields_and_wrong_types() {
    let doc = execgate_state::admin::openapi_document();
    let decision = json!({"$ref": "#/components/schemas/Decision"});
    let problems = check(&doc, &decision, &json!({"id": "x"}), "$");
    assert!(problems.iter().any(|p| p.contains("$.id")), "{problems:?}");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("missing required scope")),
        "{problems:?}"
    );
}

#[test]
fn the_stream_schema_requires_and_explains_resync() {
    let doc = execgate_state::admin::openapi_document();
    let stream = json!({"$ref": "#/components/schemas/DecisionStream"});
    let problems = check(
        &doc,
        &stream,
        &json!({"new": [], "deleted": [], "cursor": 1}),
        "$",
    );
    assert_eq!(problems, vec!["$: missing required resync"]);
    let problems = check(
        &doc,
        &stream,
        &json!({"new": [], "deleted": [], "resync": "yes", "cursor": 1}),
        "$",
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    let resync = &doc["components"]["schemas"]["DecisionStream"]["properties"]["resync"];
    assert!(
        resync["description"]
            .as_str()
            .is_some_and(|d| d.contains("complete set")),
        "{resync}"
    );
}
