//! What time did: the time-driven events (SPEC §4) found between two views
//! of the store — a rotation completing, an automatic rotation, a
//! material's `ValidTo` passing, a key's deletion date passing — each as an
//! announcement the console toasts, marks on the timeline and keeps in the
//! clock bar, so a fast-forwarded clock shows what it did. Also the words
//! for the engine's next event. Pure functions of the views, tested below.

use super::format;
use super::view::{KeyRef, KeyView, StoreView};
use crate::kms::{ImportState, KeyMaterialId, KeyState, RotationType, TimeEvent, Timestamp};

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Happened {
    /// An on-demand rotation completed: `to` is current, `from` non-current.
    RotationCompleted {
        /// The material made current.
        to: KeyMaterialId,
        /// The material that was current.
        from: Option<KeyMaterialId>,
    },
    /// KMS rotated an `AWS_KMS` key on its schedule.
    AutomaticRotation {
        /// The new current material.
        to: KeyMaterialId,
    },
    /// A material's `ValidTo` passed: KMS deleted it.
    MaterialExpired {
        /// The material.
        material: KeyMaterialId,
        /// It was pending rotation, so it left the key.
        was_pending: bool,
    },
    /// The key's deletion date passed: KMS deleted the key.
    KeyDeleted,
}

/// One time-driven event, as the console announces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announcement {
    /// The key.
    pub key: KeyRef,
    /// Its label when it happened.
    pub label: String,
    /// What happened.
    pub what: Happened,
    /// When (the engine's time; the event's own time where the view has it).
    pub at: Timestamp,
    /// One or two sentences for the room.
    pub text: String,
}

impl Announcement {
    /// A short word for the timeline's flag.
    pub fn flag(&self) -> &'static str {
        match self.what {
            Happened::RotationCompleted { .. } => "Rotation complete",
            Happened::AutomaticRotation { .. } => "Rotated automatically",
            Happened::MaterialExpired { .. } => "Expired",
            Happened::KeyDeleted => "Key deleted",
        }
    }
}

/// The time-driven events between `old` and `new` (views of one store).
pub fn time_driven(old: &StoreView, new: &StoreView, now: Timestamp) -> Vec<Announcement> {
    if old.path != new.path {
        return Vec::new();
    }
    let mut out = Vec::new();
    for o in &old.keys {
        let Some(n) = new.key(&o.id) else {
            // Gone: only a deletion date that passed removes a key.
            if o.deletion_date.is_some_and(|d| d <= now) {
                let at = o.deletion_date.unwrap_or(now);
                out.push(Announcement {
                    key: o.id.clone(),
                    label: o.label.clone(),
                    what: Happened::KeyDeleted,
                    at,
                    text: format!(
                        "{} was deleted: its waiting period ended {}. Ciphertext under it can never be decrypted again.",
                        o.label,
                        format::date_time(at)
                    ),
                });
            }
            continue;
        };
        rotations(o, n, old.rotating.contains(&o.id), now, &mut out);
        expiries(o, n, now, &mut out);
    }
    out
}

fn rotations(
    o: &KeyView,
    n: &KeyView,
    was_rotating: bool,
    now: Timestamp,
    out: &mut Vec<Announcement>,
) {
    let Some(to) = n.current else {
        return;
    };
    if n.current == o.current || n.rotation_started.is_some() {
        return;
    }
    let m = n.material(to);
    let at = m.and_then(|m| m.rotation_date).unwrap_or(now);
    let automatic = m.and_then(|m| m.rotation_type) == Some(RotationType::Automatic);
    if was_rotating {
        out.push(Announcement {
            key: n.id.clone(),
            label: n.label.clone(),
            what: Happened::RotationCompleted {
                to,
                from: o.current,
            },
            at,
            text: format!(
                "Rotation of {} complete: {}… is now CURRENT{}",
                n.label,
                to.short(),
                o.current
                    .map(|f| format!(", {}… NON_CURRENT", f.short()))
                    .unwrap_or_default()
            ),
        });
    } else if automatic {
        out.push(Announcement {
            key: n.id.clone(),
            label: n.label.clone(),
            what: Happened::AutomaticRotation { to },
            at,
            text: format!(
                "KMS rotated {} on its schedule: {}… is now CURRENT",
                n.label,
                to.short()
            ),
        });
    }
}

fn expiries(o: &KeyView, n: &KeyView, now: Timestamp, out: &mut Vec<Announcement>) {
    for om in &o.materials {
        let Some(valid_to) = om.valid_to.filter(|v| *v <= now) else {
            continue;
        };
        if om.import_state != ImportState::Imported {
            continue;
        }
        let nm = n.material(om.id);
        let was_pending = nm.is_none();
        if nm.is_some_and(|m| m.import_state == ImportState::Imported) {
            continue;
        }
        let consequence = if was_pending {
            "The pending material left the key; it was never current.".to_string()
        } else if n.state == KeyState::PendingImport {
            "The key is now PendingImport: nothing encrypts or decrypts until the same material is imported again.".to_string()
        } else {
            "Ciphertext it made cannot be decrypted until the same material is imported again."
                .to_string()
        };
        out.push(Announcement {
            key: n.id.clone(),
            label: n.label.clone(),
            what: Happened::MaterialExpired {
                material: om.id,
                was_pending,
            },
            at: valid_to,
            text: format!(
                "Key material {}… of {} expired at its ValidTo ({}). {consequence}",
                om.id.short(),
                n.label,
                format::date_time(valid_to)
            ),
        });
    }
}

/// The engine's next event in words, when it concerns something on screen:
/// `(what, when, key)`.
pub fn next_event(view: &StoreView) -> Option<(String, Timestamp, Option<KeyRef>)> {
    let (at, event) = view.local.as_ref()?.next_event?;
    let key = event.key().and_then(|id| {
        let id = id.to_string();
        view.keys.iter().find(|k| k.key_id == id)
    });
    let label = key.map_or_else(|| "a key".to_string(), |k| k.label.clone());
    let text = match event {
        TimeEvent::ImportParametersExpire => "import parameters expire".to_string(),
        TimeEvent::MaterialExpires { material, .. } => {
            format!(
                "material {}… of {label} expires (ValidTo)",
                material.short()
            )
        }
        TimeEvent::RotationCompletes { .. } => format!("the rotation of {label} completes"),
        TimeEvent::AutomaticRotation { .. } => format!("KMS rotates {label} automatically"),
        TimeEvent::KeyDeletion { .. } => format!("{label} is deleted (its deletion date)"),
    };
    Some((text, at, key.map(|k| k.id.clone())))
}
