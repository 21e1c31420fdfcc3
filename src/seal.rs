//! Sealing (placeholder, being written).
