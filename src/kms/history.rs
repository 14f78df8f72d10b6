//! A key's history, rebuilt from what was recorded about it: the audit
//! records of this engine or the CloudTrail events of an AWS account (the
//! records are CloudTrail-shaped, so one reading serves both). One lane per
//! material with the periods it spent pending rotation, current,
//! non-current, deleted or expired; the markers of what happened; the
//! key-level events (creation, rotation requests, deletion scheduling,
//! enable and disable); and the key's state at any instant, by the state
//! rule of SPEC §2 ([`KeyState::derive`]). The console's timeline draws it.

use std::collections::HashMap;

use serde_json::Value;

use super::audit::AuditRecord;
use super::clock::Timestamp;
use super::model::{ImportState, ImportType, KeyMaterialId, KeyMaterialState, KeyState};

/// One recorded event about a key, whichever trail it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEvent {
    /// `eventTime`.
    pub at: Timestamp,
    /// Position in its trail (ties in time keep this order).
    pub order: u64,
    /// `eventName`.
    pub name: String,
    /// Whether the call failed (`errorCode`): failed calls changed nothing.
    pub failed: bool,
    /// The key it concerns (the bare key id), if it names one.
    pub key_id: Option<String>,
    /// `keyMaterialId` (additional data, response or request).
    pub material: Option<KeyMaterialId>,
    /// RotateKey: the material that stopped being current.
    pub previous_material: Option<KeyMaterialId>,
    /// RotateKey: the material that became current.
    pub current_material: Option<KeyMaterialId>,
    /// ImportKeyMaterial: `importType`.
    pub import_type: Option<ImportType>,
    /// ImportKeyMaterial: `validTo`.
    pub valid_to: Option<Timestamp>,
    /// ImportKeyMaterial: `keyMaterialDescription`.
    pub description: Option<String>,
    /// ScheduleKeyDeletion: `deletionDate`.
    pub deletion_date: Option<Timestamp>,
}

fn text<'a>(v: &'a Value, section: &str, name: &str) -> Option<&'a str> {
    v.get(section)?.get(name)?.as_str()
}

/// A timestamp as CloudTrail writes one: ISO 8601, or the console style
/// AWS uses for `validTo` in ImportKeyMaterial events ("May 21, 2025,
/// 5:47:45 AM", as in the Developer Guide's ct-importkeymaterial example).
pub fn parse_event_time(s: &str) -> Option<Timestamp> {
    Timestamp::parse(s).or_else(|| {
        chrono::NaiveDateTime::parse_from_str(s.trim(), "%b %d, %Y, %l:%M:%S %p")
            .ok()
            .map(|dt| Timestamp::from_millis(dt.and_utc().timestamp_millis()))
    })
}

fn key_id_of(v: &Value) -> Option<String> {
    let arn = v
        .get("resources")
        .and_then(|r| r.as_array())
        .and_then(|r| r.iter().find_map(|x| x.get("ARN").and_then(Value::as_str)))
        .or_else(|| text(v, "responseElements", "keyId"))
        .or_else(|| text(v, "requestParameters", "keyId"))?;
    Some(match arn.rsplit_once("key/") {
        Some((_, id)) => id.to_string(),
        None => arn.to_string(),
    })
}

impl HistoryEvent {
    /// Reads a CloudTrail event (a record of `LookupEvents`'s
    /// `CloudTrailEvent`, or an audit record of this engine as JSON).
    /// `None` when it has no event name or time.
    pub fn from_cloudtrail(v: &Value, order: u64) -> Option<HistoryEvent> {
        let name = v.get("eventName")?.as_str()?.to_string();
        let at = parse_event_time(v.get("eventTime")?.as_str()?)?;
        // AWS puts material ids in serviceEventDetails (RotateKey) or
        // responseElements (ImportKeyMaterial); this engine in
        // additionalEventData.
        let material_named = |field: &str| {
            [
                "additionalEventData",
                "serviceEventDetails",
                "responseElements",
                "requestParameters",
            ]
            .iter()
            .find_map(|s| text(v, s, field))
            .and_then(KeyMaterialId::parse)
        };
        let import_type = ["additionalEventData", "requestParameters"]
            .iter()
            .find_map(|s| text(v, s, "importType"))
            .and_then(|t| ImportType::parse_member("importType", t).ok());
        Some(HistoryEvent {
            at,
            order,
            name,
            failed: v.get("errorCode").is_some_and(|e| !e.is_null()),
            key_id: key_id_of(v),
            material: material_named("keyMaterialId"),
            previous_material: material_named("previousKeyMaterialId"),
            current_material: material_named("currentKeyMaterialId"),
            import_type,
            valid_to: text(v, "requestParameters", "validTo").and_then(parse_event_time),
            description: text(v, "requestParameters", "keyMaterialDescription").map(str::to_owned),
            deletion_date: text(v, "responseElements", "deletionDate").and_then(parse_event_time),
        })
    }

    /// Reads an audit record of this engine.
    pub fn from_record(r: &AuditRecord) -> Option<HistoryEvent> {
        let v = serde_json::to_value(r).ok()?;
        HistoryEvent::from_cloudtrail(&v, r.byok.sequence)
    }
}

/// A material of the key as it is now (from ListKeyRotations with
/// `ALL_KEY_MATERIAL`), for what the trail does not cover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresentMaterial {
    /// `KeyMaterialId`.
    pub id: KeyMaterialId,
    /// `KeyMaterialDescription`.
    pub description: Option<String>,
    /// `ImportState`.
    pub import_state: ImportState,
    /// `KeyMaterialState`.
    pub state: KeyMaterialState,
    /// `ValidTo`.
    pub valid_to: Option<Timestamp>,
    /// `RotationDate`.
    pub rotation_date: Option<Timestamp>,
    /// When it entered the key, when known (this engine knows; AWS says it
    /// only in CloudTrail).
    pub first_imported: Option<Timestamp>,
}

/// The key as it is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresentKey {
    /// The bare key id (events are matched on it).
    pub key_id: String,
    /// `CreationDate`.
    pub created: Timestamp,
    /// `KeyState`.
    pub state: KeyState,
    /// Its materials.
    pub materials: Vec<PresentMaterial>,
    /// `OnDemandRotationStartDate`, while a rotation is in progress.
    pub rotation_started: Option<Timestamp>,
}

impl PresentKey {
    fn material(&self, id: KeyMaterialId) -> Option<&PresentMaterial> {
        self.materials.iter().find(|m| m.id == id)
    }
}

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

    /// The role a material in state `s` has.
    pub fn from_state(s: KeyMaterialState) -> Role {
        match s {
            KeyMaterialState::PendingRotation
            | KeyMaterialState::PendingMultiRegionImportAndRotation => Role::PendingRotation,
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
    /// Not in the key (`ImportState` PENDING_IMPORT), and the trail does
    /// not say why: deleted or expired before the retained trail, or never
    /// imported into this key (a multi-Region replica's material waits for
    /// the same bytes as its primary's).
    Missing,
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
    /// The key as it is now.
    pub fn from_present(key: &PresentKey, now: Timestamp) -> StateAt {
        let materials = key
            .materials
            .iter()
            .map(|m| MaterialAt {
                id: m.id,
                role: Role::from_state(m.state),
                presence: match (m.import_state, m.valid_to) {
                    (ImportState::Imported, _) => Presence::Imported,
                    (_, Some(v)) if v <= now => Presence::Expired,
                    _ => Presence::Missing,
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
    /// Events of this key that were read.
    pub records: usize,
}

impl KeyHistory {
    /// Derives the history of `key` from recorded events (any order; other
    /// keys' events and failed calls are skipped). Materials the events do
    /// not cover (older segments retired, a trail that starts later, the
    /// generated first material of an `AWS_KMS` key) are filled in from the
    /// key's present state.
    pub fn from_events(key: &PresentKey, events: &[HistoryEvent]) -> KeyHistory {
        let mut mine: Vec<&HistoryEvent> = events
            .iter()
            .filter(|e| e.key_id.as_deref() == Some(key.key_id.as_str()) && !e.failed)
            .collect();
        mine.sort_by_key(|e| (e.at, e.order));
        let created = key.created;
        let mut h = KeyHistory {
            created,
            lanes: Vec::new(),
            key_events: vec![KeyEvent {
                at: created,
                kind: KeyEventKind::Created,
            }],
            enabled_changes: vec![(created, true)],
            deletion_periods: Vec::new(),
            rotation_periods: Vec::new(),
            records: mine.len(),
        };
        let mut index: HashMap<KeyMaterialId, usize> = HashMap::new();
        let described = |id: KeyMaterialId| key.material(id).and_then(|m| m.description.clone());
        for r in mine {
            let at = r.at;
            let name = r.name.clone();
            match r.name.as_str() {
                "ImportKeyMaterial" => {
                    let Some(id) = r.material else {
                        continue;
                    };
                    let existing = match r.import_type {
                        Some(t) => t == ImportType::ExistingKeyMaterial,
                        // AWS's default: EXISTING once the key has material.
                        None => index.contains_key(&id),
                    };
                    let valid_to = r.valid_to;
                    let description = r.description.clone();
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
                    if let Some(prev) = r.previous_material {
                        let i = *index.entry(prev).or_insert_with(|| {
                            // The generated first material of an AWS_KMS key.
                            let mut lane = Lane::new(prev, described(prev));
                            lane.change(created, Role::Current, Presence::Imported);
                            lane.markers.push(Marker {
                                at: created,
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
                    if let Some(cur) = r.current_material {
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
                    let Some(&i) = r.material.and_then(|id| index.get(&id)) else {
                        continue;
                    };
                    let expired = r.name == "DeleteExpiredKeyMaterial";
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
                    let date = r.deletion_date;
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
                    let enabled = r.name == "EnableKey";
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
            let presence = if m.import_state == ImportState::Imported {
                Presence::Imported
            } else {
                Presence::Missing
            };
            // When it entered the key: recorded here, else the rotation that
            // made it current, else the key's creation.
            let (since, event) = match (m.first_imported, m.rotation_date) {
                (Some(t), _) => (t, "(before the retained audit trail)"),
                (None, Some(t)) => (t, "(RotationDate of ListKeyRotations)"),
                (None, None) => (created, "(ListKeyRotations; import time not recorded)"),
            };
            lane.change(since, Role::from_state(m.state), presence);
            lane.valid_to = m.valid_to;
            lane.markers.push(Marker {
                at: since,
                kind: MarkerKind::Imported,
                event: event.into(),
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

    /// The span that tells the latest part of the story: the latest
    /// burst of events (import, rotation, deletion, expiry, a key event —
    /// at most `events` of them) to `now`. A burst ends, going back, at a
    /// gap more than three times the span taken so far (and more than half
    /// an hour): a key created months ago whose rotation took a minute
    /// shows that minute wide, not one pixel of a 90-day axis.
    pub fn recent_span(&self, now: Timestamp, events: usize) -> (Timestamp, Timestamp) {
        const MIN_GAP_MS: i64 = 30 * 60 * 1000;
        let mut times: Vec<Timestamp> = self
            .lanes
            .iter()
            .flat_map(|l| l.markers.iter().map(|m| m.at))
            .chain(self.key_events.iter().map(|e| e.at))
            .chain(self.rotation_periods.iter().map(|(from, _)| *from))
            .filter(|t| *t <= now)
            .collect();
        times.sort_unstable();
        times.dedup();
        let Some(&last) = times.last() else {
            return (self.created, now.max(self.created));
        };
        let mut start = last;
        for &t in times.iter().rev().skip(1).take(events.max(1) - 1) {
            let taken = (now.millis() - start.millis()).max(0);
            if start.millis() - t.millis() > (3 * taken).max(MIN_GAP_MS) {
                break;
            }
            start = t;
        }
        (start.max(self.created), now.max(start))
    }

    /// The key as it was at `t`, by the state rule of SPEC §2.
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
    const ARN: &str = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const M1: &str = "123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0";
    const M2: &str = "96083e4fb6dbc41d77578a213a6b6669c044dd4c143e96755d8a1d0b4a26a4b1";

    fn resources() -> Value {
        json!([{"accountId": "111122223333", "type": "AWS::KMS::Key", "ARN": ARN}])
    }

    /// A history from CloudTrail events as AWS writes them: the shapes of
    /// the Developer Guide's examples ct-importkeymaterial (validTo in the console style,
    /// the material id in responseElements), ct-rotatekeyondemand and
    /// ct-rotatekey (the ids in serviceEventDetails).
    fn cloudtrail_history() -> (Vec<HistoryEvent>, KeyHistory) {
        let import = |at: &str, material: &str, t: &str| {
            json!({
                "eventTime": at, "eventName": "ImportKeyMaterial", "eventType": "AwsApiCall",
                "requestParameters": {"keyId": KEY, "validTo": "May 21, 2026, 5:47:45 AM",
                    "expirationModel": "KEY_MATERIAL_EXPIRES", "importType": t,
                    "keyMaterialDescription": "ExampleKeyMaterialA"},
                "responseElements": {"keyId": ARN, "keyMaterialId": material},
                "resources": resources()
            })
        };
        let events: Vec<Value> = vec![
            import("2025-05-21T05:42:31Z", M1, "NEW_KEY_MATERIAL"),
            import("2025-05-22T05:42:31Z", M2, "NEW_KEY_MATERIAL"),
            json!({"eventTime": "2025-05-23T17:41:57Z", "eventName": "RotateKeyOnDemand",
                "requestParameters": {"keyId": KEY}, "responseElements": {"keyId": KEY},
                "resources": resources()}),
            json!({"eventTime": "2025-05-23T17:45:00Z", "eventName": "RotateKey",
                "eventType": "AwsServiceEvent", "requestParameters": null, "responseElements": null,
                "resources": resources(),
                "serviceEventDetails": {"rotationType": "ON_DEMAND", "keyOrigin": "EXTERNAL",
                    "previousKeyMaterialId": M1, "currentKeyMaterialId": M2}}),
        ];
        let events: Vec<HistoryEvent> = events
            .iter()
            .enumerate()
            .filter_map(|(i, v)| HistoryEvent::from_cloudtrail(v, i as u64))
            .collect();
        let m1 = KeyMaterialId::parse(M1).unwrap();
        let m2 = KeyMaterialId::parse(M2).unwrap();
        let present = PresentKey {
            key_id: KEY.into(),
            created: Timestamp::parse("2025-05-21T05:00:00Z").unwrap(),
            state: KeyState::Enabled,
            materials: vec![
                PresentMaterial {
                    id: m1,
                    description: None,
                    import_state: ImportState::Imported,
                    state: KeyMaterialState::NonCurrent,
                    valid_to: None,
                    rotation_date: None,
                    first_imported: None,
                },
                PresentMaterial {
                    id: m2,
                    description: None,
                    import_state: ImportState::Imported,
                    state: KeyMaterialState::Current,
                    valid_to: None,
                    rotation_date: Timestamp::parse("2025-05-23T17:45:00Z"),
                    first_imported: None,
                },
            ],
            rotation_started: None,
        };
        let h = KeyHistory::from_events(&present, &events);
        (events, h)
    }

    #[test]
    fn a_history_from_aws_cloudtrail_events() {
        let (events, h) = cloudtrail_history();
        assert_eq!(events.len(), 4);
        assert_eq!(
            events[0].valid_to,
            Timestamp::parse("2026-05-21T05:47:45Z"),
            "the console-style validTo"
        );
        let m1 = KeyMaterialId::parse(M1).unwrap();
        let m2 = KeyMaterialId::parse(M2).unwrap();
        assert_eq!(h.lanes.len(), 2);
        let roles = |id| -> Vec<Role> {
            h.lanes
                .iter()
                .find(|l| l.id == id)
                .unwrap()
                .segments
                .iter()
                .map(|s| s.role)
                .collect()
        };
        assert_eq!(roles(m1), [Role::Current, Role::NonCurrent]);
        assert_eq!(roles(m2), [Role::PendingRotation, Role::Current]);
        let before = h.state_at(Timestamp::parse("2025-05-23T17:44:00Z").unwrap());
        assert_eq!(before.current, Some(m1));
        assert!(before.rotating, "between RotateKeyOnDemand and RotateKey");
        let after = h.state_at(Timestamp::parse("2025-05-24T00:00:00Z").unwrap());
        assert_eq!(after.current, Some(m2));
        assert_eq!(after.key_state, KeyState::Enabled);
    }

    /// The default timeline view: the latest burst of events to now, so
    /// the four-minute rotation of a key imported days earlier is not a
    /// pixel.
    #[test]
    fn the_recent_span_is_the_latest_burst_of_events() {
        let at = |t| Timestamp::parse(t).unwrap();
        let (_, h) = cloudtrail_history();
        // RotateKeyOnDemand 17:41:57 and RotateKey 17:45:00; the imports
        // came a day and more before: a gap that ends the burst.
        let now = at("2025-05-23T18:00:00Z");
        assert_eq!(h.recent_span(now, 4), (at("2025-05-23T17:41:57Z"), now));
        assert_eq!(h.recent_span(now, 1), (at("2025-05-23T17:45:00Z"), now));
        // Long after the burst, the gaps before it look small: back to
        // the first import (the created instant is earlier still).
        let later = at("2025-06-30T00:00:00Z");
        assert_eq!(h.recent_span(later, 4), (at("2025-05-21T05:42:31Z"), later));
        // Events after `now` (a cursor in the past) do not count.
        let then = at("2025-05-22T06:00:00Z");
        assert_eq!(h.recent_span(then, 4), (at("2025-05-22T05:42:31Z"), then));
    }

    /// Without CloudTrail (denied, or not kept that long), the lanes come
    /// from ListKeyRotations alone: a material made current by a rotation
    /// starts at its RotationDate.
    #[test]
    fn without_events_the_present_state_draws_the_lanes() {
        let m1 = KeyMaterialId::parse(M1).unwrap();
        let rotated = Timestamp::parse("2025-06-01T00:00:00Z").unwrap();
        let present = PresentKey {
            key_id: KEY.into(),
            created: Timestamp::parse("2025-05-21T05:00:00Z").unwrap(),
            state: KeyState::Enabled,
            materials: vec![PresentMaterial {
                id: m1,
                description: Some("vault A".into()),
                import_state: ImportState::Imported,
                state: KeyMaterialState::Current,
                valid_to: None,
                rotation_date: Some(rotated),
                first_imported: None,
            }],
            rotation_started: None,
        };
        let h = KeyHistory::from_events(&present, &[]);
        assert_eq!(h.lanes[0].start(), Some(rotated));
        assert_eq!(h.records, 0);
    }
}
