//! The response envelope every HTTP answer wears, success or error:
//! `{"code", "msg", "data", "datetime", "ext"}` with `ext.requestId` always.

use lambda_http::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::domain::Timestamp;
use crate::error::{ApiError, ErrorKind, RETRY_AFTER_SECS};

/// The id that ties a response to its log lines: API Gateway's request id when there is one,
/// else the Lambda invocation's, else the caller's `x-request-id`, else a fresh one.
pub fn request_id(req: &Request) -> String {
    if let Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) =
        req.request_context_ref()
    {
        if let Some(id) = &context.request_id {
            return id.clone();
        }
    }
    if let Some(context) = req.lambda_context_ref() {
        if !context.request_id.is_empty() {
            return context.request_id.clone();
        }
    }
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned)
        .unwrap_or_else(|| ulid::Ulid::new().to_string())
}

/// A 200 with `data`.
pub fn success(request_id: &str, data: impl Serialize) -> Response<Body> {
    let data = match serde_json::to_value(data) {
        Ok(data) => data,
        Err(error) => {
            tracing::error!(%error, "response data did not serialize");
            return failure(request_id, &ApiError::internal());
        }
    };
    let mut ext = Map::new();
    ext.insert("requestId".into(), Value::String(request_id.into()));
    respond(StatusCode::OK, envelope("S", "success", data, ext))
}

/// The error's status, headers and envelope.
pub fn failure(request_id: &str, error: &ApiError) -> Response<Body> {
    let mut ext = Map::new();
    ext.insert("eKey".into(), Value::String(error.kind.key().into()));
    if let Some(field) = &error.field {
        ext.insert("field".into(), Value::String(field.clone()));
    }
    ext.insert("requestId".into(), Value::String(request_id.into()));
    let status =
        StatusCode::from_u16(error.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = respond(
        status,
        envelope(error.kind.code(), &error.msg, Value::Null, ext),
    );
    let headers = response.headers_mut();
    match error.kind {
        ErrorKind::Unauthorized => {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        ErrorKind::Throttled => {
            headers.insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        _ => {}
    }
    response
}

fn envelope(code: &str, msg: &str, data: Value, ext: Map<String, Value>) -> Value {
    json!({ "code": code, "msg": msg, "data": data, "datetime": Timestamp::now().to_string(), "ext": ext })
}

fn respond(status: StatusCode, body: Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(response: &Response<Body>) -> Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn success_wears_the_envelope() {
        let response = success("req-1", json!({"total": "3"}));
        assert_eq!(response.status(), 200);
        let body = body(&response);
        assert_eq!(body["code"], "S");
        assert_eq!(body["data"]["total"], "3");
        assert_eq!(body["ext"], json!({"requestId": "req-1"}));
        assert!(Timestamp::parse(body["datetime"].as_str().unwrap()).is_ok());
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    }

    #[test]
    fn every_error_class_has_its_status_code_and_key() {
        let cases = [
            (
                ApiError::invalid("pageSize", "too big"),
                400,
                "E0",
                "invalid_param",
            ),
            (
                ApiError::unauthorized("no token"),
                401,
                "E0",
                "unauthorized",
            ),
            (ApiError::forbidden("no"), 403, "E0", "forbidden"),
            (ApiError::not_found("none"), 404, "E1", "not_found"),
            (ApiError::throttled(), 503, "E3", "throttled"),
            (ApiError::internal(), 500, "E2", "internal"),
        ];
        for (error, status, code, key) in cases {
            let response = failure("req-2", &error);
            let body = body(&response);
            assert_eq!(response.status(), status);
            assert_eq!(body["code"], code);
            assert_eq!(body["msg"], error.msg.as_str());
            assert_eq!(body["data"], Value::Null);
            assert_eq!(body["ext"]["eKey"], key);
            assert_eq!(body["ext"]["requestId"], "req-2");
        }
    }

    #[test]
    fn errors_name_the_field_and_carry_their_headers() {
        let body_of_400 = body(&failure("r", &ApiError::invalid("filters[3]", "bad op")));
        assert_eq!(body_of_400["ext"]["field"], "filters[3]");
        let unauthorized = failure("r", &ApiError::unauthorized("expired"));
        assert_eq!(
            unauthorized.headers()[WWW_AUTHENTICATE],
            "Bearer error=\"invalid_token\""
        );
        assert!(body(&unauthorized)["ext"].get("field").is_none());
        assert_eq!(
            failure("r", &ApiError::throttled()).headers()[RETRY_AFTER],
            "1"
        );
    }
}
