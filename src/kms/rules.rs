//! The rules of SPEC §2–§3 as verdicts: would this operation be accepted
//! for this key now, and if not, with which AWS exception? Each verdict
//! reads only what the AWS API shows of a key ([`KeyFacts`]: DescribeKey,
//! ListKeyRotations with `ALL_KEY_MATERIAL`, GetKeyRotationStatus), so the
//! same function decides for a key of this engine (which calls it inside
//! its operations) and for a key in an AWS account (the console calls it to
//! offer or refuse a button). A rule is written once, here.

use super::error::{ErrorKind, KmsError, KmsResult};
use super::model::{
    ImportState, ImportType, KeyMaterialState, KeySpec, KeyState, Origin, WrappingAlgorithm,
    WrappingKeySpec,
};

/// On-demand rotations a key may have (AWS's limit).
pub const ON_DEMAND_ROTATION_LIMIT: u32 = 25;

/// One material of a key, as ListKeyRotations shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaterialFacts {
    /// `KeyMaterialId`.
    pub id: String,
    /// `KeyMaterialState`.
    pub state: KeyMaterialState,
    /// `ImportState` (imported keys only).
    pub import_state: Option<ImportState>,
}

impl MaterialFacts {
    /// Whether its bytes are in the key.
    pub fn is_imported(&self) -> bool {
        self.import_state != Some(ImportState::PendingImport)
    }
}

/// What the rules need to know about a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFacts {
    /// The key ARN (every message names it).
    pub arn: String,
    /// `KeyState`.
    pub state: KeyState,
    /// `Origin`, when it is one the engine knows (`None`: `AWS_CLOUDHSM`,
    /// `EXTERNAL_KEY_STORE`).
    pub origin: Option<Origin>,
    /// `Origin` as AWS spells it.
    pub origin_text: String,
    /// `KeySpec`.
    pub key_spec: String,
    /// Materials in ListKeyRotations's order.
    pub materials: Vec<MaterialFacts>,
    /// An on-demand rotation is in progress (`OnDemandRotationStartDate`).
    pub rotation_in_progress: bool,
    /// On-demand rotations used so far.
    pub on_demand_rotations: u32,
    /// A multi-Region key's place in its set (`MultiRegionConfiguration`);
    /// `None` for a single-Region key.
    pub multi_region: Option<MultiRegionFacts>,
}

/// A multi-Region key's place in its set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultiRegionFacts {
    /// `MultiRegionKeyType` PRIMARY.
    pub is_primary: bool,
    /// The primary key's ARN.
    pub primary_arn: String,
}

impl KeyFacts {
    /// The material waiting for rotation.
    pub fn pending_material(&self) -> Option<&MaterialFacts> {
        self.materials
            .iter()
            .find(|m| m.state == KeyMaterialState::PendingRotation)
    }

    /// The current material.
    pub fn current_material(&self) -> Option<&MaterialFacts> {
        self.materials
            .iter()
            .find(|m| m.state == KeyMaterialState::Current)
    }

    fn material(&self, id: &str) -> Option<&MaterialFacts> {
        self.materials.iter().find(|m| m.id == id)
    }

    fn require(&self, allowed: &[KeyState]) -> KmsResult<()> {
        if allowed.contains(&self.state) {
            Ok(())
        } else {
            Err(state_error(&self.arn, self.state))
        }
    }

    fn require_external(&self) -> KmsResult<()> {
        if self.origin == Some(Origin::External) {
            Ok(())
        } else {
            Err(origin_error(&self.arn, &self.origin_text))
        }
    }
}

/// The exception that refuses an operation because the key is in `state`
/// (SPEC §2's message templates).
pub fn state_error(arn: &str, state: KeyState) -> KmsError {
    match state {
        KeyState::Disabled => KmsError::new(ErrorKind::Disabled, format!("{arn} is disabled.")),
        KeyState::PendingImport => KmsError::new(
            ErrorKind::KmsInvalidState,
            format!("{arn} is pending import."),
        ),
        KeyState::PendingDeletion => KmsError::new(
            ErrorKind::KmsInvalidState,
            format!("{arn} is pending deletion."),
        ),
        KeyState::Enabled => KmsError::internal(format!("{arn} is enabled; nothing refuses that")),
    }
}

/// The exception that refuses an operation for a key of `origin`.
pub fn origin_error(arn: &str, origin: &str) -> KmsError {
    KmsError::new(
        ErrorKind::UnsupportedOperation,
        format!("{arn} origin is {origin} which is not valid for this operation."),
    )
}

/// AWS's refusal of a rotation operation (RotateKeyOnDemand,
/// EnableKeyRotation, DisableKeyRotation) for a key that is not a symmetric
/// encryption key. The announcement: asymmetric, HMAC and multi-Region keys
/// with imported material "do not support on-demand key rotation, but you
/// can continue to use manual rotation"; the RotateKeyOnDemand API reference
/// (<https://docs.aws.amazon.com/kms/latest/APIReference/API_RotateKeyOnDemand.html>):
/// "You cannot perform on-demand rotation of asymmetric KMS keys, HMAC KMS
/// keys, ...". The message is the one AWS answers for these keys
/// (recorded from AWS by a Terraform run, floci-io/floci#586:
/// `UnsupportedOperationException: You cannot perform this operation on a
/// non-symmetric key or a key with non-ENCRYPT_DECRYPT key usage.`).
pub fn require_symmetric_encryption(f: &KeyFacts) -> KmsResult<()> {
    if f.key_spec == "SYMMETRIC_DEFAULT" {
        Ok(())
    } else {
        Err(KmsError::new(
            ErrorKind::UnsupportedOperation,
            "You cannot perform this operation on a non-symmetric key or a key with non-ENCRYPT_DECRYPT key usage.",
        ))
    }
}

/// ImportKeyMaterial with NEW_KEY_MATERIAL into a key that cannot rotate
/// (HMAC, asymmetric) and has material already. The ImportKeyMaterial API
/// reference (<https://docs.aws.amazon.com/kms/latest/APIReference/API_ImportKeyMaterial.html>):
/// "For asymmetric, HMAC and multi-Region keys, you cannot change the key
/// material after the initial import." **[byok]** AWS publishes no text
/// for this refusal; the message quotes that sentence.
pub fn no_new_material_error(arn: &str) -> KmsError {
    KmsError::new(
        ErrorKind::UnsupportedOperation,
        format!(
            "New key material cannot be imported into KMS key {arn}. For asymmetric, HMAC and multi-Region keys, you cannot change the key material after the initial import."
        ),
    )
}

/// The states EnableKey and DisableKey accept.
pub const SWITCHABLE: [KeyState; 2] = [KeyState::Enabled, KeyState::Disabled];

/// The states GetParametersForImport and ImportKeyMaterial accept.
pub const IMPORTABLE: [KeyState; 3] = [
    KeyState::Enabled,
    KeyState::Disabled,
    KeyState::PendingImport,
];

/// The states CreateAlias, UpdateKeyDescription, TagResource, UntagResource
/// and ScheduleKeyDeletion accept.
pub const NOT_PENDING_DELETION: [KeyState; 3] = [
    KeyState::Enabled,
    KeyState::Disabled,
    KeyState::PendingImport,
];

/// RotateKeyOnDemand (SPEC §3, its checks in order after the key lookup).
pub fn rotate_on_demand(f: &KeyFacts) -> KmsResult<()> {
    require_symmetric_encryption(f)?;
    f.require(&[KeyState::Enabled])?;
    if f.origin == Some(Origin::External) && f.pending_material().is_none() {
        return Err(KmsError::new(
            ErrorKind::KmsInvalidState,
            format!(
                "No available key material pending rotation for the key: {}.",
                f.arn
            ),
        ));
    }
    if f.rotation_in_progress {
        return Err(KmsError::new(
            ErrorKind::Conflict,
            format!("A rotation of key {} is already in progress.", f.arn),
        ));
    }
    if f.on_demand_rotations >= ON_DEMAND_ROTATION_LIMIT {
        return Err(KmsError::new(
            ErrorKind::LimitExceeded,
            format!(
                "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: {}",
                f.arn
            ),
        ));
    }
    Ok(())
}

/// GetParametersForImport: whether `algorithm` under a `wrapping_spec`
/// wrapping key can wrap the material of a `key_spec` key. The wrapping
/// algorithms AWS allows for a key's material (the
/// GetParametersForImport API reference, `WrappingAlgorithm`,
/// <https://docs.aws.amazon.com/kms/latest/APIReference/API_GetParametersForImport.html>,
/// and the Developer Guide's "Step 2: Download the wrapping public key and
/// import token", section "Select a wrapping algorithm",
/// <https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-get-public-key-and-token.html>):
/// RSA_AES_KEY_WRAP_SHA_1/256 wrap any material; RSAES_OAEP_SHA_1/256 are
/// "supported for all types of key material, except RSA key material
/// (private key)", and cannot wrap ECC_NIST_P521 material under an RSA_2048
/// wrapping key (it does not fit). **[byok]** AWS publishes no message for
/// the refusal; it is a `ValidationException` quoting that rule.
pub fn import_wrapping(
    arn: &str,
    key_spec: KeySpec,
    algorithm: WrappingAlgorithm,
    wrapping_spec: WrappingKeySpec,
) -> KmsResult<()> {
    let oaep = matches!(
        algorithm,
        WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaesOaepSha256
    );
    let refused = oaep
        && (key_spec.rsa_bits().is_some()
            || (key_spec == KeySpec::EccNistP521 && wrapping_spec == WrappingKeySpec::Rsa2048));
    if refused {
        return Err(KmsError::validation(format!(
            "The {algorithm} wrapping algorithm with the {wrapping_spec} wrapping key spec cannot wrap {key_spec} key material for KMS key {arn}. To import an RSA private key, use an RSA_AES wrapping algorithm; to import ECC_NIST_P521 key material with RSAES_OAEP, use an RSA_3072 or RSA_4096 wrapping key spec."
        )));
    }
    Ok(())
}

/// EnableKey and DisableKey.
pub fn set_enabled(f: &KeyFacts) -> KmsResult<()> {
    f.require(&SWITCHABLE)
}

/// GetParametersForImport: an `EXTERNAL` key that is not pending deletion.
pub fn get_parameters_for_import(f: &KeyFacts) -> KmsResult<()> {
    f.require_external()?;
    f.require(&IMPORTABLE)
}

/// ImportKeyMaterial of `import_type` (for EXISTING_KEY_MATERIAL, of the
/// material `existing`, when known): what can be decided before the wrapped
/// bytes are unwrapped. The verdict for NEW_KEY_MATERIAL while another
/// material waits for rotation names the waiting one; the engine's answer
/// to the import itself also names the new one, which only the unwrapped
/// bytes tell.
pub fn import_key_material(
    f: &KeyFacts,
    import_type: ImportType,
    existing: Option<&str>,
) -> KmsResult<()> {
    f.require_external()?;
    f.require(&IMPORTABLE)?;
    if import_type == ImportType::NewKeyMaterial {
        new_material_into(f)?;
    }
    match import_type {
        ImportType::NewKeyMaterial
            if f.key_spec != "SYMMETRIC_DEFAULT" && !f.materials.is_empty() =>
        {
            return Err(no_new_material_error(&f.arn));
        }
        ImportType::NewKeyMaterial => {
            if let Some(pending) = f.pending_material() {
                return Err(KmsError::new(
                    ErrorKind::KmsInvalidState,
                    format!(
                        "New key material cannot be imported into KMS key {}, because another key material (id: {}) is pending rotation.",
                        f.arn, pending.id
                    ),
                ));
            }
        }
        ImportType::ExistingKeyMaterial => {
            if f.materials.is_empty() {
                return Err(KmsError::new(
                    ErrorKind::IncorrectKeyMaterial,
                    format!(
                        "The key material in the request is not associated with KMS key {}. To import new key material, set ImportType to NEW_KEY_MATERIAL.",
                        f.arn
                    ),
                ));
            }
            if let Some(id) = existing
                && f.material(id).is_none()
            {
                return Err(KmsError::new(
                    ErrorKind::NotFound,
                    format!("Key material {id} does not exist in KMS key {}.", f.arn),
                ));
            }
        }
    }
    Ok(())
}

/// DeleteImportedKeyMaterial of `material` (default: the current one).
pub fn delete_imported_key_material(f: &KeyFacts, material: Option<&str>) -> KmsResult<()> {
    f.require_external()?;
    let target = match material.or_else(|| f.current_material().map(|m| m.id.as_str())) {
        Some(t) => t,
        None => {
            return Err(KmsError::new(
                ErrorKind::KmsInvalidState,
                format!("{} has no key material to delete.", f.arn),
            ));
        }
    };
    let Some(m) = f.material(target) else {
        return Err(KmsError::new(
            ErrorKind::NotFound,
            format!("Key material {target} does not exist in KMS key {}.", f.arn),
        ));
    };
    if !m.is_imported() {
        return Err(KmsError::new(
            ErrorKind::KmsInvalidState,
            format!(
                "Key material {target} of KMS key {} is already deleted (its import state is PENDING_IMPORT).",
                f.arn
            ),
        ));
    }
    Ok(())
}

/// ScheduleKeyDeletion.
pub fn schedule_key_deletion(f: &KeyFacts) -> KmsResult<()> {
    f.require(&NOT_PENDING_DELETION)
}

/// NEW_KEY_MATERIAL goes into a multi-Region set through its primary:
/// "You cannot directly import new key material into the replica Region
/// keys" (API reference, ImportKeyMaterial); a replica takes the primary's
/// material as EXISTING_KEY_MATERIAL. [byok] message.
pub fn new_material_into(f: &KeyFacts) -> KmsResult<()> {
    match &f.multi_region {
        Some(m) if !m.is_primary => Err(KmsError::new(
            ErrorKind::UnsupportedOperation,
            format!(
                "New key material cannot be imported into the multi-Region replica key {}. Import it into the primary key {}, then import the same key material into this key with ImportType EXISTING_KEY_MATERIAL.",
                f.arn, m.primary_arn
            ),
        )),
        _ => Ok(()),
    }
}

/// The states in which a multi-Region primary takes ReplicateKey and
/// UpdatePrimaryRegion.
const SET_CHANGE_STATES: [KeyState; 3] = [
    KeyState::Enabled,
    KeyState::Disabled,
    KeyState::PendingImport,
];

/// Refuses an operation of the multi-Region set (`operation`) on a key that
/// is not its primary: a single-Region key, or a replica (then call it on
/// the primary, whose ARN the message names). [byok] messages: AWS
/// publishes none for these `UnsupportedOperationException`s.
fn require_primary(f: &KeyFacts, operation: &str, single: &str) -> KmsResult<()> {
    if f.multi_region.is_none() {
        return Err(KmsError::new(
            ErrorKind::UnsupportedOperation,
            format!("{} is not a multi-Region key.{single}", f.arn),
        ));
    }
    refuse_on_replica(f, operation)
}

/// Refuses `operation` on a multi-Region replica key: it is performed on
/// the primary key, whose ARN the message names. **[byok]** message; AWS
/// answers `UnsupportedOperationException`.
pub fn refuse_on_replica(f: &KeyFacts, operation: &str) -> KmsResult<()> {
    match &f.multi_region {
        Some(m) if !m.is_primary => Err(KmsError::new(
            ErrorKind::UnsupportedOperation,
            format!(
                "{} is a multi-Region replica key. Call {operation} on its primary key {}.",
                f.arn, m.primary_arn
            ),
        )),
        _ => Ok(()),
    }
}

/// ReplicateKey: only a multi-Region primary key, Enabled, Disabled or
/// Pending import, is replicated (ReplicateKey API reference).
pub fn replicate_key(f: &KeyFacts) -> KmsResult<()> {
    require_primary(
        f,
        "ReplicateKey",
        " Only a multi-Region primary key can be replicated.",
    )?;
    f.require(&SET_CHANGE_STATES)
}

/// UpdatePrimaryRegion: called on the current primary key (UpdatePrimaryRegion
/// API reference), Enabled, Disabled or Pending import.
pub fn update_primary_region(f: &KeyFacts) -> KmsResult<()> {
    require_primary(f, "UpdatePrimaryRegion", "")?;
    f.require(&SET_CHANGE_STATES)
}

/// CancelKeyDeletion.
pub fn cancel_key_deletion(f: &KeyFacts) -> KmsResult<()> {
    if f.state == KeyState::PendingDeletion {
        Ok(())
    } else {
        Err(KmsError::new(
            ErrorKind::KmsInvalidState,
            format!("{} is not pending deletion.", f.arn),
        ))
    }
}

/// The estimated monthly cost in USD of a key with `completed_rotations`
/// (SPEC §7: $1 a month, plus $1 for each of the first two rotations).
pub fn monthly_cost_usd(completed_rotations: usize) -> u32 {
    1 + completed_rotations.min(2) as u32
}

/// The verdicts the console shows for a key, all at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdicts {
    /// RotateKeyOnDemand.
    pub rotate: KmsResult<()>,
    /// EnableKey / DisableKey.
    pub set_enabled: KmsResult<()>,
    /// GetParametersForImport.
    pub get_parameters: KmsResult<()>,
    /// ImportKeyMaterial with NEW_KEY_MATERIAL.
    pub import_new: KmsResult<()>,
    /// ImportKeyMaterial with EXISTING_KEY_MATERIAL (any material of the key).
    pub reimport: KmsResult<()>,
    /// ScheduleKeyDeletion.
    pub schedule_deletion: KmsResult<()>,
    /// CancelKeyDeletion.
    pub cancel_deletion: KmsResult<()>,
    /// ReplicateKey.
    pub replicate: KmsResult<()>,
    /// UpdatePrimaryRegion.
    pub update_primary_region: KmsResult<()>,
}

impl Verdicts {
    /// Every verdict for `f`.
    pub fn of(f: &KeyFacts) -> Self {
        Verdicts {
            rotate: rotate_on_demand(f),
            set_enabled: set_enabled(f),
            get_parameters: get_parameters_for_import(f),
            import_new: import_key_material(f, ImportType::NewKeyMaterial, None),
            reimport: import_key_material(f, ImportType::ExistingKeyMaterial, None),
            schedule_deletion: schedule_key_deletion(f),
            cancel_deletion: cancel_key_deletion(f),
            replicate: replicate_key(f),
            update_primary_region: update_primary_region(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(state: KeyState, materials: &[(&str, KeyMaterialState, ImportState)]) -> KeyFacts {
        KeyFacts {
            arn: "arn:aws:kms:us-east-1:000000000000:key/k".into(),
            state,
            origin: Some(Origin::External),
            origin_text: "EXTERNAL".into(),
            key_spec: "SYMMETRIC_DEFAULT".into(),
            materials: materials
                .iter()
                .map(|(id, s, i)| MaterialFacts {
                    id: id.to_string(),
                    state: *s,
                    import_state: Some(*i),
                })
                .collect(),
            rotation_in_progress: false,
            multi_region: None,
            on_demand_rotations: 0,
        }
    }

    #[test]
    fn rotation_needs_a_pending_material_and_budget() {
        use ImportState::Imported;
        use KeyMaterialState::*;
        let mut f = facts(KeyState::Enabled, &[("a", Current, Imported)]);
        let e = rotate_on_demand(&f).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::KmsInvalidState);
        assert_eq!(
            e.message(),
            "No available key material pending rotation for the key: arn:aws:kms:us-east-1:000000000000:key/k."
        );
        f.materials.push(MaterialFacts {
            id: "b".into(),
            state: PendingRotation,
            import_state: Some(Imported),
        });
        assert_eq!(rotate_on_demand(&f), Ok(()));
        f.rotation_in_progress = true;
        assert_eq!(
            rotate_on_demand(&f).unwrap_err().kind(),
            ErrorKind::Conflict
        );
        f.rotation_in_progress = false;
        f.on_demand_rotations = ON_DEMAND_ROTATION_LIMIT;
        assert_eq!(
            rotate_on_demand(&f).unwrap_err().kind(),
            ErrorKind::LimitExceeded
        );
        f.state = KeyState::Disabled;
        assert_eq!(
            rotate_on_demand(&f).unwrap_err().kind(),
            ErrorKind::Disabled
        );
    }

    /// HMAC keys (issue 8): no on-demand rotation, whatever their
    /// materials, and no new material once they have one; the verdict the
    /// console reads for a key in an AWS account is the engine's.
    #[test]
    fn hmac_keys_do_not_rotate_nor_take_new_material() {
        use ImportState::Imported;
        use KeyMaterialState::*;
        let mut f = facts(KeyState::Enabled, &[("a", Current, Imported)]);
        f.key_spec = "HMAC_256".into();
        let e = rotate_on_demand(&f).unwrap_err();
        assert_eq!(e.aws_name(), "UnsupportedOperationException");
        assert_eq!(
            e.message(),
            "You cannot perform this operation on a non-symmetric key or a key with non-ENCRYPT_DECRYPT key usage."
        );
        let e = import_key_material(&f, ImportType::NewKeyMaterial, None).unwrap_err();
        assert_eq!(e.aws_name(), "UnsupportedOperationException");
        assert_eq!(
            e.message(),
            "New key material cannot be imported into KMS key arn:aws:kms:us-east-1:000000000000:key/k. For asymmetric, HMAC and multi-Region keys, you cannot change the key material after the initial import."
        );
        assert_eq!(
            import_key_material(&f, ImportType::ExistingKeyMaterial, Some("a")),
            Ok(())
        );
        let mut empty = facts(KeyState::PendingImport, &[]);
        empty.key_spec = "HMAC_512".into();
        assert_eq!(
            import_key_material(&empty, ImportType::NewKeyMaterial, None),
            Ok(())
        );
    }

    #[test]
    fn deletion_of_materials() {
        use ImportState::*;
        use KeyMaterialState::*;
        let f = facts(
            KeyState::PendingImport,
            &[("a", NonCurrent, PendingImport), ("b", Current, Imported)],
        );
        assert_eq!(delete_imported_key_material(&f, None), Ok(()));
        assert_eq!(
            delete_imported_key_material(&f, Some("a"))
                .unwrap_err()
                .kind(),
            ErrorKind::KmsInvalidState
        );
        assert_eq!(
            delete_imported_key_material(&f, Some("c"))
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        let mut generated = f.clone();
        generated.origin = Some(Origin::AwsKms);
        generated.origin_text = "AWS_KMS".into();
        assert_eq!(
            delete_imported_key_material(&generated, None)
                .unwrap_err()
                .message(),
            "arn:aws:kms:us-east-1:000000000000:key/k origin is AWS_KMS which is not valid for this operation."
        );
    }

    #[test]
    fn import_while_pending_rotation_names_the_waiting_material() {
        use ImportState::Imported;
        use KeyMaterialState::*;
        let f = facts(
            KeyState::Enabled,
            &[("a", Current, Imported), ("b", PendingRotation, Imported)],
        );
        let e = import_key_material(&f, ImportType::NewKeyMaterial, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::KmsInvalidState);
        assert!(e.message().contains("(id: b)"), "{}", e.message());
        assert_eq!(
            import_key_material(&f, ImportType::ExistingKeyMaterial, Some("a")),
            Ok(())
        );
        let deleting = facts(KeyState::PendingDeletion, &[("a", Current, Imported)]);
        assert_eq!(
            import_key_material(&deleting, ImportType::ExistingKeyMaterial, None)
                .unwrap_err()
                .message(),
            "arn:aws:kms:us-east-1:000000000000:key/k is pending deletion."
        );
    }

    #[test]
    fn cost_counts_the_first_two_rotations() {
        assert_eq!(
            (0..5).map(monthly_cost_usd).collect::<Vec<_>>(),
            [1, 2, 3, 3, 3]
        );
    }
}
