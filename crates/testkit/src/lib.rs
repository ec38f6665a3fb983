//! Test support, shared by every crate's integration tests (a dev-dependency only).
//!
//! * [`spawn_app`] (feature `server`, on by default) starts the production server, built by
//!   `algocenter-server` exactly as `algocenter serve` builds it, on a random loopback port with its own fresh
//!   data directory, and answers a [`TestApp`]: an HTTP client for it that signs requests when the server
//!   checks them, and the server's services for looking behind the API.
//! * [`TempStore`]: the embedded store and local artifacts in a fresh directory, for tests of the engine or
//!   serving alone.
//! * [`wait_until`] and [`Deadline`]: waiting on a condition with a deadline, never a sleep in its place.
//!
//! The dependency on the server (which depends on the api, the dashboard, the engine…) makes this a
//! dev-dependency cycle for those crates; cargo allows it for integration tests, which link the one library
//! the server links, so that a test of the api starts the very router `algocenter serve` runs.

#[cfg(feature = "server")]
mod app;
#[cfg(feature = "server")]
mod http;
mod store;
mod wait;

#[cfg(feature = "server")]
pub use app::{AppOptions, TestApp, admin, spawn_app};
#[cfg(feature = "server")]
pub use http::Answer;
pub use store::TempStore;
pub use wait::{Deadline, wait_until};
