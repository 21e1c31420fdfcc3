//! Registries as live servers: what pullseal asks of them, never what it renders for them.
//!
//! [`v2`] is the Docker Registry HTTP API v2 handshake behind `pullseal validate`. The
//! per-type providers (default servers, `auths` entries, how each type authenticates a check)
//! join this module later; until then the credential a check uses comes from the catalog's
//! username and password (`frontend/validate.rs`, `credentials`).
//!
//! What this module must *not* do: write to stdout or stderr, or put a credential, a token or
//! an `Authorization` header into any value it returns (its errors and reasons included).

pub mod v2;
