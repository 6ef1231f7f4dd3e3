//! The response envelope every HTTP answer wears, success or error:
//! `{"code", "msg", "data", "datetime", "ext"}` with `ext.requestId` always.

use lambda_http::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::domain::error::{ApiError, ErrorKind, RATE_LIMIT_RETRY_AFTER_SECS, RETRY_AFTER_SECS};
use crate::domain::Timestamp;

/// The id that ties a response to its log lines and its metric line: API Gateway's request id
/// when there is one ([`api_request_id`]), else the Lambda invocation's (in a function, the same
/// id as its log lines' `requestId`, `crate::lambda::telemetry`), else (outside Lambda: the local
/// API, tests) the caller's `x-request-id`, else a fresh one.
pub fn request_id(req: &Request) -> String {
    if let Some(id) = api_request_id(req) {
        return id.to_owned();
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

/// API Gateway's id of the request (`requestContext.requestId` of an HTTP API event), if it has
/// a non-empty one.
pub fn api_request_id(req: &Request) -> Option<&str> {
    match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) => {
            context.request_id.as_deref().filter(|id| !id.is_empty())
        }
        _ => None,
    }
}

/// The envelope, fields in the contract's order.
#[derive(Serialize)]
struct Envelope<'a> {
    code: &'a str,
    msg: &'a str,
    data: Option<&'a RawValue>,
    datetime: Timestamp,
    ext: Ext<'a>,
}

#[derive(Serialize)]
struct Ext<'a> {
    #[serde(rename = "eKey", skip_serializing_if = "Option::is_none")]
    e_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(rename = "requestId")]
    request_id: &'a str,
    /// The token for the next page of a listing, when one follows.
    #[serde(rename = "nextPageToken", skip_serializing_if = "Option::is_none")]
    next_page_token: Option<&'a str>,
}

/// A 200 with `data`, already serialized (see [`to_data`]).
pub fn success(request_id: &str, data: &RawValue) -> Response<Body> {
    success_with_next_page(request_id, data, None)
}

/// A 200 with `data` and, for a listing with more pages, `ext.nextPageToken`.
pub fn success_with_next_page(request_id: &str, data: &RawValue, next_page_token: Option<&str>) -> Response<Body> {
    let ext = Ext {
        e_key: None,
        field: None,
        request_id,
        next_page_token,
    };
    respond(
        StatusCode::OK,
        &Envelope {
            code: "S",
            msg: "success",
            data: Some(data),
            datetime: Timestamp::now(),
            ext,
        },
    )
}

/// A success that stopped at its time budget: 202, `code` `S`, `msg` saying what is left and how
/// to finish it, `data` what was done.
pub fn unfinished(request_id: &str, data: &RawValue, msg: &str) -> Response<Body> {
    let ext = Ext {
        e_key: None,
        field: None,
        request_id,
        next_page_token: None,
    };
    respond(
        StatusCode::ACCEPTED,
        &Envelope {
            code: "S",
            msg,
            data: Some(data),
            datetime: Timestamp::now(),
            ext,
        },
    )
}

/// Serializes a handler's `data` once, straight into the JSON the envelope will carry.
pub fn to_data(data: impl Serialize) -> Result<Box<RawValue>, ApiError> {
    serde_json::value::to_raw_value(&data).map_err(|error| {
        tracing::error!(%error, "response data did not serialize");
        ApiError::internal()
    })
}

/// The error's status, headers and envelope.
pub fn failure(request_id: &str, error: &ApiError) -> Response<Body> {
    let ext = Ext {
        e_key: Some(error.kind.key()),
        field: error.field.as_deref(),
        request_id,
        next_page_token: None,
    };
    let envelope = Envelope {
        code: error.kind.code(),
        msg: &error.msg,
        data: None,
        datetime: Timestamp::now(),
        ext,
    };
    let status = StatusCode::from_u16(error.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = respond(status, &envelope);
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
        ErrorKind::RateLimited => {
            headers.insert(RETRY_AFTER, HeaderValue::from(RATE_LIMIT_RETRY_AFTER_SECS));
        }
        _ => {}
    }
    response
}

fn respond(status: StatusCode, envelope: &Envelope<'_>) -> Response<Body> {
    // An envelope of strings and already-valid JSON always serializes.
    let body = serde_json::to_string(envelope).unwrap_or_default();
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::{json, Value};

    fn body(response: &Response<Body>) -> Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn success_wears_the_envelope() {
        let response = success("req-1", &to_data(serde_json::json!({"total": "3"})).unwrap());
        assert_eq!(response.status(), 200);
        let body = body(&response);
        assert_eq!(body["code"], "S");
        assert_eq!(body["data"]["total"], "3");
        assert_eq!(body["ext"], json!({"requestId": "req-1"}));
        assert!(Timestamp::parse(body["datetime"].as_str().unwrap()).is_ok());
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        let text = std::str::from_utf8(response.body().as_ref()).unwrap();
        assert!(
            text.starts_with(r#"{"code":"S","msg":"success","data":{"total":"3"},"datetime":""#),
            "{text}"
        );
    }

    #[test]
    fn the_request_id_is_api_gateways_else_lambdas_else_the_callers() {
        use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
        use lambda_http::request::RequestContext;

        let request = |api_id: Option<&str>, lambda_id: &str| {
            let mut context = ApiGatewayV2httpRequestContext::default();
            context.request_id = api_id.map(str::to_owned);
            let mut lambda = lambda_http::Context::default();
            lambda.request_id = lambda_id.to_owned();
            let mut req = Request::default()
                .with_request_context(RequestContext::ApiGatewayV2(context))
                .with_lambda_context(lambda);
            req.headers_mut()
                .insert("x-request-id", HeaderValue::from_static("caller-1"));
            req
        };
        assert_eq!(request_id(&request(Some("apigw-1"), "lambda-1")), "apigw-1");
        assert_eq!(request_id(&request(None, "lambda-1")), "lambda-1");
        assert_eq!(
            request_id(&request(Some(""), "lambda-1")),
            "lambda-1",
            "an empty id is no id"
        );
        assert_eq!(api_request_id(&request(Some(""), "lambda-1")), None);
        assert_eq!(request_id(&request(Some(""), "")), "caller-1", "outside Lambda");
    }

    #[test]
    fn every_error_class_has_its_status_code_and_key() {
        let cases = [
            (ApiError::invalid("pageSize", "too big"), 400, "E0", "invalid_param"),
            (ApiError::unauthorized("no token"), 401, "E0", "unauthorized"),
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
        assert_eq!(failure("r", &ApiError::throttled()).headers()[RETRY_AFTER], "1");
    }
}
