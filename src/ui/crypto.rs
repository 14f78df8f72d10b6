//! The cryptography panel: encrypt text or a file, decrypt a pasted base64
//! blob or a picked/dropped file, generate a data key — each showing which
//! KeyMaterialId the engine used — or, for a key whose usage is
//! GENERATE_VERIFY_MAC, GenerateMac and VerifyMac with the key's own
//! MacAlgorithm; and the ciphertext inspector, which says
//! which key and material made a blob, that material's state, and whether it
//! can be decrypted now (and if not, why).

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use egui::{RichText, Ui};
use zeroize::Zeroizing;

use super::action::{Action, Owner, PickTarget};
use super::crypto_asym::AsymPanel;
use super::theme;
use super::view::{KeyRef, KeyView, StoreView};
use super::worker::{Async, Job, Jobs, Outcome, Ticket, UiError};
use crate::kms::{
    DataKeySpec, EncryptionContext, Inspection, KeyMaterialId, SecretText, SecretVec, Timestamp,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Encrypt,
    Decrypt,
    DataKey,
    GenerateMac,
    VerifyMac,
    Inspect,
    ReadPlainFile,
    ReadCipherFile,
    SaveCipher,
}

/// Encrypt's result as shown.
#[derive(Clone, Debug)]
pub struct Encrypted {
    /// The blob, base64.
    pub blob_b64: String,
    /// The material used, when the backend names it.
    pub material: Option<KeyMaterialId>,
    /// The key (ARN).
    pub key: String,
}

/// Decrypt's result as shown.
#[derive(Clone, Debug)]
pub struct Decrypted {
    /// The plaintext.
    pub plaintext: SecretVec,
    /// The material used.
    pub material: Option<KeyMaterialId>,
    /// The key (ARN).
    pub key: String,
}

/// GenerateDataKey's result as shown.
#[derive(Clone, Debug)]
pub struct DataKey {
    /// The plaintext data key, base64.
    pub plaintext_b64: SecretText,
    /// The encrypted data key, base64.
    pub blob_b64: String,
    /// The material used.
    pub material: Option<KeyMaterialId>,
}

/// GenerateMac's result as shown.
#[derive(Clone, Debug)]
pub struct MacShown {
    /// The MAC, base64.
    pub mac_b64: String,
    /// `MacAlgorithm`.
    pub algorithm: String,
    /// The key (ARN).
    pub key: String,
}

/// The panel's state.
pub struct CryptoPanel {
    /// The message to MAC or verify.
    pub mac_message: Zeroizing<String>,
    /// The MAC to verify, base64.
    pub mac_to_verify: String,
    /// The `MacAlgorithm` chosen (one of the key's `MacAlgorithms`).
    mac_algorithm: String,
    generated_mac: Async<MacShown>,
    /// VerifyMac's answer: the algorithm it checked with.
    verified: Async<String>,
    /// Text to encrypt.
    pub plaintext: Zeroizing<String>,
    /// A file to encrypt instead (path typed or picked).
    pub plain_file_path: String,
    plain_file: Option<(String, SecretVec)>,
    /// `key=value` lines.
    pub context: String,
    /// The ciphertext, base64.
    pub ciphertext: String,
    /// A ciphertext file path.
    pub cipher_file_path: String,
    /// Where to save the last ciphertext.
    pub save_path: String,
    data_key_spec: DataKeySpec,
    encrypted: Async<Encrypted>,
    decrypted: Async<Decrypted>,
    data_key: Async<DataKey>,
    inspection: Async<Option<Inspection>>,
    /// The blob the inspection is about, and the view revision it was made
    /// at: a newer view (a rotation, a deletion) inspects it again.
    inspected: Option<(Vec<u8>, u64)>,
    /// Reading or saving a file for the Encrypt card.
    plain_file_job: Async<String>,
    /// Reading a ciphertext file for the Decrypt card.
    cipher_file_job: Async<String>,
    then: Option<Slot>,
    /// `EncryptionAlgorithm` for an RSA encryption key (one of its
    /// `EncryptionAlgorithms`).
    encryption_algorithm: String,
    /// The RSA encryption key selected: Decrypt names it and the
    /// algorithm (an RSA ciphertext carries neither).
    rsa_key: Option<KeyRef>,
    /// The cards of asymmetric keys (Sign, Verify, public key, ECDH).
    pub asym: AsymPanel,
}

impl Default for CryptoPanel {
    fn default() -> Self {
        CryptoPanel {
            mac_message: Zeroizing::new(String::with_capacity(4096)),
            mac_to_verify: String::new(),
            mac_algorithm: String::new(),
            generated_mac: Async::Idle,
            verified: Async::Idle,
            plaintext: Zeroizing::new(String::with_capacity(4096)),
            plain_file_path: String::new(),
            plain_file: None,
            context: String::new(),
            ciphertext: String::new(),
            cipher_file_path: String::new(),
            save_path: String::new(),
            data_key_spec: DataKeySpec::Aes256,
            encrypted: Async::Idle,
            decrypted: Async::Idle,
            data_key: Async::Idle,
            inspection: Async::Idle,
            inspected: None,
            plain_file_job: Async::Idle,
            cipher_file_job: Async::Idle,
            then: None,
            encryption_algorithm: String::new(),
            rsa_key: None,
            asym: AsymPanel::default(),
        }
    }
}

fn parse_context(text: &str) -> Result<EncryptionContext, UiError> {
    let mut ctx = EncryptionContext::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(UiError::plain(
                "Write the encryption context as key=value, one pair per line.",
                format!("line {} has no '='", n + 1),
            ));
        };
        ctx.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(ctx)
}

/// Base64 text pasted into a box (line breaks and spaces ignored); `plain`
/// is what the officer reads when it is not base64.
pub(super) fn decode_base64(text: &str, plain: &str) -> Result<Vec<u8>, UiError> {
    let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    B64.decode(cleaned.as_bytes())
        .map_err(|e| UiError::plain(plain, e.to_string()))
}

fn decode_blob(text: &str) -> Result<Vec<u8>, UiError> {
    let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if cleaned.is_empty() {
        return Err(UiError::plain(
            "Paste a ciphertext (base64) or choose a file.",
            "",
        ));
    }
    B64.decode(cleaned.as_bytes())
        .map_err(|e| UiError::plain("This is not base64 text.", e.to_string()))
}

impl CryptoPanel {
    fn run(&mut self, jobs: &Jobs, slot: Slot, job: Job) {
        let owner = Owner::Crypto;
        match slot {
            Slot::Encrypt => self.encrypted.submit(jobs, owner, job),
            Slot::Decrypt => self.decrypted.submit(jobs, owner, job),
            Slot::DataKey => self.data_key.submit(jobs, owner, job),
            Slot::GenerateMac => self.generated_mac.submit(jobs, owner, job),
            Slot::VerifyMac => self.verified.submit(jobs, owner, job),
            Slot::Inspect => self.inspection.submit(jobs, owner, job),
            Slot::ReadPlainFile | Slot::SaveCipher => self.plain_file_job.submit(jobs, owner, job),
            Slot::ReadCipherFile => self.cipher_file_job.submit(jobs, owner, job),
        }
    }

    /// A file dropped on the window: a ciphertext to decrypt or inspect.
    pub fn dropped(&mut self, path: PathBuf, jobs: &Jobs) {
        self.cipher_file_path = path.display().to_string();
        self.read_cipher_file(jobs, None);
    }

    /// A picker answered.
    pub fn picked(&mut self, target: PickTarget, path: PathBuf, jobs: &Jobs) {
        match target {
            PickTarget::EncryptFile => {
                self.plain_file_path = path.display().to_string();
                self.run(
                    jobs,
                    Slot::ReadPlainFile,
                    Job::ReadFile {
                        path,
                        max_len: 4096,
                    },
                );
            }
            PickTarget::CiphertextFile => {
                self.cipher_file_path = path.display().to_string();
                self.read_cipher_file(jobs, None);
            }
            PickTarget::SaveCiphertext => {
                self.save_path = path.display().to_string();
                self.save_ciphertext(jobs);
            }
            PickTarget::SaveKeyPublicKey => self.asym.picked(target, path, jobs),
            _ => {}
        }
    }

    fn read_cipher_file(&mut self, jobs: &Jobs, then: Option<Slot>) {
        self.then = then;
        let path = PathBuf::from(self.cipher_file_path.trim());
        self.run(
            jobs,
            Slot::ReadCipherFile,
            Job::ReadFile {
                path,
                max_len: 6144,
            },
        );
    }

    fn save_ciphertext(&mut self, jobs: &Jobs) {
        let Some(blob) = self
            .encrypted
            .value()
            .and_then(|e| B64.decode(e.blob_b64.as_bytes()).ok())
        else {
            return;
        };
        let path = PathBuf::from(self.save_path.trim());
        self.run(
            jobs,
            Slot::SaveCipher,
            Job::WriteFile {
                path,
                bytes: SecretVec::new(blob),
            },
        );
    }

    /// A job's result; may submit a follow-up job.
    pub fn finished(&mut self, ticket: Ticket, outcome: Result<Outcome, UiError>, jobs: &Jobs) {
        let Some(outcome) = self.asym.finished(ticket, outcome) else {
            return;
        };
        let slot = if self.plain_file_job.ticket() == Some(ticket) {
            Some(Slot::ReadPlainFile)
        } else if self.cipher_file_job.ticket() == Some(ticket) {
            Some(Slot::ReadCipherFile)
        } else {
            None
        };
        if let Some(slot) = slot {
            let file = if slot == Slot::ReadPlainFile {
                &mut self.plain_file_job
            } else {
                &mut self.cipher_file_job
            };
            match outcome {
                Ok(Outcome::FileRead { path, bytes }) => {
                    let path = path.display().to_string();
                    file.finish(
                        ticket,
                        Ok(format!("{} bytes read from {path}", bytes.len())),
                    );
                    if slot == Slot::ReadPlainFile {
                        self.plain_file = Some((path, bytes));
                    } else {
                        self.ciphertext = B64.encode(bytes.expose());
                        match self.then.take() {
                            Some(Slot::Decrypt) => self.decrypt(jobs),
                            Some(Slot::Inspect) => self.inspect(jobs, None),
                            _ => {}
                        }
                    }
                }
                Ok(Outcome::FileWritten(path)) => {
                    file.finish(
                        ticket,
                        Ok(format!("Ciphertext saved to {}", path.display())),
                    );
                }
                Ok(_) => {}
                Err(e) => {
                    file.finish(ticket, Err(e));
                }
            }
            return;
        }
        match outcome {
            Ok(Outcome::Encrypted(out)) => {
                self.encrypted.finish(
                    ticket,
                    Ok(Encrypted {
                        blob_b64: B64.encode(&out.ciphertext),
                        material: out.material,
                        key: out.key,
                    }),
                );
            }
            Ok(Outcome::Decrypted(out)) => {
                self.decrypted.finish(
                    ticket,
                    Ok(Decrypted {
                        plaintext: out.plaintext,
                        material: out.material,
                        key: out.key,
                    }),
                );
            }
            Ok(Outcome::DataKey(out)) => {
                let plaintext_b64 = SecretText::new(B64.encode(out.plaintext.expose()));
                self.data_key.finish(
                    ticket,
                    Ok(DataKey {
                        plaintext_b64,
                        blob_b64: B64.encode(&out.ciphertext),
                        material: out.material,
                    }),
                );
            }
            Ok(Outcome::Inspected(i)) => {
                self.inspection.finish(ticket, Ok(i));
            }
            Ok(Outcome::Mac(out)) => {
                if self.generated_mac.ticket() == Some(ticket) {
                    self.generated_mac.finish(
                        ticket,
                        Ok(MacShown {
                            mac_b64: B64.encode(&out.mac),
                            algorithm: out.algorithm,
                            key: out.key,
                        }),
                    );
                } else if out.valid {
                    self.verified.finish(ticket, Ok(out.algorithm));
                } else {
                    // AWS answers a mismatch with KMSInvalidMacException,
                    // never MacValid false; an answer saying false is still
                    // shown as a failure, not as a success.
                    self.verified.finish(
                        ticket,
                        Err(UiError::plain(
                            "The MAC does not verify.",
                            "VerifyMac answered MacValid false",
                        )),
                    );
                }
            }
            Ok(_) => {}
            Err(e) => {
                if !self.encrypted.finish(ticket, Err(e.clone()))
                    && !self.decrypted.finish(ticket, Err(e.clone()))
                    && !self.data_key.finish(ticket, Err(e.clone()))
                    && !self.generated_mac.finish(ticket, Err(e.clone()))
                    && !self.verified.finish(ticket, Err(e.clone()))
                {
                    self.inspection.finish(ticket, Err(e));
                }
            }
        }
    }

    fn decrypt(&mut self, jobs: &Jobs) {
        let asymmetric = self
            .rsa_key
            .clone()
            .map(|k| (k, self.encryption_algorithm.clone()));
        match (decode_blob(&self.ciphertext), parse_context(&self.context)) {
            (Ok(blob), Ok(context)) => {
                self.run(
                    jobs,
                    Slot::Decrypt,
                    Job::Decrypt {
                        blob,
                        context,
                        asymmetric,
                    },
                );
            }
            (Err(e), _) | (_, Err(e)) => {
                self.decrypted = Async::Failed(e);
            }
        }
    }

    /// Inspects the blob in the Decrypt box (or `again`, the blob inspected
    /// before, when the store changed since).
    fn inspect(&mut self, jobs: &Jobs, again: Option<(Vec<u8>, u64)>) {
        let (blob, revision) = match again {
            Some(b) => b,
            None => match decode_blob(&self.ciphertext) {
                Ok(blob) => (blob, 0),
                Err(e) => {
                    self.inspection = Async::Failed(e);
                    self.inspected = None;
                    return;
                }
            },
        };
        self.inspected = Some((blob.clone(), revision));
        self.run(jobs, Slot::Inspect, Job::Inspect { blob });
    }

    /// Draws the panel for the selected key.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        view: &StoreView,
        selected: Option<&KeyRef>,
        now: Timestamp,
        jobs: &Jobs,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        // An inspection describes the store as it was: inspect again after
        // every change (a rotation makes the old material NON_CURRENT).
        if let Some((blob, revision)) = &self.inspected
            && *revision != view.revision
            && !self.inspection.is_pending()
            && self.inspection.value().is_some()
        {
            let again = (blob.clone(), view.revision);
            self.inspect(jobs, Some(again));
        } else if let Some((_, revision)) = &mut self.inspected
            && *revision == 0
        {
            *revision = view.revision;
        }
        let key = selected.and_then(|id| view.key(id));
        egui::ScrollArea::vertical()
            .auto_shrink(false)
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    ui.heading("Cryptography");
                    match key {
                        Some(k) => {
                            ui.label(format!("with {} ({}…)", k.label, k.short_id));
                            theme::badge(
                                ui,
                                theme::key_state_label(k.state),
                                theme::key_state(k.state),
                            );
                            let spec = k.spec_line();
                            if !spec.is_empty() {
                                ui.label(RichText::new(spec).monospace());
                            }
                            if !k.current_short.is_empty() {
                                ui.label(theme::weak(
                                    ui,
                                    format!("current material {}…", k.current_short),
                                ));
                            }
                        }
                        None => {
                            ui.label(theme::weak(
                                ui,
                                "select a key in the list to encrypt or make data keys",
                            ));
                        }
                    }
                });
                ui.add_space(6.0);
                self.rsa_key = key
                    .filter(|k| k.is_asymmetric_encryption())
                    .map(|k| k.id.clone());
                if let Some(k) = key.filter(|k| k.is_signing_key() || k.is_key_agreement_key()) {
                    // Sign and verify, or ECDH: no encryption, no blobs to
                    // inspect.
                    ui.columns(2, |cols| {
                        if k.is_signing_key() {
                            // Sign beside Verify: both fit a 1280×720 window.
                            self.asym.sign_ui(&mut cols[0], k, jobs, &mut actions);
                            self.asym.verify_ui(&mut cols[1], k, jobs);
                            cols[1].add_space(10.0);
                        } else {
                            self.asym.derive_ui(&mut cols[0], k, jobs);
                        }
                        self.asym.public_key_ui(&mut cols[1], k, jobs, &mut actions);
                    });
                    return;
                }
                if let Some(k) = key.filter(|k| k.is_asymmetric_encryption()) {
                    // RSAES_OAEP: Encrypt and Decrypt with the algorithm
                    // named; no data keys (GenerateDataKey takes symmetric
                    // keys only) and no byok blob header to inspect.
                    ui.columns(2, |cols| {
                        self.encryption_algorithm_ui(&mut cols[0], k);
                        self.encrypt_ui(&mut cols[0], Some(k.id.clone()), jobs, &mut actions);
                        self.decrypt_ui(&mut cols[1], jobs, &mut actions);
                        cols[1].add_space(10.0);
                        self.asym.public_key_ui(&mut cols[1], k, jobs, &mut actions);
                    });
                    return;
                }
                ui.columns(2, |cols| {
                    // The operations the key's usage allows: MACs for
                    // GENERATE_VERIFY_MAC keys, encryption for the others.
                    match key.filter(|k| k.is_mac_key()) {
                        Some(k) => {
                            self.generate_mac_ui(&mut cols[0], k, jobs, &mut actions);
                            cols[0].add_space(10.0);
                            self.verify_mac_ui(&mut cols[0], k, jobs);
                        }
                        None => {
                            self.encrypt_ui(
                                &mut cols[0],
                                key.map(|k| k.id.clone()),
                                jobs,
                                &mut actions,
                            );
                            cols[0].add_space(10.0);
                            self.data_key_ui(
                                &mut cols[0],
                                key.map(|k| k.id.clone()),
                                jobs,
                                &mut actions,
                            );
                        }
                    }
                    self.decrypt_ui(&mut cols[1], jobs, &mut actions);
                    cols[1].add_space(10.0);
                    self.inspector_ui(&mut cols[1], view, now);
                });
            });
        actions
    }

    /// The RSA key's `EncryptionAlgorithm` to use: the one chosen, when the
    /// key has it, else the key's first.
    fn encryption_algorithm_ui(&mut self, ui: &mut Ui, key: &KeyView) {
        if !key
            .encryption_algorithms
            .contains(&self.encryption_algorithm)
        {
            self.encryption_algorithm = key
                .encryption_algorithms
                .first()
                .cloned()
                .unwrap_or_default();
        }
        ui.horizontal_wrapped(|ui| {
            ui.label(theme::weak(ui, "EncryptionAlgorithm (Encrypt and Decrypt)"));
            for a in &key.encryption_algorithms {
                ui.radio_value(&mut self.encryption_algorithm, a.clone(), a.as_str());
            }
        });
        ui.add_space(4.0);
    }

    /// The key's `MacAlgorithm` to use: the one chosen, when the key has
    /// it, else the key's first.
    fn mac_algorithm_ui(&mut self, ui: &mut Ui, key: &KeyView) -> Option<String> {
        if !key.mac_algorithms.contains(&self.mac_algorithm) {
            self.mac_algorithm = key.mac_algorithms.first().cloned().unwrap_or_default();
        }
        ui.horizontal_wrapped(|ui| {
            ui.label(theme::weak(ui, "MacAlgorithm"));
            for a in &key.mac_algorithms {
                ui.radio_value(&mut self.mac_algorithm, a.clone(), a.as_str());
            }
        });
        (!self.mac_algorithm.is_empty()).then(|| self.mac_algorithm.clone())
    }

    fn generate_mac_ui(
        &mut self,
        ui: &mut Ui,
        key: &KeyView,
        jobs: &Jobs,
        actions: &mut Vec<Action>,
    ) {
        theme::card(ui).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(
                RichText::new("Message authentication code")
                    .strong()
                    .size(17.0),
            );
            let field = ui
                .add(
                    egui::TextEdit::multiline(&mut *self.mac_message)
                        .desired_rows(3)
                        .desired_width(f32::INFINITY)
                        .hint_text("message (1 to 4096 bytes)"),
                )
                .accessible_name("Message");
            // The message is not kept in the undo history.
            if let Some(mut state) = egui::text_edit::TextEditState::load(ui.ctx(), field.id) {
                state.clear_undoer();
                state.store(ui.ctx(), field.id);
            }
            let algorithm = self.mac_algorithm_ui(ui, key);
            let busy = self.generated_mac.is_pending();
            if ui
                .add_enabled(algorithm.is_some() && !busy, theme::primary("Generate MAC"))
                .on_hover_text("GenerateMac")
                .clicked()
                && let Some(algorithm) = algorithm
            {
                self.run(
                    jobs,
                    Slot::GenerateMac,
                    Job::GenerateMac {
                        key: key.id.clone(),
                        message: SecretVec::new(self.mac_message.as_bytes().to_vec()),
                        algorithm,
                    },
                );
            }
            pending_line(ui, self.generated_mac.elapsed(), "GenerateMac");
            if let Some(e) = self.generated_mac.error() {
                theme::error_box(ui, e);
            }
            if let Some(out) = self.generated_mac.value().cloned() {
                ui.label(theme::weak(ui, format!("Mac (base64), {}", out.algorithm)))
                    .on_hover_text(format!("Made with {}", out.key));
                ui.add(
                    egui::TextEdit::singleline(&mut out.mac_b64.as_str())
                        .desired_width(f32::INFINITY)
                        .font(egui::TextStyle::Monospace),
                )
                .accessible_name("Mac (base64)");
                ui.horizontal(|ui| {
                    if ui.button("🗐 Copy MAC").clicked() {
                        actions.push(Action::Copy(out.mac_b64.clone()));
                        actions.push(Action::Notify("MAC copied".into()));
                    }
                    if ui
                        .button("Use in Verify ›")
                        .on_hover_text("Put this MAC into the Verify MAC box")
                        .clicked()
                    {
                        self.mac_to_verify = out.mac_b64.clone();
                        self.verified.clear();
                    }
                });
            }
        });
    }

    fn verify_mac_ui(&mut self, ui: &mut Ui, key: &KeyView, jobs: &Jobs) {
        theme::card(ui).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(RichText::new("Verify a MAC").strong().size(17.0));
            ui.label(theme::weak(
                ui,
                "VerifyMac checks the MAC below against the message above, with the same MacAlgorithm.",
            ));
            ui.add(
                egui::TextEdit::singleline(&mut self.mac_to_verify)
                    .desired_width(f32::INFINITY)
                    .font(egui::TextStyle::Monospace)
                    .hint_text("MAC (base64)"),
            )
            .accessible_name("MAC to verify (base64)");
            let busy = self.verified.is_pending();
            let algorithm = (!self.mac_algorithm.is_empty()).then(|| self.mac_algorithm.clone());
            if ui
                .add_enabled(
                    algorithm.is_some() && !busy && !self.mac_to_verify.trim().is_empty(),
                    theme::primary("Verify MAC"),
                )
                .on_hover_text("VerifyMac")
                .clicked()
                && let Some(algorithm) = algorithm
            {
                match decode_base64(&self.mac_to_verify, "The MAC is not base64 text.") {
                    Ok(mac) => self.run(
                        jobs,
                        Slot::VerifyMac,
                        Job::VerifyMac {
                            key: key.id.clone(),
                            message: SecretVec::new(self.mac_message.as_bytes().to_vec()),
                            algorithm,
                            mac,
                        },
                    ),
                    Err(e) => self.verified = Async::Failed(e),
                }
            }
            pending_line(ui, self.verified.elapsed(), "VerifyMac");
            if let Some(e) = self.verified.error() {
                theme::error_box(ui, e);
            }
            if let Some(algorithm) = self.verified.value() {
                ui.label(
                    theme::colored(
                        ui,
                        format!("✔ MacValid: the MAC verifies ({algorithm})"),
                        theme::GREEN,
                    )
                    .strong(),
                );
            }
        });
    }

    fn context_ui(&mut self, ui: &mut Ui) {
        ui.label(theme::weak(
            ui,
            "Encryption context (optional): key=value, one per line",
        ));
        ui.add(
            egui::TextEdit::multiline(&mut self.context)
                .desired_rows(2)
                .desired_width(f32::INFINITY)
                .hint_text("purpose=demo"),
        )
        .accessible_name("Encryption context");
    }

    fn encrypt_ui(
        &mut self,
        ui: &mut Ui,
        key: Option<KeyRef>,
        jobs: &Jobs,
        actions: &mut Vec<Action>,
    ) {
        theme::card(ui).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(RichText::new("Encrypt data").strong().size(17.0));
            let field = ui
                .add(
                    egui::TextEdit::multiline(&mut *self.plaintext)
                        .desired_rows(3)
                        .desired_width(f32::INFINITY)
                        .hint_text("text to encrypt (up to 4096 bytes)"),
                )
                .accessible_name("Plaintext");
            // Plaintext is not kept in the undo history.
            if let Some(mut state) = egui::text_edit::TextEditState::load(ui.ctx(), field.id) {
                state.clear_undoer();
                state.store(ui.ctx(), field.id);
            }
            ui.horizontal(|ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut self.plain_file_path)
                        .hint_text("or a file to encrypt")
                        .desired_width(260.0),
                )
                .accessible_name("File to encrypt");
                if ui
                    .button("Browse…")
                    .on_hover_text("Choose a file to encrypt")
                    .accessible_name("Choose a file to encrypt")
                    .clicked()
                {
                    actions.push(Action::Pick(PickTarget::EncryptFile));
                }
                if ui
                    .add_enabled(
                        !self.plain_file_path.trim().is_empty(),
                        egui::Button::new("Load"),
                    )
                    .clicked()
                {
                    let path = PathBuf::from(self.plain_file_path.trim());
                    self.run(
                        jobs,
                        Slot::ReadPlainFile,
                        Job::ReadFile {
                            path,
                            max_len: 4096,
                        },
                    );
                }
            });
            if let Some((p, b)) = &self.plain_file
                && *p == self.plain_file_path.trim()
            {
                ui.label(theme::colored(
                    ui,
                    format!(
                        "✔ file loaded: {} bytes (encrypts the file, not the text)",
                        b.len()
                    ),
                    theme::GREEN,
                ));
            }
            self.context_ui(ui);
            let busy = self.encrypted.is_pending();
            let clicked = ui
                .horizontal(|ui| ui.add_enabled(key.is_some() && !busy, theme::primary("Encrypt")))
                .inner
                .clicked();
            if clicked && let Some(key) = key {
                let from_file = self
                    .plain_file
                    .as_ref()
                    .filter(|(p, _)| *p == self.plain_file_path.trim());
                let plaintext = match from_file {
                    Some((_, b)) => b.clone(),
                    None => SecretVec::new(self.plaintext.as_bytes().to_vec()),
                };
                match parse_context(&self.context) {
                    Ok(context) => self.run(
                        jobs,
                        Slot::Encrypt,
                        Job::Encrypt {
                            key,
                            plaintext,
                            context,
                            algorithm: self
                                .rsa_key
                                .is_some()
                                .then(|| self.encryption_algorithm.clone()),
                        },
                    ),
                    Err(e) => self.encrypted = Async::Failed(e),
                }
            }
            pending_line(ui, self.encrypted.elapsed(), "Encrypting");
            if let Some(e) = self.encrypted.error() {
                theme::error_box(ui, e);
            }
            if let Some(out) = self.encrypted.value().cloned() {
                match out.material {
                    Some(m) => material_line(ui, "Encrypted with key material", m),
                    None => {
                        ui.label(theme::weak(
                            ui,
                            "Encrypted with the key's current material (Encrypt does not name it; Decrypt does).",
                        ));
                    }
                }
                ui.add(
                    egui::TextEdit::multiline(&mut out.blob_b64.as_str())
                        .desired_rows(3)
                        .desired_width(f32::INFINITY)
                        .font(egui::TextStyle::Monospace),
                )
                .accessible_name("Ciphertext (base64)");
                ui.horizontal(|ui| {
                    if ui.button("🗐 Copy ciphertext").clicked() {
                        actions.push(Action::Copy(out.blob_b64.clone()));
                        actions.push(Action::Notify("Ciphertext copied".into()));
                    }
                    if ui
                        .button("Use in Decrypt ›")
                        .on_hover_text("Paste this ciphertext into the Decrypt box")
                        .clicked()
                    {
                        self.ciphertext = out.blob_b64.clone();
                    }
                    if ui
                        .button("Save…")
                        .on_hover_text("Save the ciphertext to a file")
                        .accessible_name("Save ciphertext…")
                        .clicked()
                    {
                        actions.push(Action::Pick(PickTarget::SaveCiphertext));
                    }
                });
                ui.horizontal(|ui| {
                    ui.add(
                        egui::TextEdit::singleline(&mut self.save_path)
                            .hint_text("or type a path")
                            .desired_width(260.0),
                    )
                    .accessible_name("Ciphertext file to write");
                    if ui
                        .add_enabled(
                            !self.save_path.trim().is_empty(),
                            egui::Button::new("Save ciphertext"),
                        )
                        .clicked()
                    {
                        self.save_ciphertext(jobs);
                    }
                });
            }
            file_status(ui, &self.plain_file_job);
        });
    }

    fn data_key_ui(
        &mut self,
        ui: &mut Ui,
        key: Option<KeyRef>,
        jobs: &Jobs,
        actions: &mut Vec<Action>,
    ) {
        theme::card(ui).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(RichText::new("Data key").strong().size(17.0));
            ui.horizontal(|ui| {
                ui.radio_value(&mut self.data_key_spec, DataKeySpec::Aes256, "AES_256");
                ui.radio_value(&mut self.data_key_spec, DataKeySpec::Aes128, "AES_128");
                let busy = self.data_key.is_pending();
                if ui
                    .add_enabled(key.is_some() && !busy, theme::primary("Generate data key"))
                    .clicked()
                    && let Some(key) = key
                {
                    match parse_context(&self.context) {
                        Ok(context) => self.run(
                            jobs,
                            Slot::DataKey,
                            Job::GenerateDataKey {
                                key,
                                spec: self.data_key_spec,
                                context,
                            },
                        ),
                        Err(e) => self.data_key = Async::Failed(e),
                    }
                }
            });
            pending_line(ui, self.data_key.elapsed(), "Generating");
            if let Some(e) = self.data_key.error() {
                theme::error_box(ui, e);
            }
            if let Some(dk) = self.data_key.value().cloned() {
                if let Some(m) = dk.material {
                    material_line(ui, "Encrypted under key material", m);
                }
                ui.label(theme::weak(
                    ui,
                    "Plaintext data key (base64) — use it, then forget it",
                ));
                ui.add(
                    egui::Label::new(RichText::new(dk.plaintext_b64.expose()).monospace())
                        .wrap_mode(egui::TextWrapMode::Extend)
                        .selectable(true),
                );
                ui.label(theme::weak(
                    ui,
                    "CiphertextBlob (base64) — store it with your data",
                ));
                // One unbroken line in a scroll area: a blob wrapped at
                // arbitrary points reads as if it were damaged.
                egui::ScrollArea::horizontal()
                    .id_salt("data-key-blob")
                    .show(ui, |ui| {
                        ui.add(
                            egui::Label::new(RichText::new(dk.blob_b64.as_str()).monospace())
                                .wrap_mode(egui::TextWrapMode::Extend)
                                .selectable(true),
                        );
                    });
                ui.horizontal(|ui| {
                    if ui.button("🗐 Copy CiphertextBlob").clicked() {
                        actions.push(Action::Copy(dk.blob_b64.clone()));
                        actions.push(Action::Notify("CiphertextBlob copied".into()));
                    }
                    if ui
                        .button("Use in Decrypt ›")
                        .on_hover_text("Paste the encrypted data key into the Decrypt box")
                        .accessible_name("Decrypt this data key")
                        .clicked()
                    {
                        self.ciphertext = dk.blob_b64.clone();
                    }
                });
            }
        });
    }

    fn decrypt_ui(&mut self, ui: &mut Ui, jobs: &Jobs, actions: &mut Vec<Action>) {
        theme::card(ui).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(RichText::new("Decrypt data").strong().size(17.0));
            ui.add(
                egui::TextEdit::multiline(&mut self.ciphertext)
                    .desired_rows(4)
                    .desired_width(f32::INFINITY)
                    .font(egui::TextStyle::Monospace)
                    .hint_text(
                        "paste a CiphertextBlob (base64), or drop a ciphertext file on the window",
                    ),
            )
            .accessible_name("Ciphertext to decrypt (base64)");
            ui.horizontal(|ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut self.cipher_file_path)
                        .hint_text("or a ciphertext file")
                        .desired_width(260.0),
                )
                .accessible_name("Ciphertext file");
                if ui
                    .button("Browse…")
                    .on_hover_text("Choose a ciphertext file")
                    .accessible_name("Choose a ciphertext file")
                    .clicked()
                {
                    actions.push(Action::Pick(PickTarget::CiphertextFile));
                }
                if ui
                    .add_enabled(
                        !self.cipher_file_path.trim().is_empty(),
                        egui::Button::new("Load file"),
                    )
                    .clicked()
                {
                    self.read_cipher_file(jobs, None);
                }
            });
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(!self.decrypted.is_pending(), theme::primary("Decrypt"))
                    .clicked()
                {
                    self.decrypt(jobs);
                }
                if self.rsa_key.is_none()
                    && ui
                    .add_enabled(
                        !self.inspection.is_pending(),
                        egui::Button::new("🔍 Inspect"),
                    )
                    .on_hover_text(
                        "Read the blob's header without decrypting: which key and material made it",
                    )
                    .accessible_name("Inspect ciphertext")
                    .clicked()
                {
                    self.inspect(jobs, None);
                }
            });
            if self.rsa_key.is_some() {
                ui.label(theme::weak(
                    ui,
                    format!(
                        "Decrypt names this key and {}: an RSA ciphertext carries neither.",
                        self.encryption_algorithm
                    ),
                ));
            } else {
                ui.label(theme::weak(
                    ui,
                    "Decrypt uses the encryption context typed under Encrypt.",
                ));
            }
            file_status(ui, &self.cipher_file_job);
            pending_line(ui, self.decrypted.elapsed(), "Decrypting");
            if let Some(e) = self.decrypted.error() {
                theme::error_box(ui, e);
            }
            if let Some(out) = self.decrypted.value() {
                if let Some(m) = out.material {
                    material_line(ui, "Decrypted with key material", m);
                }
                let bytes = out.plaintext.expose();
                match std::str::from_utf8(bytes) {
                    Ok(text)
                        if !text
                            .chars()
                            .any(|c| c.is_control() && c != '\n' && c != '\t') =>
                    {
                        ui.label(theme::weak(ui, "Plaintext"));
                        ui.add(egui::Label::new(RichText::new(text).monospace().strong()).wrap());
                    }
                    _ => {
                        ui.label(theme::weak(
                            ui,
                            format!("Plaintext: {} bytes (binary, shown as base64)", bytes.len()),
                        ));
                        ui.add(
                            egui::Label::new(RichText::new(B64.encode(bytes)).monospace()).wrap(),
                        );
                    }
                }
            }
        });
    }

    fn inspector_ui(&mut self, ui: &mut Ui, view: &StoreView, now: Timestamp) {
        theme::card(ui).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(RichText::new("Ciphertext inspector").strong().size(17.0));
            ui.label(theme::weak(ui, "Inspect the blob in the Decrypt box: no decryption, no audit record."));
            pending_line(ui, self.inspection.elapsed(), "Inspecting");
            if let Some(e) = self.inspection.error() {
                theme::error_box(ui, e);
            }
            match self.inspection.value() {
                None => {}
                Some(None) => {
                    theme::note_box(ui, theme::RED, |ui| {
                        ui.label(RichText::new("Not a byok ciphertext blob").strong());
                        ui.label("The header is missing, truncated, or of another version: no key or material can be read from it.");
                    });
                }
                Some(Some(i)) => inspection_ui(ui, i, view, now),
            }
        });
    }
}

fn inspection_ui(ui: &mut Ui, i: &Inspection, view: &StoreView, now: Timestamp) {
    let key = view.keys.iter().find(|k| k.key_id == i.key_id.to_string());
    egui::Grid::new("inspection")
        .num_columns(2)
        .spacing([14.0, 6.0])
        .show(ui, |ui| {
            ui.label("Key");
            ui.vertical(|ui| {
                ui.label(RichText::new(i.key_id.to_string()).monospace());
                match key {
                    Some(k) => {
                        ui.horizontal(|ui| {
                            ui.label(k.label.as_str());
                            theme::badge(
                                ui,
                                theme::key_state_label(k.state),
                                theme::key_state(k.state),
                            );
                        });
                    }
                    None => {
                        ui.label(theme::colored(
                            ui,
                            "not in this store (deleted, or from another store)",
                            theme::RED,
                        ));
                    }
                }
            });
            ui.end_row();
            ui.label("Key material");
            ui.vertical(|ui| {
                ui.label(RichText::new(i.key_material_id.to_string()).monospace());
                match i.material {
                    Some((state, import)) => {
                        ui.horizontal(|ui| {
                            theme::badge(ui, state.as_str(), theme::material_state(state));
                            theme::badge(ui, import.as_str(), theme::import_state(import));
                        });
                    }
                    None if key.is_some() => {
                        ui.label(theme::colored(
                            ui,
                            "this key has no such material",
                            theme::RED,
                        ));
                    }
                    None => {}
                }
            });
            ui.end_row();
        });
    ui.add_space(4.0);
    match &i.decryptable {
        Ok(()) => theme::note_box(ui, theme::GREEN, |ui| {
            ui.label(RichText::new("Can be decrypted now").strong());
            ui.label("(provided the same encryption context is given)");
        }),
        Err(e) => {
            let why = match (key, i.material) {
                (None, _) => "The key that made this blob is not in this store.".to_string(),
                (Some(k), Some((_, crate::kms::ImportState::PendingImport)))
                    if k.state == crate::kms::KeyState::PendingImport =>
                {
                    format!(
                        "Its material {}… was deleted or expired: re-import that same material, then it decrypts again.",
                        i.key_material_id.short()
                    )
                }
                (Some(k), _) if k.state != crate::kms::KeyState::Enabled => {
                    super::key_list::state_explanation(k, now)
                }
                (Some(_), None) => "The key does not hold the material named in the blob.".into(),
                _ => e.kind().plain_words().to_string(),
            };
            theme::note_box(ui, theme::RED, |ui| {
                ui.label(RichText::new("Cannot be decrypted now").strong());
                ui.label(why);
                ui.label(
                    RichText::new(format!("Decrypt would fail with {}", e.aws_name())).monospace(),
                );
                if !e.message().is_empty() {
                    ui.add(egui::Label::new(RichText::new(e.message()).monospace().small()).wrap());
                }
            });
        }
    }
}

fn material_line(ui: &mut Ui, what: &str, id: KeyMaterialId) {
    ui.horizontal_wrapped(|ui| {
        ui.label(what);
        ui.label(
            RichText::new(format!("{}…", id.short()))
                .monospace()
                .strong(),
        )
        .on_hover_text(id.to_string());
    });
    ui.add(
        egui::Label::new(RichText::new(id.to_string()).monospace().small())
            .wrap()
            .selectable(true),
    )
    .on_hover_text("KeyMaterialId");
}

pub(super) fn pending_line(ui: &mut Ui, elapsed: Option<std::time::Duration>, what: &str) {
    if let Some(e) = elapsed {
        ui.horizontal(|ui| {
            theme::spinner(ui);
            ui.label(format!("{what}… {:.1} s", e.as_secs_f32()));
        });
    }
}

fn file_status(ui: &mut Ui, file: &Async<String>) {
    if let Some(e) = file.error() {
        theme::error_box(ui, e);
    } else if let Some(text) = file.value() {
        ui.label(theme::colored(ui, format!("✔ {text}"), theme::GREEN));
    }
}
