//! The Chimaera runtime core.
//!
//! Each manager is a module with a narrow surface: [`config`] loads and
//! validates the YAML; more follow as the runtime grows.

pub mod config;
