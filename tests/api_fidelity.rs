//! Fidelity to AWS KMS's JSON protocol (issue 8's "Deviations to fix").

use byok::api::ApiError;
use serde_json::{Value, json};

/// An error with an empty message has no `message` member: AWS answers a
/// Decrypt of a ciphertext it cannot use with
/// `{"__type":"InvalidCiphertextException"}`. Source: moto's KMS emulation
/// writes exactly this body (getmoto/moto, moto/kms/exceptions.py,
/// `InvalidCiphertextException.description`), as do the KMS doubles of
/// several public Go test suites; an emulator's, not a recording of AWS.
#[test]
fn an_empty_message_has_no_message_member() {
    let e = ApiError::new("InvalidCiphertextException", "", 400);
    let body: Value = serde_json::from_slice(&e.to_json()).unwrap();
    assert_eq!(body, json!({"__type": "InvalidCiphertextException"}));

    let e = ApiError::new("NotFoundException", "Key 'x' does not exist", 400);
    let body: Value = serde_json::from_slice(&e.to_json()).unwrap();
    assert_eq!(
        body,
        json!({"__type": "NotFoundException", "message": "Key 'x' does not exist"})
    );
}
