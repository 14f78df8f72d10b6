//! The training demo: one click gives a store with keys in every state,
//! built by the engine at past times, on the live clock afterwards; its
//! rotation in progress completes when the clock passes the delay; and it
//! is removed when the store is locked.

#[path = "ui_support/mod.rs"]
mod support;

use std::time::Duration;

use byok::kms::{KeyState, ManualClock};
use byok::ui::demo::DEMO_ROTATION_DELAY_MS;
use support::*;

#[test]
fn the_training_demo_has_keys_in_every_state() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    open_demo(&mut h);
    assert!(shows(&h, "TRAINING STORE"));
    let view = h.state().view().expect("view").clone();
    let by_alias = |a: &str| {
        view.keys
            .iter()
            .find(|k| k.aliases.iter().any(|x| x == a))
            .unwrap_or_else(|| panic!("{a} in the demo"))
            .clone()
    };

    let payments = by_alias("alias/payments-master");
    assert_eq!(payments.state, KeyState::Enabled);
    assert_eq!(payments.on_demand_rotations, 8, "a key with many rotations");
    assert_eq!(payments.materials.len(), 9);

    let hr = by_alias("alias/hr-records");
    assert_eq!(hr.state, KeyState::Enabled);
    assert!(
        hr.pending_material().is_some() && hr.rotation_started.is_none(),
        "enabled with a pending material"
    );

    let billing = by_alias("alias/billing-archive");
    assert!(billing.rotation_started.is_some(), "mid-rotation");

    let legacy = by_alias("alias/legacy-export");
    assert_eq!(legacy.state, KeyState::PendingImport);
    let expired = legacy
        .missing_materials()
        .next()
        .expect("a missing material");
    assert!(
        expired.valid_to.is_some_and(|v| v < clock_now(&clock)),
        "it expired"
    );

    // The key list's expiry column says so, in red, rather than "never".
    assert_eq!(legacy.lapsed_expiry, expired.valid_to);
    assert!(
        shows(&h, "5 days ago"),
        "the list shows when the material expired (the demo's is 5 days back)"
    );

    let sovereign = by_alias("alias/sovereign-eu");
    assert_eq!(
        sovereign.state,
        KeyState::PendingImport,
        "a deleted material"
    );
    assert_eq!(sovereign.lapsed_expiry, None, "deleted, not expired");
    assert_eq!(
        by_alias("alias/staging-temp").state,
        KeyState::PendingDeletion
    );
    assert_eq!(by_alias("alias/vendor-feed").state, KeyState::Disabled);
    assert_eq!(by_alias("alias/new-partner").state, KeyState::PendingImport);
    assert!(by_alias("alias/new-partner").materials.is_empty());
    assert!(
        by_alias("alias/analytics").completed_rotations >= 2,
        "automatic rotations happened"
    );

    // The plaintext of the demo's materials is there for re-import demonstrations.
    let materials = byok::ui::demo::material_dir(&view.path);
    assert!(
        materials
            .join(format!("legacy-export-{}.bin", expired.short))
            .exists()
    );

    // The state badge says what is wrong and what fixes it.
    click_first(&mut h, "alias/legacy-export");
    wait_part(&mut h, &format!("material {}… expired on", expired.short));
    assert!(shows_part(&h, "Re-import that same material"));
    // The timeline appears once the worker has read the audit trail.
    wait_label(&mut h, "Material timeline");
    h.check_accessibility();

    // The rotation in progress completes when the engine's clock passes the delay.
    click_first(&mut h, "alias/billing-archive");
    wait_part(&mut h, "Rotation in progress");
    clock.advance(Duration::from_millis(DEMO_ROTATION_DELAY_MS));
    let billing_id = billing.id.clone();
    wait_for(&mut h, "the demo rotation to complete", |h| {
        h.state()
            .view()
            .and_then(|v| v.key(&billing_id))
            .is_some_and(|k| k.rotation_started.is_none() && k.on_demand_rotations == 1)
    });

    // Locking removes the training store.
    let folder = view.path.parent().expect("demo folder").to_path_buf();
    assert!(folder.exists());
    click(&mut h, "🔒 Lock");
    click(&mut h, "🔒 Lock and remove");
    wait_for(&mut h, "the demo folder to be removed", |_| {
        !folder.exists()
    });
}

/// Issue 10, item 5: a training store does not lock itself after 15 idle
/// minutes (locking deletes it, and a trainer would lose the demo
/// mid-session); locking it asks first, saying it is removed, and the lock
/// screen says so afterwards.
#[test]
fn a_training_store_does_not_auto_lock_and_locking_it_says_it_is_removed() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    open_demo(&mut h);
    let view = h.state().view().expect("view").clone();
    assert_eq!(
        view.store_settings.auto_lock_minutes, 0,
        "a training store never locks by itself"
    );
    let folder = view.path.parent().expect("demo folder").to_path_buf();

    // An hour away from the keyboard: still open.
    h.state_mut().set_idle_for(Duration::from_secs(60 * 60));
    settle(&mut h);
    assert!(h.state().is_ready(), "the training store stayed open");
    assert!(folder.exists());

    // Lock asks first and says what happens; Cancel keeps the demo.
    click(&mut h, "🔒 Lock");
    wait_label(&mut h, "Lock and remove the training store?");
    assert!(shows_part(&h, "locking it deletes it"));
    click(&mut h, "Cancel");
    assert!(!shows(&h, "Lock and remove the training store?"));
    assert!(
        h.state().is_ready() && folder.exists(),
        "nothing was removed"
    );

    // Confirmed: the store is removed and the lock screen says so.
    click(&mut h, "🔒 Lock");
    click(&mut h, "🔒 Lock and remove");
    wait_part(&mut h, "The training store was removed");
    wait_for(&mut h, "the demo folder to be removed", |_| {
        !folder.exists()
    });
}

fn clock_now(c: &ManualClock) -> byok::kms::Timestamp {
    byok::kms::Clock::now(c)
}

/// A trainer on the real (simulated) clock jumps ahead to show an expiry:
/// "+30 days" stays under the pointer click after click, the badge says the
/// clock is not real time, and the engine expires the material on the way.
#[test]
fn a_trainer_jumps_ahead_until_a_material_expires() {
    use byok::store::clock::SimulatedClock;
    use byok::ui::{AppClock, AppConfig, ConsoleApp};
    use egui_kittest::kittest::Queryable;
    use std::sync::Arc;

    let (_dir, store) = temp();
    let sim = Arc::new(SimulatedClock::default());
    let mut config = AppConfig::for_tests(store.clone(), ManualClock::new(START), || {
        Box::new(test_keys())
    });
    config.clock = AppClock::Simulated(sim.clone());
    let mut h = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .with_max_steps(400)
        .build_eframe(move |cc| ConsoleApp::new(cc, config));
    open_demo(&mut h);
    let vendor = h
        .state()
        .view()
        .and_then(|v| {
            v.keys
                .iter()
                .find(|k| k.aliases.iter().any(|a| a == "alias/vendor-feed"))
        })
        .map(|k| (k.id.clone(), k.next_expiry))
        .expect("alias/vendor-feed");
    let (vendor, expiry) = (vendor.0, vendor.1.expect("its material expires"));
    assert!(!shows_part(&h, "SIMULATED CLOCK"), "real time: no badge");

    click(&mut h, "Settings");
    wait_label(&mut h, "Real time");
    let place = h.get_by_label("+30 days").rect();
    let wall_now = || {
        byok::kms::Timestamp::from_millis(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64,
        )
    };
    // Enough 30-day jumps to pass the material's ValidTo (the demo's is
    // six months ahead), clicked one after another like a trainer would.
    let month = 30 * 86_400_000;
    let jumps = (expiry.millis() - wall_now().millis()) / month + 1;
    assert!((5..=7).contains(&jumps), "{jumps} jumps of 30 days");
    for _ in 0..jumps {
        assert!(
            h.state()
                .view()
                .and_then(|v| v.key(&vendor))
                .is_some_and(|k| k.state != KeyState::PendingImport),
            "not expired before the clock passes ValidTo"
        );
        click(&mut h, "+30 days");
        assert_eq!(
            h.get_by_label("+30 days").rect(),
            place,
            "the button stays put"
        );
    }
    assert!(
        wall_now().plus(sim.offset()) >= expiry,
        "the clock passed ValidTo"
    );
    // The engine expires the material on its next tick.
    wait_key_state(&mut h, &vendor, KeyState::PendingImport);
    assert!(shows_part(&h, "ahead of real time"));
    assert!(shows_part(&h, "SIMULATED CLOCK"), "the badge says so");
}

/// Issue 10, item 11: in presentation mode at 1280×720 the key list keeps a
/// key's name readable (about 20 characters before the State column) and
/// its columns sized for the larger text; the columns the detail pane
/// repeats give way first.
#[test]
fn presentation_mode_at_1280_by_720_keeps_names_and_badges_readable() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console_sized(&store, &clock, egui::vec2(1280.0, 720.0));
    open_demo(&mut h);
    presentation_mode(&mut h);
    use egui_kittest::kittest::Queryable as _;
    let list_left = h.get_by_label("Sort by Key").rect().left();
    let state_left = h.get_by_label("Sort by State").rect().left();
    let body = 15.0 * 1.2; // presentation mode's body text size
    assert!(
        state_left - list_left >= 11.5 * body - 1.0,
        "the key name has {} px before State, want {}",
        state_left - list_left,
        11.5 * body
    );
    assert!(h.query_by_label("Sort by Current").is_some());
    assert!(
        h.query_by_label("Sort by Cost").is_none(),
        "Cost gives way first"
    );
    // What gave way is named, and shown under each key's name.
    wait_part(&mut h, "Cost shown under each key's name at this size");
    let key = h
        .state()
        .view()
        .unwrap()
        .keys
        .iter()
        .find(|k| k.aliases.iter().any(|a| a == "alias/payments-master"))
        .unwrap()
        .clone();
    assert!(
        shows(
            &h,
            &format!("{}/mo", byok::ui::format::usd(key.monthly_cost))
        ),
        "the key's cost in its row"
    );
    assert!(
        shows(&h, &format!("rot. {}/25", key.on_demand_rotations)),
        "its rotations in its row"
    );
    click_first(&mut h, "alias/payments-master");
    wait_part(&mut h, "Estimated $");
    assert!(shows_part(&h, "/ month"), "the key's cost in its detail");
}

/// The value the Settings screen shows for auto-lock.
fn auto_lock_text(h: &App<'_>) -> String {
    use egui_kittest::kittest::{NodeT, Queryable};
    h.get_by_label("Auto-lock")
        .accesskit_node()
        .value()
        .expect("the auto-lock value")
}

/// Issue 10: Settings says a training store's auto-lock is "never", not
/// "after 0 idle minutes"; a real store's reads as minutes, and "never" can be
/// typed.
#[test]
fn settings_say_never_for_no_auto_lock() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    open_demo(&mut h);
    click(&mut h, "Settings");
    wait_label(&mut h, "Auto-lock");
    assert_eq!(auto_lock_text(&h), "never");
    assert!(!shows_part(&h, "0 idle minutes"));

    click(&mut h, "🔒 Lock");
    click(&mut h, "🔒 Lock and remove");
    create_store(&mut h);
    click(&mut h, "Settings");
    wait_label(&mut h, "Auto-lock");
    assert_eq!(auto_lock_text(&h), "after 15 idle minutes");
    type_into(&mut h, "Auto-lock", "never");
    h.key_press(egui::Key::Enter);
    settle(&mut h);
    assert_eq!(auto_lock_text(&h), "never", "typed");
    click(&mut h, "Save settings");
    wait_for(&mut h, "the setting saved", |h| {
        h.state()
            .view()
            .is_some_and(|v| v.store_settings.auto_lock_minutes == 0)
    });
}

/// The width `text` takes in the console's body (or button) text.
fn text_width(h: &App<'_>, text: &str, style: egui::TextStyle) -> f32 {
    let font = style.resolve(&h.ctx.global_style());
    h.ctx.fonts_mut(|f| {
        f.layout_no_wrap(text.to_string(), font, egui::Color32::WHITE)
            .size()
            .x
    })
}

/// Brings the node labelled `name` on screen the way a user does: the
/// pane scrolled to it, then the table under the pointer scrolled sideways
/// (Shift+wheel or a trackpad) as far as needed; returns where it is.
fn reach(h: &mut App<'_>, name: &str, size: egui::Vec2) -> egui::Rect {
    use egui_kittest::kittest::Queryable;
    // Above the status bar.
    let floor = h.get_by_label("Serve AWS endpoint").rect().top() - 2.0;
    let on_screen = |r: egui::Rect| r.left() >= 0.0 && r.right() <= size.x && r.bottom() <= floor;
    for _ in 0..60 {
        let r = h.get_by_label(name).rect();
        if on_screen(r) {
            return r;
        }
        let (at, delta) = if r.bottom() > floor || r.top() < 0.0 {
            let dy = if r.top() < 0.0 { 60.0 } else { -60.0 };
            (egui::pos2(size.x - 30.0, floor - 60.0), egui::vec2(0.0, dy))
        } else {
            (
                egui::pos2(size.x - 30.0, r.center().y),
                egui::vec2(-60.0, 0.0),
            )
        };
        h.event(egui::Event::PointerMoved(at));
        h.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta,
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Unknown,
            modifiers: egui::Modifiers::NONE,
        });
        h.step();
    }
    h.get_by_label(name).rect()
}

/// Checks the material table of alias/payments-master (nine materials with
/// descriptions) and alias/legacy-export (an expired one): nothing is cut
/// and every action can be reached on screen.
fn material_table_is_readable(h: &mut App<'_>, size: egui::Vec2) {
    use egui_kittest::kittest::{NodeT, Queryable};
    let pad = 2.0 * h.ctx.global_style().spacing.button_padding.x;
    click_first(h, "alias/payments-master");
    wait_label(h, "Material timeline");
    settle(h);
    let view = h.state().view().expect("view").clone();
    let key = view
        .keys
        .iter()
        .find(|k| k.aliases.iter().any(|a| a == "alias/payments-master"))
        .expect("payments-master")
        .clone();
    for m in &key.materials {
        let d = m.description.clone().expect("a description");
        let want = text_width(h, &d, egui::TextStyle::Body);
        let got = h.get_by_label(&d).rect().width();
        assert!(
            got >= want - 0.5,
            "{size:?}: description {d:?} has {got} px, needs {want}"
        );
        for (name, text) in [
            (format!("Delete key material {}", m.short), "Delete…"),
            (format!("Reimport key material {}", m.short), "Reimport…"),
        ] {
            let want = text_width(h, text, egui::TextStyle::Button) + pad;
            let r = reach(h, &name, size);
            assert!(
                r.width() >= want - 0.5,
                "{size:?}: {name} is {} px wide, needs {want}",
                r.width()
            );
            let floor = h.get_by_label("Serve AWS endpoint").rect().top();
            assert!(
                r.left() >= 0.0 && r.right() <= size.x && r.bottom() <= floor,
                "{size:?}: {name} can be reached on screen ({r:?})"
            );
        }
    }
    click_first(h, "alias/legacy-export");
    wait_label(h, "Material timeline");
    settle(h);
    let expired = h
        .query_all_by_label_contains("expired ")
        .map(|n| {
            let node = n.accesskit_node();
            (node.label().or(node.value()).unwrap_or_default(), n.rect())
        })
        .find(|(text, _)| text.starts_with("expired "))
        .expect("the expired material's Expiration");
    let want = text_width(h, &expired.0, egui::TextStyle::Body);
    assert!(
        expired.1.width() >= want - 0.5,
        "{size:?}: {:?} has {} px, needs {want}",
        expired.0,
        expired.1.width()
    );
}

/// Issue 10, items 9 and 11: the key detail's material table sizes its
/// columns to their text — descriptions (where the copy is kept), the
/// expiry and both actions are whole at 1600×1000, and at 1280×720 in
/// presentation mode, where the columns give way and every action can
/// still be reached.
#[test]
fn the_material_table_cuts_nothing_at_1600_and_at_1280_in_presentation_mode() {
    for (size, presentation) in [
        (egui::vec2(1600.0, 1000.0), false),
        (egui::vec2(1280.0, 720.0), true),
    ] {
        let (_dir, store) = temp();
        let clock = ManualClock::new(START);
        let mut h = console_sized(&store, &clock, size);
        open_demo(&mut h);
        if presentation {
            presentation_mode(&mut h);
        }
        material_table_is_readable(&mut h, size);
    }
}

/// Issue 10, item 4: the ciphertext inspector follows the store — after a
/// rotation it calls the material that encrypted the blob NON_CURRENT, not
/// CURRENT as when it was inspected.
#[test]
fn the_inspector_follows_a_rotation() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    open_demo(&mut h);
    click_first(&mut h, "alias/hr-records");
    click(&mut h, "Cryptography");
    wait_label(&mut h, "Ciphertext inspector");
    type_into(&mut h, "Plaintext", "payroll");
    click(&mut h, "Encrypt");
    wait_label(&mut h, "Encrypted with key material");
    click(&mut h, "Use in Decrypt ›");
    click(&mut h, "Inspect ciphertext");
    wait_label(&mut h, "Can be decrypted now");
    assert!(shows(&h, "CURRENT") && !shows(&h, "NON_CURRENT"));

    click_first(&mut h, "Keys");
    click(&mut h, "⟳ Rotate now");
    click(&mut h, "⟳ Rotate");
    wait_part(&mut h, "Rotation in progress");
    clock.advance(Duration::from_millis(DEMO_ROTATION_DELAY_MS + 1));
    wait_for(&mut h, "the rotation to complete", |h| {
        !shows_part(h, "Rotation in progress")
    });
    click(&mut h, "Cryptography");
    wait_label(&mut h, "Ciphertext inspector");
    wait_label(&mut h, "NON_CURRENT");
    assert!(shows(&h, "Can be decrypted now"));
}

/// The largest share of the window one filled rectangle of the last frame
/// covers (clipped to where it is drawn), and what it is filled with.
fn largest_fill(h: &App<'_>) -> (f32, egui::Color32) {
    fn walk(shape: &egui::Shape, clip: egui::Rect, best: &mut (f32, egui::Color32)) {
        match shape {
            egui::Shape::Vec(shapes) => {
                for s in shapes {
                    walk(s, clip, best);
                }
            }
            egui::Shape::Rect(r) if r.fill.a() > 0 => {
                let area = r.rect.intersect(clip).area().max(0.0);
                if area > best.0 {
                    *best = (area, r.fill);
                }
            }
            _ => {}
        }
    }
    let mut best = (0.0, egui::Color32::TRANSPARENT);
    for c in &h.output().shapes {
        walk(&c.shape, c.clip_rect, &mut best);
    }
    (best.0 / h.ctx.content_rect().area(), best.1)
}

/// The window is cleared to the panels' colour and the panels paint no
/// fill of their own: under software rendering, shading a fill the size of
/// the window was a third of every frame's cost (issue 10, item 14; the
/// real window's figures are `cargo bench --bench console_open`'s).
#[test]
fn the_window_is_cleared_to_the_panel_colour_and_no_panel_paints_a_fill() {
    use eframe::App as _;
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    settle(&mut h);
    let visuals = h.ctx.global_style().visuals.clone();
    assert_eq!(
        h.state().clear_color(&visuals),
        visuals.panel_fill.to_normalized_gamma_f32(),
        "the window is cleared to the panels' colour"
    );
    let (share, fill) = largest_fill(&h);
    assert!(
        share < 0.25,
        "the unlock screen paints a fill ({fill:?}) over {:.0} % of the window",
        share * 100.0
    );
    open_demo(&mut h);
    click_first(&mut h, "alias/billing-archive");
    wait_part(&mut h, "Rotation in progress");
    h.step();
    let (share, fill) = largest_fill(&h);
    assert!(
        share < 0.25,
        "the key view paints a fill ({fill:?}) over {:.0} % of the window",
        share * 100.0
    );
}
