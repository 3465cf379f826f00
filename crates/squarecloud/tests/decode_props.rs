//! Arbitrary and malformed answers never panic the decoders; well-formed ones round-trip.

use proptest::prelude::*;
use squarecloud::{ApiError, ErrorCode, Me, SnapshotItem, decode_answer};

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        ".{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("status".to_string()),
                    Just("response".to_string()),
                    Just("code".to_string()),
                    Just("user".to_string()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..5
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(status in 100u16..600, body in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_answer::<Me>(status, &body, Some("text/html"));
        let _ = decode_answer::<Vec<SnapshotItem>>(status, &body, None);
    }

    #[test]
    fn arbitrary_json_never_panics(status in 100u16..600, v in json_value()) {
        let body = serde_json::to_vec(&v).unwrap();
        let _ = decode_answer::<Me>(status, &body, Some("application/json"));
        let _ = decode_answer::<Vec<SnapshotItem>>(status, &body, Some("application/json"));
    }

    #[test]
    fn error_envelopes_keep_their_code(status in 400u16..600, code in "[A-Z_]{1,30}") {
        let body = serde_json::json!({"status":"error","code":code}).to_string();
        match decode_answer::<Me>(status, body.as_bytes(), Some("application/json")) {
            Err(ApiError::Api { status: s, code: c, .. }) => {
                prop_assert_eq!(s, status);
                prop_assert_eq!(c.clone(), ErrorCode::parse(&code));
                // Canonical names survive; legacy ones map to a canonical name.
                prop_assert_eq!(ErrorCode::parse(c.as_str()), c);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn snapshot_items_round_trip(size in any::<u64>(), ms in 0i64..4_000_000_000_000, v in "[A-Za-z0-9_-]{24,40}") {
        let modified = chrono::DateTime::from_timestamp_millis(ms).unwrap();
        let body = serde_json::json!({"status":"success","response":[{
            "name":"abc","size":size,"modified":modified,
            "key":format!("AWSAccessKeyId=A&Expires=1&Signature=x%3D&versionId={v}"),
            "unknown_field": {"nested": true}
        }]}).to_string();
        let items = decode_answer::<Vec<SnapshotItem>>(200, body.as_bytes(), None).unwrap();
        prop_assert_eq!(items[0].size, size);
        prop_assert_eq!(items[0].modified, modified);
        prop_assert_eq!(items[0].version(), Some(v));
    }
}
