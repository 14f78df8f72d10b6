//! The console hosts the AWS endpoint: the switch in the status bar starts
//! it on the worker, a signed AWS request changes the store, the console
//! shows the change, and locking stops it.

#[path = "serve_common/mod.rs"]
mod serve_common;
#[path = "ui_support/mod.rs"]
mod support;

use std::net::SocketAddr;

use byok::kms::ManualClock;
use egui_kittest::kittest::Queryable;
use serve_common::{Client, Signer};
use support::*;

/// Turns on the status bar's endpoint switch; the address it serves on.
fn start_serving(h: &mut App<'_>) -> SocketAddr {
    click(h, "Serve AWS endpoint");
    wait_part(h, "on 127.0.0.1:");
    let text = h
        .query_all_by_label_contains("on 127.0.0.1:")
        .next()
        .and_then(|n| n.value())
        .expect("the address");
    text.trim_start_matches("on ")
        .split(' ')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("an address in {text:?}"))
}

#[test]
fn the_status_bar_switch_serves_the_store_to_aws_clients() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    create_store(&mut h);

    let addr = start_serving(&mut h);

    // The credentials, as `byok serve --show-credentials` prints them.
    let (key_id, secret, region) = {
        let (c, region) = byok::store::Vault::read_api_credentials(
            &store,
            &secrecy::SecretString::from("correct horse battery".to_string()),
        )
        .expect("the store's credentials");
        (c.access_key_id.clone(), c.secret_str().to_string(), region)
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let answer = runtime.block_on(async {
        let mut client = Client::connect(addr, Signer::new(&key_id, &secret, &region))
            .await
            .expect("connect");
        client
            .call(
                "CreateKey",
                &serde_json::json!({"Description": "made through the endpoint", "Origin": "EXTERNAL"}),
            )
            .await
            .expect("CreateKey")
    });
    assert_eq!(
        answer.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&answer.body)
    );

    // The console sees the change the endpoint made, and counts the request.
    wait_label(&mut h, "made through the endpoint");
    wait_part(&mut h, "· 1 request");

    // Locking stops the endpoint before the store closes.
    click(&mut h, "🔒 Lock");
    wait_label(&mut h, "Open a store");
    let refused = runtime.block_on(async {
        let mut stopped = false;
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                stopped = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        stopped
    });
    assert!(refused, "the endpoint still listens after locking");
}

/// Issue 10, item 6: changing the region in Settings while the console
/// serves the endpoint makes the endpoint check signatures for the new
/// region (it read the old one at start); the change is in the audit trail.
#[test]
fn a_region_change_while_serving_reaches_the_endpoint() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    create_store(&mut h);
    let addr = start_serving(&mut h);
    let (key_id, secret) = {
        let (c, _) = byok::store::Vault::read_api_credentials(
            &store,
            &secrecy::SecretString::from("correct horse battery".to_string()),
        )
        .expect("the store's credentials");
        (c.access_key_id.clone(), c.secret_str().to_string())
    };

    click(&mut h, "Settings");
    type_into(&mut h, "Region", "eu-west-1");
    click(&mut h, "Save settings");
    wait_label(&mut h, "✔ Saved");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let call = |region: &str| {
        runtime.block_on(async {
            let mut client = Client::connect(addr, Signer::new(&key_id, &secret, region))
                .await
                .expect("connect");
            client
                .call("ListKeys", &serde_json::json!({}))
                .await
                .expect("ListKeys")
        })
    };
    let answer = call("eu-west-1");
    assert_eq!(
        answer.status,
        200,
        "signed for the new region: {:?}",
        String::from_utf8_lossy(&answer.body)
    );
    // The old region is a region of the store like any other since
    // multi-Region keys: signed for it, a call is answered in it.
    assert_eq!(
        call("us-east-1").status,
        200,
        "another region is served too"
    );

    // The settings change is audited (the Audit trail tab reads it).
    click(&mut h, "Audit trail");
    wait_label(&mut h, "StoreSettingsChanged");
}
