//! Native file pickers without freezing the window: an
//! `rfd::AsyncFileDialog` runs on its own named thread and its answer is
//! polled like any other pending job. Every picker in the console also has
//! a typed-path field, and files can be dropped on the window.

use std::future::Future;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

use super::action::PickTarget;

/// A picker that is open.
pub struct OpenPicker {
    /// What it is choosing.
    pub target: PickTarget,
    answer: Receiver<Picked>,
}

/// What a picker answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Picked {
    /// The user chose this file.
    Path(PathBuf),
    /// The user closed the dialog without choosing.
    Cancelled,
    /// No dialog could be shown: on Linux rfd needs xdg-desktop-portal or,
    /// failing that, `zenity`; without them it answers "nothing" at once.
    Unavailable,
}

/// A dialog that answers "nothing" faster than this was never on screen:
/// nobody closes a file dialog within a quarter of a second.
const NO_DIALOG_WITHIN: std::time::Duration = std::time::Duration::from_millis(250);

/// The pickers the console has open (at most one at a time).
#[derive(Default)]
pub struct FilePickers {
    open: Option<OpenPicker>,
}

impl FilePickers {
    /// Whether a picker is open.
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Opens a picker for `target` (ignored while another one is open).
    pub fn open(&mut self, target: PickTarget, repaint: impl Fn() + Send + 'static) {
        if self.open.is_some() {
            return;
        }
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("byok-file-dialog".into())
            .spawn(move || {
                let dialog = rfd::AsyncFileDialog::new().set_title(target.title());
                let dialog = if target.default_name().is_empty() {
                    dialog
                } else {
                    dialog.set_file_name(target.default_name())
                };
                let started = std::time::Instant::now();
                let picked = if target.saves() {
                    block_on(dialog.save_file())
                } else {
                    block_on(dialog.pick_file())
                };
                let answer = match picked {
                    Some(h) => Picked::Path(h.path().to_path_buf()),
                    None if started.elapsed() < NO_DIALOG_WITHIN => Picked::Unavailable,
                    None => Picked::Cancelled,
                };
                let _ = tx.send(answer);
                repaint();
            });
        if spawned.is_ok() {
            self.open = Some(OpenPicker { target, answer: rx });
        }
    }

    /// The answer of the open picker, once given.
    pub fn poll(&mut self) -> Option<(PickTarget, Picked)> {
        let open = self.open.as_ref()?;
        match open.answer.try_recv() {
            Ok(answer) => {
                let target = open.target;
                self.open = None;
                Some((target, answer))
            }
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                let target = open.target;
                self.open = None;
                Some((target, Picked::Unavailable))
            }
        }
    }
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Drives a future to completion on the current (dialog) thread.
fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}
