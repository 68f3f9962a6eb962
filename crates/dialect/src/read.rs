//! Reading client JSON field by field, so that every refusal names the exact
//! field (`files[0].content`) and says what was expected.

use crate::model::RequestError;
use serde_json::{Map, Value};

/// Parses a request body: UTF-8 first (for a precise message), then JSON.
pub(crate) fn parse_body(body: &[u8]) -> Result<Value, RequestError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        RequestError::new(
            "body",
            format!(
                "is not valid UTF-8 (first invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })?;
    serde_json::from_str(text)
        .map_err(|e| RequestError::new("body", format!("malformed JSON: {e}")))
}

/// A name for a JSON value's type, for "must be a string, not a number".
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `at.key`, or `key` at the top level.
pub(crate) fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

/// `at[index]`.
pub(crate) fn index(at: &str, index: usize) -> String {
    format!("{at}[{index}]")
}

/// A mistyped value.
pub(crate) fn mistyped(field: String, expected: &str, found: &Value) -> RequestError {
    RequestError::new(
        field,
        format!("must be {expected}, not {}", type_name(found)),
    )
}

/// A JSON object being read, with the path that names its fields in errors.
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    at: String,
}

impl<'a> Fields<'a> {
    /// `value` as an object, named `at` in errors (`body` at the top level).
    pub(crate) fn of(value: &'a Value, at: &str) -> Result<Self, RequestError> {
        match value {
            Value::Object(map) => Ok(Self {
                map,
                at: at.to_string(),
            }),
            other => Err(mistyped(
                if at.is_empty() {
                    "body".into()
                } else {
                    at.into()
                },
                "a JSON object",
                other,
            )),
        }
    }

    /// The error name of `key`.
    pub(crate) fn name(&self, key: &str) -> String {
        join(&self.at, key)
    }

    /// The value of `key`; `null` counts as absent, as executors treat it.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// An optional string.
    pub(crate) fn string(&self, key: &str) -> Result<Option<&'a str>, RequestError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(mistyped(self.name(key), "a string", other)),
        }
    }

    /// A required string.
    pub(crate) fn required_string(&self, key: &str) -> Result<&'a str, RequestError> {
        self.string(key)?.ok_or_else(|| self.missing(key))
    }

    /// An optional array.
    pub(crate) fn array(&self, key: &str) -> Result<Option<&'a Vec<Value>>, RequestError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(other) => Err(mistyped(self.name(key), "an array", other)),
        }
    }

    /// A required array of 1 to `max` items; `noun` names them in the refusal.
    pub(crate) fn bounded_array(
        &self,
        key: &str,
        max: usize,
        noun: &str,
    ) -> Result<&'a Vec<Value>, RequestError> {
        let list = self.array(key)?.ok_or_else(|| self.missing(key))?;
        if list.is_empty() {
            return Err(RequestError::new(self.name(key), "must not be empty"));
        }
        if list.len() > max {
            return Err(RequestError::new(
                self.name(key),
                format!("has {} {noun}; at most {max} are allowed", list.len()),
            ));
        }
        Ok(list)
    }

    /// A required non-negative integer.
    pub(crate) fn required_u64(&self, key: &str) -> Result<u64, RequestError> {
        match self.get(key) {
            None => Err(self.missing(key)),
            Some(Value::Number(n)) => n
                .as_u64()
                .ok_or_else(|| RequestError::new(self.name(key), "must be a non-negative integer")),
            Some(other) => Err(mistyped(self.name(key), "an integer", other)),
        }
    }

    /// The error for a required field that is absent.
    pub(crate) fn missing(&self, key: &str) -> RequestError {
        RequestError::new(self.name(key), "is required")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_must_be_utf8_json() {
        let err = parse_body(b"{\"a\":\"\xff\"}").unwrap_err();
        assert_eq!(err.field, "body");
        assert!(
            err.message.contains("UTF-8") && err.message.contains("offset 6"),
            "{err}"
        );
        let err = parse_body(b"{\"a\":").unwrap_err();
        assert!(err.message.starts_with("malformed JSON"), "{err}");
        assert!(parse_body(b"[1]").is_ok());
    }

    #[test]
    fn non_objects_are_named() {
        let v = json!([1]);
        let err = Fields::of(&v, "").err().unwrap();
        assert_eq!(
            err,
            RequestError::new("body", "must be a JSON object, not an array")
        );
        let err = Fields::of(&v, "files[0]").err().unwrap();
        assert_eq!(err.field, "files[0]");
    }

    #[test]
    fn fields_are_typed_and_named() {
        let v = json!({"s": "x", "n": 3, "neg": -1, "nul": null, "arr": []});
        let f = Fields::of(&v, "files[1]").unwrap();
        assert_eq!(f.string("s").unwrap(), Some("x"));
        assert_eq!(f.string("nul").unwrap(), None);
        let err = f.string("n").unwrap_err();
        assert_eq!(
            err,
            RequestError::new("files[1].n", "must be a string, not a number")
        );
        assert_eq!(f.required_string("zz").unwrap_err().message, "is required");
        assert_eq!(f.required_u64("n").unwrap(), 3);
        assert_eq!(
            f.required_u64("neg").unwrap_err().message,
            "must be a non-negative integer"
        );
        assert!(f.array("arr").unwrap().is_some());
        assert!(f.array("s").is_err());
    }
}
