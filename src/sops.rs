//! SOPS file format (placeholder, being written).
