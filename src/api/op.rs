//! The operations of the AWS KMS API as types: each names its operation
//! and its request and response shapes, so a typed client of any backend
//! (`send::<DescribeKey>(backend, &input)`) and the engine's `dispatch`
//! agree on one table.

use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::shapes::*;

/// One AWS KMS operation: its name on the wire (`X-Amz-Target:
/// TrentService.<NAME>`) and its request and response shapes.
pub trait Operation {
    /// `DescribeKey`, `ImportKeyMaterial`, ...
    const NAME: &'static str;
    /// The request shape.
    type Input: Serialize + DeserializeOwned + Default + Clone + Debug + Send;
    /// The response shape.
    type Output: Serialize + DeserializeOwned + Default + Clone + Debug + Send;
}

macro_rules! operations {
    ($($(#[$m:meta])* $name:ident : $input:ty => $output:ty;)*) => {
        $(
            $(#[$m])*
            #[derive(Clone, Copy, Debug)]
            pub struct $name;
            impl Operation for $name {
                const NAME: &'static str = stringify!($name);
                type Input = $input;
                type Output = $output;
            }
        )*
        /// Every operation's name, in the order of the table above.
        pub const NAMES: &[&str] = &[$(stringify!($name)),*];
    };
}

operations! {
    /// CreateKey.
    CreateKey: CreateKeyInput => KeyMetadataOutput;
    /// DescribeKey.
    DescribeKey: KeyIdInput => KeyMetadataOutput;
    /// ListKeys.
    ListKeys: ListKeysInput => ListKeysOutput;
    /// EnableKey.
    EnableKey: KeyIdInput => Empty;
    /// DisableKey.
    DisableKey: KeyIdInput => Empty;
    /// ScheduleKeyDeletion.
    ScheduleKeyDeletion: ScheduleKeyDeletionInput => ScheduleKeyDeletionOutputShape;
    /// CancelKeyDeletion.
    CancelKeyDeletion: KeyIdInput => KeyIdOutput;
    /// ReplicateKey.
    ReplicateKey: ReplicateKeyInput => ReplicateKeyOutput;
    /// UpdatePrimaryRegion.
    UpdatePrimaryRegion: UpdatePrimaryRegionInput => Empty;
    /// UpdateKeyDescription.
    UpdateKeyDescription: UpdateKeyDescriptionInput => Empty;
    /// GetParametersForImport.
    GetParametersForImport: GetParametersForImportInput => GetParametersForImportOutput;
    /// ImportKeyMaterial.
    ImportKeyMaterial: ImportKeyMaterialInput => KeyMaterialOutput;
    /// DeleteImportedKeyMaterial.
    DeleteImportedKeyMaterial: DeleteImportedKeyMaterialInput => KeyMaterialOutput;
    /// RotateKeyOnDemand.
    RotateKeyOnDemand: KeyIdInput => KeyIdOutput;
    /// GetKeyRotationStatus.
    GetKeyRotationStatus: KeyIdInput => GetKeyRotationStatusOutput;
    /// EnableKeyRotation.
    EnableKeyRotation: EnableKeyRotationInput => Empty;
    /// DisableKeyRotation.
    DisableKeyRotation: KeyIdInput => Empty;
    /// ListKeyRotations.
    ListKeyRotations: ListKeyRotationsInput => ListKeyRotationsOutput;
    /// Encrypt.
    Encrypt: EncryptInput => EncryptOutputShape;
    /// Decrypt.
    Decrypt: DecryptInput => DecryptOutputShape;
    /// ReEncrypt.
    ReEncrypt: ReEncryptInput => ReEncryptOutputShape;
    /// GenerateDataKey.
    GenerateDataKey: GenerateDataKeyInput => GenerateDataKeyOutputShape;
    /// GenerateDataKeyWithoutPlaintext.
    GenerateDataKeyWithoutPlaintext: GenerateDataKeyInput => GenerateDataKeyOutputShape;
    /// GenerateMac.
    GenerateMac: GenerateMacInput => GenerateMacOutputShape;
    /// VerifyMac.
    VerifyMac: VerifyMacInput => VerifyMacOutputShape;
    /// GenerateDataKeyPair.
    GenerateDataKeyPair: GenerateDataKeyPairInput => GenerateDataKeyPairOutputShape;
    /// GenerateDataKeyPairWithoutPlaintext.
    GenerateDataKeyPairWithoutPlaintext: GenerateDataKeyPairInput => GenerateDataKeyPairOutputShape;
    /// GetPublicKey.
    GetPublicKey: GetPublicKeyInput => GetPublicKeyOutputShape;
    /// Sign.
    Sign: SignInput => SignOutputShape;
    /// Verify.
    Verify: VerifyInput => VerifyOutputShape;
    /// DeriveSharedSecret.
    DeriveSharedSecret: DeriveSharedSecretInput => DeriveSharedSecretOutputShape;
    /// CreateAlias.
    CreateAlias: AliasInput => Empty;
    /// UpdateAlias.
    UpdateAlias: AliasInput => Empty;
    /// DeleteAlias.
    DeleteAlias: AliasInput => Empty;
    /// ListAliases.
    ListAliases: ListAliasesInput => ListAliasesOutput;
    /// TagResource.
    TagResource: TagResourceInput => Empty;
    /// UntagResource.
    UntagResource: UntagResourceInput => Empty;
    /// ListResourceTags.
    ListResourceTags: ListResourceTagsInput => ListResourceTagsOutput;
    /// GenerateRandom.
    GenerateRandom: GenerateRandomInput => GenerateRandomOutput;
    /// DescribeCustomKeyStores.
    DescribeCustomKeyStores: DescribeCustomKeyStoresInput => DescribeCustomKeyStoresOutput;
    /// GetKeyPolicy.
    GetKeyPolicy: KeyPolicyInput => GetKeyPolicyOutput;
    /// PutKeyPolicy.
    PutKeyPolicy: KeyPolicyInput => Empty;
    /// ListKeyPolicies.
    ListKeyPolicies: KeyPolicyInput => ListKeyPoliciesOutput;
}
