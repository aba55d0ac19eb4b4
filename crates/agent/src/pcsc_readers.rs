//! Readers and cards over PC/SC: every reader pcscd knows, whether a card is in it and its ATR,
//! and what the reader says of itself (vendor, model, firmware). A reader is asked directly,
//! without a card, so an empty reader still reports its firmware.

use std::time::Duration;

use anyhow::{anyhow, Result};
use cardwatch_core::reader::{atr_text, firmware, text_attribute, Reader, Readers};
use pcsc::{Attribute, Context, Protocols, ReaderState, Scope, ShareMode, State};

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
