//! Cardwatch storage (being built: see issue 2 notes).
