//! The timeline's history is derived from the audit trail by the engine's
//! rule (`kms::history`): lanes per material with their periods, and the
//! key's state at any past instant — checked against what the engine itself
//! said at those instants.

#[path = "ui_support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use byok::backend::local::snapshot;
use byok::kms::history::{HistoryEvent, KeyHistory, MarkerKind, Presence, Role};
use byok::kms::{
    Caller, CreateKeyRequest, ExpirationModel, ImportKeyMaterialRequest, ImportType, KeyId,
    KeyState, Kms, ManualClock, Origin, Timestamp, WrappingAlgorithm, WrappingKeySpec,
    wrap_material,
};
use byok::store::format::KdfParams;
use byok::store::{Vault, VaultOptions};
use byok::ui::view::KeyView;
use support::*;

fn import(
    kms: &mut Kms,
    key: KeyId,
    material: &[u8; 32],
    import_type: ImportType,
    valid_to: Option<Timestamp>,
) {
    let caller = Caller::console();
    let params = kms
        .get_parameters_for_import(
            &caller,
            &key.to_string(),
            WrappingAlgorithm::RsaesOaepSha256,
            WrappingKeySpec::Rsa2048,
        )
        .expect("params");
    let wrapped = wrap_material(
        &params.public_key,
        WrappingAlgorithm::RsaesOaepSha256,
        material,
        &mut rand::rng(),
    )
    .expect("wrap");
    kms.import_key_material(
        &caller,
        &ImportKeyMaterialRequest {
            key_id: key.to_string(),
            import_token: params.import_token,
            encrypted_key_material: wrapped,
            expiration_model: Some(ExpirationModel::for_valid_to(valid_to)),
            valid_to,
            import_type: Some(import_type),
            ..Default::default()
        },
    )
    .expect("import");
}

#[test]
fn the_key_state_at_any_past_instant_matches_what_the_engine_said_then() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut vault = Vault::create(
        &store,
        &secrecy::SecretString::from("p".to_string()),
        VaultOptions {
            clock: Arc::new(clock.clone()),
            wrapping_keys: Box::new(test_keys()),
            kdf: KdfParams::INSECURE_FAST,
            settings: Default::default(),
        },
    )
    .expect("store");
    let caller = Caller::console();
    let hour = Duration::from_secs(3600);
    let mut seen: Vec<(Timestamp, KeyState)> = Vec::new();
    let (m1, m2, m3) = ([1u8; 32], [2u8; 32], [3u8; 32]);
    let key = vault
        .apply(|kms| {
            let key = kms.create_key(
                &caller,
                CreateKeyRequest {
                    origin: Some(Origin::External),
                    ..Default::default()
                },
            )?;
            let note = |kms: &Kms, seen: &mut Vec<(Timestamp, KeyState)>| {
                seen.push((
                    kms.now(),
                    kms.key(key)
                        .map(|k| k.state())
                        .unwrap_or(KeyState::PendingDeletion),
                ));
            };
            note(kms, &mut seen);
            clock.advance(hour);
            import(kms, key, &m1, ImportType::NewKeyMaterial, None);
            note(kms, &mut seen);
            clock.advance(hour);
            let soon = kms.now().plus(Duration::from_secs(10 * 3600));
            import(kms, key, &m2, ImportType::NewKeyMaterial, Some(soon));
            clock.advance(hour);
            kms.rotate_key_on_demand(&caller, &key.to_string())?;
            clock.advance(Duration::from_secs(5));
            kms.tick();
            note(kms, &mut seen);
            clock.advance(hour);
            kms.disable_key(&caller, &key.to_string())?;
            note(kms, &mut seen);
            clock.advance(hour);
            kms.enable_key(&caller, &key.to_string())?;
            note(kms, &mut seen);
            // m2 (current) expires: the key waits for it.
            clock.advance(Duration::from_secs(10 * 3600));
            kms.tick();
            note(kms, &mut seen);
            clock.advance(Duration::from_secs(60));
            import(kms, key, &m2, ImportType::ExistingKeyMaterial, None);
            note(kms, &mut seen);
            clock.advance(hour);
            import(kms, key, &m3, ImportType::NewKeyMaterial, None);
            clock.advance(hour);
            kms.delete_imported_key_material(&caller, &key.to_string(), None)?;
            note(kms, &mut seen);
            clock.advance(hour);
            kms.schedule_key_deletion(&caller, &key.to_string(), Some(7))?;
            note(kms, &mut seen);
            clock.advance(hour);
            Ok(key)
        })
        .expect("scenario");

    let records = vault.audit_records().expect("trail");
    let record = snapshot(&mut vault)
        .into_iter()
        .find(|r| r.key_id == key.to_string())
        .expect("key");
    let key_view = KeyView::from_record(&record, vault.kms().now());
    let events: Vec<HistoryEvent> = records
        .iter()
        .filter_map(HistoryEvent::from_record)
        .collect();
    let h = KeyHistory::from_events(&key_view.present(), &events);

    assert_eq!(h.lanes.len(), 3, "one lane per material");
    let id = |m: &[u8; 32]| byok::kms::material::key_material_id(key, m);
    let lane = |m: &[u8; 32]| h.lanes.iter().find(|l| l.id == id(m)).expect("lane");
    assert_eq!(
        lane(&m1)
            .segments
            .iter()
            .map(|s| s.role)
            .collect::<Vec<_>>(),
        [Role::Current, Role::NonCurrent]
    );
    let m2_roles: Vec<(Role, Presence)> = lane(&m2)
        .segments
        .iter()
        .map(|s| (s.role, s.presence))
        .collect();
    assert_eq!(
        m2_roles,
        [
            (Role::PendingRotation, Presence::Imported),
            (Role::Current, Presence::Imported),
            (Role::Current, Presence::Expired),
            (Role::Current, Presence::Imported),
            (Role::Current, Presence::Deleted),
        ]
    );
    let kinds: Vec<MarkerKind> = lane(&m2).markers.iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        [
            MarkerKind::Imported,
            MarkerKind::RotatedIn,
            MarkerKind::Expired,
            MarkerKind::Reimported,
            MarkerKind::Deleted
        ]
    );
    assert_eq!(lane(&m3).segments[0].role, Role::PendingRotation);

    // At every instant the engine was asked, the history says the same.
    for (at, state) in &seen {
        assert_eq!(h.state_at(*at).key_state, *state, "at {at}");
    }
    assert!(!h.state_at(START.minus(hour)).existed);
    assert_eq!(
        h.state_at(seen[2].0).current,
        Some(id(&m2)),
        "after the rotation"
    );
    assert_eq!(h.state_at(seen[1].0).current, Some(id(&m1)), "before it");
    assert_eq!(h.rotation_periods().len(), 1);
}
