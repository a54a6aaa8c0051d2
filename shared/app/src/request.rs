//! The API Gateway HTTP API (payload 2.0) event as the routes read it, parsed in one pass: only
//! the fields a route uses are kept, borrowed from the event's text where JSON allows (a string
//! with escapes is copied), everything else is skipped unread. `lambda_http` decoded the same event
//! into every kind of event Lambda knows and copied every header and field: two thirds of a
//! request's overhead (BENCHMARKS.md §2).
//!
//! What it keeps, as `lambda_http` read it: the method (`requestContext.http.method`), `rawPath`
//! (the `$default` stage adds no prefix), `rawQueryString` (decoded as a form, in order, when a
//! route asks), `routeKey`, `requestContext.requestId`, the authorizer's string fields
//! (`requestContext.authorizer.lambda`), `pathParameters`, the `content-type`,
//! `idempotency-key`, `accept-encoding` and `if-none-match` headers (names case-insensitive) and the body (base64-decoded when
//! `isBase64Encoded`).

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

/// One request to a route.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    method: Text<'a>,
    path: Text<'a>,
    raw_query: Text<'a>,
    route_key: Text<'a>,
    request_id: Option<Text<'a>>,
    /// `None` when the event has no `requestContext.authorizer` (no authorizer ran).
    authorizer: Option<Vec<(Text<'a>, Text<'a>)>>,
    path_parameters: Vec<(Text<'a>, Text<'a>)>,
    content_type: Option<Text<'a>>,
    idempotency_key: Option<Text<'a>>,
    accept_encoding: Option<Text<'a>>,
    if_none_match: Option<Text<'a>>,
    body: Vec<u8>,
}

impl<'a> Request<'a> {
    /// Parses an API Gateway v2 event's JSON text.
    pub fn parse(event: &'a str) -> Result<Self, serde_json::Error> {
        let raw: RawEvent<'a> = serde_json::from_str(event)?;
        let body = match raw.body {
            None => Vec::new(),
            Some(text) if raw.is_base64_encoded => base64::engine::general_purpose::STANDARD
                .decode(text.0.as_bytes())
                .map_err(de::Error::custom)?,
            Some(text) => text.0.into_owned().into_bytes(),
        };
        let context = raw.request_context.unwrap_or_default();
        Ok(Request {
            method: context.http.map(|h| h.method).unwrap_or_default(),
            path: raw.raw_path.unwrap_or_default(),
            raw_query: raw.raw_query_string.unwrap_or_default(),
            route_key: context.route_key.or(raw.route_key).unwrap_or_default(),
            request_id: context.request_id,
            authorizer: context.authorizer.map(|a| a.lambda.0),
            path_parameters: raw.path_parameters.map(|p| p.0).unwrap_or_default(),
            content_type: raw.headers.content_type,
            idempotency_key: raw.headers.idempotency_key,
            accept_encoding: raw.headers.accept_encoding,
            if_none_match: raw.headers.if_none_match,
            body,
        })
    }

    /// The same request, owning its text (tests and the local gateway build events as values).
    pub fn into_owned(self) -> Request<'static> {
        let own = |pairs: Vec<(Text<'a>, Text<'a>)>| {
            pairs
                .into_iter()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        };
        Request {
            method: self.method.into_owned(),
            path: self.path.into_owned(),
            raw_query: self.raw_query.into_owned(),
            route_key: self.route_key.into_owned(),
            request_id: self.request_id.map(Text::into_owned),
            authorizer: self.authorizer.map(own),
            path_parameters: own(self.path_parameters),
            content_type: self.content_type.map(Text::into_owned),
            idempotency_key: self.idempotency_key.map(Text::into_owned),
            accept_encoding: self.accept_encoding.map(Text::into_owned),
            if_none_match: self.if_none_match.map(Text::into_owned),
            body: self.body,
        }
    }

    /// The HTTP method, upper case as API Gateway sends it.
    pub fn method(&self) -> &str {
        &self.method.0
    }

    pub fn path(&self) -> &str {
        &self.path.0
    }

    /// The query string as sent (still percent-encoded); `None` when empty.
    pub fn raw_query(&self) -> Option<&str> {
        Some(&*self.raw_query.0).filter(|q| !q.is_empty())
    }

    /// The query's parameters, decoded as a form (`+` is a space), in order.
    pub fn query_pairs(&self) -> form_urlencoded::Parse<'_> {
        form_urlencoded::parse(self.raw_query.0.as_bytes())
    }

    /// API Gateway's route key, e.g. `GET /schema/account_user/record/{id}`.
    pub fn route_key(&self) -> &str {
        &self.route_key.0
    }

    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_ref().map(|t| &*t.0)
    }

    /// The authorizer's context, or `None` if no authorizer context came with the request.
    pub fn authorizer(&self) -> Option<Authorizer<'_>> {
        self.authorizer.as_deref().map(Authorizer)
    }

    pub fn path_parameter(&self, name: &str) -> Option<&str> {
        find(&self.path_parameters, name)
    }

    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_ref().map(|t| &*t.0)
    }

    pub fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_ref().map(|t| &*t.0)
    }

    /// `accept-encoding` (the console serves gzip when it is accepted).
    pub fn accept_encoding(&self) -> Option<&str> {
        self.accept_encoding.as_ref().map(|t| &*t.0)
    }

    /// `if-none-match` (the console answers 304 to a cached asset's ETag).
    pub fn if_none_match(&self) -> Option<&str> {
        self.if_none_match.as_ref().map(|t| &*t.0)
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

/// The string fields the authorizer returned (`requestContext.authorizer.lambda`).
#[derive(Debug, Clone, Copy)]
pub struct Authorizer<'r>(&'r [(Text<'r>, Text<'r>)]);

impl Authorizer<'_> {
    pub fn get(&self, name: &str) -> Option<&str> {
        find(self.0, name)
    }
}

fn find<'r>(pairs: &'r [(Text<'_>, Text<'_>)], name: &str) -> Option<&'r str> {
    pairs.iter().find(|(k, _)| k.0 == name).map(|(_, v)| &*v.0)
}

/// A JSON string, borrowed from the event unless it had to be unescaped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Text<'a>(Cow<'a, str>);

impl Text<'_> {
    fn into_owned(self) -> Text<'static> {
        Text(Cow::Owned(self.0.into_owned()))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v)))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEvent<'a> {
    #[serde(borrow, default)]
    route_key: Option<Text<'a>>,
    #[serde(borrow, default)]
    raw_path: Option<Text<'a>>,
    #[serde(borrow, default)]
    raw_query_string: Option<Text<'a>>,
    #[serde(borrow, default)]
    headers: Headers<'a>,
    #[serde(borrow, default)]
    path_parameters: Option<StringPairs<'a>>,
    #[serde(borrow, default)]
    request_context: Option<RawContext<'a>>,
    #[serde(borrow, default)]
    body: Option<Text<'a>>,
    #[serde(default, deserialize_with = "true_or_null")]
    is_base64_encoded: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawContext<'a> {
    #[serde(borrow, default)]
    route_key: Option<Text<'a>>,
    #[serde(borrow, default)]
    request_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    http: Option<RawHttp<'a>>,
    #[serde(borrow, default)]
    authorizer: Option<RawAuthorizer<'a>>,
}

#[derive(Deserialize)]
struct RawHttp<'a> {
    #[serde(borrow)]
    method: Text<'a>,
}

#[derive(Deserialize)]
struct RawAuthorizer<'a> {
    #[serde(borrow, default)]
    lambda: StringPairs<'a>,
}

fn true_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

/// A JSON object's string members, in order; members of other types are skipped (the
/// authorizer's context may hold numbers or booleans: no route reads them).
#[derive(Default)]
struct StringPairs<'a>(Vec<(Text<'a>, Text<'a>)>);

impl<'de: 'a, 'a> Deserialize<'de> for StringPairs<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PairsVisitor;
        impl<'de> Visitor<'de> for PairsVisitor {
            type Value = StringPairs<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(StringPairs::default())
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut pairs = Vec::new();
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    if let Some(value) = map.next_value::<StringOrOther<'de>>()?.0 {
                        pairs.push((key, value));
                    }
                }
                Ok(StringPairs(pairs))
            }
        }
        d.deserialize_any(PairsVisitor)
    }
}

/// A value kept if it is a string, skipped otherwise.
struct StringOrOther<'a>(Option<Text<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for StringOrOther<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AnyVisitor;
        impl<'de> Visitor<'de> for AnyVisitor {
            type Value = StringOrOther<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(StringOrOther(Some(Text(Cow::Borrowed(v)))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StringOrOther(Some(Text(Cow::Owned(v.to_string())))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(StringOrOther(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(StringOrOther(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(StringOrOther(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(StringOrOther(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(StringOrOther(None))
            }
            fn visit_seq<S: de::SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(StringOrOther(None))
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(StringOrOther(None))
            }
        }
        d.deserialize_any(AnyVisitor)
    }
}

/// The headers routes read; every other header is skipped unread.
#[derive(Default)]
struct Headers<'a> {
    content_type: Option<Text<'a>>,
    idempotency_key: Option<Text<'a>>,
    accept_encoding: Option<Text<'a>>,
    if_none_match: Option<Text<'a>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Headers<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct HeadersVisitor;
        impl<'de> Visitor<'de> for HeadersVisitor {
            type Value = Headers<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of headers")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Headers::default())
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut headers = Headers::default();
                while let Some(name) = map.next_key::<Text<'de>>()? {
                    let slot = if name.0.eq_ignore_ascii_case("content-type") {
                        &mut headers.content_type
                    } else if name.0.eq_ignore_ascii_case(crate::idempotency::HEADER) {
                        &mut headers.idempotency_key
                    } else if name.0.eq_ignore_ascii_case("accept-encoding") {
                        &mut headers.accept_encoding
                    } else if name.0.eq_ignore_ascii_case("if-none-match") {
                        &mut headers.if_none_match
                    } else {
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    };
                    *slot = map.next_value::<StringOrOther<'de>>()?.0;
                }
                Ok(headers)
            }
        }
        d.deserialize_any(HeadersVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = r#"{
      "version": "2.0",
      "routeKey": "POST /schema/account_user/record/{id}",
      "rawPath": "/schema/account_user/record/user%2012",
      "rawQueryString": "upsert=true&name=J%C3%BCrgen+M&upsert=false",
      "cookies": ["a=b"],
      "headers": {"Content-Type": "application/json", "x-api-key": "k", "idempotency-key": "k-\u00e9"},
      "pathParameters": {"id": "user 12"},
      "requestContext": {
        "requestId": "rid-1",
        "http": {"method": "POST", "path": "/x"},
        "authorizer": {"lambda": {"accountId": "acc", "role": "admin", "n": 3, "o": {"x": [1]}}}
      },
      "isBase64Encoded": false,
      "body": "{\"a\":\"\\u00e9\"}"
    }"#;

    #[test]
    fn keeps_what_routes_read_and_skips_the_rest() {
        let req = Request::parse(EVENT).unwrap();
        assert_eq!(req.method(), "POST");
        assert_eq!(req.route_key(), "POST /schema/account_user/record/{id}");
        assert_eq!(req.path(), "/schema/account_user/record/user%2012");
        assert_eq!(req.request_id(), Some("rid-1"));
        assert_eq!(req.path_parameter("id"), Some("user 12"));
        assert_eq!(req.path_parameter("other"), None);
        assert_eq!(req.content_type(), Some("application/json"));
        assert_eq!(req.idempotency_key(), Some("k-é"));
        let auth = req.authorizer().unwrap();
        assert_eq!(auth.get("accountId"), Some("acc"));
        assert_eq!(auth.get("n"), None, "only string fields are kept");
        assert_eq!(req.body(), br#"{"a":"\u00e9"}"#);
        let pairs: Vec<_> = req.query_pairs().collect();
        assert_eq!(
            pairs,
            [
                ("upsert", "true"),
                ("name", "Jürgen M"),
                ("upsert", "false")
            ]
            .map(|(k, v)| (Cow::from(k), Cow::from(v)))
        );
        assert_eq!(
            req.raw_query(),
            Some("upsert=true&name=J%C3%BCrgen+M&upsert=false")
        );
        // Strings without escapes are borrowed from the event.
        assert!(matches!(req.path.0, Cow::Borrowed(_)));
        let owned = req.clone().into_owned();
        assert_eq!(owned.authorizer().unwrap().get("role"), Some("admin"));
    }

    #[test]
    fn a_base64_body_is_decoded_and_missing_parts_are_empty() {
        let req = Request::parse(
            r#"{"rawPath":"/p","headers":null,"isBase64Encoded":true,"body":"e30=","requestContext":{"http":{"method":"GET"}}}"#,
        )
        .unwrap();
        assert_eq!(req.body(), b"{}");
        assert!(req.authorizer().is_none());
        assert_eq!(req.raw_query(), None);
        assert_eq!(req.route_key(), "");
        assert!(Request::parse(r#"{"isBase64Encoded":true,"body":"%%%"}"#).is_err());
        assert!(Request::parse("42").is_err());
    }
}
