//! A key's history, derived from its audit trail: one lane per material
//! with the periods it spent pending rotation, current, non-current,
//! deleted or expired, the markers of what happened, and the key-level
//! events (creation, rotation requests, deletion scheduling, enable and
//! disable). The timeline draws it and answers "what was the key's state at
//! this instant?" from it.

use std::collections::HashMap;

use super::view::KeyView;
use crate::kms::{AuditRecord, KeyMaterialId, KeyMaterialState, KeyState, Timestamp};

/// A material's role in the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Imported for rotation.
    PendingRotation,
    /// Used to encrypt.
    Current,
    /// Kept for decryption.
    NonCurrent,
}

impl Role {
    /// The AWS spelling.
    pub fn as_str(self) -> &'static str {
        self.material_state().as_str()
    }

    /// The engine's state of the same name.
    pub fn material_state(self) -> KeyMaterialState {
        match self {
            Role::PendingRotation => KeyMaterialState::PendingRotation,
            Role::Current => KeyMaterialState::Current,
            Role::NonCurrent => KeyMaterialState::NonCurrent,
        }
    }

    fn from_state(s: KeyMaterialState) -> Role {
        match s {
            KeyMaterialState::PendingRotation => Role::PendingRotation,
            KeyMaterialState::Current => Role::Current,
            KeyMaterialState::NonCurrent => Role::NonCurrent,
        }
    }
}

/// Whether a material's bytes are present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// Imported.
    Imported,
    /// Deleted by DeleteImportedKeyMaterial.
    Deleted,
    /// Erased at its ValidTo.
    Expired,
}

/// A period of a material's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Start.
    pub from: Timestamp,
    /// End; `None` while it lasts.
    pub to: Option<Timestamp>,
    /// Role during the period.
    pub role: Role,
    /// Presence during the period.
    pub presence: Presence,
}

/// What a marker on a lane shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkerKind {
    /// First import (or generation).
    Imported,
    /// Re-import of the same bytes.
    Reimported,
    /// Became current by a rotation.
    RotatedIn,
    /// Deleted (DeleteImportedKeyMaterial).
    Deleted,
    /// Expired (DeleteExpiredKeyMaterial).
    Expired,
    /// A pending material removed from the key.
    Removed,
}

impl MarkerKind {
    /// A short word for the marker.
    pub fn label(self) -> &'static str {
        match self {
            MarkerKind::Imported => "Imported",
            MarkerKind::Reimported => "Re-imported",
            MarkerKind::RotatedIn => "Rotated in",
            MarkerKind::Deleted => "Deleted",
            MarkerKind::Expired => "Expired",
            MarkerKind::Removed => "Removed",
        }
    }
}

/// A marker on a lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    /// When.
    pub at: Timestamp,
    /// What.
    pub kind: MarkerKind,
    /// The audit event behind it.
    pub event: String,
}

/// One material's life.
#[derive(Clone, Debug)]
pub struct Lane {
    /// `KeyMaterialId`.
    pub id: KeyMaterialId,
    /// Its short form.
    pub short: String,
    /// Its description (latest known).
    pub description: Option<String>,
    /// Periods, in order; the last one may be open.
    pub segments: Vec<Segment>,
    /// Markers, in order.
    pub markers: Vec<Marker>,
    /// The ValidTo in force (from the latest import).
    pub valid_to: Option<Timestamp>,
    /// Whether the material left the key (a pending one deleted or expired).
    pub removed: bool,
}

impl Lane {
    fn new(id: KeyMaterialId, description: Option<String>) -> Lane {
        Lane {
            id,
            short: id.short(),
            description,
            segments: Vec::new(),
            markers: Vec::new(),
            valid_to: None,
            removed: false,
        }
    }

    fn last(&self) -> Option<&Segment> {
        self.segments.last().filter(|s| s.to.is_none())
    }

    fn role(&self) -> Option<Role> {
        self.last().map(|s| s.role)
    }

    /// Closes the open period at `at` and opens one with `role`/`presence`.
    fn change(&mut self, at: Timestamp, role: Role, presence: Presence) {
        if let Some(last) = self.segments.last_mut()
            && last.to.is_none()
        {
            if last.role == role && last.presence == presence {
                return;
            }
            last.to = Some(at);
        }
        self.segments.push(Segment {
            from: at,
            to: None,
            role,
            presence,
        });
    }

    fn close(&mut self, at: Timestamp) {
        if let Some(last) = self.segments.last_mut()
            && last.to.is_none()
        {
            last.to = Some(at);
        }
    }

    /// The period in force at `t`.
    pub fn segment_at(&self, t: Timestamp) -> Option<&Segment> {
        self.segments
            .iter()
            .find(|s| s.from <= t && s.to.is_none_or(|end| t < end))
    }

    /// When the lane starts.
    pub fn start(&self) -> Option<Timestamp> {
        self.segments.first().map(|s| s.from)
    }
}

/// A key-level event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyEventKind {
    /// CreateKey.
    Created,
    /// RotateKeyOnDemand accepted.
    RotationRequested,
    /// ScheduleKeyDeletion (with the deletion date).
    DeletionScheduled(Option<Timestamp>),
    /// CancelKeyDeletion.
    DeletionCancelled,
    /// EnableKey.
    Enabled,
    /// DisableKey.
    Disabled,
}

impl KeyEventKind {
    /// A short word.
    pub fn label(&self) -> &'static str {
        match self {
            KeyEventKind::Created => "Created",
            KeyEventKind::RotationRequested => "Rotate now",
            KeyEventKind::DeletionScheduled(_) => "Deletion scheduled",
            KeyEventKind::DeletionCancelled => "Deletion cancelled",
            KeyEventKind::Enabled => "Enabled",
            KeyEventKind::Disabled => "Disabled",
        }
    }
}

/// A key-level event at an instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEvent {
    /// When.
    pub at: Timestamp,
    /// What.
    pub kind: KeyEventKind,
}

/// A material's condition at an instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaterialAt {
    /// Which.
    pub id: KeyMaterialId,
    /// Its role.
    pub role: Role,
    /// Its presence.
    pub presence: Presence,
}

/// The key as it was at an instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateAt {
    /// The instant.
    pub at: Timestamp,
    /// Whether the key existed.
    pub existed: bool,
    /// `KeyState`, by the engine's rule.
    pub key_state: KeyState,
    /// The current material.
    pub current: Option<KeyMaterialId>,
    /// Every material in the key then.
    pub materials: Vec<MaterialAt>,
    /// Whether a rotation was in progress.
    pub rotating: bool,
}

impl StateAt {
    /// The key as the engine has it now (the view model).
    pub fn from_view(key: &KeyView, now: Timestamp) -> StateAt {
        let materials = key
            .materials
            .iter()
            .map(|m| MaterialAt {
                id: m.id,
                role: Role::from_state(m.state),
                presence: match (m.import_state, m.valid_to) {
                    (crate::kms::ImportState::Imported, _) => Presence::Imported,
                    (_, Some(v)) if v <= now => Presence::Expired,
                    _ => Presence::Deleted,
                },
            })
            .collect();
        StateAt {
            at: now,
            existed: true,
            key_state: key.state,
            current: key
                .materials
                .iter()
                .find(|m| m.state == KeyMaterialState::Current)
                .map(|m| m.id),
            materials,
            rotating: key.rotation_started.is_some(),
        }
    }
}

/// Everything the timeline draws for one key.
#[derive(Clone, Debug)]
pub struct KeyHistory {
    /// When the key was created.
    pub created: Timestamp,
    /// One lane per material, in order of first appearance.
    pub lanes: Vec<Lane>,
    /// Key-level events.
    pub key_events: Vec<KeyEvent>,
    /// Enabled-flag changes (time, enabled).
    enabled_changes: Vec<(Timestamp, bool)>,
    /// Deletion scheduled periods (start, end if cancelled).
    deletion_periods: Vec<(Timestamp, Option<Timestamp>)>,
    /// Rotation in progress periods (start, end when completed or abandoned).
    rotation_periods: Vec<(Timestamp, Option<Timestamp>)>,
    /// Records of this key that were read.
    pub records: usize,
}

fn parse_time(v: Option<&str>) -> Option<Timestamp> {
    v.and_then(Timestamp::parse)
}

fn material_of(r: &AuditRecord, name: &str) -> Option<KeyMaterialId> {
    r.additional(name).and_then(KeyMaterialId::parse)
}

impl KeyHistory {
    /// Derives the history of `key` from its audit records (any order; other
    /// keys' records are skipped). Materials the trail does not cover (older
    /// segments retired, or the generated first material of an `AWS_KMS`
    /// key) are filled in from the key's present state.
    pub fn from_records(key: &KeyView, records: &[AuditRecord]) -> KeyHistory {
        let key_text = key.id.to_string();
        let mut mine: Vec<&AuditRecord> = records
            .iter()
            .filter(|r| r.key_id() == Some(key_text.as_str()) && !r.is_error())
            .collect();
        mine.sort_by_key(|r| (Timestamp::parse(&r.event_time), r.byok.sequence));
        let mut h = KeyHistory {
            created: key.creation_date,
            lanes: Vec::new(),
            key_events: vec![KeyEvent {
                at: key.creation_date,
                kind: KeyEventKind::Created,
            }],
            enabled_changes: vec![(key.creation_date, true)],
            deletion_periods: Vec::new(),
            rotation_periods: Vec::new(),
            records: mine.len(),
        };
        let mut index: HashMap<KeyMaterialId, usize> = HashMap::new();
        let described = |id: KeyMaterialId| key.material(id).and_then(|m| m.description.clone());
        for r in mine {
            let Some(at) = Timestamp::parse(&r.event_time) else {
                continue;
            };
            let name = r.event_name.clone();
            match r.event_name.as_str() {
                "ImportKeyMaterial" => {
                    let Some(id) = material_of(r, "keyMaterialId") else {
                        continue;
                    };
                    let existing = r.additional("importType") == Some("EXISTING_KEY_MATERIAL");
                    let valid_to = parse_time(r.request_parameter("validTo"));
                    let description = r
                        .request_parameter("keyMaterialDescription")
                        .map(str::to_owned);
                    match index.get(&id) {
                        Some(&i) if existing => {
                            let lane = &mut h.lanes[i];
                            let role = lane.role().unwrap_or(Role::NonCurrent);
                            lane.change(at, role, Presence::Imported);
                            lane.valid_to = valid_to;
                            if description.is_some() {
                                lane.description = description;
                            }
                            lane.markers.push(Marker {
                                at,
                                kind: MarkerKind::Reimported,
                                event: name,
                            });
                        }
                        _ => {
                            let first = !h.lanes.iter().any(|l| !l.removed);
                            let role = if first {
                                Role::Current
                            } else {
                                Role::PendingRotation
                            };
                            let mut lane = Lane::new(id, description.or_else(|| described(id)));
                            lane.change(at, role, Presence::Imported);
                            lane.valid_to = valid_to;
                            lane.markers.push(Marker {
                                at,
                                kind: MarkerKind::Imported,
                                event: name,
                            });
                            index.insert(id, h.lanes.len());
                            h.lanes.push(lane);
                        }
                    }
                }
                "RotateKey" => {
                    if let Some(prev) = material_of(r, "previousKeyMaterialId") {
                        let i = *index.entry(prev).or_insert_with(|| {
                            // The generated first material of an AWS_KMS key.
                            let mut lane = Lane::new(prev, described(prev));
                            lane.change(key.creation_date, Role::Current, Presence::Imported);
                            lane.markers.push(Marker {
                                at: key.creation_date,
                                kind: MarkerKind::Imported,
                                event: "CreateKey".into(),
                            });
                            h.lanes.push(lane);
                            h.lanes.len() - 1
                        });
                        let lane = &mut h.lanes[i];
                        let presence = lane.last().map_or(Presence::Imported, |s| s.presence);
                        lane.change(at, Role::NonCurrent, presence);
                    }
                    if let Some(cur) = material_of(r, "currentKeyMaterialId") {
                        let i = *index.entry(cur).or_insert_with(|| {
                            let mut lane = Lane::new(cur, described(cur));
                            lane.markers.push(Marker {
                                at,
                                kind: MarkerKind::Imported,
                                event: "RotateKey".into(),
                            });
                            h.lanes.push(lane);
                            h.lanes.len() - 1
                        });
                        let lane = &mut h.lanes[i];
                        let presence = lane.last().map_or(Presence::Imported, |s| s.presence);
                        lane.change(at, Role::Current, presence);
                        lane.markers.push(Marker {
                            at,
                            kind: MarkerKind::RotatedIn,
                            event: name,
                        });
                    }
                    if let Some(p) = h.rotation_periods.last_mut()
                        && p.1.is_none()
                    {
                        p.1 = Some(at);
                    }
                }
                "DeleteImportedKeyMaterial" | "DeleteExpiredKeyMaterial" => {
                    let Some(&i) = material_of(r, "keyMaterialId").and_then(|id| index.get(&id))
                    else {
                        continue;
                    };
                    let expired = r.event_name == "DeleteExpiredKeyMaterial";
                    let lane = &mut h.lanes[i];
                    match lane.role() {
                        Some(Role::PendingRotation) => {
                            lane.close(at);
                            lane.removed = true;
                            lane.markers.push(Marker {
                                at,
                                kind: MarkerKind::Removed,
                                event: name,
                            });
                            if let Some(p) = h.rotation_periods.last_mut()
                                && p.1.is_none()
                            {
                                p.1 = Some(at);
                            }
                        }
                        Some(role) => {
                            let presence = if expired {
                                Presence::Expired
                            } else {
                                Presence::Deleted
                            };
                            lane.change(at, role, presence);
                            let kind = if expired {
                                MarkerKind::Expired
                            } else {
                                MarkerKind::Deleted
                            };
                            lane.markers.push(Marker {
                                at,
                                kind,
                                event: name,
                            });
                        }
                        None => {}
                    }
                }
                "RotateKeyOnDemand" => {
                    h.key_events.push(KeyEvent {
                        at,
                        kind: KeyEventKind::RotationRequested,
                    });
                    h.rotation_periods.push((at, None));
                }
                "ScheduleKeyDeletion" => {
                    let date = r
                        .response_elements
                        .as_ref()
                        .and_then(|v| v.get("deletionDate"))
                        .and_then(|v| v.as_str())
                        .and_then(Timestamp::parse);
                    h.key_events.push(KeyEvent {
                        at,
                        kind: KeyEventKind::DeletionScheduled(date),
                    });
                    h.deletion_periods.push((at, None));
                    // Scheduling deletion abandons a rotation in progress.
                    if let Some(p) = h.rotation_periods.last_mut()
                        && p.1.is_none()
                    {
                        p.1 = Some(at);
                    }
                }
                "CancelKeyDeletion" => {
                    h.key_events.push(KeyEvent {
                        at,
                        kind: KeyEventKind::DeletionCancelled,
                    });
                    if let Some(p) = h.deletion_periods.last_mut()
                        && p.1.is_none()
                    {
                        p.1 = Some(at);
                    }
                    h.enabled_changes.push((at, false));
                }
                "EnableKey" | "DisableKey" => {
                    let enabled = r.event_name == "EnableKey";
                    let was = h.enabled_changes.last().is_some_and(|c| c.1);
                    if was != enabled {
                        h.key_events.push(KeyEvent {
                            at,
                            kind: if enabled {
                                KeyEventKind::Enabled
                            } else {
                                KeyEventKind::Disabled
                            },
                        });
                        h.enabled_changes.push((at, enabled));
                    }
                }
                _ => {}
            }
        }
        // Materials the trail does not show: take them from the present state.
        for m in &key.materials {
            if index.contains_key(&m.id) {
                continue;
            }
            let mut lane = Lane::new(m.id, m.description.clone());
            let presence = if m.import_state == crate::kms::ImportState::Imported {
                Presence::Imported
            } else {
                Presence::Deleted
            };
            lane.change(m.first_imported, Role::from_state(m.state), presence);
            lane.valid_to = m.valid_to;
            lane.markers.push(Marker {
                at: m.first_imported,
                kind: MarkerKind::Imported,
                event: "(before the retained audit trail)".into(),
            });
            index.insert(m.id, h.lanes.len());
            h.lanes.push(lane);
        }
        // The present ValidTo of each material wins over what the trail says.
        for lane in &mut h.lanes {
            if let Some(m) = key.material(lane.id) {
                lane.valid_to = m.valid_to;
                if m.description.is_some() {
                    lane.description = m.description.clone();
                }
            }
        }
        if let Some(start) = key.rotation_started
            && !h.rotation_periods.iter().any(|p| p.0 == start)
        {
            h.rotation_periods.push((start, None));
        }
        h.key_events.sort_by_key(|e| e.at);
        h
    }

    /// The earliest and latest instants worth showing: creation to the later
    /// of `now` and the last ValidTo or deletion date.
    pub fn span(&self, now: Timestamp) -> (Timestamp, Timestamp) {
        let mut end = now;
        for lane in &self.lanes {
            if let Some(v) = lane.valid_to {
                end = end.max(v);
            }
        }
        for e in &self.key_events {
            if let KeyEventKind::DeletionScheduled(Some(d)) = e.kind {
                end = end.max(d);
            }
        }
        (self.created, end)
    }

    /// The key as it was at `t`, by the engine's state rule.
    pub fn state_at(&self, t: Timestamp) -> StateAt {
        let existed = t >= self.created;
        let materials: Vec<MaterialAt> = self
            .lanes
            .iter()
            .filter_map(|l| {
                l.segment_at(t).map(|s| MaterialAt {
                    id: l.id,
                    role: s.role,
                    presence: s.presence,
                })
            })
            .collect();
        let enabled = self
            .enabled_changes
            .iter()
            .take_while(|(at, _)| *at <= t)
            .last()
            .is_none_or(|(_, e)| *e);
        let deletion = self
            .deletion_periods
            .iter()
            .any(|(from, to)| *from <= t && to.is_none_or(|end| t < end));
        let rotating = self
            .rotation_periods
            .iter()
            .any(|(from, to)| *from <= t && to.is_none_or(|end| t < end));
        let permanent_missing = materials
            .iter()
            .any(|m| m.role != Role::PendingRotation && m.presence != Presence::Imported);
        let no_material = !materials.iter().any(|m| m.role != Role::PendingRotation);
        StateAt {
            at: t,
            existed,
            key_state: KeyState::derive(deletion, no_material, permanent_missing, enabled),
            current: materials
                .iter()
                .find(|m| m.role == Role::Current)
                .map(|m| m.id),
            materials,
            rotating,
        }
    }

    /// Rotation periods (start, end).
    pub fn rotation_periods(&self) -> &[(Timestamp, Option<Timestamp>)] {
        &self.rotation_periods
    }
}
