//! What a user asked for. Screens draw and return [`Action`]s; the app
//! applies them all in one place after drawing (DESIGN.md), so no screen
//! mutates the engine or another screen.

use std::path::PathBuf;

use super::view::KeyRef;
use crate::kms::KeyMaterialId;

/// The main areas of the console.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Tab {
    /// Key list and key detail (materials, timeline).
    #[default]
    Keys,
    /// Encrypt, decrypt, data keys, the ciphertext inspector.
    Crypto,
    /// The key manager: policies, what is due, approvals, the kill switch.
    Manager,
    /// The audit trail.
    Audit,
    /// Settings.
    Settings,
}

impl Tab {
    /// Every tab, in toolbar order.
    pub const ALL: [Tab; 5] = [
        Tab::Keys,
        Tab::Crypto,
        Tab::Manager,
        Tab::Audit,
        Tab::Settings,
    ];

    /// The toolbar label.
    pub fn label(self) -> &'static str {
        match self {
            Tab::Keys => "Keys",
            Tab::Crypto => "Cryptography",
            Tab::Manager => "Key manager",
            Tab::Audit => "Audit trail",
            Tab::Settings => "Settings",
        }
    }
}

/// Which file a picker is choosing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PickTarget {
    /// A store file to open.
    StoreFile,
    /// Where to save PublicKey.bin.
    SavePublicKey,
    /// Where to save ImportToken.bin.
    SaveImportToken,
    /// The wrapped material (EncryptedKeyMaterial.bin).
    EncryptedMaterial,
    /// A plaintext KeyMaterial.bin to wrap here.
    PlaintextMaterial,
    /// Where to save the plaintext copy of generated material.
    SavePlaintextCopy,
    /// A file to encrypt.
    EncryptFile,
    /// A ciphertext file to decrypt or inspect.
    CiphertextFile,
    /// Where to save a ciphertext.
    SaveCiphertext,
    /// Where to save an asymmetric key's public key (GetPublicKey).
    SaveKeyPublicKey,
    /// Where to export the audit trail.
    ExportAudit,
    /// Where to export an escrow copy (the plaintext material).
    ExportEscrow,
}

impl PickTarget {
    /// Whether the picker saves (else it opens).
    pub fn saves(self) -> bool {
        matches!(
            self,
            PickTarget::SavePublicKey
                | PickTarget::SaveImportToken
                | PickTarget::SavePlaintextCopy
                | PickTarget::SaveCiphertext
                | PickTarget::SaveKeyPublicKey
                | PickTarget::ExportAudit
                | PickTarget::ExportEscrow
        )
    }

    /// The file name a save dialog suggests.
    pub fn default_name(self) -> &'static str {
        match self {
            PickTarget::SavePublicKey => "PublicKey.bin",
            PickTarget::SaveImportToken => "ImportToken.bin",
            PickTarget::SavePlaintextCopy => "KeyMaterial.bin",
            PickTarget::SaveCiphertext => "ciphertext.bin",
            PickTarget::SaveKeyPublicKey => "public_key.pem",
            PickTarget::ExportAudit => "cloudtrail.json",
            PickTarget::ExportEscrow => "KeyMaterial.bin",
            PickTarget::EncryptedMaterial => "EncryptedKeyMaterial.bin",
            PickTarget::PlaintextMaterial => "KeyMaterial.bin",
            _ => "",
        }
    }

    /// The dialog's title.
    pub fn title(self) -> &'static str {
        match self {
            PickTarget::StoreFile => "Open a byok store",
            PickTarget::SavePublicKey => "Save the wrapping public key",
            PickTarget::SaveImportToken => "Save the import token",
            PickTarget::EncryptedMaterial => "Choose the wrapped key material",
            PickTarget::PlaintextMaterial => "Choose the plaintext key material to wrap",
            PickTarget::SavePlaintextCopy => {
                "Save the plaintext key material (keep it outside byok)"
            }
            PickTarget::EncryptFile => "Choose a file to encrypt",
            PickTarget::CiphertextFile => "Choose a ciphertext file",
            PickTarget::SaveCiphertext => "Save the ciphertext",
            PickTarget::SaveKeyPublicKey => "Save the key's public key",
            PickTarget::ExportAudit => "Export the audit trail",
            PickTarget::ExportEscrow => "Export the escrowed key material (plaintext)",
        }
    }
}

/// Which screen asked for a job (its result goes back there). Screens
/// submit their jobs themselves, through the [`super::worker::Jobs`] queue
/// they are handed; an `Action` is what changes the application itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// The unlock screen.
    Unlock,
    /// The key list / key detail (toasts and inline errors).
    Keys,
    /// The import wizard.
    Wizard,
    /// The cryptography panel.
    Crypto,
    /// The audit trail.
    Audit,
    /// The timeline (its key's records).
    Timeline,
    /// Settings.
    Settings,
    /// The endpoint switch in the status bar.
    Serve,
    /// The key manager screen.
    Manager,
    /// The guided lessons panel (training stores).
    Lessons,
    /// The manual rotation flow.
    ManualRotation,
}

/// One user intent.
#[must_use = "an Action does nothing until the app applies it"]
#[derive(Debug)]
pub enum Action {
    /// Remember `path` as the store to offer next time.
    RememberStore(PathBuf),
    /// Remember the AWS account card's fields.
    RememberAws(super::unlock::AwsForm),
    /// Lock: close the store and return to the unlock screen.
    Lock,
    /// Lock a training store, which removes it (the user confirmed).
    LockTrainingStore,
    /// Show a tab.
    ShowTab(Tab),
    /// Select a key in the list.
    SelectKey(KeyRef),
    /// Open a file picker for `target`.
    Pick(PickTarget),
    /// Open the import wizard for `key` (re-import mode for `reimport`).
    OpenImportWizard {
        /// The key.
        key: KeyRef,
        /// The material to re-import.
        reimport: Option<KeyMaterialId>,
    },
    /// Open the "new key" dialog.
    NewKeyDialog,
    /// Start the manual rotation flow for `key` (a key that cannot rotate
    /// on demand).
    ManualRotation {
        /// The key to replace.
        key: KeyRef,
    },
    /// Rotate the selected key now.
    RotateSelected,
    /// Focus the key filter.
    FocusFilter,
    /// Change the simulated clock (training).
    Clock(ClockCommand),
    /// Change the theme or presentation size.
    Appearance {
        /// Dark, light or system.
        theme: super::theme::ThemeChoice,
        /// Larger text for projectors.
        presentation: bool,
    },
    /// Start (true) or stop the local AWS endpoint (serve hook).
    Serve(bool),
    /// Copy the endpoint's credentials as shell variables.
    CopyServeCredentials,
    /// Read the keys again from the backend (an AWS account).
    RefreshKeys,
    /// Copy text to the clipboard.
    Copy(String),
    /// Show a short notice.
    Notify(String),
}

/// What a trainer does with the simulated clock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ClockCommand {
    /// Move forward.
    Advance(std::time::Duration),
    /// Run this many times faster than real time.
    SetSpeed(f64),
    /// Back to real-time speed.
    RealTime,
}
