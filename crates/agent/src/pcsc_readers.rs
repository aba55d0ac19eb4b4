//! Readers and cards over PC/SC: every reader pcscd knows, whether a card is in it and its ATR,
//! and what the reader says of itself (vendor, model, firmware). A reader is asked directly,
//! without a card, so an empty reader still reports its firmware.

use std::time::Duration;

use anyhow::{anyhow, Result};
use cardwatch_core::reader::{atr_text, firmware, text_attribute, Reader, Readers, Seen};
use pcsc::{Attribute, Context, Protocols, ReaderState, Scope, ShareMode, State, PNP_NOTIFICATION};

/// Why PC/SC could not be reached, in words that say what to do.
fn unreachable(e: pcsc::Error) -> anyhow::Error {
    match e {
        pcsc::Error::NoService | pcsc::Error::ServiceStopped => anyhow!(
            "the PC/SC service is not running ({e}) — start it (Linux: `pcscd`; Windows: the \
             Smart Card service) and try again"
        ),
        other => anyhow!("PC/SC: {other}"),
    }
}

/// Every reader and what is in it.
pub fn readers() -> Result<Readers> {
    let ctx = Context::establish(Scope::User).map_err(unreachable)?;
    let names = match ctx.list_readers_owned() {
        Ok(n) => n,
        // No reader at all is an answer, not a failure.
        Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
        Err(e) => return Err(unreachable(e)),
    };
    let mut states: Vec<ReaderState> = names
        .iter()
        .map(|n| ReaderState::new(n.clone(), State::UNAWARE))
        .collect();
    if !states.is_empty() {
        ctx.get_status_change(Duration::from_millis(500), &mut states)
            .map_err(unreachable)?;
    }
    let found = names
        .iter()
        .zip(&states)
        .map(|(name, state)| {
            let present = state.event_state().contains(State::PRESENT);
            // Direct mode talks to the reader itself, card or none.
            let attr = |a: Attribute| {
                ctx.connect(name, ShareMode::Direct, Protocols::UNDEFINED)
                    .ok()
                    .and_then(|card| card.get_attribute_owned(a).ok())
            };
            Reader {
                name: name.to_string_lossy().into_owned(),
                vendor: text_attribute(attr(Attribute::VendorName).as_deref()),
                model: text_attribute(attr(Attribute::VendorIfdType).as_deref()),
                firmware: firmware(attr(Attribute::VendorIfdVersion).as_deref()),
                card_present: present,
                atr: present.then(|| atr_text(state.atr())),
            }
        })
        .collect();
    Ok(Readers::new(found))
}

/// The longest one wait trusts PC/SC to announce a change before looking afresh.
const FRESH_LOOK: Duration = Duration::from_secs(2);

/// Watches the readers: each call waits for PC/SC to report a change (a card in or out, a
/// reader plugged or unplugged) or for the timeout, and returns what it sees. A stopped PC/SC
/// service is an error for that call; the next call connects afresh.
#[derive(Default)]
pub struct Watcher {
    ctx: Option<Context>,
    states: Vec<ReaderState>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("readers", &self.states.len())
            .finish()
    }
}

impl Watcher {
    /// What the readers show after a change, or after `timeout` (at most `FRESH_LOOK`) without
    /// one.
    pub fn wait(&mut self, timeout: Duration) -> Result<Vec<Seen>> {
        let done = self.try_wait(timeout);
        if done.is_err() {
            // Start over with a new context next time (pcscd restarted, say).
            self.ctx = None;
            self.states.clear();
        }
        done
    }

    fn try_wait(&mut self, timeout: Duration) -> Result<Vec<Seen>> {
        if self.ctx.is_none() {
            self.ctx = Some(Context::establish(Scope::User).map_err(unreachable)?);
        }
        let Some(ctx) = &self.ctx else {
            return Ok(Vec::new());
        };
        let names = match ctx.list_readers_owned() {
            Ok(n) => n,
            Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
            Err(e) => return Err(unreachable(e)),
        };
        let pnp = PNP_NOTIFICATION();
        self.states
            .retain(|s| s.name() == pnp || names.iter().any(|n| n.as_c_str() == s.name()));
        if !self.states.iter().any(|s| s.name() == pnp) {
            self.states.insert(0, ReaderState::new(pnp, State::UNAWARE));
        }
        let mut fresh = false;
        for n in names {
            if !self.states.iter().any(|s| s.name() == n.as_c_str()) {
                self.states.push(ReaderState::new(n, State::UNAWARE));
                fresh = true;
            }
        }
        if fresh {
            // Learn the new readers' state at once, without waiting.
            match ctx.get_status_change(Duration::ZERO, &mut self.states) {
                Ok(()) | Err(pcsc::Error::Timeout) => {}
                Err(e) => return Err(unreachable(e)),
            }
        }
        for s in &mut self.states {
            s.sync_current_state();
        }
        match ctx.get_status_change(timeout.min(FRESH_LOOK), &mut self.states) {
            Ok(()) => {}
            Err(pcsc::Error::Timeout) => {
                // A wait that ends without news is checked against a fresh look: a change
                // whose notification was lost (seen under load, and on Windows after a
                // timeout) is then reported within FRESH_LOOK, not at the next inventory.
                for s in &mut self.states {
                    *s = ReaderState::new(s.name().to_owned(), State::UNAWARE);
                }
                match ctx.get_status_change(Duration::ZERO, &mut self.states) {
                    Ok(()) | Err(pcsc::Error::Timeout) => {}
                    Err(e) => return Err(unreachable(e)),
                }
            }
            Err(e) => return Err(unreachable(e)),
        }
        Ok(self
            .states
            .iter()
            .filter(|s| s.name() != pnp)
            .filter(|s| !s.event_state().intersects(State::UNKNOWN | State::IGNORE))
            .map(|s| Seen {
                name: s.name().to_string_lossy().into_owned(),
                atr: s
                    .event_state()
                    .contains(State::PRESENT)
                    .then(|| atr_text(s.atr())),
            })
            .collect())
    }
}
